/**
 * What every AWS SDK client of the project shares: the retry settings, the command recorders,
 * the test-only fault injector, the retry log line and metric, and the per-process cache
 * (functions/lib/clients.ts explains why clients are built on first use). Each client lives in
 * its own module (clients/<service>.ts) so a handler's bundle holds only the clients it calls.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { HttpResponse } from '@smithy/protocol-http';
import { logger, metrics } from '../middleware.ts';

export function clientConfig() {
  return {
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // Adaptive retry absorbs short throttling bursts inside one invocation; longer ones
    // surface as AwsThrottledError and the state machine retries with backoff.
    retryMode: 'adaptive',
    maxAttempts: Number(process.env.AWS_MAX_ATTEMPTS ?? 3),
  };
}

/** One command a client is about to send: what the least-privilege test maps to IAM actions. */
export interface SentCommand {
  /** The client's key below (`ecs`, `ec2`, `iam`, ...). */
  service: string;
  /** The operation, e.g. `CreateRole` (lib-dynamodb's commands report the DynamoDB operation they send). */
  command: string;
  input: unknown;
}
export type CommandRecorder = (sent: SentCommand) => void | Promise<void>;

const recorders = new Set<CommandRecorder>();

/**
 * Registers a recorder every client calls before sending a command (awaited, so it may look
 * the resource up first); returns its removal. None are registered on Lambda: then the hook
 * costs one size check per call.
 */
export function onCommand(recorder: CommandRecorder): () => void {
  recorders.add(recorder);
  return () => {
    recorders.delete(recorder);
  };
}

/**
 * TESTS ONLY: a fault injector the reliability suites set (test/support/aws-faults.ts). Nothing
 * sets one on Lambda or in the sandbox: unset, each call costs one `undefined` check per hook.
 */
export interface FaultInjector {
  /**
   * Called before each attempt reaches the network, inside the SDK's retry loop: return an HTTP
   * response to answer the attempt with instead (a throttling or 5xx error in the service's own
   * protocol, so the SDK deserializes and retries it as it would AWS's), or undefined to send it.
   */
  beforeAttempt?(call: SentCommand, attempt: number): { statusCode: number; headers: Record<string, string>; body: string } | undefined;
  /** Called after a command succeeded (its retries done), before the caller sees the result; a promise that never settles is a kill. */
  afterSuccess?(call: SentCommand, output: unknown): void | Promise<void>;
}

let faultInjector: FaultInjector | undefined;

/** TESTS ONLY: sets (or, with undefined, removes) the fault injector every client consults. */
export function setFaultInjector(injector: FaultInjector | undefined): void {
  faultInjector = injector;
}

/** The attempt number the SDK's retry middleware writes on each request (`amz-sdk-request: attempt=2; max=3`). */
function attemptOf(request: unknown): number {
  const header = (request as { headers?: Record<string, string> } | undefined)?.headers?.['amz-sdk-request'];
  const m = header ? /attempt=(\d+)/.exec(header) : null;
  return m ? Number(m[1]) : 1;
}

type Next = (args: { input: unknown; request?: unknown }) => Promise<unknown>;
type Middleware = (next: Next, context: { commandName?: string }) => Next;
interface RecordableStack {
  add(mw: Middleware, opts: { step: 'initialize' | 'deserialize'; name: string; priority?: 'low' }): void;
}

/** Per command invocation: what its last attempt ended with (the retry's log line names it). */
const lastError = new WeakMap<object, string>();

export function recorded<C extends { middlewareStack: unknown }>(service: string, client: C): C {
  const stack = client.middlewareStack as RecordableStack;
  const sentOf = (context: { commandName?: string }, input: unknown): SentCommand => ({ service, command: (context.commandName ?? '').replace(/Command$/, ''), input });
  stack.add(
    (next, context) => async (args) => {
      if (recorders.size > 0) {
        const sent = sentOf(context, args.input);
        for (const r of recorders) await r(sent);
      }
      const out = await next(args);
      if (faultInjector?.afterSuccess) await faultInjector.afterSuccess(sentOf(context, args.input), out);
      return out;
    },
    { step: 'initialize', name: 'meshOnboardingCommandRecorder' },
  );
  // Runs once per attempt, inside the SDK's retry loop and just before the HTTP handler: the
  // place a retry is seen (logged and counted) and where a test may answer in AWS's stead.
  stack.add(
    (next, context) => async (args) => {
      const attempt = attemptOf(args.request);
      if (attempt > 1) {
        const { command } = sentOf(context, undefined);
        logger.warn('AWS call retried by the SDK', { awsService: service, awsOperation: command, attempt, previousError: lastError.get(context) });
        metrics.addMetric('AwsCallRetried', MetricUnit.Count, 1);
      }
      const fault = faultInjector?.beforeAttempt?.(sentOf(context, args.input), attempt);
      const sent = fault ? Promise.resolve({ response: new HttpResponse({ statusCode: fault.statusCode, headers: fault.headers, body: Buffer.from(fault.body, 'utf8') }), output: undefined }) : next(args);
      // The deserializer (outside this middleware) turns an error response into the error: remember its status for the retry's log line.
      return sent.then((out) => {
        const status = (out as { response?: { statusCode?: number } }).response?.statusCode;
        if (status !== undefined && status >= 400) lastError.set(context, `HTTP ${status}`);
        return out;
      }, (e: unknown) => {
        lastError.set(context, (e as { name?: string; code?: string }).code ?? (e as Error).name);
        throw e;
      });
    },
    { step: 'deserialize', name: 'meshOnboardingAttempt', priority: 'low' },
  );
  return client;
}

const cache = new Map<string, unknown>();
/**
 * A client accessor: makes the client on first call, then returns the same one. Each call site is
 * marked `/* @__PURE__ *\/` so esbuild drops an accessor a handler never calls, and with it the SDK
 * package (esbuild ignores `@__NO_SIDE_EFFECTS__` on a function imported from another file); this
 * directory's package.json says `sideEffects: false` so an unused client module is left out whole.
 */
export function lazy<T>(key: string, make: () => T): () => T {
  return () => {
    let c = cache.get(key) as T | undefined;
    if (c === undefined) {
      c = make();
      cache.set(key, c);
    }
    return c;
  };
}

/** Forgets every client so the next use reads the environment again (tests, sandbox restarts). */
export function resetClients(): void {
  for (const c of cache.values()) (c as { destroy?: () => void }).destroy?.();
  cache.clear();
}
