import { foreignReason } from '#lib/aws/teardown-ecs.ts';
import { DELETE_SECURITY_GROUP_PERMISSIONS, deleteSecurityGroup as deleteGroup, findTaskSecurityGroups } from '#lib/aws/teardown-network.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { ownershipOf } from '#lib/tags.ts';
import { entry, recordedIds, teardownState, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Delete security group: the workload's task security group (its rules go with it). While the
 * stopped tasks' network interfaces are still being released AWS refuses (DependencyViolation):
 * ResourceDrainingError, retried every 30 s for up to 10 minutes.
 */
export async function deleteSecurityGroup(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const name = names.securityGroup(request);
  const groups = await findTaskSecurityGroups(name, target.vpcId, recordedIds(target, 'security-group'));
  if (groups.length === 0) return { ledger: [entry('security-group', name, 'not-found')] };
  const ledger: TeardownEntry[] = [];
  for (const g of groups) {
    const o = ownershipOf(g.Tags, request);
    if (o.owner !== 'ours') ledger.push(entry('security-group', g.GroupId!, 'kept', { reason: foreignReason(o) }));
    else ledger.push(entry('security-group', g.GroupId!, await deleteGroup(g.GroupId!)));
  }
  return { ledger };
}

export const permissions: StepPermissions = DELETE_SECURITY_GROUP_PERMISSIONS;

export const handler = wrap('Delete security group', deleteSecurityGroup);
