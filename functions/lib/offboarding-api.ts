/**
 * DELETE /onboardings/{workload}: starts the teardown of an onboarded workload, on both APIs
 * (the local sandbox's and the deployed one). `{workload}` is `<namespace>.<name>` (a DNS label
 * holds no `.`, so the split is unambiguous) or the URL-encoded `<namespace>%2F<name>`;
 * `?retainLogs=true` keeps the log group. 404 when the registry has no record of the workload;
 * 409 while a running execution holds its lock; otherwise 202 with the teardown's execution id,
 * whose GET /onboardings/{id} describes it like an onboarding.
 */
import { createHash } from 'node:crypto';
import type { Problem } from './errors.ts';
import { fitName } from './naming.ts';
import { retryNameOf, takeLock, type ApiDeps, type ApiResponse, type ExecutionBackend, type ExecutionView } from './onboarding-api.ts';
import { TeardownInputSchema, type TeardownInput } from './teardown.ts';

/** What DELETE reads and writes besides executions: the record, the lock (taken, or freed when the start fails), the clock. */
export type OffboardDeps = Pick<ApiDeps, 'getWorkload' | 'acquireWorkloadLock' | 'releaseWorkloadLock' | 'now'>;

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

  // One run per workload (the onboarding's rule, functions/lib/onboarding-api.ts takeLock): a running holder is a 409, one that ended is taken over.
  const refused = await takeLock(input.workload, name, backend, deps, 'offboard-workload');
  if (refused) return refused;
  let started: { started: boolean } | undefined;
  try {
    started = await backend.offboard(name, input);
  } finally {
    // Nothing started: free the lock at once (the execution, had it started after all, takes it again in Start teardown).
    if (!started) await deps.releaseWorkloadLock(input.workload, name).catch(() => false);
  }
  const view = await backend.describe(name, { steps: false });
  return accepted(name, view?.status ?? 'RUNNING', !started.started, input.workload);
}

function accepted(name: string, status: string, duplicate: boolean, workload: string): ApiResponse {
  const location = `/onboardings/${name}`;
  return json(202, { executionId: name, workload, status, duplicate, location }, { location });
}
