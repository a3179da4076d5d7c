import { convergeAppIngress, convergeEksIngress, findOrCreateSecurityGroup, SECURITY_GROUP_PERMISSIONS } from '#lib/aws/vpc-security-group.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { logger, wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
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
  const app = await convergeAppIngress(request, groupId, port, request.network.ingressSources ?? network.vpcCidrs);
  if (app.revoked.length > 0) logger.info('Revoked stale app ingress rules', { groupId, revoked: app.revoked });
  // Rules added or revoked on a group that existed: the group was changed.
  const ledger: LedgerEntry[] = [{ kind: 'security-group', id: groupId, created, ...(!created && app.added.length + app.revoked.length > 0 ? { updated: true } : {}) }];

  const eksSg = network.eksClusterSecurityGroupId;
  const allow = allowFromEksClusterSecurityGroup(request);
  if (eksSg) {
    const eks = await convergeEksIngress(request, eksSg, allow ? port : undefined, groupId);
    if (eks.revoked.length > 0) logger.info('Revoked this workload\'s stale rules on the EKS cluster security group', { eksSg, revoked: eks.revoked });
    // Stale rules of ours revoked there while the wanted one stood: our EKS-side rule set changed (no security-group entry
    // for the EKS group: teardown reads those ids as the workload's own groups).
    if (allow) ledger.push({ kind: 'security-group-ingress', id: `${eksSg}:tcp:${port}:${groupId}`, created: eks.added, ...(!eks.added && eks.revoked.length > 0 ? { updated: true } : {}) });
  } else if (allow && request.network.allowFromEksClusterSecurityGroup === true) {
    throw new NetworkConfigurationError(
      `EKS cluster "${request.network.eksClusterName}" reports no cluster security group (resourcesVpcConfig.clusterSecurityGroupId), so TCP ${port} from ${groupId} cannot be allowed into it; ` +
        `allow it on the nodes' security group yourself and set network.allowFromEksClusterSecurityGroup to false`,
    );
  } else if (allow) {
    logger.warn('EKS cluster reports no cluster security group; traffic from the tasks to Kubernetes may get 503', { eksClusterName: request.network.eksClusterName });
  }
  return { groupId, ledger };
}

export const permissions: StepPermissions = SECURITY_GROUP_PERMISSIONS;

export const handler = wrap('Ensure security group', ensureSecurityGroup);
