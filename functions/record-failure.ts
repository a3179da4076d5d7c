import { collectLedger } from '#lib/ledger.ts';
import { wrap } from '#lib/middleware.ts';
import type { LedgerEntry, WorkflowState } from '#lib/workflow.ts';

/** What the state machine's Catch + "<step> failed" Pass put at `$.failure`. */
export interface CaughtFailure {
  step: string;
  error: string;
  cause?: string;
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
 * Record failure: turns a caught error into one record (failed step, error, cause,
 * resources made so far). Lambda puts `{errorType, errorMessage, trace}` JSON in the
 * Cause; a failed Parallel branch puts our own `{step, error, cause}`: both are unwrapped
 * so the user sees the step's message, never a stack trace.
 */
export async function recordFailure(state: Partial<WorkflowState> & { failure?: CaughtFailure }): Promise<FailureRecord> {
  const f = state.failure ?? { step: 'unknown', error: 'UnexpectedError', cause: 'no failure was recorded' };
  let { step, error } = f;
  let cause = f.cause ?? '';
  // What a failed Parallel branch made: its state is gone, its record carries the ledgers.
  const branchMade: LedgerEntry[] = [];
  // Unwrap at most twice: branch record → Lambda payload.
  for (let i = 0; i < 2; i++) {
    const parsed = parseJson(cause);
    if (!parsed) break;
    if (typeof parsed.step === 'string' && typeof parsed.error === 'string') {
      step = parsed.step;
      error = parsed.error;
      cause = typeof parsed.cause === 'string' ? parsed.cause : '';
      branchMade.push(...Object.values((parsed.resources ?? {}) as Record<string, LedgerEntry[]>).flat());
    } else if (typeof parsed.errorMessage === 'string') {
      cause = parsed.errorMessage;
      if (typeof parsed.errorType === 'string') error = parsed.errorType;
    } else break;
  }
  cause = cause || error;
  const made = collectLedger(state as Partial<WorkflowState>, branchMade);
  return { step, error, cause, summary: `${step}: ${cause}`, resourcesSoFar: made.filter((e) => e.created) };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  if (!text.trim().startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const handler = wrap('Record failure', recordFailure);
