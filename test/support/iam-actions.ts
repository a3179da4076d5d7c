/**
 * What IAM authorizes for each command the project's SDK clients send: the action(s), the
 * resource ARN(s) and the request context a policy's conditions read. One command is often
 * several authorizations: tag-on-create (ec2:CreateTags, ecs:TagResource, iam:TagRole,
 * secretsmanager:TagResource, logs:TagResource), iam:PassRole for the roles a task definition
 * names, ECS's service-linked role on CreateCluster, and every resource type an EC2 action
 * touches (the new subnet and the VPC it goes into). Sources: the Service Authorization
 * Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
 * and the pages cited below. A command with no entry fails the test that meets it: add it here.
 */
import type { SentCommand } from '../../functions/lib/clients.ts';
import { ROLE_PATH } from '../../functions/lib/settings.ts';

export interface AwsTarget {
  partition: string;
  region: string;
  account: string;
}

/** One authorization IAM makes for a request: action on resource, with the condition keys it can read. */
export interface Authorization {
  action: string;
  /** ARN, `*` for actions without resource types, or an ARN ending in `/(new)` for a resource the call creates. */
  resource: string;
  context: Record<string, string>;
}

type Tags = Record<string, string>;

/** Looks up, at the moment a command is sent, what IAM would read about existing resources. */
export interface ResourceFacts {
  /** Tags of an EC2 resource by id (vpc-, subnet-, rtb-, sg-, eipalloc-, nat-). */
  ec2Tags(id: string): Promise<Tags>;
  /** The VPC of a subnet. */
  subnetVpc(subnetId: string): Promise<string | undefined>;
  /** The subnet of a route table association. */
  associationSubnet(associationId: string): Promise<string | undefined>;
  role(name: string): Promise<{ arn: string; tags: Tags } | undefined>;
  secret(id: string): Promise<{ arn: string; tags: Tags } | undefined>;
  logGroupTags(arn: string): Promise<Tags>;
  ecsTags(arn: string): Promise<Tags>;
}

/**
 * Commands IAM does not authorize at all, with why. STS GetCallerIdentity: "No permissions
 * are required to perform this operation"
 * (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html); the EKS
 * bearer token is a presigned GetCallerIdentity that EKS sends, not an SDK send.
 */
export const NEEDS_NO_PERMISSION: Record<string, string> = {
  'sts:GetCallerIdentity': 'STS GetCallerIdentity needs no permission (API_GetCallerIdentity.html)',
};

/** The IAM service prefix of each client key in functions/lib/clients.ts. */
const PREFIX: Record<string, string> = {
  ecs: 'ecs',
  ec2: 'ec2',
  eks: 'eks',
  iam: 'iam',
  logs: 'logs',
  secrets: 'secretsmanager',
  sfn: 'states',
  sts: 'sts',
  cloudwatch: 'cloudwatch',
  events: 'events',
  dynamodb: 'dynamodb',
};

type Input = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const NEW = '(new)';

/** Tags in any SDK shape ([{Key,Value}], [{key,value}], a map) as a map. */
export function tagMapOf(tags: unknown): Tags {
  if (Array.isArray(tags)) {
    return Object.fromEntries(
      tags.flatMap((t: { Key?: string; Value?: string; key?: string; value?: string }) => {
        const k = t.Key ?? t.key;
        return k === undefined ? [] : [[k, t.Value ?? t.value ?? '']];
      }),
    );
  }
  return tags && typeof tags === 'object' ? { ...(tags as Tags) } : {};
}

function requestTagContext(tags: Tags): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v]));
}

function resourceTagContext(tags: Tags, service?: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    out[`aws:ResourceTag/${k}`] = v;
    if (service) out[`${service}:ResourceTag/${k}`] = v;
  }
  return out;
}

type Mapper = (input: Input, t: AwsTarget, facts: ResourceFacts) => Promise<Authorization[]>;

const arn = (t: AwsTarget, service: string, resource: string, opts: { global?: boolean } = {}) =>
  `arn:${t.partition}:${service}:${opts.global ? '' : t.region}:${t.account}:${resource}`;

// ---- EC2 -------------------------------------------------------------------
// Resource types per action: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html

