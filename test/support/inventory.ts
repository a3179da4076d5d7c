/**
 * What this tool has in the emulated account, counted by name and tag, read with clients of
 * its own (not the project's: the reads are neither recorded nor faulted). Two runs that end
 * with the same inventory, every count 1, made exactly one of each resource.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeRouteTablesCommand, DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client, type Tag } from '@aws-sdk/client-ec2';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, ListClustersCommand, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { CloudWatchLogsClient, DescribeLogGroupsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ROLE_PATH, TAG_MANAGED_BY, TAG_ROLE, TOOL_NAME } from '../../functions/lib/settings.ts';

export type Inventory = Record<string, number>;

const tag = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const ours = (tags: Tag[] | undefined) => tag(tags, TAG_MANAGED_BY) === TOOL_NAME;
const label = (tags: Tag[] | undefined) => tag(tags, 'Name') ?? tag(tags, TAG_ROLE) ?? '(unnamed)';

/** Counts, by kind and name, every resource this tool made or changed; `registryTable` adds the registry's items. */
export async function inventory(endpoint: string, opts: { region?: string; registryTable?: string; eksClusterSecurityGroupId?: string } = {}): Promise<Inventory> {
  const cfg = { endpoint, region: opts.region ?? 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const ec2 = new EC2Client(cfg);
  const ecs = new ECSClient(cfg);
  const iam = new IAMClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const secrets = new SecretsManagerClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  const out: Inventory = {};
  // Names carry the ids of the seeded VPC and the like: keyed without them, two accounts compare.
  const add = (raw: string) => {
    const key = raw.replace(/\b(vpc|subnet|sg|rtb|nat|eipalloc|igw)-[0-9a-f]{8,17}\b/g, '$1-*');
    out[key] = (out[key] ?? 0) + 1;
  };
  try {
    const subnets = ((await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? []).filter((s) => ours(s.Tags));
    const subnetName = new Map(subnets.map((s) => [s.SubnetId, label(s.Tags)]));
    for (const s of subnets) add(`ec2:subnet:${label(s.Tags)}`);
    for (const t of (await ec2.send(new DescribeRouteTablesCommand({}))).RouteTables ?? []) {
      if (!ours(t.Tags)) continue;
      add(`ec2:route-table:${label(t.Tags)}`);
      for (const r of t.Routes ?? []) if (r.GatewayId !== 'local') add(`ec2:route:${label(t.Tags)}:${r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock}`);
      for (const a of t.Associations ?? []) if (!a.Main && a.SubnetId) add(`ec2:association:${subnetName.get(a.SubnetId) ?? a.SubnetId}`);
    }
    for (const n of (await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []) if (n.State !== 'deleted' && n.State !== 'failed') add(`ec2:nat-gateway:${label(n.Tags)}`);
    for (const a of (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []) if (ours(a.Tags)) add(`ec2:eip:${label(a.Tags)}`);
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
    const groupName = new Map(groups.map((g) => [g.GroupId, g.GroupName]));
    for (const g of groups) {
      if (ours(g.Tags)) {
        add(`ec2:security-group:${g.GroupName}`);
        for (const p of g.IpPermissions ?? []) for (const r of [...(p.IpRanges ?? []).map((x) => x.CidrIp), ...(p.UserIdGroupPairs ?? []).map((x) => groupName.get(x.GroupId) ?? x.GroupId)]) add(`ec2:ingress:${g.GroupName}:${p.FromPort}:${r}`);
      }
      // The rule this tool adds to the EKS cluster's group: from our group, on the app port.
      if (g.GroupId === opts.eksClusterSecurityGroupId) {
        for (const p of g.IpPermissions ?? []) for (const pair of p.UserIdGroupPairs ?? []) if (groups.some((x) => x.GroupId === pair.GroupId && ours(x.Tags))) add(`ec2:eks-ingress:${p.FromPort}:${groupName.get(pair.GroupId)}`);
      }
    }

    const clusterArns = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    const clusters = clusterArns.length ? ((await ecs.send(new DescribeClustersCommand({ clusters: clusterArns }))).clusters ?? []) : [];
    for (const c of clusters) {
      if (c.status !== 'ACTIVE') continue;
      add(`ecs:cluster:${c.clusterName}`);
      const serviceArns = (await ecs.send(new ListServicesCommand({ cluster: c.clusterArn }))).serviceArns ?? [];
      const services = serviceArns.length ? ((await ecs.send(new DescribeServicesCommand({ cluster: c.clusterArn, services: serviceArns }))).services ?? []) : [];
      for (const s of services) if (s.status !== 'INACTIVE') add(`ecs:service:${c.clusterName}/${s.serviceName}`);
    }
    for (const arn of (await ecs.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns ?? []) add(`ecs:task-definition:${arn.split('/').pop()?.split(':')[0]}`);

    for (const r of (await iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH }))).Roles ?? []) add(`iam:role:${r.RoleName}`);
    for (const s of (await secrets.send(new ListSecretsCommand({}))).SecretList ?? []) if (s.Tags?.some((t) => t.Key === TAG_MANAGED_BY)) add(`secrets:secret:${s.Name}`);
    for (const g of (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/' }))).logGroups ?? []) add(`logs:log-group:${g.logGroupName}`);
    if (opts.registryTable) {
      for (const i of (await ddb.send(new ScanCommand({ TableName: opts.registryTable }))).Items ?? []) add(`registry:${i.workload?.S}:${i.status?.S ?? '(no status)'}${i.lock ? ':locked' : ''}`);
    }
    return out;
  } finally {
    for (const c of [ec2, ecs, iam, logs, secrets, ddb]) c.destroy();
  }
}

/** The keys counted more than once (a duplicate resource, route or association). */
export function duplicates(inv: Inventory): string[] {
  return Object.entries(inv)
    .filter(([, n]) => n > 1)
    .map(([k, n]) => `${k} ×${n}`);
}

type AnyTag = { key?: string; value?: string; Key?: string; Value?: string };
const taggedOurs = (tags: AnyTag[] | undefined) => (tags ?? []).some((t) => (t.key ?? t.Key) === TAG_MANAGED_BY && (t.value ?? t.Value) === TOOL_NAME);

/**
 * Every resource in the account that still carries this tool's managed-by tag (roles: under its
 * path), as "kind name", and every registry item: what a finished teardown must leave empty. Wider
 * than `inventory` where a teardown can leave something behind that an onboarding never counts:
 * INACTIVE task definitions, secrets scheduled for deletion, tagged security group rules, log
 * groups outside /ecs/, services of any cluster.
 */
export async function leftovers(endpoint: string, opts: { region?: string; registryTable?: string } = {}): Promise<string[]> {
  const cfg = { endpoint, region: opts.region ?? 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const ec2 = new EC2Client(cfg);
  const ecs = new ECSClient(cfg);
  const iam = new IAMClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const secrets = new SecretsManagerClient(cfg);
  const ddb = new DynamoDBClient(cfg);
  const out: string[] = [];
  try {
    for (const s of (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? []) if (ours(s.Tags)) out.push(`subnet ${label(s.Tags)}`);
    for (const t of (await ec2.send(new DescribeRouteTablesCommand({}))).RouteTables ?? []) if (ours(t.Tags)) out.push(`route-table ${label(t.Tags)}`);
    for (const g of (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? []) if (ours(g.Tags)) out.push(`security-group ${g.GroupName}`);
    for (const r of (await ec2.send(new DescribeSecurityGroupRulesCommand({}))).SecurityGroupRules ?? []) if (ours(r.Tags)) out.push(`security-group-rule ${r.GroupId}:${r.FromPort}`);
    for (const n of (await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []) if (ours(n.Tags) && n.State !== 'deleted' && n.State !== 'failed') out.push(`nat-gateway ${label(n.Tags)} ${n.State}`);
    for (const a of (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []) if (ours(a.Tags)) out.push(`elastic-ip ${label(a.Tags)}`);
    const clusterArns = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    const clusters = clusterArns.length ? ((await ecs.send(new DescribeClustersCommand({ clusters: clusterArns, include: ['TAGS'] }))).clusters ?? []) : [];
    for (const c of clusters) {
      if (c.status !== 'ACTIVE') continue;
      if (taggedOurs(c.tags)) out.push(`ecs-cluster ${c.clusterName}`);
      const serviceArns = (await ecs.send(new ListServicesCommand({ cluster: c.clusterArn }))).serviceArns ?? [];
      const services = serviceArns.length ? ((await ecs.send(new DescribeServicesCommand({ cluster: c.clusterArn, services: serviceArns, include: ['TAGS'] }))).services ?? []) : [];
      for (const s of services) if (s.status !== 'INACTIVE' && taggedOurs(s.tags)) out.push(`ecs-service ${c.clusterName}/${s.serviceName} ${s.status}`);
    }
    for (const status of ['ACTIVE', 'INACTIVE'] as const) {
      for (const arn of (await ecs.send(new ListTaskDefinitionsCommand({ status }))).taskDefinitionArns ?? []) {
        const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }));
        if (taggedOurs(td.tags) && td.taskDefinition?.status !== 'DELETE_IN_PROGRESS') out.push(`task-definition ${arn.split('/').pop()} ${td.taskDefinition?.status}`);
      }
    }
    for (const r of (await iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH }))).Roles ?? []) out.push(`iam-role ${r.RoleName}`);
    for (const s of (await secrets.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList ?? []) if (taggedOurs(s.Tags)) out.push(`secret ${s.Name}${s.DeletedDate ? ' (scheduled for deletion)' : ''}`);
    for (const g of (await logs.send(new DescribeLogGroupsCommand({}))).logGroups ?? []) {
      const { tags } = await logs.send(new ListTagsForResourceCommand({ resourceArn: (g.arn ?? '').replace(/:\*$/, '') }));
      if (tags?.[TAG_MANAGED_BY] === TOOL_NAME) out.push(`log-group ${g.logGroupName}`);
    }
    if (opts.registryTable) for (const i of (await ddb.send(new ScanCommand({ TableName: opts.registryTable }))).Items ?? []) out.push(`registry ${i.workload?.S}:${i.status?.S ?? '(no status)'}${i.lock ? ':locked' : ''}`);
    return out.sort();
  } finally {
    for (const c of [ec2, ecs, iam, logs, secrets, ddb]) c.destroy();
  }
}
