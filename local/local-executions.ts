/**
 * The local API's execution backend: runs executions in-process with the local engine
 * and keeps their history in memory (the sandbox lives as long as the process). The list of
 * onboardings is not kept here: the API reads it from the registry (the emulator's DynamoDB),
 * as on AWS.
 */
import type { ExecutionBackend, ExecutionView } from '../functions/lib/onboarding-api.ts';
import type { OnboardingRequest } from '../functions/lib/request.ts';
import { workloadKey } from '../functions/lib/tags.ts';
import type { TeardownInput } from '../functions/lib/teardown.ts';
import type { WorkloadLock } from '../functions/lib/registry.ts';
import type { MachineName } from '../statemachine/definition.ts';
import { startWorkflow, type ExecutionOutcome, type RunningExecution, type RunOptions } from './engine/run-workflow.ts';

interface Entry {
  run?: RunningExecution;
  /** Settles once the run has started (the engine loads the handlers first). */
  starting: Promise<RunningExecution>;
  workload: string;
  startedAt: string;
  outcome?: ExecutionOutcome;
}

export class LocalExecutions implements ExecutionBackend {
  private readonly entries = new Map<string, Entry>();
  private readonly verifications = new Map<string, { run: RunningExecution; ended: boolean }>();
  constructor(private readonly runOptions: Omit<RunOptions, 'executionName' | 'machine'> = {}) {}

  /**
   * Starts the run unless one of that name exists (as StartExecution refuses a taken name). The
   * name is claimed before the first await, so two concurrent starts of one name make one run.
   * The engine reports the run's end to functions/execution-ended.ts, as EventBridge does on AWS.
   */
  async start(name: string, request: OnboardingRequest): Promise<{ started: boolean }> {
    return this.launch(name, request, workloadKey(request), 'onboard-workload');
  }

  /** Stops a running execution (StopExecution): it ends ABORTED and its end is reported like any other, freeing its lock. Undefined for an unknown name. */
  async abort(executionId: string): Promise<ExecutionOutcome | undefined> {
    const e = this.entries.get(executionId);
    if (!e) return undefined;
    const run = await e.starting;
    if (!e.outcome) run.abort();
    return run.done;
  }

  /** How an onboarding ended, once it has (undefined for an unknown name). */
  ended(executionId: string): Promise<ExecutionOutcome> | undefined {
    return this.entries.get(executionId)?.starting.then((r) => r.done);
  }

  async describe(executionId: string): Promise<ExecutionView | undefined> {
    const e = this.entries.get(executionId);
    return e ? view(executionId, e) : undefined;
  }

  /** The status of a lock's holder: onboarding and teardown executions are both kept here. */
  async lockHolderStatus(lock: WorkloadLock): Promise<ExecutionView['status'] | undefined> {
    return (await this.describe(lock.executionId))?.status;
  }

  /** Runs the teardown machine for `input.workload`, kept and described like an onboarding (GET /onboardings/{id}). */
  async offboard(name: string, input: TeardownInput): Promise<{ started: boolean }> {
    return this.launch(name, input, input.workload, 'offboard-workload');
  }

  /** Starts `machine` under `name` unless that name is taken; the name is claimed before the first await. */
  private async launch(name: string, input: unknown, workload: string, machine: MachineName): Promise<{ started: boolean }> {
    if (this.entries.has(name)) return { started: false };
    const starting = startWorkflow(input, { ...this.runOptions, machine, executionName: name });
    const entry: Entry = { starting, workload, startedAt: new Date().toISOString() };
    this.entries.set(name, entry);
    try {
      entry.run = await starting;
    } catch (err) {
      this.entries.delete(name);
      throw err;
    }
    void entry.run.done.then((o) => (entry.outcome = o));
    return { started: true };
  }

  /** Runs the re-verification machine for one workload, as StartExecution of it does on AWS. */
  async verify(name: string, workload: string): Promise<void> {
    const { waitMs, retryIntervalMs } = this.runOptions;
    const run = await startWorkflow({ workloads: [workload] }, { machine: 'reverify-workloads', executionName: name, waitMs, retryIntervalMs });
    const entry = { run, ended: false };
    this.verifications.set(name, entry);
    void run.done.then(() => (entry.ended = true));
  }

  /** How a re-verification started through the API ended (undefined for an unknown name). */
  verification(name: string): Promise<ExecutionOutcome> | undefined {
    return this.verifications.get(name)?.run.done;
  }

  /** Waits for every running execution to end (sandbox shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...[...this.entries.values()].map((e) => e.starting.then((r) => r.done)), ...[...this.verifications.values()].map((v) => v.run.done)]);
  }

  abortAll(): void {
    for (const e of this.entries.values()) if (!e.outcome) e.run?.abort();
    for (const v of this.verifications.values()) if (!v.ended) v.run.abort();
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
    ...(o ? {} : { currentStep: e.run?.currentStep() }),
    steps: (e.run?.history ?? []).map((h) => ({ state: h.state, status: h.status, startedAt: h.startedAt, durationMs: h.durationMs, attempts: h.attempts, ...(h.error ? { error: h.error } : {}) })),
    ...(o?.status === 'SUCCEEDED' ? { result: o.output } : {}),
    ...(o && o.status !== 'SUCCEEDED' ? { error: { error: o.error ?? 'Error', cause: o.cause ?? '', ...resourcesSoFar(o.failureRecord) } } : {}),
  };
}