const ec2Arn = (t: AwsTarget, type: string, id: string) => arn(t, 'ec2', `${type}/${id}`);

async function ec2Existing(action: string, t: AwsTarget, facts: ResourceFacts, type: string, id: string | undefined): Promise<Authorization[]> {
  if (!id) return [];
  return [{ action, resource: ec2Arn(t, type, id), context: resourceTagContext(await facts.ec2Tags(id), 'ec2') }];
}

/** TagSpecifications: the new resource (aws:RequestTag) and ec2:CreateTags with ec2:CreateAction (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html). */
function ec2Created(action: string, t: AwsTarget, input: Input, type: string): Authorization[] {
  const spec = list(input.TagSpecifications).find((s) => (s as Input).ResourceType === type) as Input | undefined;
  const tags = tagMapOf(spec?.Tags);
  const command = action.split(':')[1]!;
  const out: Authorization[] = [{ action, resource: ec2Arn(t, type, NEW), context: requestTagContext(tags) }];
  if (spec) out.push({ action: 'ec2:CreateTags', resource: ec2Arn(t, type, NEW), context: { 'ec2:CreateAction': command, ...requestTagContext(tags) } });
  return out;
}

/** ec2:Describe* have no resource type: `*`. */
const ec2Describe =
  (command: string): Mapper =>
  async () => [{ action: `ec2:${command}`, resource: '*', context: {} }];

const EC2: Record<string, Mapper> = {
  ...Object.fromEntries(
    ['DescribeVpcs', 'DescribeSubnets', 'DescribeInternetGateways', 'DescribeNatGateways', 'DescribeRouteTables', 'DescribeAddresses', 'DescribeAccountAttributes', 'DescribeAvailabilityZones', 'DescribeSecurityGroups', 'DescribeSecurityGroupRules'].map((c) => [c, ec2Describe(c)]),
  ),
  CreateSubnet: async (i, t, f) => [...ec2Created('ec2:CreateSubnet', t, i, 'subnet'), ...(await ec2Existing('ec2:CreateSubnet', t, f, 'vpc', str(i.VpcId)))],
  CreateRouteTable: async (i, t, f) => [...ec2Created('ec2:CreateRouteTable', t, i, 'route-table'), ...(await ec2Existing('ec2:CreateRouteTable', t, f, 'vpc', str(i.VpcId)))],
  CreateSecurityGroup: async (i, t, f) => [...ec2Created('ec2:CreateSecurityGroup', t, i, 'security-group'), ...(await ec2Existing('ec2:CreateSecurityGroup', t, f, 'vpc', str(i.VpcId)))],
  AllocateAddress: async (i, t) => ec2Created('ec2:AllocateAddress', t, i, 'elastic-ip'),
  ReleaseAddress: (i, t, f) => ec2Existing('ec2:ReleaseAddress', t, f, 'elastic-ip', str(i.AllocationId)),
  CreateNatGateway: async (i, t, f) => {
    const subnetId = str(i.SubnetId);
    return [
      ...ec2Created('ec2:CreateNatGateway', t, i, 'natgateway'),
      ...(await ec2Existing('ec2:CreateNatGateway', t, f, 'subnet', subnetId)),
      ...(await ec2Existing('ec2:CreateNatGateway', t, f, 'elastic-ip', str(i.AllocationId))),
      ...(await ec2Existing('ec2:CreateNatGateway', t, f, 'vpc', subnetId ? await f.subnetVpc(subnetId) : undefined)),
    ];
  },
  // Authorized on the route table alone: the reference lists no target resource type.
  CreateRoute: (i, t, f) => ec2Existing('ec2:CreateRoute', t, f, 'route-table', str(i.RouteTableId)),
  ReplaceRoute: (i, t, f) => ec2Existing('ec2:ReplaceRoute', t, f, 'route-table', str(i.RouteTableId)),
  AssociateRouteTable: async (i, t, f) => [
    ...(await ec2Existing('ec2:AssociateRouteTable', t, f, 'route-table', str(i.RouteTableId))),
    ...(await ec2Existing('ec2:AssociateRouteTable', t, f, 'subnet', str(i.SubnetId))),
  ],
  ReplaceRouteTableAssociation: async (i, t, f) => {
    const assoc = str(i.AssociationId);
    return [
      ...(await ec2Existing('ec2:ReplaceRouteTableAssociation', t, f, 'route-table', str(i.RouteTableId))),
      ...(await ec2Existing('ec2:ReplaceRouteTableAssociation', t, f, 'subnet', assoc ? await f.associationSubnet(assoc) : undefined)),
    ];
  },
  AuthorizeSecurityGroupIngress: async (i, t, f) => [
    ...(await ec2Existing('ec2:AuthorizeSecurityGroupIngress', t, f, 'security-group', str(i.GroupId))),
    ...(list(i.TagSpecifications).length > 0 ? ec2Created('ec2:AuthorizeSecurityGroupIngress', t, i, 'security-group-rule') : []),
  ],
  RevokeSecurityGroupIngress: (i, t, f) => ec2Existing('ec2:RevokeSecurityGroupIngress', t, f, 'security-group', str(i.GroupId)),
  // Teardown.
  DeleteSecurityGroup: (i, t, f) => ec2Existing('ec2:DeleteSecurityGroup', t, f, 'security-group', str(i.GroupId)),
  DeleteSubnet: (i, t, f) => ec2Existing('ec2:DeleteSubnet', t, f, 'subnet', str(i.SubnetId)),
  DeleteRouteTable: (i, t, f) => ec2Existing('ec2:DeleteRouteTable', t, f, 'route-table', str(i.RouteTableId)),
  DeleteNatGateway: (i, t, f) => ec2Existing('ec2:DeleteNatGateway', t, f, 'natgateway', str(i.NatGatewayId)),
  // The association names its subnet (the route table is what the subnet is tied to; both are ours).
  DisassociateRouteTable: async (i, t, f) => {
    const assoc = str(i.AssociationId);
    return ec2Existing('ec2:DisassociateRouteTable', t, f, 'subnet', assoc ? await f.associationSubnet(assoc) : undefined);
  },
};

