import type { LedgerEntry, WorkflowState } from './workflow.ts';

/** Every ledger entry in the state, in workflow order, without duplicates (a re-checked NAT gateway...). */
export function collectLedger(state: Partial<WorkflowState>): LedgerEntry[] {
  const seen = new Set<string>();
  const out: LedgerEntry[] = [];
  for (const value of Object.values(state)) {
    const ledger = (value as { ledger?: LedgerEntry[] } | undefined)?.ledger;
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
