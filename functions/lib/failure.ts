/**
 * Reading a caught failure as a user should see it: the failed step, its error and its
 * message, never the stack a Lambda error carries. Used by Record failure and by the API when
 * it shows an execution that ended without a failure record.
 */
import type { LedgerEntry } from './workflow.ts';

/** The failed step and its error, as the "<step> failed" Pass names them. */
export interface CaughtFailure {
  step: string;
  error: string;
  cause?: string;
}

/**
 * The user-facing step, error and message of a caught failure, and what a failed Parallel
 * branch made. A Lambda error's Cause is `{errorType, errorMessage, trace}` (the trace is a
 * stack: never shown to a user). A Cause that is a branch's failure state as JSON comes from
 * executions of the definition before branches ended normally on failure (their Fail state put
 * it there); it is still read, for those executions' histories. Unwraps at most twice (branch
 * failure state → Lambda payload).
 */
export function unwrapFailure(f: CaughtFailure): CaughtFailure & { cause: string; branchLedgers: LedgerEntry[][] } {
  let { step, error } = f;
  let cause = f.cause ?? '';
  const branchLedgers: LedgerEntry[][] = [];
  for (let i = 0; i < 2; i++) {
    const parsed = parseJson(cause);
    if (!parsed) break;
    const branch = parsed.failure as Partial<CaughtFailure> | undefined;
    if (typeof branch?.step === 'string' && typeof branch.error === 'string') {
      step = branch.step;
      error = branch.error;
      cause = typeof branch.cause === 'string' ? branch.cause : '';
      // What the failed branch made: its state is gone, its failure state carries the ledgers.
      branchLedgers.push(...Object.values((parsed.ledgers ?? {}) as Record<string, LedgerEntry[]>));
    } else if (typeof parsed.errorMessage === 'string') {
      cause = parsed.errorMessage;
      if (typeof parsed.errorType === 'string') error = parsed.errorType;
    } else break;
  }
  return { step, error, cause: cause || error, branchLedgers };
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
