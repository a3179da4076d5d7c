/**
 * The tasks' security group and the ingress rules this tool manages: rules it made carry
 * our tags (security-group-rule tags), so a converge run revokes only those and leaves
 * rules a person added alone.
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
import type { OnboardingRequest } from '../request.ts';
import { isManagedByUs, workloadKey } from '../tags.ts';
import { pickOurs, tagSpec } from './network.ts';

type Req = Pick<OnboardingRequest, 'workloadGroup'>;

export const SG_ROLES = { group: 'task-security-group', appIngress: 'app-ingress', eksIngress: 'eks-cluster-ingress' } as const;

async function findGroup(vpcId: string, name: string) {
  const { SecurityGroups } = await ec2().send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'vpc-id', Values: [vpcId] },
        { Name: 'group-name', Values: [name] },
      ],
    }),
  );
  return pickOurs(SecurityGroups ?? [], (g) => `Security group "${name}" (${g.GroupId}) in ${vpcId}`);
}

/** Finds our security group `name` in the VPC or creates it (AWS adds its default allow-all egress). */
export async function findOrCreateSecurityGroup(request: Req, vpcId: string, name: string): Promise<{ groupId: string; created: boolean }> {
  const found = await findGroup(vpcId, name);
  if (found?.GroupId) return { groupId: found.GroupId, created: false };
  try {
    const made = await ec2().send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: name,
        Description: `ECS tasks of mesh workload ${workloadKey(request)} (ecs-mesh-onboarding)`,
        TagSpecifications: tagSpec('security-group', request, SG_ROLES.group, name),
      }),
    );
    return { groupId: made.GroupId!, created: true };
  } catch (e) {
    // A concurrent run made it between our lookup and create: use that one.
    if (!isAwsError(e, 'InvalidGroup.Duplicate')) throw e;
    const raced = await findGroup(vpcId, name);
    if (!raced?.GroupId) throw new ResourceNotReadyError(`security group "${name}" in ${vpcId} was just made by a concurrent run and is not listed yet`, { cause: e });
    return { groupId: raced.GroupId, created: false };
  }
}

/** Ingress rules of a group on exactly TCP `port`. */
async function portIngressRules(groupId: string, port: number): Promise<SecurityGroupRule[]> {
  const out: SecurityGroupRule[] = [];
  for await (const page of paginateDescribeSecurityGroupRules({ client: ec2() }, { Filters: [{ Name: 'group-id', Values: [groupId] }] })) {
    out.push(...(page.SecurityGroupRules ?? []).filter((r) => !r.IsEgress && r.GroupId === groupId && r.IpProtocol === 'tcp' && r.FromPort === port && r.ToPort === port));
  }
  return out;
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

/** True when AWS does not know the security group `groupId` at all. */
async function groupMissing(groupId: string): Promise<boolean> {
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
        TagSpecifications: tagSpec('security-group-rule', request, role),
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

/**
 * Makes the group's ingress on TCP `port` exactly `sources` (CIDRs or sg- ids) as far as
 * our rules go: adds the missing ones, revokes stale ones we made, keeps others' rules.
 */
export async function convergeAppIngress(request: Req, groupId: string, port: number, sources: readonly string[]): Promise<{ added: string[]; revoked: string[] }> {
  const rules = await portIngressRules(groupId, port);
  const present = new Set(rules.map(ruleSource));
  const added = [...new Set(sources)].filter((s) => !present.has(s));
  for (const source of added) await authorize(request, groupId, port, source, SG_ROLES.appIngress, `mesh-onboarding: ${workloadKey(request)} app port`, true);
  const stale = rules.filter((r) => isManagedByUs(r.Tags) && !sources.includes(ruleSource(r) ?? ''));
  if (stale.length > 0) {
    await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: stale.map((r) => r.SecurityGroupRuleId!) }));
  }
  return { added, revoked: stale.map((r) => ruleSource(r) ?? r.SecurityGroupRuleId!) };
}

/** Ensures `targetGroupId` allows TCP `port` from `fromGroupId`; true when this call added the rule. */
export async function ensureIngressFromGroup(request: Req, targetGroupId: string, port: number, fromGroupId: string): Promise<boolean> {
  const rules = await portIngressRules(targetGroupId, port);
  if (rules.some((r) => r.ReferencedGroupInfo?.GroupId === fromGroupId)) return false;
  await authorize(request, targetGroupId, port, fromGroupId, SG_ROLES.eksIngress, `mesh-onboarding: ${workloadKey(request)} ECS tasks to app port`, false);
  return true;
}
