/**
 * The local engine: runs statemachine/onboard-workload.asl.json in-process with
 * aws-local-stepfunctions, binding each Task state to the very handler Lambda runs
 * (the middy-wrapped `handler` export of functions/<step>.ts). No second copy of the
 * workflow exists in TypeScript: order, retries, catches and waits all come from the ASL.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';
import type { Context } from 'aws-lambda';
import { handler as executionEnded } from '../../functions/execution-ended.ts';
import { LOCK_MACHINES } from '../../functions/lib/registry.ts';
import { allStates, FUNCTIONS_DIR, loadDefinition, placeholderOf, substitute, taskSteps, type MachineName } from '../../statemachine/definition.ts';

type Json = Parameters<StateMachine['run']>[0];
type EventLog = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type LocalHandler = (input: Json) => Promise<Json>;

/** One line of progress: a state entered, left, retried or failed. */
export interface StepEvent {
  type: 'entered' | 'succeeded' | 'failed' | 'retried' | 'caught' | 'execution-succeeded' | 'execution-failed' | 'execution-aborted';
  state?: string;
  stateType?: string;
  at: string;
  durationMs?: number;
  error?: string;
  cause?: string;
  attempt?: number;
}

export interface StepHistory {
  state: string;
  stateType: string;
  /** `failed`: the step's error was caught (the workflow went on to its failure path) or ended the run. */
  status: 'running' | 'succeeded' | 'failed' | 'caught' | 'aborted';
  startedAt: string;
  durationMs?: number;
  error?: string;
  attempts: number;
}

export interface RunOptions {
  /** Which state machine (default the onboarding one). */
  machine?: MachineName;
  /** Execution name (id); deterministic names come from the caller. */
  executionName?: string;
  /** Milliseconds every Wait state lasts instead of its Seconds (undefined: honour the ASL). */
  waitMs?: number;
  /** Milliseconds between retries instead of the ASL's backoff (undefined: honour it). */
  retryIntervalMs?: number;
  /** Replaces chosen Task states' handlers (tests inject failures here). */
  handlerOverrides?: Record<string, LocalHandler>;
  onEvent?: (e: StepEvent) => void;
  /** Every raw engine event (execution and state inputs and outputs, as an execution history holds them): tests that audit what a run exposes. */
  onEngineEvent?: (e: unknown) => void;
  /**
   * Whether the end of the run is reported to functions/execution-ended.ts, as the EventBridge
   * rule does on AWS for every execution of a machine that takes the workload lock, however it
   * was started (default true). It frees a lock the run left and marks its record FAILED.
   */
  reportEnd?: boolean;
}

export interface ExecutionOutcome {
  executionName: string;
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  output?: unknown;
  error?: string;
  cause?: string;
  /** What Record failure returned (failed step, cause, resources made so far), on the failure path. */
  failureRecord?: unknown;
  history: StepHistory[];
  startedAt: string;
  durationMs: number;
}

export interface RunningExecution {
  executionName: string;
  done: Promise<ExecutionOutcome>;
  abort: () => void;
  history: StepHistory[];
  /** The state the execution is in now (last entered, not yet left). */
  currentStep: () => string | undefined;
}

type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;
/** The handler modules, loaded once per process; what is per execution (the context) is made per invocation. */
const handlerCache = new Map<string, LambdaHandler>();

/** The wrapped Lambda handler of a Task state, called with a new Lambda-like context for each invocation. */
async function lambdaHandlerFor(state: string, file: string, executionName: string): Promise<LocalHandler> {
  let lambda = handlerCache.get(file);
  if (!lambda) {
    const mod = (await import(pathToFileURL(join(FUNCTIONS_DIR, `${file}.ts`)).href)) as { handler?: LambdaHandler };
    if (typeof mod.handler !== 'function') throw new Error(`functions/${file}.ts has no exported handler for state "${state}"`);
    lambda = mod.handler;
    handlerCache.set(file, lambda);
  }
  const handler = lambda;
  return async (input) => (await handler(input, fakeContext(file, executionName))) as Json;
}

