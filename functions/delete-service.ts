import { DELETE_SERVICE_PERMISSIONS, deleteOurService, findService, foreignReason } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Delete service: deletes the workload's ECS service (force); one being deleted already counts as deleted. */
export async function deleteService(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request } = teardownState(state);
  const { cluster, service } = request.ecs;
  const found = await findService(cluster, service, request);
  if (found.status === 'absent') return { ledger: [entry('ecs-service', service, 'not-found')] };
  const id = found.service.serviceArn ?? service;
  if (found.status === 'foreign') return { ledger: [entry('ecs-service', id, 'kept', { reason: foreignReason(found.ownership) })] };
  const outcome = found.status === 'DRAINING' ? 'deleted' : await deleteOurService(cluster, service);
  return { ledger: [entry('ecs-service', id, outcome)] };
}

export const permissions: StepPermissions = DELETE_SERVICE_PERMISSIONS;

export const handler = wrap('Delete service', deleteService);
