/**
 * The tasks' security group and the ingress rules this tool manages. Both are per-workload:
 * they carry the workload's tags (security-group-rule tags too), so a converge run revokes
 * only this workload's rules and leaves rules a person (or another workload) added alone.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  paginateDescribeSecurityGroupRules,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, NetworkConfigurationError, ResourceNotReadyError } from '../errors.ts';
import { composePermissions, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { isPlanned } from '../plan.ts';
import type { OnboardingRequest } from '../request.ts';
import { TAG_ROLE } from '../settings.ts';
import { assertOwnedByWorkload, isManagedByUs, ownershipOf, tagValue, workloadKey, workloadTags } from '../tags.ts';
import { ec2Arn, ec2Describe, tagSpec } from './network.ts';

/**
 * The tag EKS puts on the cluster security group it creates, naming the cluster
 * (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html); it lets the grant
 * name the EKS clusters' groups without knowing their ids.
 */
export const EKS_CLUSTER_SG_TAG = 'aws:eks:cluster-name';

/**
 * findOrCreateSecurityGroup, convergeAppIngress, convergeEksIngress. A new group and new rules
 * must carry our tag (rules are tagged through TagSpecifications: the `security-group-rule`
 * resource, and ec2:CreateTags for AuthorizeSecurityGroupIngress). Ingress changes only on
 * groups carrying our tag, or on the cluster security group of an EKS cluster the construct
 * names (its `aws:eks:cluster-name` tag): the one group of someone else's this tool changes,
 * and only by the rules it made (IAM has no per-rule resource for Revoke: which rules are ours
 * is decided by their tags in code).
 */
export const SECURITY_GROUP_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeSecurityGroups'), ec2Describe('ec2:DescribeSecurityGroupRules'), [
  { sid: 'CreateOurSecurityGroup', actions: ['ec2:CreateSecurityGroup'], resources: [ec2Arn('security-group')], conditions: requestTaggedByUs() },
  { sid: 'CreateSecurityGroupInVpc', actions: ['ec2:CreateSecurityGroup'], resources: [ec2Arn('vpc')] },
  { sid: 'TagSecurityGroupOnCreate', actions: ['ec2:CreateTags'], resources: [ec2Arn('security-group')], conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } } },
  { sid: 'IngressOnOurSecurityGroup', actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'], resources: [ec2Arn('security-group')], conditions: resourceTaggedByUs() },
  {
    sid: 'IngressOnEksClusterSecurityGroup',
    actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
    resources: [ec2Arn('security-group')],
    conditions: { StringEquals: { [`aws:ResourceTag/${EKS_CLUSTER_SG_TAG}`]: ['${EksClusterName}'] } },
  },
  { sid: 'TagOurIngressRule', actions: ['ec2:AuthorizeSecurityGroupIngress'], resources: [ec2Arn('security-group-rule')], conditions: requestTaggedByUs() },
  {
    sid: 'TagIngressRuleOnCreate',
    actions: ['ec2:CreateTags'],
    resources: [ec2Arn('security-group-rule')],
    conditions: { StringEquals: { 'ec2:CreateAction': 'AuthorizeSecurityGroupIngress' } },
  },
]);

type Req = Pick<OnboardingRequest, 'workloadGroup'>;

export const SG_ROLES = { group: 'task-security-group', appIngress: 'app-ingress', eksIngress: 'eks-cluster-ingress' } as const;

/** Read-only: the group named `name` in the VPC, after checking it is this workload's (ResourceConflictError naming its owner otherwise). */
export async function findGroup(request: Req, vpcId: string, name: string) {
  const { SecurityGroups } = await ec2().send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: [name] },
      ],
    }),
  );
  // Group names are unique per VPC: at most one.
  const found = SecurityGroups?.[0];
  if (found) assertOwnedByWorkload(found.Tags, request, `Security group "${name}" (${found.GroupId}) in ${vpcId}`, 'delete or rename it');
  return found;
}

