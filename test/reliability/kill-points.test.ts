/**
 * Fault injection (issue 9, item 5): the run is killed right after each mutating AWS call
 * succeeds (every call, not every step: `service:Operation#n`, through the clients' test-only
 * fault hook), then the same request runs again. Each case gets a fresh sandbox; the re-run
 * must succeed and the account must hold exactly what a clean run leaves, one of each. The
 * suite prints the matrix (call × outcome).
 */
import { describe, expect, it } from 'vitest';
import { onCommand, setFaultInjector } from '../../functions/lib/clients.ts';
import { currentStep } from '../../functions/lib/middleware.ts';
import { getWorkload } from '../../functions/lib/registry.ts';
import { runWorkflow, startWorkflow, type ExecutionOutcome, type RunningExecution, type RunOptions } from '../../local/engine/run-workflow.ts';
import { startSandbox, type Sandbox } from '../../local/sandbox.ts';
import { killAfter, mutatingCallRecorder } from '../support/aws-faults.ts';
import { duplicates, inventory, leftovers, type Inventory } from '../support/inventory.ts';
import { bookinfoInput } from '../support/requests.ts';

const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };

/** Resolves once no AWS call has been sent for `quietMs` (work a kill left going has ended), or at the deadline. */
async function settled(quietMs = 300, deadlineMs = 15_000): Promise<void> {
  let last = Date.now();
  const stop = onCommand(() => {
    last = Date.now();
  });
  try {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() - last < quietMs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  } finally {
    stop();
  }
}

async function withSandbox<T>(fn: (sb: Sandbox) => Promise<T>): Promise<T> {
  const sb = await startSandbox({ intervalMs: 100 });
  try {
    return await fn(sb);
  } finally {
    setFaultInjector(undefined);
    await sb.stop();
  }
}

const inventoryOf = (sb: Sandbox): Promise<Inventory> => inventory(sb.moto.endpoint, { registryTable: sb.registryTable, eksClusterSecurityGroupId: sb.vpc.clusterSecurityGroupId });

/** What differs between two inventories, as `key: want → got`. */
function diff(want: Inventory, got: Inventory): string[] {
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
  return keys.filter((k) => want[k] !== got[k]).map((k) => `${k}: ${want[k] ?? 0} → ${got[k] ?? 0}`);
}

interface Row {
  k: number;
  call: string;
  step: string;
  killed: string;
  rerun: string;
  ms: number;
  problems: string[];
}

function printMatrix(title: string, rows: Row[], ok = 'ok: one of each'): void {
  const w = Math.max(...rows.map((r) => r.call.length), 4);
  const s = Math.max(...rows.map((r) => r.step.length), 4);
  const lines = [
    title,
    `${'#'.padStart(3)}  ${'call'.padEnd(w)}  ${'step'.padEnd(s)}  killed run  re-run     ms  outcome`,
    ...rows.map((r) => `${String(r.k).padStart(3)}  ${r.call.padEnd(w)}  ${r.step.padEnd(s)}  ${r.killed.padEnd(10)}  ${r.rerun.padEnd(9)} ${String(r.ms).padStart(5)}  ${r.problems.length ? `FAIL ${r.problems.join('; ')}` : ok}`),
  ];
  console.log(lines.join('\n'));
}

