import { foreignReason, SCALE_SERVICE_DOWN_PERMISSIONS, scaleServiceToZero, serviceNamesOf, workloadServices } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, recordedIds, teardownState, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Scale service down: sets the workload's ECS services to 0 tasks (the request's, the ledger's,
 * and any other of the cluster tagged as this workload's), so ECS stops their tasks before the
 * services are deleted. A service of the name that is not this workload's is left alone (and its
 * tasks are not waited for); none, or one already being deleted, is fine.
 */
export async function scaleServiceDown(state: Partial<TeardownState>): Promise<TeardownStepResult & { status: string; services: string[] }> {
  const { request, target } = teardownState(state);
  const { cluster, service } = request.ecs;
  const found = await workloadServices(cluster, [service, ...serviceNamesOf(recordedIds(target, 'ecs-service'))], request);
  const ledger: TeardownEntry[] = [];
  const ours: string[] = [];
  for (const [name, f] of found) {
    if (f.status === 'foreign') ledger.push(entry('ecs-service', f.service.serviceArn ?? name, 'kept', { reason: foreignReason(f.ownership) }));
    if (f.status === 'ACTIVE') await scaleServiceToZero(cluster, f.service);
    if (f.status === 'ACTIVE' || f.status === 'DRAINING') ours.push(name);
  }
  return { status: ours.length > 0 ? 'ours' : ledger.length > 0 ? 'foreign' : 'absent', services: ours, ledger };
}

export const permissions: StepPermissions = SCALE_SERVICE_DOWN_PERMISSIONS;

export const handler = wrap('Scale service down', scaleServiceDown);
