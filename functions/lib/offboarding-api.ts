/**
 * DELETE /onboardings/{workload}: starts the teardown of an onboarded workload, on both APIs
 * (the local sandbox's and the deployed one). `{workload}` is `<namespace>.<name>` (a DNS label
 * holds no `.`, so the split is unambiguous) or the URL-encoded `<namespace>%2F<name>`;
 * `?retainLogs=true` keeps the log group. 404 when the registry has no record of the workload;
 * 409 while a running execution holds its lock; otherwise 202 with the teardown's execution id,
 * whose GET /onboardings/{id} describes it like an onboarding.
 */
import { createHash } from 'node:crypto';
import { WorkloadBusyError, type Problem } from './errors.ts';
import { fitName } from './naming.ts';
import { retryNameOf, type ApiDeps, type ApiResponse, type ExecutionBackend, type ExecutionView } from './onboarding-api.ts';
import { acquireWorkloadLock, type WorkloadLock } from './registry.ts';
import { TeardownInputSchema, type TeardownInput } from './teardown.ts';

export interface OffboardDeps extends Pick<ApiDeps, 'getWorkload' | 'now'> {
  /** Takes the workload's lock for the teardown about to start (taking over from `takeOverFrom`, an execution seen ended). */
  acquireLock?: (workload: string, lock: WorkloadLock, opts: { takeOverFrom?: string }) => Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body });

/** The workload a DELETE path names (`/onboardings/<ns>.<name>`, `<ns>%2F<name>` or, decoded by a gateway, `<ns>/<name>`), or undefined for a path that is not a teardown's. */
export function offboardingTarget(path: string): string | undefined {
  const m = /^\/onboardings\/(.+)$/.exec(path);
  if (!m || /\/verify$/.test(m[1]!)) return undefined;
  let raw: string;
  try {
    raw = decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
  if (raw.includes('/')) return raw;
  const dot = raw.indexOf('.');
  return dot < 0 ? raw : `${raw.slice(0, dot)}/${raw.slice(dot + 1)}`;
}

/** The teardown's execution name: from the workload and the onboarding execution its record names, so a double DELETE is one execution. */
export function offboardNameFor(workload: string, onboardingExecutionId: string): string {
  const hash = createHash('sha256').update(`${workload}\n${onboardingExecutionId}`).digest('hex').slice(0, 16);
  return fitName(`offboard-${workload.replace('/', '_')}-${hash}`, 80);
}

function problemsOf(workload: string, query: Record<string, string | undefined>): { input?: TeardownInput; problems: Problem[] } {
  const problems: Problem[] = [];
  const r = query.retainLogs;
  if (r !== undefined && r !== 'true' && r !== 'false') problems.push({ path: '?retainLogs', message: 'must be true or false' });
  const parsed = TeardownInputSchema.safeParse({ workload, retainLogs: r === 'true' });
  if (!parsed.success) problems.push({ path: '{workload}', message: `"${workload}": use <namespace>.<name> (or <namespace>%2F<name>), both DNS-1123 labels` });
  return { problems, ...(parsed.success && problems.length === 0 ? { input: parsed.data } : {}) };
}

/** DELETE /onboardings/{workload}. */
export async function offboard(workload: string, query: Record<string, string | undefined>, backend: ExecutionBackend, deps: OffboardDeps): Promise<ApiResponse> {
  const { input, problems } = problemsOf(workload, query);
  if (!input) return json(400, { message: `The teardown request is invalid: ${problems.length} problem(s). Nothing was started.`, problems });
  if (!backend.offboard) return json(501, { message: 'this API has no teardown state machine configured; nothing was started' });
  const record = await deps.getWorkload(input.workload);
  if (!record?.request) return json(404, { message: `workload ${input.workload} is not in the registry: nothing to tear down` });

  let name = offboardNameFor(input.workload, record.executionId);
  let existing: ExecutionView | undefined;
  // A teardown that failed resumes under a new name (what it deleted stays deleted; the rest goes).
  for (let attempt = 2; ; attempt++) {
    existing = await backend.describe(name, { steps: false });
    if (!existing || existing.status === 'RUNNING' || existing.status === 'SUCCEEDED') break;
    name = retryNameOf(offboardNameFor(input.workload, record.executionId), attempt);
  }
  if (existing) return accepted(name, existing.status, true, input.workload);

  // One execution per workload: a running holder is a 409; one seen ended without releasing is taken over.
  const holder = record.lock?.executionId;
  let takeOverFrom: string | undefined;
  if (holder && holder !== name) {
    const view = await backend.describe(holder, { steps: false });
    if (view?.status === 'RUNNING') return busy(input.workload, holder, record.lock?.machine);
    takeOverFrom = holder;
  }
  try {
    await (deps.acquireLock ?? acquireWorkloadLock)(input.workload, { executionId: name, machine: 'offboard-workload', acquiredAt: deps.now().toISOString() }, takeOverFrom ? { takeOverFrom } : {});
  } catch (e) {
    if (e instanceof WorkloadBusyError) return busy(input.workload, e.heldBy ?? '(unknown)');
    throw e;
  }
  const started = await backend.offboard(name, input);
  const view = await backend.describe(name, { steps: false });
  return accepted(name, view?.status ?? 'RUNNING', !started.started, input.workload);
}

function busy(workload: string, executionId: string, machine?: string): ApiResponse {
  return json(409, {
    message: `workload ${workload} is being changed by execution ${executionId}${machine ? ` (${machine})` : ''}: one run per workload; wait for it to end (GET /onboardings/${executionId}), then try again. Nothing was started.`,
    workload,
    executionId,
  });
}

function accepted(name: string, status: string, duplicate: boolean, workload: string): ApiResponse {
  const location = `/onboardings/${name}`;
  return json(202, { executionId: name, workload, status, duplicate, location }, { location });
}
