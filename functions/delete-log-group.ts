import { deleteOurLogGroup, LOG_GROUP_DELETE_PERMISSIONS } from '#lib/aws/log-group.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Delete log group: `/ecs/<family>` with its streams, unless the teardown was asked to retain logs. */
export async function deleteLogGroup(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const name = names.logGroup(request);
  if (target.retainLogs) return { ledger: [entry('log-group', name, 'retained', { reason: 'retainLogs was asked for' })] };
  const r = await deleteOurLogGroup(name, request);
  return { ledger: [entry('log-group', name, r.outcome, r.outcome === 'kept' ? { reason: r.reason } : {})] };
}

export const permissions: StepPermissions = LOG_GROUP_DELETE_PERMISSIONS;

export const handler = wrap('Delete log group', deleteLogGroup);