/** The Lambda context a handler gets when the local engine (or a benchmark) invokes it in-process. */
export function fakeContext(functionName: string, executionName: string): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: `${executionName}-${randomUUID()}`,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Starts one execution of a workflow (default: onboarding) in-process; `done` settles when it ends. */
export async function startWorkflow(input: unknown, opts: RunOptions = {}): Promise<RunningExecution> {
  const executionName = opts.executionName ?? `local-${randomUUID()}`;
  const definition = loadDefinition(opts.machine);
  const definitionText = JSON.stringify(definition);
  const steps = taskSteps(definition);
  // Fake ARNs satisfy the engine's ARN validation; the local handlers are what run.
  const arns = Object.fromEntries(steps.map((s) => [placeholderOf(s.state), `arn:aws:lambda:us-east-1:000000000000:function:${s.file}`]));
  const machine = new StateMachine(JSON.parse(substitute(definitionText, arns)), { validationOptions: { checkPaths: true, checkArn: true } });

  const taskResourceLocalHandlers: Record<string, LocalHandler> = {};
  for (const s of steps) {
    taskResourceLocalHandlers[s.state] = opts.handlerOverrides?.[s.state] ?? (await lambdaHandlerFor(s.state, s.file, executionName));
  }
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, s] of allStates(definition)) {
    if (s.Type === 'Wait' && opts.waitMs !== undefined) waitTimeOverrides[name] = opts.waitMs;
    if (s.Retry && opts.retryIntervalMs !== undefined) retryIntervalOverrides[name] = opts.retryIntervalMs;
  }

  const startedAt = new Date();
  const run = machine.run(input as Json, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    // `$$.Execution.Id` is the execution ARN on AWS: the same shape here, ending in the name.
    context: { Execution: { Id: executionArnOf(executionName, opts.machine), Name: executionName, StartTime: startedAt.toISOString() } } as never,
  });

  const history: StepHistory[] = [];
  const open = new Map<string, StepHistory>();
  const lastCause = new Map<string, string | undefined>();
  let failureRecord: unknown;
  let current: string | undefined;
  const emit = (e: StepEvent) => opts.onEvent?.(e);

  const consume = (async () => {
    for await (const ev of run.eventLogs as AsyncGenerator<EventLog>) {
      opts.onEngineEvent?.(ev);
      track(ev);
    }
  })();

  // The engine reports a caught failure as Failed → Caught → Exited and a retry as
  // Failed → Retried → (Failed → Retried)* → Exited: a state is settled only at Exited.
  function track(ev: EventLog): void {
    const at = new Date(ev.timestamp).toISOString();
    switch (ev.type) {
      case 'StateEntered': {
        const h: StepHistory = { state: ev.state.name, stateType: ev.state.type, status: 'running', startedAt: at, attempts: 1 };
        history.push(h);
        open.set(ev.state.name, h);
        current = ev.state.name;
        emit({ type: 'entered', state: ev.state.name, stateType: ev.state.type, at });
        break;
      }
      case 'StateFailed': {
        const h = open.get(ev.state.name);
        if (h) h.error = String(ev.Error);
        lastCause.set(ev.state.name, typeof ev.Cause === 'string' ? ev.Cause : undefined);
        break;
      }
      case 'StateRetried': {
        const h = open.get(ev.state.name);
        if (h) h.attempts = ev.retry.attempt + 1;
        emit({ type: 'retried', state: ev.state.name, stateType: ev.state.type, at, attempt: ev.retry.attempt, error: h?.error });
        break;
      }
      case 'StateCaught': {
        const h = open.get(ev.state.name);
        if (h) h.status = 'caught';
        break;
      }
      case 'StateExited': {
        const h = open.get(ev.state.name);
        open.delete(ev.state.name);
        if (current === ev.state.name) current = undefined;
        // Each machine's failure-recording state (onboarding, teardown).
        if (ev.state.name === 'Record failure' || ev.state.name === 'Record teardown failure') failureRecord = (ev.state.output as { failureRecord?: unknown } | undefined)?.failureRecord;
        if (!h) break;
        h.durationMs = ev.timestamp - Date.parse(h.startedAt);
        if (h.status === 'caught') {
          h.status = 'failed';
          emit({ type: 'failed', state: h.state, stateType: h.stateType, at, durationMs: h.durationMs, error: h.error, cause: lastCause.get(h.state) });
        } else {
          h.status = 'succeeded';
          delete h.error;
          emit({ type: 'succeeded', state: h.state, stateType: h.stateType, at, durationMs: h.durationMs });
        }
        break;
      }
      default:
        break;
    }
  }

  /** States still open when the execution ended failed without a Catch (or were aborted). */
  function closeOpen(endedAt: number, aborted: boolean): void {
    for (const h of open.values()) {
      h.durationMs = endedAt - Date.parse(h.startedAt);
      h.status = aborted ? 'aborted' : 'failed';
    }
    open.clear();
  }

  const done = (async (): Promise<ExecutionOutcome> => {
    let outcome: ExecutionOutcome;
    try {
      const output = await run.result;
      outcome = { executionName, status: 'SUCCEEDED', output, history, startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime() };
    } catch (err) {
      const aborted = (err as Error).name === 'ExecutionAbortedError';
      const { error, cause } = failureOf(err);
      outcome = { executionName, status: aborted ? 'ABORTED' : 'FAILED', error, cause, history, startedAt: startedAt.toISOString(), durationMs: Date.now() - startedAt.getTime() };
    }
    await consume.catch(() => undefined);
    if (outcome.status === 'FAILED' && failureRecord !== undefined) outcome.failureRecord = failureRecord;
    closeOpen(Date.now(), outcome.status === 'ABORTED');
    if (opts.reportEnd !== false && (LOCK_MACHINES as readonly string[]).includes(opts.machine ?? 'onboard-workload')) await reportEnd(input, outcome, opts.machine);
    emit({ type: outcome.status === 'SUCCEEDED' ? 'execution-succeeded' : outcome.status === 'ABORTED' ? 'execution-aborted' : 'execution-failed', at: new Date().toISOString(), error: outcome.error, cause: outcome.cause, durationMs: outcome.durationMs });
    return outcome;
  })();

  return { executionName, done, abort: run.abort, history, currentStep: () => current };
}

