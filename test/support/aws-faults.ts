/**
 * Faults for the reliability suites, through the test-only hook of functions/lib/clients.ts
 * (`setFaultInjector`): AWS errors answered in each service's own wire protocol (so the SDK
 * deserializes and retries them exactly as it would AWS's), deterministic from a seed, and a
 * kill right after the k-th mutating call succeeds.
 */
import type { FaultInjector, SentCommand } from '../../functions/lib/clients.ts';

/** Operations that only read: every other operation the clients send changes something. */
const READ_ONLY = /^(Describe|List|Get|BatchGet|Scan|Query|Lookup|Filter|Search|Poll|Check|Validate)/;

/** True when `call` changes state in the account (a create, put, tag, attach, update, delete...). */
export function isMutating(call: Pick<SentCommand, 'command'>): boolean {
  return !READ_ONLY.test(call.command);
}

/** `ec2:CreateSubnet`: how the matrix names a call. */
export function callName(call: Pick<SentCommand, 'service' | 'command'>): string {
  return `${call.service}:${call.command}`;
}

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type AwsFaultKind = 'throttle' | 'internal' | 'unavailable';

type Protocol = 'ec2' | 'query' | 'json1_0' | 'json1_1' | 'restJson';
/** The wire protocol of each client key of functions/lib/clients.ts (the SDK packages' own protocol classes). */
const PROTOCOL: Record<string, Protocol> = {
  ec2: 'ec2',
  iam: 'query',
  sts: 'query',
  ecs: 'json1_1',
  logs: 'json1_1',
  secrets: 'json1_1',
  events: 'json1_1',
  dynamodb: 'json1_0',
  sfn: 'json1_0',
  cloudwatch: 'json1_0',
  eks: 'restJson',
};

/**
 * The error codes and HTTP statuses each service documents: EC2 `RequestLimitExceeded` (503),
 * `InternalError` (500), `Unavailable` (503) (AWSEC2/latest/APIReference/errors-overview.html);
 * the Query services (IAM, STS) `Throttling` (400), `InternalFailure` (500), `ServiceUnavailable` (503)
 * (IAM/latest/APIReference/CommonErrors.html); the JSON services `ThrottlingException` (400),
 * `InternalFailure` (500), `ServiceUnavailable` (503); EKS `ThrottlingException` (429),
 * `ServerException` (500), `ServiceUnavailableException` (503).
 */
const CODES: Record<Protocol, Record<AwsFaultKind, [string, number]>> = {
  ec2: { throttle: ['RequestLimitExceeded', 503], internal: ['InternalError', 500], unavailable: ['Unavailable', 503] },
  query: { throttle: ['Throttling', 400], internal: ['InternalFailure', 500], unavailable: ['ServiceUnavailable', 503] },
  json1_0: { throttle: ['ThrottlingException', 400], internal: ['InternalFailure', 500], unavailable: ['ServiceUnavailable', 503] },
  json1_1: { throttle: ['ThrottlingException', 400], internal: ['InternalFailure', 500], unavailable: ['ServiceUnavailable', 503] },
  restJson: { throttle: ['ThrottlingException', 429], internal: ['ServerException', 500], unavailable: ['ServiceUnavailableException', 503] },
};

/** An HTTP error response for `service` as AWS words it (status, headers, body in the service's protocol). */
export function awsErrorResponse(service: string, kind: AwsFaultKind, requestId = '00000000-0000-4000-8000-000000000000'): { statusCode: number; headers: Record<string, string>; body: string; code: string } {
  const protocol = PROTOCOL[service];
  if (!protocol) throw new Error(`no wire protocol known for client "${service}": add it to test/support/aws-faults.ts`);
  const [code, statusCode] = CODES[protocol][kind];
  const message = kind === 'throttle' ? 'Rate exceeded' : 'We encountered an internal error. Please try again.';
  switch (protocol) {
    case 'ec2':
      return { statusCode, code, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>` };
    case 'query':
      return {
        statusCode,
        code,
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
        body: `<ErrorResponse><Error><Type>${statusCode >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      };
    case 'json1_0':
    case 'json1_1':
      return { statusCode, code, headers: { 'content-type': `application/x-amz-json-${protocol === 'json1_0' ? '1.0' : '1.1'}`, 'x-amzn-requestid': requestId }, body: JSON.stringify({ __type: code, message }) };
    case 'restJson':
      return { statusCode, code, headers: { 'content-type': 'application/json', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId }, body: JSON.stringify({ message }) };
  }
}

export interface InjectedFault {
  call: string;
  attempt: number;
  code: string;
  status: number;
}

/**
 * Answers `rate` of all attempts (every service, reads and writes) with a throttling or 5xx
 * error before it reaches the emulator: half throttling, a quarter 500, a quarter 503.
 */
export function transientAwsFaults(opts: { rate: number; seed: number }): FaultInjector & { injected: InjectedFault[] } {
  const random = seededRandom(opts.seed);
  const injected: InjectedFault[] = [];
  return {
    injected,
    beforeAttempt(call, attempt) {
      if (random() >= opts.rate) return undefined;
      const r = random();
      const kind: AwsFaultKind = r < 0.5 ? 'throttle' : r < 0.75 ? 'internal' : 'unavailable';
      const response = awsErrorResponse(call.service, kind);
      injected.push({ call: callName(call), attempt, code: response.code, status: response.statusCode });
      return response;
    },
  };
}

/**
 * Kills the run right after the mutating call `target` (`service:Operation#n`, the n-th success of
 * that operation, as mutatingCallRecorder names it) succeeds: `onKill` (which aborts the
 * execution) runs, and the handler that made the call never continues (its promise never
 * settles), as when the Lambda running it dies. Named per operation, not by global index, so the
 * two Parallel branches interleaving differently from run to run cannot move the kill point.
 */
export function killAfter(target: string, onKill: (call: string) => void): FaultInjector & { killed: boolean } {
  const counts = new Map<string, number>();
  const state: FaultInjector & { killed: boolean } = {
    killed: false,
    afterSuccess(call) {
      if (!isMutating(call) || state.killed) return;
      const n = (counts.get(callName(call)) ?? 0) + 1;
      counts.set(callName(call), n);
      if (`${callName(call)}#${n}` !== target) return;
      state.killed = true;
      onKill(target);
      return new Promise<never>(() => undefined);
    },
  };
  return state;
}

/** Records the mutating calls of a clean run, in order, as `service:Operation#n`. */
export function mutatingCallRecorder(): FaultInjector & { calls: string[] } {
  const counts = new Map<string, number>();
  const calls: string[] = [];
  return {
    calls,
    afterSuccess(call) {
      if (!isMutating(call)) return;
      const n = (counts.get(callName(call)) ?? 0) + 1;
      counts.set(callName(call), n);
      calls.push(`${callName(call)}#${n}`);
    },
  };
}