// ---- ECS -------------------------------------------------------------------
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html

const nameOf = (v: string) => v.split('/').pop()!;
const clusterArn = (t: AwsTarget, c: string | undefined) => (c?.startsWith('arn:') ? c : arn(t, 'ecs', `cluster/${c ?? 'default'}`));
const serviceArn = (t: AwsTarget, cluster: string | undefined, s: string) => (s.startsWith('arn:') ? s : arn(t, 'ecs', `service/${nameOf(cluster ?? 'default')}/${s}`));

/** Tags on create are also ecs:TagResource with ecs:CreateAction (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html). */
function ecsCreated(action: string, resource: string, input: Input): Authorization[] {
  const tags = tagMapOf(input.tags);
  const out: Authorization[] = [{ action, resource, context: requestTagContext(tags) }];
  if (Object.keys(tags).length > 0) out.push({ action: 'ecs:TagResource', resource, context: { 'ecs:CreateAction': action.split(':')[1]!, ...requestTagContext(tags) } });
  return out;
}

const ECS: Record<string, Mapper> = {
  DescribeClusters: async (i, t) => list(i.clusters).map((c) => ({ action: 'ecs:DescribeClusters', resource: clusterArn(t, String(c)), context: {} })),
  CreateCluster: async (i, t) => [
    ...ecsCreated('ecs:CreateCluster', clusterArn(t, str(i.clusterName)), i),
    // CreateCluster tries to create ECS's service-linked role as the caller (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html).
    {
      action: 'iam:CreateServiceLinkedRole',
      resource: `arn:${t.partition}:iam::${t.account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
      context: { 'iam:AWSServiceName': 'ecs.amazonaws.com' },
    },
  ],
  DescribeTaskDefinition: async () => [{ action: 'ecs:DescribeTaskDefinition', resource: '*', context: {} }],
  RegisterTaskDefinition: async (i, t) => [
    ...ecsCreated('ecs:RegisterTaskDefinition', arn(t, 'ecs', `task-definition/${str(i.family)}:${NEW}`), i),
    // Each role the task definition names is passed to ECS tasks (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html).
    ...[str(i.taskRoleArn), str(i.executionRoleArn)].flatMap((r) => (r ? [{ action: 'iam:PassRole', resource: r, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }] : [])),
  ],
  DescribeServices: async (i, t) => list(i.services).map((s) => ({ action: 'ecs:DescribeServices', resource: serviceArn(t, str(i.cluster), String(s)), context: {} })),
  CreateService: async (i, t) => ecsCreated('ecs:CreateService', serviceArn(t, str(i.cluster), str(i.serviceName)!), i),
  UpdateService: async (i, t, f) => {
    const resource = serviceArn(t, str(i.cluster), str(i.service)!);
    return [{ action: 'ecs:UpdateService', resource, context: resourceTagContext(await f.ecsTags(resource), 'ecs') }];
  },
  ListTasks: async (i, t) => [{ action: 'ecs:ListTasks', resource: '*', context: { 'ecs:cluster': clusterArn(t, str(i.cluster)) } }],
  // Teardown.
  ListServices: async (i, t) => [{ action: 'ecs:ListServices', resource: '*', context: { 'ecs:cluster': clusterArn(t, str(i.cluster)) } }],
  DeleteService: async (i, t, f) => {
    const resource = serviceArn(t, str(i.cluster), str(i.service)!);
    return [{ action: 'ecs:DeleteService', resource, context: resourceTagContext(await f.ecsTags(resource), 'ecs') }];
  },
  DeleteCluster: async (i, t, f) => {
    const resource = clusterArn(t, str(i.cluster));
    return [{ action: 'ecs:DeleteCluster', resource, context: resourceTagContext(await f.ecsTags(resource), 'ecs') }];
  },
  ListTaskDefinitions: async () => [{ action: 'ecs:ListTaskDefinitions', resource: '*', context: {} }],
  DeregisterTaskDefinition: async () => [{ action: 'ecs:DeregisterTaskDefinition', resource: '*', context: {} }],
  DeleteTaskDefinitions: async (i, _t, f) =>
    Promise.all(list(i.taskDefinitions).map(async (arn) => ({ action: 'ecs:DeleteTaskDefinitions', resource: String(arn), context: resourceTagContext(await f.ecsTags(String(arn)), 'ecs') }))),
  DescribeTasks: async (i) => list(i.tasks).map((task) => ({ action: 'ecs:DescribeTasks', resource: String(task), context: {} })),
};

// ---- IAM -------------------------------------------------------------------
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html

/** The role as IAM sees it: its real ARN (path included) and tags, or where CreateRole would put it. */
async function roleAuth(action: string, t: AwsTarget, f: ResourceFacts, name: string, extra: Record<string, string> = {}): Promise<Authorization[]> {
  const role = await f.role(name);
  const resource = role?.arn ?? `arn:${t.partition}:iam::${t.account}:role${ROLE_PATH}${name}`;
  return [{ action, resource, context: { ...resourceTagContext(role?.tags ?? {}, 'iam'), ...extra } }];
}

const onRole =
  (action: string): Mapper =>
  (i, t, f) =>
    roleAuth(action, t, f, str(i.RoleName)!);

const IAM: Record<string, Mapper> = {
  GetRole: onRole('iam:GetRole'),
  GetRolePolicy: onRole('iam:GetRolePolicy'),
  PutRolePolicy: onRole('iam:PutRolePolicy'),
  DeleteRolePolicy: onRole('iam:DeleteRolePolicy'),
  ListRolePolicies: onRole('iam:ListRolePolicies'),
  DeleteRole: onRole('iam:DeleteRole'),
  DetachRolePolicy: (i, t, f) => roleAuth('iam:DetachRolePolicy', t, f, str(i.RoleName)!, { 'iam:PolicyARN': str(i.PolicyArn)! }),
  UpdateAssumeRolePolicy: onRole('iam:UpdateAssumeRolePolicy'),
  ListAttachedRolePolicies: onRole('iam:ListAttachedRolePolicies'),
  AttachRolePolicy: (i, t, f) => roleAuth('iam:AttachRolePolicy', t, f, str(i.RoleName)!, { 'iam:PolicyARN': str(i.PolicyArn)! }),
  // CreateRole with Tags is also iam:TagRole (https://github.com/openshift/installer/issues/1073).
  CreateRole: async (i, t) => {
    const resource = `arn:${t.partition}:iam::${t.account}:role${str(i.Path) ?? '/'}${str(i.RoleName)}`;
    const tags = tagMapOf(i.Tags);
    const out: Authorization[] = [{ action: 'iam:CreateRole', resource, context: requestTagContext(tags) }];
    if (Object.keys(tags).length > 0) out.push({ action: 'iam:TagRole', resource, context: requestTagContext(tags) });
    return out;
  },
};

// ---- Secrets Manager ---------------------------------------------------------
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html

async function secretAuth(action: string, t: AwsTarget, f: ResourceFacts, id: string): Promise<Authorization[]> {
  const s = await f.secret(id);
  const resource = s?.arn ?? (id.startsWith('arn:') ? id : arn(t, 'secretsmanager', `secret:${id}-??????`));
  return [{ action, resource, context: resourceTagContext(s?.tags ?? {}, 'secretsmanager') }];
}

const onSecret =
  (action: string): Mapper =>
  (i, t, f) =>
    secretAuth(action, t, f, str(i.SecretId)!);

const SECRETS: Record<string, Mapper> = {
  DescribeSecret: onSecret('secretsmanager:DescribeSecret'),
  GetSecretValue: onSecret('secretsmanager:GetSecretValue'),
  PutSecretValue: onSecret('secretsmanager:PutSecretValue'),
  RestoreSecret: onSecret('secretsmanager:RestoreSecret'),
  DeleteSecret: onSecret('secretsmanager:DeleteSecret'),
  // With Tags, also secretsmanager:TagResource (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
  CreateSecret: async (i, t) => {
    const resource = arn(t, 'secretsmanager', `secret:${str(i.Name)}-??????`);
    const tags = tagMapOf(i.Tags);
    const out: Authorization[] = [{ action: 'secretsmanager:CreateSecret', resource, context: requestTagContext(tags) }];
    if (Object.keys(tags).length > 0) out.push({ action: 'secretsmanager:TagResource', resource, context: requestTagContext(tags) });
    return out;
  },
};

// ---- CloudWatch Logs -----------------------------------------------------------
// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html

const logGroupArn = (t: AwsTarget, name: string) => (name.startsWith('arn:') ? name.replace(/:\*$/, '') : arn(t, 'logs', `log-group:${name}`));

const onLogGroup =
  (action: string): Mapper =>
  async (i, t) => [{ action, resource: logGroupArn(t, str(i.logGroupName) ?? str(i.logGroupIdentifier)!), context: {} }];

const LOGS: Record<string, Mapper> = {
  DescribeLogGroups: async () => [{ action: 'logs:DescribeLogGroups', resource: '*', context: {} }],
  // With tags, also logs:TagResource (or the deprecated logs:TagLogGroup): https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
  CreateLogGroup: async (i, t) => {
    const resource = logGroupArn(t, str(i.logGroupName)!);
    const tags = tagMapOf(i.tags);
    const out: Authorization[] = [{ action: 'logs:CreateLogGroup', resource, context: requestTagContext(tags) }];
    if (Object.keys(tags).length > 0) out.push({ action: 'logs:TagResource', resource, context: requestTagContext(tags) });
    return out;
  },
  ListTagsForResource: async (i) => [{ action: 'logs:ListTagsForResource', resource: str(i.resourceArn)!, context: {} }],
  PutRetentionPolicy: async (i, t, f) => {
    const resource = logGroupArn(t, str(i.logGroupName)!);
    return [{ action: 'logs:PutRetentionPolicy', resource, context: resourceTagContext(await f.logGroupTags(resource)) }];
  },
  DeleteLogGroup: async (i, t, f) => {
    const resource = logGroupArn(t, str(i.logGroupName)!);
    return [{ action: 'logs:DeleteLogGroup', resource, context: resourceTagContext(await f.logGroupTags(resource)) }];
  },
  DescribeLogStreams: onLogGroup('logs:DescribeLogStreams'),
  FilterLogEvents: onLogGroup('logs:FilterLogEvents'),
};

// ---- EKS, STS, DynamoDB, Step Functions, EventBridge, CloudWatch ---------------

const EKS: Record<string, Mapper> = {
  DescribeCluster: async (i, t) => [{ action: 'eks:DescribeCluster', resource: arn(t, 'eks', `cluster/${str(i.name)}`), context: {} }],
};

const STS: Record<string, Mapper> = { GetCallerIdentity: async () => [] };

/** lib-dynamodb's commands reach this hook as the DynamoDB operations they send. */
const tableArn = (t: AwsTarget, name: string) => (name.startsWith('arn:') ? name : arn(t, 'dynamodb', `table/${name}`));
const onTable =
  (action: string): Mapper =>
  async (i, t) => [{ action, resource: tableArn(t, str(i.TableName)!), context: {} }];
const DYNAMODB: Record<string, Mapper> = {
  GetItem: onTable('dynamodb:GetItem'),
  PutItem: onTable('dynamodb:PutItem'),
  UpdateItem: onTable('dynamodb:UpdateItem'),
  DeleteItem: onTable('dynamodb:DeleteItem'),
  Query: onTable('dynamodb:Query'),
  Scan: onTable('dynamodb:Scan'),
  DescribeTable: onTable('dynamodb:DescribeTable'),
  BatchGetItem: async (i, t) => Object.keys((i.RequestItems as Input | undefined) ?? {}).map((n) => ({ action: 'dynamodb:BatchGetItem', resource: tableArn(t, n), context: {} })),
  BatchWriteItem: async (i, t) => Object.keys((i.RequestItems as Input | undefined) ?? {}).map((n) => ({ action: 'dynamodb:BatchWriteItem', resource: tableArn(t, n), context: {} })),
  // Each item of a transaction is authorized as its own action (ConditionCheckItem for a ConditionCheck: list_amazondynamodb.html).
  TransactWriteItems: async (i, t) =>
    list(i.TransactItems).flatMap((item) =>
      Object.entries(item as Input).map(([op, body]) => ({
        action: { ConditionCheck: 'dynamodb:ConditionCheckItem', Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem' }[op] ?? `dynamodb:${op}`,
        resource: tableArn(t, str((body as Input).TableName)!),
        context: {},
      })),
    ),
};

const SFN: Record<string, Mapper> = {
  StartExecution: async (i) => [{ action: 'states:StartExecution', resource: str(i.stateMachineArn)!, context: {} }],
  DescribeExecution: async (i) => [{ action: 'states:DescribeExecution', resource: str(i.executionArn)!, context: {} }],
  StopExecution: async (i) => [{ action: 'states:StopExecution', resource: str(i.executionArn)!, context: {} }],
  ListExecutions: async (i) => [{ action: 'states:ListExecutions', resource: str(i.stateMachineArn)!, context: {} }],
};

const EVENTS: Record<string, Mapper> = {
  PutEvents: async (i, t) =>
    list(i.Entries).map((e) => {
      const bus = str((e as Input).EventBusName) ?? 'default';
      return { action: 'events:PutEvents', resource: bus.startsWith('arn:') ? bus : arn(t, 'events', `event-bus/${bus}`), context: {} };
    }),
};

/** PutMetricData has no resource type; `cloudwatch:namespace` narrows it. */
const CLOUDWATCH: Record<string, Mapper> = {
  PutMetricData: async (i) => [{ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': str(i.Namespace) ?? '' } }],
};

const MAPPERS: Record<string, Record<string, Mapper>> = {
  ec2: EC2,
  ecs: ECS,
  iam: IAM,
  secrets: SECRETS,
  logs: LOGS,
  eks: EKS,
  sts: STS,
  dynamodb: DYNAMODB,
  sfn: SFN,
  events: EVENTS,
  cloudwatch: CLOUDWATCH,
};

/** Every authorization AWS makes for one sent command (none for those in NEEDS_NO_PERMISSION). */
export async function authorizationsOf(sent: SentCommand, target: AwsTarget, facts: ResourceFacts): Promise<Authorization[]> {
  const mapper = MAPPERS[sent.service]?.[sent.command];
  if (!mapper) throw new Error(`no IAM mapping for ${sent.service} ${sent.command} (${PREFIX[sent.service] ?? sent.service}:${sent.command}?): add it to test/support/iam-actions.ts`);
  return mapper((sent.input ?? {}) as Input, target, facts);
}