/** Finds our security group `name` in the VPC or creates it (AWS adds its default allow-all egress). */
export async function findOrCreateSecurityGroup(request: Req, vpcId: string, name: string): Promise<{ groupId: string; created: boolean }> {
  const found = await findGroup(request, vpcId, name);
  if (found?.GroupId) return { groupId: found.GroupId, created: false };
  try {
    const made = await ec2().send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: name,
        Description: `ECS tasks of mesh workload ${workloadKey(request)} (ecs-mesh-onboarding)`,
        TagSpecifications: tagSpec('security-group', workloadTags(request, SG_ROLES.group), name),
      }),
    );
    return { groupId: made.GroupId!, created: true };
  } catch (e) {
    // A concurrent run made it between our lookup and create: use that one.
    if (!isAwsError(e, 'InvalidGroup.Duplicate')) throw e;
    const raced = await findGroup(request, vpcId, name);
    if (!raced?.GroupId) throw new ResourceNotReadyError(`security group "${name}" in ${vpcId} was just made by a concurrent run and is not listed yet`, { cause: e });
    return { groupId: raced.GroupId, created: false };
  }
}

/**
 * The ingress rules of the groups, by group id, in one paginated read: a filter's values are
 * joined with OR (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroupRules.html).
 * Groups still to be made (a dry run's placeholder) have none.
 */
export async function ingressRulesOf(groupIds: readonly string[]): Promise<Map<string, SecurityGroupRule[]>> {
  const ids = [...new Set(groupIds.filter((id) => !isPlanned(id)))];
  const out = new Map<string, SecurityGroupRule[]>(groupIds.map((id) => [id, []]));
  if (ids.length === 0) return out;
  for await (const page of paginateDescribeSecurityGroupRules({ client: ec2() }, { Filters: [{ Name: 'group-id', Values: ids }] })) {
    for (const r of page.SecurityGroupRules ?? []) if (!r.IsEgress && r.GroupId && ids.includes(r.GroupId)) out.get(r.GroupId)!.push(r);
  }
  return out;
}

/** Every ingress rule of a group. */
async function ingressRules(groupId: string): Promise<SecurityGroupRule[]> {
  return (await ingressRulesOf([groupId])).get(groupId)!;
}

const onPort = (r: SecurityGroupRule, port: number) => r.IpProtocol === 'tcp' && r.FromPort === port && r.ToPort === port;

/** True when this tool made the rule with `role` for this workload. */
function ourRule(r: SecurityGroupRule, request: Req, role: string): boolean {
  return ownershipOf(r.Tags, request).owner === 'ours' && tagValue(r.Tags, TAG_ROLE) === role;
}

function ruleSource(r: SecurityGroupRule): string | undefined {
  return r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId;
}

function permission(port: number, source: string, description: string): IpPermission {
  const base = { IpProtocol: 'tcp', FromPort: port, ToPort: port };
  return source.startsWith('sg-')
    ? { ...base, UserIdGroupPairs: [{ GroupId: source, Description: description }] }
    : { ...base, IpRanges: [{ CidrIp: source, Description: description }] };
}

/** Read-only: true when AWS does not know the security group `groupId` at all. */
export async function groupMissing(groupId: string): Promise<boolean> {
  try {
    const { SecurityGroups } = await ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    return !SecurityGroups?.some((g) => g.GroupId === groupId);
  } catch (e) {
    if (isAwsError(e, 'InvalidGroup.NotFound', 'InvalidGroupId.Malformed')) return true;
    throw e;
  }
}

/**
 * Allows TCP `port` from `source` into `groupId`. A missing group is terminal only when it is
 * the sg- source the user gave (`userSource`); the group this step just made or the EKS
 * cluster's may not be visible yet (eventual consistency), so that is ResourceNotReadyError.
 */
