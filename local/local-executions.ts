/**
 * The local API's execution backend: runs executions in-process with the local engine
 * and keeps their history in memory (the sandbox lives as long as the process).
 */
import type { ExecutionBackend, ExecutionView } from '../functions/lib/onboarding-api.ts';
import type { OnboardingRequest } from '../functions/lib/request.ts';
import { workloadKey } from '../functions/lib/tags.ts';
import { startWorkflow, type ExecutionOutcome, type RunningExecution, type RunOptions } from './engine/run-workflow.ts';

interface Entry {
  run: RunningExecution;
  workload: string;
  startedAt: string;
  outcome?: ExecutionOutcome;
}

export class LocalExecutions implements ExecutionBackend {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly runOptions: Omit<RunOptions, 'executionName'> = {}) {}

  async start(name: string, request: OnboardingRequest): Promise<{ started: boolean }> {
    if (this.entries.has(name)) return { started: false };
    const run = await startWorkflow(request, { ...this.runOptions, executionName: name });
    const entry: Entry = { run, workload: workloadKey(request), startedAt: new Date().toISOString() };
    this.entries.set(name, entry);
    void run.done.then((o) => (entry.outcome = o));
    return { started: true };
  }

  async describe(executionId: string): Promise<ExecutionView | undefined> {
    const e = this.entries.get(executionId);
    return e ? view(executionId, e) : undefined;
  }

  async list(): Promise<ExecutionView[]> {
    return [...this.entries.entries()].map(([id, e]) => view(id, e));
  }

  /** Waits for every running execution to end (sandbox shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.run.done));
  }

  abortAll(): void {
    for (const e of this.entries.values()) if (!e.outcome) e.run.abort();
  }
}

function resourcesSoFar(record: unknown): { resourcesSoFar?: unknown[] } {
  const r = (record as { resourcesSoFar?: unknown[] } | undefined)?.resourcesSoFar;
  return Array.isArray(r) ? { resourcesSoFar: r } : {};
}

function view(executionId: string, e: Entry): ExecutionView {
  const o = e.outcome;
  return {
    executionId,
    status: o ? o.status : 'RUNNING',
    workload: e.workload,
    startedAt: e.startedAt,
    ...(o ? { stoppedAt: new Date(Date.parse(o.startedAt) + o.durationMs).toISOString(), durationMs: o.durationMs } : {}),
    ...(o ? {} : { currentStep: e.run.currentStep() }),
    steps: e.run.history.map((h) => ({ state: h.state, status: h.status, startedAt: h.startedAt, durationMs: h.durationMs, attempts: h.attempts, ...(h.error ? { error: h.error } : {}) })),
    ...(o?.status === 'SUCCEEDED' ? { result: o.output } : {}),
    ...(o && o.status !== 'SUCCEEDED' ? { error: { error: o.error ?? 'Error', cause: o.cause ?? '', ...resourcesSoFar(o.failureRecord) } } : {}),
  };
}
