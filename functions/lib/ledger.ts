import type { LedgerEntry, WorkflowState } from './workflow.ts';

/**
 * The entries of `ledgers`, in order, without duplicates (a NAT gateway re-checked in the
 * wait loop, or found by two steps, is one entry).
 */
export function mergeLedgers(ledgers: readonly (readonly LedgerEntry[] | undefined)[]): LedgerEntry[] {
  const seen = new Set<string>();
  const out: LedgerEntry[] = [];
  for (const ledger of ledgers) {
    if (!Array.isArray(ledger)) continue;
    for (const e of ledger) {
      const key = `${e.kind}:${e.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
  }
  return out;
}

/** Every ledger entry in the workflow state (then `more`), in workflow order, without duplicates. */
export function collectLedger(state: Partial<WorkflowState>, more: LedgerEntry[] = []): LedgerEntry[] {
  return mergeLedgers([...Object.values(state).map((v) => (v as { ledger?: LedgerEntry[] } | undefined)?.ledger), more]);
}
