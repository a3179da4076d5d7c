import { DELETE_TASK_DEFINITIONS_PERMISSIONS, deleteTaskDefinitions } from '#lib/aws/teardown-ecs.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, recordedIds, teardownState, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Deregister task definitions: every revision of the workload's family (and of any family its
 * recorded task definitions name) that carries this workload's tags is deregistered, then
 * deleted (DeleteTaskDefinitions); revisions without them are kept and named.
 */
export async function deregisterTaskDefinitions(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const families = new Set([request.ecs.family, ...recordedIds(target, 'task-definition').map((arn) => arn.slice(arn.lastIndexOf('/') + 1).split(':')[0]!)]);
  const ledger: TeardownEntry[] = [];
  for (const family of families) {
    const { deleted, kept } = await deleteTaskDefinitions(family, request);
    ledger.push(...deleted.map((arn) => entry('task-definition', arn, 'deleted')), ...kept.map((k) => entry('task-definition', k.arn, 'kept', { reason: k.reason })));
    if (deleted.length === 0 && kept.length === 0) ledger.push(entry('task-definition', family, 'not-found'));
  }
  return { ledger };
}

export const permissions: StepPermissions = DELETE_TASK_DEFINITIONS_PERMISSIONS;

export const handler = wrap('Deregister task definitions', deregisterTaskDefinitions);
