import { mergeLedgers } from '#lib/ledger.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { recordFailed, registryTable, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import { unwrapFailure, type CaughtFailure } from '#lib/failure.ts';
import type { WorkloadRequest } from '#lib/request.ts';
import type { LedgerEntry } from '#lib/workflow.ts';

export type { CaughtFailure } from '#lib/failure.ts';

/**
 * What every "<step> failed" Pass hands on: a new state built from named parts only, so the
 * CA bundle (and the raw request with `rootCaPem`, before Validate request) never reaches
 * Record failure. A failed Parallel branch puts its own FailureState, as JSON, in `failure.cause`.
 */
export interface FailureState {
  failure: CaughtFailure;
  /** The ledgers of the steps known to have run before the failure, by state key, in workflow order. */
  ledgers?: Record<string, LedgerEntry[]>;
  /** The validated request, once there is one (for the log's workload key). */
  request?: WorkloadRequest;
  execution?: { id: string };
}

export interface FailureRecord {
  step: string;
  error: string;
  /** One human-readable line: the failed step's message, never a stack trace. */
  cause: string;
  /** `<step>: <cause>`, the Cause of the execution's Fail state. */
  summary: string;
  /**
   * Resources made before the failure (what a re-run reuses, or teardown removes). When a
   * Parallel branch fails, the other branch is stopped and its results are lost: teardown
   * finds everything by this tool's tags, this list is what the run itself saw.
   */
  resourcesSoFar: LedgerEntry[];
}

/**
 * Record failure: turns a clean failure state into one record (failed step, error, cause,
 * resources made so far). Lambda puts `{errorType, errorMessage, trace}` JSON in the
 * Cause; a failed Parallel branch puts its own FailureState: both are unwrapped so the user
 * sees the step's message, never a stack trace. The workload registry records the failure
 * (step, error, cause and everything the run made or reused) once a request was validated.
 */
export async function recordFailure(state: Partial<FailureState>): Promise<FailureRecord> {
  const f = state.failure ?? { step: 'unknown', error: 'UnexpectedError', cause: 'no failure was recorded' };
  const unwrapped = unwrapFailure(f);
  const { step, error, cause } = unwrapped;
  const ledger = mergeLedgers([...Object.values(state.ledgers ?? {}), ...unwrapped.branchLedgers]);
  // Without a validated request (Validate request itself failed) there is no workload to record.
  if (registryTable() && state.request && state.execution) await recordFailed(state.request, state.execution.id, { step, error, cause }, ledger);
  return { step, error, cause, summary: `${step}: ${cause}`, resourcesSoFar: ledger.filter((e) => e.created) };
}


export const permissions: StepPermissions = REGISTRY_WRITE_PERMISSIONS;

export const handler = wrap('Record failure', recordFailure);
