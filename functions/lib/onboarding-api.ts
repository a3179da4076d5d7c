/**
 * The onboarding API's contract, independent of where it runs: the local sandbox serves
 * it over node:http with the in-process engine behind it, and the deployed API serves it
 * with Step Functions behind it. Validation happens here, at the edge, with the one
 * request schema; a rejected request starts nothing and writes nothing.
 *
 * Routes: POST /onboardings (?reconcile=true, ?dryRun=true), GET /onboardings (the registry, paginated), GET /onboardings/{id},
 * POST /onboardings/{id}/verify. The execution id on the API is the execution's name.
 *
 * De-duplication and re-convergence: a request's executions are named from its content
 * (`executionNameFor`), then `-r2`, `-r3`... While one runs, POSTing the same request answers it
 * (`duplicate: true`: a double submit is one run); after one FAILED (or was aborted, or timed out)
 * the next POST starts the next `-rN` (a resume). After one SUCCEEDED, the same POST still answers
 * that execution (`duplicate: true`) even if a resource was deleted since; `?reconcile=true` asks
 * for a new run `-rN` instead, which re-finds or re-makes every resource (the steps are
 * idempotent), unless one of that request is still running, which is answered as a duplicate.
 *
 * Dry run: `POST /onboardings?dryRun=true` (or `dryRun: true` in the body) starts a new
 * `plan-...` execution of the same workflow every time; it makes no mutating AWS call, takes no
 * lock and stores no secret, and GET /onboardings/{id} then shows the plan as its result.
 */
import { createHash, randomBytes } from 'node:crypto';
import { caSecretSpec, ensureCaSecret } from './aws/ca-secret.ts';
import { checkFeasibility } from './feasibility.ts';
import { classifyError, InvalidRequestError, isAwsError, ResourceConflictError, WorkloadBusyError, type Problem } from './errors.ts';
import { fitName, names } from './naming.ts';
import { sha256Of } from './plan.ts';
import { acquireWorkloadLock, executionNameOf, getWorkload, listWorkloads, releaseWorkloadLock, type WorkloadLock, type WorkloadRecord } from './registry.ts';
import { offboard, offboardingTarget } from './offboarding-api.ts';
import type { TeardownInput } from './teardown.ts';
import { MAX_EXECUTION_INPUT_BYTES, requestProblems, OnboardingRequestSchema, type CaSecretRef, type OnboardingRequest } from './request.ts';
import { workloadKey } from './tags.ts';

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
  /**
   * Starts onboarding execution `name` with `request` as its input (`executionInputOf`: the
   * request with `rootCaSecret`, never the PEM) unless an execution of that name exists;
   * returns whether it started one.
   */
  start(name: string, request: OnboardingRequest): Promise<{ started: boolean }>;
  /**
   * The onboarding execution named `executionId`, or undefined when there is none. With
   * `{steps: false}` the caller needs only its status and workload: `steps` may come back empty
   * (Step Functions then skips reading the execution history).
   */
  describe(executionId: string, opts?: { steps?: boolean }): Promise<ExecutionView | undefined>;
  /** Starts re-verification execution `name` for one workload (`namespace/name`): input `{workloads: [workload]}`. */
  verify(name: string, workload: string): Promise<void>;
  /** Starts teardown execution `name` with `input` unless one of that name exists (`describe` reports it too). */
  offboard?(name: string, input: TeardownInput): Promise<{ started: boolean }>;
  /**
   * The status of the execution holding a workload's lock, when it is not an onboarding (which
   * `describe` answers); undefined for one that does not exist. A backend without it makes the
   * API treat such a holder as running: it never takes over a lock it cannot check.
   */
  lockHolderStatus?(lock: WorkloadLock): Promise<ExecutionStatus | undefined>;
}

/**
 * What the API reads and writes besides executions. The defaults make the same AWS calls in
 * both places (against the emulator locally); unit tests replace them.
 */
