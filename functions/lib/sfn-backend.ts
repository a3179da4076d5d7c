/**
 * The deployed API's execution backend: Step Functions (Standard workflows). It reports an
 * execution the way the local backend (local/local-executions.ts) does, reading DescribeExecution
 * for the status, result and error and GetExecutionHistory for the steps.
 */
import { unwrapFailure } from './failure.ts';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { sfn } from './clients.ts';
import { isAwsError } from './errors.ts';
import { executionInputOf, type ExecutionBackend, type ExecutionStatus, type ExecutionView, type StepView } from './onboarding-api.ts';
import type { OnboardingRequest } from './request.ts';
import type { TeardownInput } from './teardown.ts';
import type { WorkloadLock } from './registry.ts';

export interface StateMachines {
  /** ARN of the onboarding state machine. */
  onboard: string;
  /** ARN of the re-verification state machine. */
  reverify: string;
  /** ARN of the teardown state machine (DELETE /onboardings/{workload}); without it the API answers 501 there. */
  offboard?: string;
}

/** Teardown executions are named `offboard-...` (offboarding-api.ts), onboarding ones `onboard-...`: the name says which machine to ask. */
const OFFBOARD_PREFIX = 'offboard-';

const STATE_MACHINE_ARN = /^(arn:[^:]+:states:[^:]+:\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** `arn:…:stateMachine:<machine>` + `name` → `arn:…:execution:<machine>:<name>` (the API's id is the name). */
export function executionArnOf(stateMachineArn: string, name: string): string {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  return `${m[1]}:execution:${m[2]}:${name}`;
}

/** True for a state machine ARN this backend can derive execution ARNs from. */
export function isStateMachineArn(arn: string): boolean {
  return STATE_MACHINE_ARN.test(arn);
}

export class StepFunctionsExecutions implements ExecutionBackend {
  constructor(private readonly machines: StateMachines) {}

  /**
   * StartExecution with the deterministic name. For a Standard workflow AWS answers a repeat
   * of the same name and input while that execution runs with the original response, and
   * ExecutionAlreadyExists when the input differs or the execution has closed (names stay
   * taken for 90 days): https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html.
   * Either way the execution of that name is this request's: `started: false`. (The API
   * describes the name first, so a repeat reaches here only in a race.)
   */
  async start(name: string, request: OnboardingRequest): Promise<{ started: boolean }> {
    try {
      await sfn().send(new StartExecutionCommand({ stateMachineArn: this.machines.onboard, name, input: executionInputOf(request) }));
      return { started: true };
    } catch (e) {
      if (isAwsError(e, 'ExecutionAlreadyExists')) return { started: false };
      throw e;
    }
  }

  /** StartExecution of the teardown machine, with the same deterministic-name rule as `start`. */
  async offboard(name: string, input: TeardownInput): Promise<{ started: boolean }> {
    if (!this.machines.offboard) throw new Error('no teardown state machine configured');
    try {
      await sfn().send(new StartExecutionCommand({ stateMachineArn: this.machines.offboard, name, input: JSON.stringify(input) }));
      return { started: true };
    } catch (e) {
      if (isAwsError(e, 'ExecutionAlreadyExists')) return { started: false };
      throw e;
    }
  }

  /** The status of a lock's holder, asked of the machine the lock names (a teardown started from the console may have any name). */
  async lockHolderStatus(lock: WorkloadLock): Promise<ExecutionStatus | undefined> {
    const machine = lock.machine === 'offboard-workload' ? this.machines.offboard : this.machines.onboard;
    if (!machine) return undefined;
    try {
      return statusOf((await sfn().send(new DescribeExecutionCommand({ executionArn: executionArnOf(machine, lock.executionId) }))).status);
    } catch (e) {
      if (isAwsError(e, 'ExecutionDoesNotExist')) return undefined;
      throw e;
    }
  }

  async describe(executionId: string, opts: { steps?: boolean } = {}): Promise<ExecutionView | undefined> {
    const machine = executionId.startsWith(OFFBOARD_PREFIX) && this.machines.offboard ? this.machines.offboard : this.machines.onboard;
    const executionArn = executionArnOf(machine, executionId);
    let d: DescribeExecutionCommandOutput;
    try {
      d = await sfn().send(new DescribeExecutionCommand({ executionArn }));
    } catch (e) {
      if (isAwsError(e, 'ExecutionDoesNotExist')) return undefined;
      throw e;
    }
    // States' inputs and outputs are read only to find Record failure's record.
    const events = opts.steps === false ? [] : await historyOf(executionArn, d.status === 'FAILED');
    return executionViewOf(executionId, d, events);
  }

  async verify(name: string, workload: string): Promise<void> {
    await sfn().send(new StartExecutionCommand({ stateMachineArn: this.machines.reverify, name, input: JSON.stringify({ workloads: [workload] }) }));
  }
}

/** Every event of an execution, oldest first (GetExecutionHistory pages of up to 1000). */
async function historyOf(executionArn: string, includeExecutionData: boolean): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn().send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** An execution as the API reports it: DescribeExecution for status, result and error; the history for the steps. */
export function executionViewOf(executionId: string, d: DescribeExecutionCommandOutput, events: HistoryEvent[]): ExecutionView {
  const status = statusOf(d.status);
  const { steps, currentStep, failureRecord } = stepsOf(events);
  const startedAt = d.startDate ?? new Date(0);
  return {
    executionId,
    status,
    workload: workloadOf(d.input),
    startedAt: startedAt.toISOString(),
    ...(d.stopDate ? { stoppedAt: d.stopDate.toISOString(), durationMs: d.stopDate.getTime() - startedAt.getTime() } : {}),
    ...(status === 'RUNNING' && currentStep ? { currentStep } : {}),
    steps,
    ...(status === 'SUCCEEDED' ? { result: parseJson(d.output) } : {}),
    ...(status !== 'RUNNING' && status !== 'SUCCEEDED' ? { error: { ...userFacing(d.error ?? defaultError(status), d.cause ?? ''), ...resourcesSoFar(failureRecord) } } : {}),
  };
}

/**
 * The error and cause as a user should see them. A run whose Record failure failed too ends
 * with the step's raw cause (a Lambda error's JSON with its stack trace, or a branch's failure
 * state): unwrap it, as Record failure would have.
 */
function userFacing(error: string, cause: string): { error: string; cause: string } {
  if (!cause) return { error, cause };
  const u = unwrapFailure({ step: '', error, cause });
  return { error: u.error, cause: u.step ? `${u.step}: ${u.cause}` : u.cause };
}

function statusOf(s: string | undefined): ExecutionStatus {
  // PENDING_REDRIVE: a redrive was asked for and the execution is about to run again.
  if (s === 'SUCCEEDED' || s === 'FAILED' || s === 'ABORTED' || s === 'TIMED_OUT') return s;
  return 'RUNNING';
}

function defaultError(status: ExecutionStatus): string {
  return status === 'TIMED_OUT' ? 'States.Timeout' : status === 'ABORTED' ? 'ExecutionAborted' : 'States.Runtime';
}

/** `namespace/name` from the execution input (the request, or `{request}` as a console user may start it). */
function workloadOf(input: string | undefined): string {
  const v = parseJson(input) as { workload?: unknown; workloadGroup?: { namespace?: unknown; name?: unknown }; request?: { workloadGroup?: { namespace?: unknown; name?: unknown } } } | undefined;
  // A teardown's input names the workload as `namespace/name`.
  if (typeof v?.workload === 'string') return v.workload;
  const wg = v?.workloadGroup ?? v?.request?.workloadGroup;
  return typeof wg?.namespace === 'string' && typeof wg.name === 'string' ? `${wg.namespace}/${wg.name}` : '(unknown)';
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function resourcesSoFar(record: unknown): { resourcesSoFar?: unknown[] } {
  const r = (record as { resourcesSoFar?: unknown } | undefined)?.resourcesSoFar;
  return Array.isArray(r) ? { resourcesSoFar: r } : {};
}

interface OpenStep {
  view: StepView;
  stateType: string;
  index: number;
  /** The last attempt of the state's task failed (a retry clears it by scheduling again). */
  failed: boolean;
  scheduled: number;
}

const SCHEDULED = /^(LambdaFunction|Task|Activity)Scheduled$/;
const TASK_FAILED = /^(LambdaFunction|Task|Activity)(Failed|TimedOut|StartFailed|ScheduleFailed|SubmitFailed)$/;

/**
 * The steps of an execution from its history, as the local engine reports them: one entry per
 * state entered, with its duration, attempts (a Task's invocations: retries add one each) and,
 * when it failed, the error. A Task whose error a Catch handled is exited with that error
 * still the last thing that happened to it (LambdaFunctionFailed → TaskStateExited): `failed`.
 * Events are tied to their state through previousEventId.
 */
export function stepsOf(events: HistoryEvent[]): { steps: StepView[]; currentStep?: string; failureRecord?: unknown } {
  const steps: StepView[] = [];
  const open = new Map<string, OpenStep>();
  const stateOfEvent = new Map<number, string>();
  let lastError: string | undefined;
  let failureRecord: unknown;

  const close = (o: OpenStep, at: number, status: string) => {
    o.view.durationMs = Math.max(0, at - Date.parse(o.view.startedAt));
    o.view.status = status;
    if (status === 'succeeded') delete o.view.error;
    open.delete(o.view.state);
  };
  /** A state still open when its branch or the execution ended: a Fail state or a failed task failed it, anything else was stopped. */
  const endedStatus = (o: OpenStep) => (o.failed || o.stateType === 'Fail' ? 'failed' : 'aborted');
  /** States still open inside a Parallel or Map that ended (a branch failed, or was stopped with it). */
  const closeInside = (outer: OpenStep, at: number) => {
    for (const o of [...open.values()]) if (o.index > outer.index) close(o, at, endedStatus(o));
  };

  for (const ev of events) {
    const type = ev.type ?? '';
    const at = ev.timestamp ? new Date(ev.timestamp).getTime() : 0;
    const id = ev.id ?? -1;
    if (type.endsWith('StateEntered')) {
      const state = ev.stateEnteredEventDetails?.name ?? '(unnamed)';
      const view: StepView = { state, status: 'running', startedAt: new Date(at).toISOString(), attempts: 1 };
      open.set(state, { view, stateType: type.slice(0, -'StateEntered'.length), index: steps.length, failed: false, scheduled: 0 });
      steps.push(view);
      stateOfEvent.set(id, state);
      continue;
    }
    if (type.endsWith('StateExited')) {
      const state = ev.stateExitedEventDetails?.name ?? '(unnamed)';
      stateOfEvent.set(id, state);
      if (state === 'Record failure') failureRecord = (parseJson(ev.stateExitedEventDetails?.output) as { failureRecord?: unknown } | undefined)?.failureRecord;
      const o = open.get(state);
      if (!o) continue;
      if (o.stateType === 'Parallel' || o.stateType === 'Map') closeInside(o, at);
      close(o, at, o.failed ? 'failed' : 'succeeded');
      continue;
    }
    const state = ev.previousEventId !== undefined ? stateOfEvent.get(ev.previousEventId) : undefined;
    if (state !== undefined) stateOfEvent.set(id, state);
    const o = state !== undefined ? open.get(state) : undefined;
    if (SCHEDULED.test(type)) {
      if (o) {
        o.scheduled += 1;
        o.view.attempts = o.scheduled;
        o.failed = false;
      }
    } else if (TASK_FAILED.test(type)) {
      lastError = errorOf(ev, type);
      if (o) {
        o.view.error = lastError;
        o.failed = true;
      }
    } else if (type === 'ParallelStateFailed' || type === 'MapStateFailed') {
      const outer = [...open.values()].filter((s) => s.stateType === type.slice(0, -'StateFailed'.length)).pop();
      if (outer) {
        outer.failed = true;
        outer.view.error = lastError ?? 'States.BranchFailed';
        closeInside(outer, at);
      }
    } else if (type === 'ExecutionFailed') {
      for (const o of [...open.values()]) close(o, at, 'failed');
    } else if (type === 'ExecutionAborted' || type === 'ExecutionTimedOut') {
      for (const o of [...open.values()]) close(o, at, endedStatus(o));
    }
  }
  const running = steps.filter((s) => s.status === 'running');
  return { steps, currentStep: running[running.length - 1]?.state, failureRecord };
}

/** The error name a task failure event carries in its `…EventDetails`. */
function errorOf(ev: HistoryEvent, type: string): string {
  for (const [k, v] of Object.entries(ev)) {
    if (k.endsWith('EventDetails') && v && typeof (v as { error?: unknown }).error === 'string') return (v as { error: string }).error;
  }
  return type.endsWith('TimedOut') ? 'States.Timeout' : 'States.TaskFailed';
}
