import { isAwsError } from '#lib/errors.ts';
import { unwrapFailure, type CaughtFailure } from '#lib/failure.ts';
import { mergeLedgers } from '#lib/ledger.ts';
import { logger, wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { executionNameOf, recordFailed, registryTable, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import type { WorkloadRequest } from '#lib/request.ts';
import type { LedgerEntry } from '#lib/workflow.ts';

export type { CaughtFailure } from '#lib/failure.ts';

/**
 * What every "<step> failed" Pass hands on: a new state built from named parts only, so the
 * CA bundle (and the raw request with `rootCaPem`, before Validate request) never reaches
 * Record failure. After a Parallel whose branch failed, `ledgers` holds every branch's: the
 * ledgers of a branch that ran to its end by state key, and a failed branch's own failure
 * state's ledgers as one object under the branch's name.
 */
export interface FailureState {
  failure: CaughtFailure;
  /** The ledgers of the steps known to have run before the failure, by state key, in workflow order (a failed branch's: an object of them). */
  ledgers?: Record<string, LedgerEntry[] | Record<string, LedgerEntry[]>>;
  /** When several Parallel branches failed: the failures after the first, by branch name. */
  alsoFailed?: Record<string, CaughtFailure>;
  /** The validated request, once there is one (for the log's workload key). */
  request?: WorkloadRequest;
  execution?: { id: string };
}

export interface FailureRecord {
  step: string;
  error: string;
  /** One human-readable line: the failed step's message, never a stack trace (and the other failed branches' steps and messages). */
  cause: string;
  /** `<step>: <cause>`, the Cause of the execution's Fail state. */
  summary: string;
  /**
   * Resources this run made before the failure (what a re-run reuses, or teardown removes),
   * from every Parallel branch: a failed branch ends normally, so the other one runs to its end
   * and its results are kept.
   */
  resourcesSoFar: LedgerEntry[];
  /** Resources this run found and reused before the failure (the registry's ledger holds both). */
  reusedSoFar: LedgerEntry[];
}

/** Every ledger of a failure state, flattened one level for a failed branch's object of ledgers. */
function ledgersOf(state: Partial<FailureState>): LedgerEntry[][] {
  return Object.values(state.ledgers ?? {}).flatMap((v) => (Array.isArray(v) ? [v] : Object.values(v ?? {})));
}

/**
 * Record failure: turns a clean failure state into one record (failed step, error, cause,
 * resources made and reused so far). Lambda puts `{errorType, errorMessage, trace}` JSON in the
 * Cause; an older failed Parallel branch put its own FailureState there: both are unwrapped so
 * the user sees the step's message, never a stack trace. The workload registry records the
 * failure (step, error, cause and everything the run made or reused) once a request was
 * validated, only while this execution holds the workload's lock, freeing it in the same write:
 * a run that never had the lock (WorkloadBusyError) or lost it leaves the holder's record alone.
 * A dry run (request.dryRun) records nothing.
 */
export async function recordFailure(state: Partial<FailureState>): Promise<FailureRecord> {
  const f = state.failure ?? { step: 'unknown', error: 'UnexpectedError', cause: 'no failure was recorded' };
  const unwrapped = unwrapFailure(f);
  const { step, error } = unwrapped;
  const others = Object.values(state.alsoFailed ?? {}).map((o) => unwrapFailure(o));
  const cause = others.length > 0 ? `${unwrapped.cause} (also failed: ${others.map((o) => `${o.step}: ${o.error}: ${o.cause}`).join('; ')})` : unwrapped.cause;
  const ledger = mergeLedgers([...ledgersOf(state), ...unwrapped.branchLedgers]);
  // Without a validated request (Validate request itself failed) there is no workload to record.
  // A dry run writes nothing: it never took the lock, and the workload's record is the apply's.
  if (registryTable() && state.request && state.execution && state.request.dryRun !== true) {
    try {
      await recordFailed(state.request, state.execution.id, { step, error, cause }, ledger, new Date(), { release: executionNameOf(state.execution.id) });
    } catch (err) {
      // Not this run's record to write: the execution still ends with its own error.
      if (!isAwsError(err, 'WorkloadBusyError')) throw err;
      logger.warn('the failure is not written to the registry: this execution does not hold the workload lock', { error: (err as Error).message });
    }
  }
  return { step, error, cause, summary: `${step}: ${cause}`, resourcesSoFar: ledger.filter((e) => e.created), reusedSoFar: ledger.filter((e) => !e.created) };
}

export const permissions: StepPermissions = REGISTRY_WRITE_PERMISSIONS;

export const handler = wrap('Record failure', recordFailure);