export interface ApiDeps {
  /** One page of the workload registry. */
  listWorkloads: (page: { limit?: number; nextToken?: string }) => Promise<{ items: WorkloadRecord[]; nextToken?: string }>;
  /** One workload's registry record. */
  getWorkload: (workload: string) => Promise<WorkloadRecord | undefined>;
  /** Stores `pem` in the workload's CA secret and returns the version that holds it. */
  storeCaBundle: (request: OnboardingRequest, pem: string) => Promise<CaSecretRef>;
  /** Takes the workload's lock (functions/lib/registry.ts): WorkloadBusyError while another execution holds it. */
  acquireWorkloadLock: typeof acquireWorkloadLock;
  /** Frees the lock the API took for an execution it then could not start. */
  releaseWorkloadLock: typeof releaseWorkloadLock;
  /** The request's network checked against the account, reads only (functions/lib/feasibility.ts): each problem with its path. */
  checkFeasibility: (request: OnboardingRequest) => Promise<Problem[]>;
  now: () => Date;
}

export const defaultApiDeps: ApiDeps = {
  listWorkloads,
  getWorkload,
  storeCaBundle: async (request, pem) => {
    const s = await ensureCaSecret(caSecretSpec(request, pem));
    return { arn: s.secretArn, versionId: s.versionId, stored: s.created ? 'created' : s.updated || s.restored ? 'updated' : 'unchanged' };
  },
  acquireWorkloadLock,
  releaseWorkloadLock,
  checkFeasibility,
  now: () => new Date(),
};

export interface ApiRequest {
  method: string;
  path: string;
  /** Query string parameters, one value each. */
  query?: Record<string, string | undefined>;
  body?: string;
  /** Request headers, any case (both servers pass them; a caller that omits them skips the content-type check). */
  headers?: Record<string, string | undefined>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** Page size of GET /onboardings when `limit` is not given, and the largest `limit` accepted. */
export const DEFAULT_PAGE_SIZE = 50;

/**
 * How long a lock whose execution cannot be found is taken as "being started" rather than
 * stale: the API takes the lock before StartExecution, in one request (the API function stops
 * after 25 s, API Gateway after 29 s). Past it, an API that died between the two has left it.
 */
export const LOCK_START_GRACE_MS = 60_000;
export const MAX_PAGE_SIZE = 100;

/** Every route of the API, as `<METHOD> <path template>` (docs/openapi.json is checked against it). */
export const ROUTES = ['POST /onboardings', 'GET /onboardings', 'GET /onboardings/{id}', 'POST /onboardings/{id}/verify', 'DELETE /onboardings/{workload}'];
const ID = '[A-Za-z0-9_-]{1,80}';

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body });

/** Stable JSON (sorted keys) so the same request always hashes the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** The execution name of a request (with its PEM): the same request (after defaults) → the same name, so a double submit is one execution. */
export function executionNameFor(request: OnboardingRequest): string {
  const hash = createHash('sha256').update(canonical(request)).digest('hex');
  return names.execution(request, hash);
}

/** The execution input a backend sends to StartExecution for `request`: the validated request, defaults applied, as compact JSON. */
export function executionInputOf(request: OnboardingRequest): string {
  return JSON.stringify(request);
}

/** `request` as it is started through the API: its PEM replaced by the secret version the API stored it in. */
export function withCaReference(request: OnboardingRequest, ref: CaSecretRef): OnboardingRequest {
  const { rootCaPem: _stored, ...rest } = request;
  return { ...rest, rootCaSecret: ref };
}

/**
 * A reference at least as long as any the API can store for `request`: the 413 check runs on it
 * before the secret is written (a refused request writes nothing). Longest partition (10) and
 * region (14) names today are padded to 16 and 20; a version id is at most 64 characters
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
 */