async function authorize(request: Req, groupId: string, port: number, source: string, role: string, description: string, userSource: boolean): Promise<void> {
  try {
    await ec2().send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [permission(port, source, description)],
        TagSpecifications: tagSpec('security-group-rule', workloadTags(request, role)),
      }),
    );
  } catch (e) {
    if (isAwsError(e, 'InvalidPermission.Duplicate')) return;
    if (userSource && source.startsWith('sg-') && isAwsError(e, 'InvalidGroup.NotFound', 'InvalidGroupId.Malformed') && (await groupMissing(source))) {
      throw new NetworkConfigurationError(`network.ingressSources: security group ${source} was not found, so TCP ${port} from it cannot be allowed into ${groupId}`, { cause: e });
    }
    if (isAwsError(e, 'InvalidGroup.NotFound')) {
      throw new ResourceNotReadyError(`cannot allow TCP ${port} from ${source} into ${groupId} yet: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}

async function revoke(groupId: string, rules: readonly SecurityGroupRule[]): Promise<void> {
  if (rules.length === 0) return;
  await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: rules.map((r) => r.SecurityGroupRuleId!) }));
}

/** A rule as the results and plans name it: `tcp:<port>:<source>`. */
export const ruleLabel = (r: SecurityGroupRule) => `tcp:${r.FromPort}:${ruleSource(r) ?? r.SecurityGroupRuleId!}`;

/**
 * Read-only, the decision of convergeAppIngress (its dry run calls it too): the sources to allow
 * on `port` and our stale rules to revoke (another source, or any source on an earlier app.port);
 * rules we did not make stay. A group still to be made (a dry run's placeholder id) has no rules.
 */
export async function inspectAppIngress(request: Req, groupId: string, port: number, sources: readonly string[], listed?: readonly SecurityGroupRule[]): Promise<{ added: string[]; stale: SecurityGroupRule[] }> {
  const rules = listed ?? (isPlanned(groupId) ? [] : await ingressRules(groupId));
  const present = new Set(rules.filter((r) => onPort(r, port)).map(ruleSource));
  const added = [...new Set(sources)].filter((s) => !present.has(s));
  const ours = rules.filter((r) => ourRule(r, request, SG_ROLES.appIngress));
  const stale = ours.filter((r) => !onPort(r, port) || !sources.includes(ruleSource(r) ?? ''));
  return { added, stale };
}

/**
 * Makes the group's ingress exactly TCP `port` from `sources` (CIDRs or sg- ids) as far as
 * this workload's rules go: adds the missing ones, revokes our stale ones (another source, or
 * any source on an earlier app.port), keeps rules we did not make.
 */
export async function convergeAppIngress(request: Req, groupId: string, port: number, sources: readonly string[], listed?: readonly SecurityGroupRule[]): Promise<{ added: string[]; revoked: string[] }> {
  const { added, stale } = await inspectAppIngress(request, groupId, port, sources, listed);
  for (const source of added) await authorize(request, groupId, port, source, SG_ROLES.appIngress, `mesh-onboarding: ${workloadKey(request)} app port`, true);
  await revoke(groupId, stale);
  return { added, revoked: stale.map(ruleLabel) };
}

/**
 * Read-only, the decision of convergeEksIngress (its dry run calls it too): whether "TCP `port`
 * from `taskGroupId`" must be added to the EKS cluster security group, and this workload's rules
 * there to revoke. Ours are found by our tags (role eks-cluster-ingress, this workload) or, with
 * our managed-by and role tags, by referring to our task group; rules others added stay.
 */
export async function inspectEksIngress(
  request: Req,
  eksGroupId: string,
  port: number | undefined,
  taskGroupId: string,
  listed?: readonly SecurityGroupRule[],
): Promise<{ add: boolean; stale: SecurityGroupRule[] }> {
  const rules = listed ?? (await ingressRules(eksGroupId));
  const ours = rules.filter(
    (r) => ourRule(r, request, SG_ROLES.eksIngress) || (isManagedByUs(r.Tags) && tagValue(r.Tags, TAG_ROLE) === SG_ROLES.eksIngress && r.ReferencedGroupInfo?.GroupId === taskGroupId),
  );
  const wanted = (r: SecurityGroupRule) => port !== undefined && onPort(r, port) && r.ReferencedGroupInfo?.GroupId === taskGroupId;
  return { add: port !== undefined && !rules.some(wanted), stale: ours.filter((r) => !wanted(r)) };
}

/**
 * Makes the rules this workload added to the EKS cluster security group `eksGroupId` exactly
 * "TCP `port` from `taskGroupId`", or none when `port` is undefined (the option was turned
 * off), as inspectEksIngress decides. Returns whether a rule was added and what was revoked.
 */
export async function convergeEksIngress(
  request: Req,
  eksGroupId: string,
  port: number | undefined,
  taskGroupId: string,
  listed?: readonly SecurityGroupRule[],
): Promise<{ added: boolean; revoked: string[] }> {
  const { add, stale } = await inspectEksIngress(request, eksGroupId, port, taskGroupId, listed);
  if (add && port !== undefined) await authorize(request, eksGroupId, port, taskGroupId, SG_ROLES.eksIngress, `mesh-onboarding: ${workloadKey(request)} ECS tasks to app port`, false);
  await revoke(eksGroupId, stale);
  return { added: add, revoked: stale.map(ruleLabel) };
}
