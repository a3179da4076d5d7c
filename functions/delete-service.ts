import { DELETE_SERVICE_PERMISSIONS, deleteOurService, foreignReason, serviceNamesOf, workloadServices } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, recordedIds, teardownState, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Delete service: deletes the workload's ECS services (force); one already being deleted (DRAINING) counts as deleted. */
export async function deleteService(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const { cluster, service } = request.ecs;
  const found = await workloadServices(cluster, [service, ...serviceNamesOf(recordedIds(target, 'ecs-service')), ...(state.scaleDown?.services ?? [])], request);
  const ledger: TeardownEntry[] = [];
  for (const [name, f] of found) {
    if (f.status === 'absent') ledger.push(entry('ecs-service', name, 'not-found'));
    else if (f.status === 'foreign') ledger.push(entry('ecs-service', f.service.serviceArn ?? name, 'kept', { reason: foreignReason(f.ownership) }));
    else ledger.push(entry('ecs-service', f.service.serviceArn ?? name, f.status === 'DRAINING' ? 'deleted' : await deleteOurService(cluster, name)));
  }
  return { ledger };
}

export const permissions: StepPermissions = DELETE_SERVICE_PERMISSIONS;

export const handler = wrap('Delete service', deleteService);