export function longestCaReference(request: OnboardingRequest): CaSecretRef {
  return { arn: `arn:${'p'.repeat(16)}:secretsmanager:${'r'.repeat(20)}:123456789012:secret:${names.caSecret(request)}-XXXXXX`, versionId: 'v'.repeat(64), stored: 'unchanged' };
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
  const suffix = `-r${attempt}`;
  // Cut with a hash of the whole name, never a plain slice: the name's tail is the request's hash, the only part that tells requests apart.
  return `${fitName(name, 80 - suffix.length)}${suffix}`;
}

/** The name of one re-verification of `workload` started through the API: unique per call, sortable by time. */
export function verificationNameFor(workload: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return fitName(`verify-${workload.replace('/', '_')}-${stamp}-${randomBytes(3).toString('hex')}`, 80);
}

/** The API's execution id (the name) of an execution ARN: the registry's helper, which the lock uses too. */
export { executionNameOf } from './registry.ts';

export async function handleApiRequest(req: ApiRequest, backend: ExecutionBackend, deps: Partial<ApiDeps> = {}): Promise<ApiResponse> {
  const d: ApiDeps = { ...defaultApiDeps, ...deps };
  const path = req.path.replace(/\/+$/, '') || '/';
  if (path === '/onboardings') {
    if (req.method === 'POST') return unsupportedType(req) ?? submitWithQuery(req, backend, d);
    if (req.method === 'GET') return list(req.query ?? {}, d);
    return notAllowed(req.method, path, 'GET, POST');
  }
  const teardown = req.method === 'DELETE' ? offboardingTarget(path) : undefined;
  if (teardown !== undefined) return offboard(teardown, req.query ?? {}, backend, d);
  const one = new RegExp(`^/onboardings/(${ID})$`).exec(path);
  if (one) {
    if (req.method !== 'GET') return notAllowed(req.method, path, 'GET, DELETE');
    const view = await backend.describe(one[1]!);
    return view ? json(200, view) : unknownId(one[1]!);
  }
  const verifying = new RegExp(`^/onboardings/(${ID})/verify$`).exec(path);
  if (verifying) {
    if (req.method !== 'POST') return notAllowed(req.method, path, 'POST');
    return verify(verifying[1]!, backend, d);
  }
  return json(404, { message: `no route for ${req.method} ${path}`, routes: ROUTES });
}

/**
 * The answer to an error the routes did not handle: the error's name and message, never a
 * stack. A workload's secret that is not ours → 409; throttling or a passing AWS fault → 503.
 */
export function errorResponse(err: unknown): ApiResponse {
  if (err instanceof InvalidRequestError) return invalid(err.problems);
  const typed = classifyError(err);
  if (typed instanceof ResourceConflictError) return json(409, { message: typed.message });
  if (typed instanceof WorkloadBusyError) return workloadBusy(typed.message, typed.heldBy);
  if (typed.retryable) return json(503, { message: `temporarily unavailable, try again: ${typed.message}` }, { 'retry-after': '5' });
  const e = err as { name?: unknown; message?: unknown };
  return json(500, { message: `internal error: ${String(e?.name ?? 'Error')}: ${String(e?.message ?? err)}` });
}

/** POST /onboardings: `?reconcile=true|false` and `?dryRun=true|false` (default false) read and checked before the body. */
function submitWithQuery(req: ApiRequest, backend: ExecutionBackend, deps: ApiDeps): Promise<ApiResponse> {
  const flags = { reconcile: req.query?.reconcile, dryRun: req.query?.dryRun };
  const bad = Object.entries(flags)
    .filter(([, v]) => v !== undefined && v !== 'true' && v !== 'false')
    .map(([k]) => ({ path: `?${k}`, message: 'must be true or false' }));
  if (bad.length > 0) return Promise.resolve(json(400, { message: `The query is invalid: ${bad.length} problem(s). Nothing was started.`, problems: bad }));
  return submit(req.body, backend, deps, { reconcile: flags.reconcile === 'true', dryRun: flags.dryRun === 'true' });
}

