/**
 * The sandbox's stand-in for the hourly schedule on AWS: runs the re-verification workflow
 * (statemachine/reverify-workloads.asl.json) in the local engine now and then every `everyMs`,
 * one run at a time, and hands each outcome on (the CLI prints one line per workload).
 */
import type { ReverifyResult } from '../functions/reverify-workload.ts';
import { startWorkflow, type ExecutionOutcome, type RunningExecution } from './engine/run-workflow.ts';

export interface ReverifyLoop {
  /** Stops the timer and aborts a run under way (its outcome is not handed on), then waits for it to end. */
  stop(): Promise<void>;
}

export interface ReverifyLoopOptions {
  everyMs: number;
  /** Wait states and retry intervals of the local engine (as for onboarding). */
  waitMs?: number;
  onOutcome: (outcome: ExecutionOutcome) => void;
}

export function startReverifyLoop(opts: ReverifyLoopOptions): ReverifyLoop {
  let running: Promise<void> | undefined;
  let current: RunningExecution | undefined;
  let stopped = false;
  let runs = 0;
  const tick = () => {
    // A run still under way when the next is due: skip the tick (the Express workflow on AWS would overlap, but a run is idempotent).
    if (running || stopped) return;
    runs += 1;
    const executionName = `reverify-${new Date().toISOString().replace(/[:.]/g, '-')}-${runs}`;
    running = startWorkflow({}, { machine: 'reverify-workloads', executionName, waitMs: opts.waitMs })
      .then((run) => {
        current = run;
        // Stopped while the engine loaded: abort at once rather than run against a sandbox going away.
        if (stopped) run.abort();
        return run.done;
      })
      .then((o) => {
        if (!stopped) opts.onOutcome(o);
      })
      .finally(() => {
        running = undefined;
        current = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, opts.everyMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      // A run left going would call the emulator after it stopped (ECONNREFUSED): abort it and wait for its end.
      current?.abort();
      await running?.catch(() => undefined);
    },
  };
}

/** One line per workload of a re-verification run: ok, DRIFT with its findings, not checked and why. */
export function describeReverifyOutcome(o: ExecutionOutcome, at = new Date()): string {
  const time = at.toISOString().slice(11, 19);
  if (o.status !== 'SUCCEEDED') return `[${time}] re-verification ${o.status}: ${o.error ?? ''} ${o.cause ?? ''}`.trimEnd();
  const results = (o.output ?? []) as (ReverifyResult | { workload: string; checked: false; error: string; cause: string })[];
  if (results.length === 0) return `[${time}] re-verification: no workload in the registry`;
  const lines = results.map((r) => {
    if (!r.checked) return `  ${r.workload}: not checked (${'reason' in r ? r.reason : `${r.error}: ${r.cause}`})`;
    if (r.ok) return `  ${r.workload}: ok`;
    return `  ${r.workload}: DRIFT ${r.drift.map((d) => `${d.kind} (${d.message})`).join('; ')}`;
  });
  const drifted = results.filter((r) => r.checked && !r.ok).length;
  return [`[${time}] re-verified ${results.length} workload${results.length === 1 ? '' : 's'} in ${o.durationMs} ms${drifted ? `, ${drifted} drifted (event sent)` : ''}:`, ...lines].join('\n');
}
