import { unwrapFailure, type CaughtFailure } from '#lib/failure.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { registryTable, releaseWorkloadLock, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import { executionNameOfId, type TeardownEntry, type TeardownTarget } from '#lib/teardown.ts';

export interface TeardownFailureState {
  failure: CaughtFailure;
  ledgers?: Record<string, TeardownEntry[]>;
  target?: TeardownTarget;
  execution?: { id: string };
}

export interface TeardownFailureRecord {
  step: string;
  error: string;
  cause: string;
  summary: string;
  /** What the run deleted before it failed: running it again deletes the rest. */
  deletedSoFar: TeardownEntry[];
}

/**
 * Record teardown failure: one record of the failed step, its error and cause, and what was
 * deleted before; releases the workload's lock if this execution holds it (the registry record
 * stays, so the workload is still known and the teardown can be run again).
 */
export async function recordTeardownFailure(state: Partial<TeardownFailureState>): Promise<TeardownFailureRecord> {
  const f = state.failure ?? { step: 'unknown', error: 'UnexpectedError', cause: 'no failure was recorded' };
  const u = unwrapFailure(f);
  const branch = u.branchLedgers as unknown as TeardownEntry[][];
  const entries = [...Object.values(state.ledgers ?? {}), ...branch].flat();
  if (registryTable() && state.target && state.execution) await releaseWorkloadLock(state.target.workload, executionNameOfId(state.execution.id));
  return { step: u.step, error: u.error, cause: u.cause, summary: `${u.step}: ${u.cause}`, deletedSoFar: entries.filter((e) => e.outcome === 'deleted') };
}

export const permissions: StepPermissions = REGISTRY_WRITE_PERMISSIONS;

export const handler = wrap('Record teardown failure', recordTeardownFailure);