async function submit(body: string | undefined, backend: ExecutionBackend, deps: ApiDeps, opts: { reconcile: boolean; dryRun?: boolean } = { reconcile: false }): Promise<ApiResponse> {
  // Checked before parsing, and again on what StartExecution would receive: AWS would refuse it only after the API answered 202.
  const bodyBytes = Buffer.byteLength(body ?? '', 'utf8');
  if (bodyBytes > MAX_EXECUTION_INPUT_BYTES) return tooLarge('the body', bodyBytes);
  let input: unknown;
  try {
    input = JSON.parse(body ?? '');
  } catch (e) {
    return invalid([{ path: '$', message: `the body is not valid JSON (${(e as Error).message})` }]);
  }
  const problems = [...requestProblems(input), ...apiOnlyProblems(input)];
  if (problems.length > 0) return invalid(problems);
  const request = OnboardingRequestSchema.parse(input);
  const pem = request.rootCaPem;
  if (pem === undefined) return invalid([{ path: '$.rootCaPem', message: 'is required' }]);
  if (opts.dryRun || request.dryRun === true) return plan(request, pem, backend);

  const boundBytes = Buffer.byteLength(executionInputOf(withCaReference(request, longestCaReference(request))), 'utf8');
  if (boundBytes > MAX_EXECUTION_INPUT_BYTES) return tooLarge('the execution input (the request with defaults applied, its CA bundle replaced by a reference to the secret the API stores it in)', boundBytes);

  let name = executionNameFor(request);
  let existing: ExecutionView | undefined;
  let previous: string | undefined;
  // A request whose last execution failed resumes under a new name (finished steps are no-ops); with
  // reconcile, one whose last execution succeeded too. A running one is always the answer: one run at a time.
  for (let attempt = 2; ; attempt++) {
    existing = await backend.describe(name, { steps: false });
    if (!existing || existing.status === 'RUNNING' || (existing.status === 'SUCCEEDED' && !opts.reconcile)) break;
    previous = name;
    name = retryNameOf(executionNameFor(request), attempt);
  }
  if (existing) return accepted(name, existing.status, true);

  // A request the account cannot satisfy (a block outside the VPC, a public subnet...) is refused before anything is written, the lock included.
  const infeasible = await deps.checkFeasibility(request);
  if (infeasible.length > 0) return invalid(infeasible);

  // One run per workload: the lock is taken for this name before anything is stored or started.
  const workload = workloadKey(request);
  const refused = await takeLock(workload, name, backend, deps);
  if (refused) return refused;
  let started: { started: boolean } | undefined;
  try {
    // The PEM goes to the workload's secret first, so the execution input (kept in its history) holds only where it is.
    started = await backend.start(name, withCaReference(request, await deps.storeCaBundle(request, pem)));
  } finally {
    // Nothing started: the lock must not wait out the grace period (the execution, had it started after all, takes it again).
    if (!started) await deps.releaseWorkloadLock(workload, name).catch(() => false);
  }
  const view = await backend.describe(name, { steps: false });
  return accepted(name, view?.status ?? 'RUNNING', !started.started, started.started && opts.reconcile ? previous : undefined);
}

/**
 * A dry run: a new execution every time (a plan is cheap and reads only, and the account may
 * have changed since the last one), with no lock, no feasibility refusal (the plan lists the
 * problems) and no secret written: the input carries the PEM's SHA-256, which is all the plan
 * needs to tell whether the stored CA would change.
 */
async function plan(request: OnboardingRequest, pem: string, backend: ExecutionBackend): Promise<ApiResponse> {
  const { rootCaPem: _pem, ...rest } = request;
  const input: OnboardingRequest = { ...rest, dryRun: true, rootCaSha256: sha256Of(pem) };
  const bytes = Buffer.byteLength(executionInputOf(input), 'utf8');
  if (bytes > MAX_EXECUTION_INPUT_BYTES) return tooLarge('the execution input (the request with defaults applied, its CA bundle replaced by its SHA-256)', bytes);
  const name = planNameFor(workloadKey(request), new Date());
  await backend.start(name, input);
  const view = await backend.describe(name, { steps: false });
  const location = `/onboardings/${name}`;
  return json(202, { executionId: name, status: view?.status ?? 'RUNNING', duplicate: false, dryRun: true, location }, { location });
}

