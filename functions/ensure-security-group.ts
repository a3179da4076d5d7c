import {
  convergeAppIngress,
  convergeEksIngress,
  findGroup,
  findOrCreateSecurityGroup,
  groupMissing,
  ingressRulesOf,
  inspectAppIngress,
  inspectEksIngress,
  ruleLabel,
  SECURITY_GROUP_PERMISSIONS,
} from '#lib/aws/vpc-security-group.ts';
import { NetworkConfigurationError, ResourceConflictError } from '#lib/errors.ts';
import { logger, wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { plannedId, type FieldChange, type PlanEntry, type PlanProblem } from '#lib/plan.ts';
import { allowFromEksClusterSecurityGroup } from '#lib/request-defaults.ts';
import { need } from '#lib/state.ts';
import type { LedgerEntry, SecurityGroupResult, WorkflowState } from '#lib/workflow.ts';

/**
 * Ensure security group: the tasks' group, open on the app port only to
 * network.ingressSources (default: the VPC's CIDRs, never 0.0.0.0/0), and (the seed's
 * 503 fix) the EKS cluster security group opened on the app port to this group.
 * Converges both ways: our rules on an earlier app.port, and our EKS-side rule once
 * allowFromEksClusterSecurityGroup is off, are revoked; rules others added stay.
 * Egress stays AWS's default allow-all: the agent dials the onboarding endpoint and registries.
 */
export async function ensureSecurityGroup(state: WorkflowState): Promise<SecurityGroupResult> {
  const { request, network } = need(state, 'network');
  const port = request.app.port;
  const { groupId, created } = await findOrCreateSecurityGroup(request, network.vpcId, names.securityGroup(request));
  const eksSg = network.eksClusterSecurityGroupId;
  // Both groups' rules in one read; a group just made has none yet.
  const rules = await ingressRulesOf([...(created ? [] : [groupId]), ...(eksSg ? [eksSg] : [])]);
  const app = await convergeAppIngress(request, groupId, port, request.network.ingressSources ?? network.vpcCidrs, rules.get(groupId) ?? []);
  if (app.revoked.length > 0) logger.info('Revoked stale app ingress rules', { groupId, revoked: app.revoked });
  // Rules added or revoked on a group that existed: the group was changed.
  const ledger: LedgerEntry[] = [{ kind: 'security-group', id: groupId, created, ...(!created && app.added.length + app.revoked.length > 0 ? { updated: true } : {}) }];

  const allow = allowFromEksClusterSecurityGroup(request);
  if (eksSg) {
    const eks = await convergeEksIngress(request, eksSg, allow ? port : undefined, groupId, rules.get(eksSg));
    if (eks.revoked.length > 0) logger.info('Revoked this workload\'s stale rules on the EKS cluster security group', { eksSg, revoked: eks.revoked });
    // Stale rules of ours revoked there while the wanted one stood: our EKS-side rule set changed (no security-group entry
    // for the EKS group: teardown reads those ids as the workload's own groups).
    if (allow) ledger.push({ kind: 'security-group-ingress', id: `${eksSg}:tcp:${port}:${groupId}`, created: eks.added, ...(!eks.added && eks.revoked.length > 0 ? { updated: true } : {}) });
  } else if (allow && request.network.allowFromEksClusterSecurityGroup === true) {
    throw new NetworkConfigurationError(noEksClusterSecurityGroup(request, groupId));
  } else if (allow) {
    logger.warn('EKS cluster reports no cluster security group; traffic from the tasks to Kubernetes may get 503', { eksClusterName: request.network.eksClusterName });
  }
  return { groupId, ledger };
}

function noEksClusterSecurityGroup(request: WorkflowState['request'], groupId: string): string {
  return (
    `EKS cluster "${request.network.eksClusterName}" reports no cluster security group (resourcesVpcConfig.clusterSecurityGroupId), so TCP ${request.app.port} from ${groupId} cannot be allowed into it; ` +
    `allow it on the nodes' security group yourself and set network.allowFromEksClusterSecurityGroup to false`
  );
}

/**
 * Dry run of Ensure security group (functions/lib/plan.ts): the group (create, or update with each
 * ingress rule to add (`wanted`) or revoke (`current`), or reuse) and the EKS cluster security
 * group's rule, from the same look-ups and decisions as the apply, with no write. A group another
 * owner holds under our name is a conflict; an sg- source that does not exist, or an EKS cluster
 * without a cluster security group while the rule is required, is a problem.
 */
export async function planSecurityGroup(state: WorkflowState): Promise<SecurityGroupResult> {
  const { request, network } = need(state, 'network');
  const port = request.app.port;
  const name = names.securityGroup(request);
  const sources = request.network.ingressSources ?? network.vpcCidrs;
  const problems: PlanProblem[] = [];
  let found: Awaited<ReturnType<typeof findGroup>>;
  try {
    found = await findGroup(request, network.vpcId, name);
  } catch (e) {
    if (!(e instanceof ResourceConflictError)) throw e;
    return { groupId: plannedId('security-group', name), ledger: [], plan: [{ kind: 'security-group', name, action: 'conflict', detail: e.message }] };
  }
  const groupId = found?.GroupId ?? plannedId('security-group', name);
  const eksSg = network.eksClusterSecurityGroupId;
  // As the apply: both groups' rules in one read.
  const rules = await ingressRulesOf([groupId, ...(eksSg ? [eksSg] : [])]);
  const app = await inspectAppIngress(request, groupId, port, sources, rules.get(groupId));
  const changes: FieldChange[] = [...app.added.map((s) => ({ field: 'ingress', wanted: `tcp:${port}:${s}` })), ...app.stale.map((r) => ({ field: 'ingress', current: ruleLabel(r) }))];
  const plan: PlanEntry[] = [
    !found?.GroupId
      ? { kind: 'security-group', name, action: 'create', detail: `in ${network.vpcId}, TCP ${port} from ${sources.join(', ')}` }
      : { kind: 'security-group', name, id: groupId, ...(changes.length > 0 ? { action: 'update', changes } : { action: 'reuse' }) },
  ];
  // The one way the apply's authorize fails on the request: an sg- source that does not exist.
  for (const source of app.added.filter((s) => s.startsWith('sg-'))) {
    if (await groupMissing(source)) {
      problems.push({ step: STEP, path: `$.network.ingressSources[${sources.indexOf(source)}]`, message: `network.ingressSources: security group ${source} was not found, so TCP ${port} from it cannot be allowed into ${groupId}` });
    }
  }

  const allow = allowFromEksClusterSecurityGroup(request);
  if (eksSg) {
    const eks = await inspectEksIngress(request, eksSg, allow ? port : undefined, groupId, rules.get(eksSg));
    if (allow) {
      const base = { kind: 'security-group-ingress' as const, name: `TCP ${port} from ${name} into ${eksSg}` };
      const id = `${eksSg}:tcp:${port}:${groupId}`;
      if (eks.add) plan.push({ ...base, action: 'create', detail: `TCP ${port} from ${groupId} into the EKS cluster security group ${eksSg}` });
      else if (eks.stale.length > 0) plan.push({ ...base, id, action: 'update', changes: eks.stale.map((r) => ({ field: 'ingress', current: ruleLabel(r) })) });
      else plan.push({ ...base, id, action: 'reuse' });
    }
  } else if (allow && request.network.allowFromEksClusterSecurityGroup === true) {
    problems.push({ step: STEP, path: '$.network.allowFromEksClusterSecurityGroup', message: noEksClusterSecurityGroup(request, groupId) });
  }
  return { groupId, ledger: [], plan, ...(problems.length > 0 ? { problems } : {}) };
}

export const permissions: StepPermissions = SECURITY_GROUP_PERMISSIONS;

const STEP = 'Ensure security group';

export const handler = wrap(STEP, ensureSecurityGroup, { plan: planSecurityGroup });
