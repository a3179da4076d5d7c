import type { LedgerEntry, WorkflowState } from './workflow.ts';

/**
 * Every ledger entry in the state (then `more`), in workflow order, without duplicates
 * (a NAT gateway re-checked in the wait loop is one entry).
 */
export function collectLedger(state: Partial<WorkflowState>, more: LedgerEntry[] = []): LedgerEntry[] {
  const seen = new Set<string>();
  const out: LedgerEntry[] = [];
  const ledgers = [...Object.values(state).map((v) => (v as { ledger?: LedgerEntry[] } | undefined)?.ledger), more];
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