/** The name of one dry run of `workload`: unique per call, sortable by time. */
export function planNameFor(workload: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return fitName(`plan-${workload.replace('/', '_')}-${stamp}-${randomBytes(3).toString('hex')}`, 80);
}

/**
 * 415 for a POST /onboardings body sent as anything but JSON (`application/json`, optionally
 * with `charset=utf-8`): a form or text post is a client mistake to name, not a JSON parse error.
 */
function unsupportedType(req: ApiRequest): ApiResponse | undefined {
  if (!req.headers) return undefined;
  const type = Object.entries(req.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  const [media = '', ...params] = (type ?? '').split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (media === 'application/json' && (charset === undefined || charset === 'utf-8')) return undefined;
  return json(415, {
    message: `The onboarding request must be sent as JSON: content-type is ${type ? `"${type}"` : 'missing'}, expected "application/json" (UTF-8). Nothing was started.`,
  }, { accept: 'application/json' });
}

/**
 * Takes `workload`'s lock for execution `name`. Another holder that runs (or was locked a moment
 * ago and is not found yet: its API is between the lock and StartExecution) → the 409 naming it;
 * one that ended, or is not found well after its lock, left it behind (its end was not seen yet)
 * → taken over, conditionally on that holder.
 */
export async function takeLock(
  workload: string,
  name: string,
  backend: ExecutionBackend,
  deps: Pick<ApiDeps, 'acquireWorkloadLock' | 'getWorkload' | 'now'>,
  machine: WorkloadLock['machine'] = 'onboard-workload',
): Promise<ApiResponse | undefined> {
  const lock: WorkloadLock = { executionId: name, machine, acquiredAt: deps.now().toISOString() };
  let takeOverFrom: string | undefined;
  // A few rounds: the holder may change or leave between the refused write and the read.
  for (let round = 0; ; round++) {
    try {
      await deps.acquireWorkloadLock(workload, lock, takeOverFrom ? { takeOverFrom } : {});
      return undefined;
    } catch (err) {
      if (!(err instanceof WorkloadBusyError) || round >= 2) throw err;
    }
    const held = (await deps.getWorkload(workload))?.lock;
    if (!held) continue;
    const status = held.machine === 'onboard-workload' ? (await backend.describe(held.executionId, { steps: false }))?.status : backend.lockHolderStatus ? await backend.lockHolderStatus(held) : 'RUNNING';
    const young = deps.now().getTime() - Date.parse(held.acquiredAt) < LOCK_START_GRACE_MS;
    if (status === 'RUNNING' || (status === undefined && young)) {
      return workloadBusy(`workload ${workload} is being changed by execution ${held.executionId} (${held.machine}, ${status === 'RUNNING' ? 'running' : 'starting'} since ${held.acquiredAt}): one run per workload; wait for it to end, or stop it, then send the request again. Nothing was started.`, held.executionId, held.machine);
    }
    takeOverFrom = held.executionId;
  }
}

/** 409: another execution holds the workload's lock; the body names it (and where to follow it, for an onboarding). */
export function workloadBusy(message: string, executionId?: string, machine?: WorkloadLock['machine']): ApiResponse {
  return json(409, {
    error: 'WorkloadBusy',
    message,
    ...(executionId ? { executionId } : {}),
    ...(executionId && machine === 'onboard-workload' ? { location: `/onboardings/${executionId}` } : {}),
  });
}

/** Fields only the API may set: a caller cannot point an execution at a secret. */
function apiOnlyProblems(input: unknown): Problem[] {
  if (typeof input !== 'object' || input === null) return [];
  return (['rootCaSecret', 'rootCaSha256'] as const).filter((k) => k in input).map((k) => ({ path: `$.${k}`, message: 'is set by the API from rootCaPem: send rootCaPem instead' }));
}

/** 202; `reconciles` names the ended execution a reconcile run follows. */
function accepted(name: string, status: ExecutionStatus, duplicate: boolean, reconciles?: string): ApiResponse {
  const location = `/onboardings/${name}`;
  return json(202, { executionId: name, status, duplicate, location, ...(reconciles ? { reconciles } : {}) }, { location });
}

async function list(query: Record<string, string | undefined>, deps: ApiDeps): Promise<ApiResponse> {
  const problems: Problem[] = [];
  let limit = DEFAULT_PAGE_SIZE;
  if (query.limit !== undefined) {
    limit = /^\d{1,4}$/.test(query.limit) ? Number(query.limit) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_SIZE)) problems.push({ path: '?limit', message: `must be a whole number from 1 to ${MAX_PAGE_SIZE}` });
  }
  const nextToken = query.nextToken;
  const badToken: Problem = { path: '?nextToken', message: 'is not a token this API returned (pass the nextToken of the previous page as it is)' };
  if (nextToken !== undefined && !/^[A-Za-z0-9_-]{1,4096}$/.test(nextToken)) problems.push(badToken);
  if (problems.length > 0) return json(400, { message: `The query is invalid: ${problems.length} problem(s).`, problems });
  let page: Awaited<ReturnType<ApiDeps['listWorkloads']>>;
  try {
    page = await deps.listWorkloads({ limit, ...(nextToken ? { nextToken } : {}) });
  } catch (e) {
    // A token that decodes to no JSON, or to a key DynamoDB refuses as ExclusiveStartKey.
    if (nextToken && (e instanceof SyntaxError || isAwsError(e, 'ValidationException'))) return json(400, { message: 'The query is invalid: 1 problem(s).', problems: [badToken] });
    throw e;
  }
  return json(200, { onboardings: page.items.map(summary), ...(page.nextToken ? { nextToken: page.nextToken } : {}) });
}