describe('fault injection: killed after each mutating AWS call, then run again', () => {
  it('converges from every kill point with exactly one of each resource', async () => {
    const started = Date.now();
    // 1. A clean run: the mutating calls in order and what the account holds afterwards.
    const clean = await withSandbox(async (sb) => {
      const rec = mutatingCallRecorder();
      setFaultInjector(rec);
      const o = await runWorkflow(bookinfoInput(), { ...FAST, executionName: 'clean' });
      setFaultInjector(undefined);
      expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
      return { calls: rec.calls, inventory: await inventoryOf(sb) };
    });
    expect(duplicates(clean.inventory)).toEqual([]);
    expect(clean.calls.length).toBeGreaterThan(10);

    // 2. Each kill point in a fresh account.
    const only = process.env.KILL_POINTS ? new Set(process.env.KILL_POINTS.split(',')) : undefined;
    const rows: Row[] = [];
    for (const [i, target] of clean.calls.entries()) {
      if (only && !only.has(target)) continue;
      const t0 = Date.now();
      rows.push(
        await withSandbox(async (sb) => {
          const killing: { run?: RunningExecution } = {};
          let step = '?';
          setFaultInjector(
            killAfter(target, () => {
              step = currentStep() ?? '(outside a step)';
              killing.run?.abort();
            }),
          );
          const run = await startWorkflow(bookinfoInput(), { ...FAST, executionName: `kill-${i + 1}` });
          killing.run = run;
          const killed = await run.done;
          setFaultInjector(undefined);
          await settled();
          // The killed run's workload lock is freed by the end-of-execution hook the engine calls
          // on ABORTED (functions/execution-ended.ts, as EventBridge does on AWS): nothing to release here.
          const again = await runWorkflow(bookinfoInput(), { ...FAST, executionName: `kill-${i + 1}-r2` });
          const inv = await inventoryOf(sb);
          const problems = [
            ...(killed.status === 'ABORTED' ? [] : [`the kill point was not reached (first run ${killed.status})`]),
            ...(again.status === 'SUCCEEDED' ? [] : [`re-run ${again.status}: ${again.error}: ${again.cause}`]),
            ...duplicates(inv).map((d) => `duplicate ${d}`),
            ...diff(clean.inventory, inv),
          ];
          return { k: i + 1, call: target, step, killed: killed.status, rerun: again.status, ms: Date.now() - t0, problems };
        }),
      );
    }
    printMatrix(`Kill points: ${rows.length} mutating calls of a clean run (${clean.calls.length}), each killed and run again; ${Math.round((Date.now() - started) / 1000)} s in all`, rows);
    expect(rows.filter((r) => r.problems.length > 0).map((r) => `${r.call}: ${r.problems.join('; ')}`)).toEqual([]);
  }, 900_000);

  it('teardown: killed after each deletion and run again, nothing of ours is left', async () => {
    const started = Date.now();
    const WORKLOAD = 'bookinfo/ratings';
    const teardownOf = (executionName: string): Promise<ExecutionOutcome> => runWorkflow({ workload: WORKLOAD }, { ...FAST, machine: 'offboard-workload', executionName });
    /** A fresh account with the workload onboarded cleanly (no fault hook while it onboards). */
    const onboarded = async (name: string) => {
      const o = await runWorkflow(bookinfoInput(), { ...FAST, executionName: `${name}-onboard` });
      expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    };
    const leftoversOf = (sb: Sandbox) => leftovers(sb.moto.endpoint, { registryTable: sb.registryTable });

    // 1. A clean teardown of a clean onboarding: its mutating calls (the deletions) in order.
    const clean = await withSandbox(async (sb) => {
      const before = await inventoryOf(sb);
      await onboarded('td-clean');
      const rec = mutatingCallRecorder();
      setFaultInjector(rec);
      const o = await teardownOf('td-clean');
      setFaultInjector(undefined);
      expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
      expect(await leftoversOf(sb)).toEqual([]);
      return { calls: rec.calls, before, after: await inventoryOf(sb) };
    });
    // What the inventory counts after a teardown is what the account held before the onboarding (nothing of ours).
    expect(clean.after).toEqual(clean.before);
    expect(clean.calls.length).toBeGreaterThan(10);

    // 2. Each kill point: onboard in a fresh account, kill the teardown right after that call, tear down again.
    const only = process.env.TEARDOWN_KILL_POINTS ? new Set(process.env.TEARDOWN_KILL_POINTS.split(',')) : undefined;
    const rows: Row[] = [];
    for (const [i, target] of clean.calls.entries()) {
      if (only && !only.has(target)) continue;
      const t0 = Date.now();
      rows.push(
        await withSandbox(async (sb) => {
          await onboarded(`td-kill-${i + 1}`);
          const killing: { run?: RunningExecution } = {};
          let step = '?';
          setFaultInjector(
            killAfter(target, () => {
              step = currentStep() ?? '(outside a step)';
              killing.run?.abort();
            }),
          );
          const run = await startWorkflow({ workload: WORKLOAD }, { ...FAST, machine: 'offboard-workload', executionName: `td-kill-${i + 1}` });
          killing.run = run;
          const killed = await run.done;
          setFaultInjector(undefined);
          await settled();
          // Killed after its last deletion (the registry record's), the teardown is done: the re-run must say so and touch nothing.
          const recordGone = (await getWorkload(WORKLOAD)) === undefined;
          // As for onboarding: the end-of-execution hook freed the killed teardown's lock.
          const again = await teardownOf(`td-kill-${i + 1}-r2`);
          const left = await leftoversOf(sb);
          const inv = await inventoryOf(sb);
          const answeredNotFound = again.status === 'FAILED' && again.error === 'WorkloadNotFoundError' && again.history.every((h) => h.state === 'Start teardown' || !/^(Scale|Delete|Deregister|Revoke)/.test(h.state));
          const problems = [
            ...(killed.status === 'ABORTED' ? [] : [`the kill point was not reached (first run ${killed.status})`]),
            ...(recordGone ? (answeredNotFound ? [] : [`re-run after the record went: ${again.status} ${again.error ?? ''} (want FAILED WorkloadNotFoundError, nothing touched)`]) : again.status === 'SUCCEEDED' ? [] : [`re-run ${again.status}: ${again.error}: ${again.cause}`]),
            ...left.map((x) => `left ${x}`),
            ...diff(clean.before, inv),
          ];
          return { k: i + 1, call: target, step, killed: killed.status, rerun: recordGone && answeredNotFound ? 'NOT FOUND' : again.status, ms: Date.now() - t0, problems };
        }),
      );
    }
    printMatrix(
      `Teardown kill points: ${rows.length} mutating calls of a clean teardown (${clean.calls.length}), each killed and torn down again; ${Math.round((Date.now() - started) / 1000)} s in all (NOT FOUND: the record was already gone, the re-run ended WorkloadNotFoundError touching nothing)`,
      rows,
      'ok: nothing left',
    );
    expect(rows.filter((r) => r.problems.length > 0).map((r) => `${r.call}: ${r.problems.join('; ')}`)).toEqual([]);
  }, 900_000);
});
