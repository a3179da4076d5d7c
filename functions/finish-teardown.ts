import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { deleteWorkloadRecord, executionNameOfId, REGISTRY_DELETE_PERMISSIONS, REGISTRY_READ_PERMISSIONS, TEARDOWN_LEDGER_KEYS, teardownState, type TeardownEntry, type TeardownState } from '#lib/teardown.ts';

export interface TeardownResult {
  workload: string;
  deleted: TeardownEntry[];
  /** Left in place: shared and still used, not this tool's (or this workload's), or retained on request. */
  kept: TeardownEntry[];
  notFound: TeardownEntry[];
  /** False when the record was already gone (a retried last state). */
  registryRecordDeleted: boolean;
}

/**
 * Finish teardown: deletes the workload's registry record while this execution holds its lock
 * (so the workload is unknown afterwards, and a new onboarding starts afresh), and sums up
 * what every step deleted, kept and did not find.
 */
export async function finishTeardown(state: Partial<TeardownState>): Promise<TeardownResult> {
  const s = teardownState(state);
  const all = TEARDOWN_LEDGER_KEYS.flatMap((k) => s[k]?.ledger ?? []);
  const registryRecordDeleted = await deleteWorkloadRecord(s.target.workload, executionNameOfId(s.execution.id));
  return {
    workload: s.target.workload,
    deleted: all.filter((e) => e.outcome === 'deleted'),
    kept: all.filter((e) => e.outcome === 'kept' || e.outcome === 'retained'),
    notFound: all.filter((e) => e.outcome === 'not-found'),
    registryRecordDeleted,
  };
}

export const permissions: StepPermissions = composePermissions(REGISTRY_DELETE_PERMISSIONS, REGISTRY_READ_PERMISSIONS);

export const handler = wrap('Finish teardown', finishTeardown);