async function verify(id: string, backend: ExecutionBackend, deps: ApiDeps): Promise<ApiResponse> {
  const onboarding = await backend.describe(id, { steps: false });
  if (!onboarding) return unknownId(id);
  // The check skips a workload that is not onboarded (and records nothing): say so instead of a 202 whose result never lands.
  const record = await deps.getWorkload(onboarding.workload);
  if (record?.status !== 'ONBOARDED') {
    return json(409, {
      message: `workload ${onboarding.workload} is ${record ? record.status : 'not in the registry'}: re-verification checks onboarded workloads only; nothing was started`,
      workload: onboarding.workload,
      ...(record ? { status: record.status, executionId: record.executionId } : {}),
    });
  }
  const executionId = verificationNameFor(onboarding.workload, deps.now());
  await backend.verify(executionId, onboarding.workload);
  // The result lands in the registry: GET /onboardings shows it as the workload's `verification`.
  return json(202, { executionId, workload: onboarding.workload, onboarding: id, status: 'RUNNING' });
}

function notAllowed(method: string, path: string, allow: string): ApiResponse {
  return json(405, { message: `${method} is not allowed on ${path}` }, { allow });
}

function unknownId(id: string): ApiResponse {
  return json(404, { message: `no onboarding with id ${id}` });
}

function invalid(problems: Problem[]): ApiResponse {
  return json(400, { message: `The onboarding request is invalid: ${problems.length} problem(s). Nothing was started.`, problems });
}

/** One workload of the registry as GET /onboardings lists it (no request, no ledger: GET /onboardings/{id} has the run). */
function summary(r: WorkloadRecord) {
  const executionId = executionNameOf(r.executionId);
  return {
    workload: r.workload,
    status: r.status,
    executionId,
    updatedAt: r.updatedAt,
    location: `/onboardings/${executionId}`,
    ...(r.failure ? { failure: r.failure } : {}),
    ...(r.verification ? { verification: r.verification } : {}),
  };
}
