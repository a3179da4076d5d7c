import { DELETE_CLUSTER_PERMISSIONS, deleteOurCluster, workloadServices, WORKLOAD_SERVICES_PERMISSIONS } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { REGISTRY_LIST_PERMISSIONS } from '#lib/registry.ts';
import { clusterUsers, entry, otherWorkloads, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Delete cluster: the ECS cluster, shared by every workload that names it. Deleted only when this
 * tool made it (tag), no other registered workload names it, and ECS finds no service left in it
 * (this workload's, still DRAINING, is waited for; anyone else's keeps the cluster).
 */
export async function deleteCluster(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const cluster = request.ecs.cluster;
  const users = clusterUsers(await otherWorkloads(target.workload), cluster);
  if (users.length > 0) return { ledger: [entry('ecs-cluster', cluster, 'kept', { reason: `still used by ${users.join(', ')}`, shared: true })] };
  const ours = [request.ecs.service, ...(state.scaleDown?.services ?? [])];
  const r = await deleteOurCluster(cluster, async () => [...(await workloadServices(cluster, ours, request)).values()].some((f) => f.status === 'DRAINING'));
  return { ledger: [entry('ecs-cluster', cluster, r.outcome, { shared: true, ...(r.reason ? { reason: r.reason } : {}) })] };
}

export const permissions: StepPermissions = composePermissions(DELETE_CLUSTER_PERMISSIONS, REGISTRY_LIST_PERMISSIONS, WORKLOAD_SERVICES_PERMISSIONS);

export const handler = wrap('Delete cluster', deleteCluster);