/**
 * What the EventBridge rule hands functions/execution-ended.ts on AWS when an execution ends: an
 * equivalent "Step Functions Execution Status Change" event, handled before `done` settles, so
 * the next request sees the lock freed (on AWS it arrives within seconds, best effort).
 */
async function reportEnd(input: unknown, o: ExecutionOutcome, machine: MachineName = 'onboard-workload'): Promise<void> {
  try {
    // The wrapped Lambda handler, as the rule's target runs it (its calls are recorded as "Execution ended").
    const event = {
      detail: {
        executionArn: executionArnOf(o.executionName, machine),
        stateMachineArn: `arn:aws:states:us-east-1:000000000000:stateMachine:${machine}`,
        name: o.executionName,
        status: o.status,
        startDate: Date.parse(o.startedAt),
        stopDate: Date.parse(o.startedAt) + o.durationMs,
        input: JSON.stringify(input ?? null),
        inputDetails: { included: true },
        ...(o.status !== 'SUCCEEDED' ? { error: o.error ?? null, cause: o.cause ?? null } : {}),
      },
    };
    await executionEnded(event as never, fakeContext('execution-ended', o.executionName));
  } catch (err) {
    // As on AWS, a failed end-of-run handler does not change how the run ended.
    console.error(`execution-ended for ${o.executionName} failed: ${(err as Error).name}: ${(err as Error).message}`);
  }
}

/** The local stand-in for an execution ARN (what `$$.Execution.Id` holds): `execution:<machine>:<name>`, as on AWS. */
export function executionArnOf(executionName: string, machine: MachineName = 'onboard-workload'): string {
  return `arn:aws:states:us-east-1:000000000000:execution:${machine}:${executionName}`;
}

/** Runs one execution to its end. */
export async function runWorkflow(input: unknown, opts: RunOptions = {}): Promise<ExecutionOutcome> {
  return (await startWorkflow(input, opts)).done;
}

/** The Fail state's Error and Cause (the engine wraps them in ExecutionError). */
function failureOf(err: unknown): { error: string; cause: string } {
  const e = err as { name?: string; message?: string; cause?: { name?: string; message?: string } };
  const inner = e.cause ?? e;
  return { error: inner.name ?? 'Error', cause: inner.message ?? String(err) };
}
