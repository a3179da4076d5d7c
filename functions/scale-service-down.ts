import { findService, foreignReason, SCALE_SERVICE_DOWN_PERMISSIONS, scaleServiceToZero } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Scale service down: sets the workload's ECS service to 0 tasks, so ECS stops them before the
 * service is deleted. A service of the name that is not this workload's is left alone (and its
 * tasks are not waited for); none, or one already being deleted, is fine.
 */
export async function scaleServiceDown(state: Partial<TeardownState>): Promise<TeardownStepResult & { status: string }> {
  const { request } = teardownState(state);
  const { cluster, service } = request.ecs;
  const found = await findService(cluster, service, request);
  if (found.status === 'foreign') return { status: 'foreign', ledger: [entry('ecs-service', found.service.serviceArn ?? service, 'kept', { reason: foreignReason(found.ownership) })] };
  if (found.status === 'ACTIVE') await scaleServiceToZero(cluster, found.service);
  return { status: found.status, ledger: [] };
}

export const permissions: StepPermissions = SCALE_SERVICE_DOWN_PERMISSIONS;

export const handler = wrap('Scale service down', scaleServiceDown);
