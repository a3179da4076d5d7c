/**
 * The onboarding API's contract, independent of where it runs: the local sandbox serves
 * it over node:http with the in-process engine behind it, and the deployed API serves it
 * with Step Functions behind it. Validation happens here, at the edge, with the one
 * request schema; a rejected request starts nothing.
 */
import { createHash } from 'node:crypto';
import { names } from './naming.ts';
import { MAX_EXECUTION_INPUT_BYTES, requestProblems, OnboardingRequestSchema, type OnboardingRequest } from './request.ts';
import type { Problem } from './errors.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';

export interface StepView {
  state: string;
  status: string;
  startedAt: string;
  durationMs?: number;
  attempts: number;
  error?: string;
}

export interface ExecutionView {
  executionId: string;
  status: ExecutionStatus;
  workload: string;
  startedAt: string;
  stoppedAt?: string;
  durationMs?: number;
  currentStep?: string;
  steps: StepView[];
  result?: unknown;
  /** On failure: the failed step's error, `<step>: <message>`, and what the run had made by then. */
  error?: { error: string; cause: string; resourcesSoFar?: unknown[] };
}

/** Where executions run (local engine or Step Functions). */
export interface ExecutionBackend {
  /** Starts `name` unless an execution of that name exists; returns whether it started one. The execution input is `executionInputOf(request)`. */
  start(name: string, request: OnboardingRequest): Promise<{ started: boolean }>;
  describe(executionId: string): Promise<ExecutionView | undefined>;
  list(): Promise<ExecutionView[]>;
}

export interface ApiRequest {
  method: string;
  path: string;
  body?: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body });

/** Stable JSON (sorted keys) so the same request always hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** The execution name of a request: the same request (after defaults) → the same name, so a double submit is one execution. */
export function executionNameFor(request: OnboardingRequest): string {
  const hash = createHash('sha256').update(canonical(request)).digest('hex');
  return names.execution(request, hash);
}

/** The execution input a backend sends to StartExecution for `request`: the validated request, defaults applied, as compact JSON. */
export function executionInputOf(request: OnboardingRequest): string {
  return JSON.stringify(request);
}

/** The 413 answer for a body or execution input over Step Functions' input limit: nothing is started. */
export function tooLarge(what: string, bytes: number): ApiResponse {
  return json(413, {
    message: `The onboarding request is too large: ${what} is ${bytes} bytes, and Step Functions accepts an execution input of at most ${MAX_EXECUTION_INPUT_BYTES} bytes (UTF-8). Nothing was started.`,
    limitBytes: MAX_EXECUTION_INPUT_BYTES,
  });
}

/** The next attempt's name after `name` ended without success: `<name>-r2`, `-r3`... (a resume). */
export function retryNameOf(name: string, attempt: number): string {
  return `${name.slice(0, 80 - `-r${attempt}`.length)}-r${attempt}`;
}

export async function handleApiRequest(req: ApiRequest, backend: ExecutionBackend): Promise<ApiResponse> {
  const path = req.path.replace(/\/+$/, '') || '/';
  if (path === '/onboardings') {
    if (req.method === 'POST') return submit(req.body, backend);
    if (req.method === 'GET') return json(200, { onboardings: (await backend.list()).map(summary) });
    return json(405, { message: `${req.method} is not allowed on /onboardings` }, { allow: 'GET, POST' });
  }
  const m = /^\/onboardings\/([A-Za-z0-9_-]{1,80})$/.exec(path);
  if (m) {
    if (req.method !== 'GET') return json(405, { message: `${req.method} is not allowed on ${path}` }, { allow: 'GET' });
    const view = await backend.describe(m[1]!);
    return view ? json(200, view) : json(404, { message: `no onboarding with id ${m[1]}` });
  }
  return json(404, { message: `no route for ${req.method} ${path}`, routes: ['POST /onboardings', 'GET /onboardings', 'GET /onboardings/{id}'] });
}

async function submit(body: string | undefined, backend: ExecutionBackend): Promise<ApiResponse> {
  // Checked before parsing, and again on what StartExecution would receive: AWS would refuse it only after the API answered 202.
  const bodyBytes = Buffer.byteLength(body ?? '', 'utf8');
  if (bodyBytes > MAX_EXECUTION_INPUT_BYTES) return tooLarge('the body', bodyBytes);
  let input: unknown;
  try {
    input = JSON.parse(body ?? '');
  } catch (e) {
    return invalid([{ path: '$', message: `the body is not valid JSON (${(e as Error).message})` }]);
  }
  const problems = requestProblems(input);
  if (problems.length > 0) return invalid(problems);
  const request = OnboardingRequestSchema.parse(input);
  const inputBytes = Buffer.byteLength(executionInputOf(request), 'utf8');
  if (inputBytes > MAX_EXECUTION_INPUT_BYTES) return tooLarge('the execution input (the request with defaults applied)', inputBytes);
  let name = executionNameFor(request);
  // A request whose last execution failed resumes under a new name (finished steps are no-ops).
  for (let attempt = 2; ; attempt++) {
    const existing = await backend.describe(name);
    if (!existing || existing.status === 'RUNNING' || existing.status === 'SUCCEEDED') break;
    name = retryNameOf(executionNameFor(request), attempt);
  }
  const { started } = await backend.start(name, request);
  const view = await backend.describe(name);
  return json(202, { executionId: name, status: view?.status ?? 'RUNNING', duplicate: !started, location: `/onboardings/${name}` }, { location: `/onboardings/${name}` });
}

function invalid(problems: Problem[]): ApiResponse {
  return json(400, { message: `The onboarding request is invalid: ${problems.length} problem(s). Nothing was started.`, problems });
}

function summary(v: ExecutionView) {
  return { executionId: v.executionId, status: v.status, workload: v.workload, startedAt: v.startedAt, currentStep: v.currentStep, location: `/onboardings/${v.executionId}` };
}
