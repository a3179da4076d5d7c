import { REVOKE_EKS_INGRESS_PERMISSIONS, revokeEksIngress as revoke } from '#lib/aws/teardown-network.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, recordedIds, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Revoke EKS ingress: the rule this workload added to the EKS cluster security group (found by its tags), before its task group goes. */
export async function revokeEksIngress(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const eksSg = target.eksClusterSecurityGroupId;
  if (!eksSg) return { ledger: [] };
  const revoked = await revoke(request, eksSg, recordedIds(target, 'security-group'));
  return { ledger: revoked.length > 0 ? revoked.map((id) => entry('security-group-ingress', `${eksSg}:${id}`, 'deleted')) : [entry('security-group-ingress', eksSg, 'not-found')] };
}

export const permissions: StepPermissions = REVOKE_EKS_INGRESS_PERMISSIONS;

export const handler = wrap('Revoke EKS ingress', revokeEksIngress);
