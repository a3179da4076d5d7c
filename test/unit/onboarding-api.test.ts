/**
 * The onboarding API contract (functions/lib/onboarding-api.ts) with a recording backend and
 * fake registry and CA store: what is refused at the edge, before anything is written or
 * started; the CA bundle stored before the start, so the execution input holds no PEM; the
 * registry listing; the verify route.
 */
import { describe, expect, it } from 'vitest';
import { AwsThrottledError, ResourceConflictError, WorkloadBusyError } from '../../functions/lib/errors.ts';
import {
  errorResponse,
  executionInputOf,
  handleApiRequest,
  LOCK_START_GRACE_MS,
  withCaReference,
  type ApiDeps,
  type ExecutionBackend,
  type ExecutionStatus,
  type ExecutionView,
} from '../../functions/lib/onboarding-api.ts';
import type { WorkloadLock, WorkloadRecord } from '../../functions/lib/registry.ts';
import { parseRequest, type CaSecretRef, type OnboardingRequest } from '../../functions/lib/request.ts';
import { bookinfoInput } from '../support/requests.ts';

// StartExecution's input is at most 262144 bytes of UTF-8:
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
const LIMIT = 262144;
const REF: CaSecretRef = { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf', versionId: '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f' };

interface Recording extends ExecutionBackend {
  /** Every call, in order: `store <workload>`, `start <name>`, `verify <name> <workload>`. */
  calls: string[];
  started: { name: string; request: OnboardingRequest }[];
  views: Map<string, ExecutionView>;
}

function recordingBackend(): Recording {
  const views = new Map<string, ExecutionView>();
  const calls: string[] = [];
  const started: { name: string; request: OnboardingRequest }[] = [];
  return {
    calls,
    started,
    views,
    start(name: string, request: OnboardingRequest) {
      calls.push(`start ${name}`);
      started.push({ name, request });
      views.set(name, { executionId: name, status: 'RUNNING', workload: `${request.workloadGroup.namespace}/${request.workloadGroup.name}`, startedAt: new Date().toISOString(), steps: [] });
      return Promise.resolve({ started: true });
    },
    describe: (id: string) => Promise.resolve(views.get(id)),
    verify(name: string, workload: string) {
      calls.push(`verify ${name} ${workload}`);
      return Promise.resolve();
    },
  };
}

/** The registry's workload locks in memory, with its semantics (functions/lib/registry.ts): re-entrant, refused to another, taken over from a named holder. */
export function fakeLocks(locks = new Map<string, WorkloadLock>()): Pick<ApiDeps, 'acquireWorkloadLock' | 'releaseWorkloadLock'> & { locks: Map<string, WorkloadLock> } {
  return {
    locks,
    acquireWorkloadLock: (workload, lock, opts = {}) => {
      const held = locks.get(workload);
      if (held && held.executionId !== lock.executionId && held.executionId !== opts.takeOverFrom) return Promise.reject(new WorkloadBusyError(`workload ${workload} is being changed by execution ${held.executionId}`, held.executionId));
      locks.set(workload, lock);
      return Promise.resolve();
    },
    releaseWorkloadLock: (workload, executionId) => {
      const mine = locks.get(workload)?.executionId === executionId;
      if (mine) locks.delete(workload);
      return Promise.resolve(mine);
    },
  };
}

/** A CA store that records into the backend's call list, in-memory locks, and a registry that must not be read unless the test says so. */
function fakeDeps(backend: Recording, over: Partial<ApiDeps> = {}): Partial<ApiDeps> {
  const lockDeps = fakeLocks();
  return {
    ...lockDeps,
    storeCaBundle: (request: OnboardingRequest, pem: string) => {
      backend.calls.push(`store ${request.workloadGroup.namespace}/${request.workloadGroup.name} ${pem.includes('BEGIN CERTIFICATE') ? 'pem' : '?'}`);
      return Promise.resolve(REF);
    },
    listWorkloads: () => Promise.reject(new Error('the registry was not expected to be read')),
    getWorkload: (workload: string) => Promise.resolve({ workload, status: 'ONBOARDED', ...(lockDeps.locks.has(workload) ? { lock: lockDeps.locks.get(workload) } : {}) } as WorkloadRecord),
    checkFeasibility: (request: OnboardingRequest) => {
      backend.calls.push(`check ${request.workloadGroup.namespace}/${request.workloadGroup.name}`);
      return Promise.resolve([]);
    },
    now: () => new Date('2026-11-29T10:20:30.456Z'),
    ...over,
  };
}

/** The bookinfo request padded with workload labels (each valid) until its body is exactly `bytes` long. */
function requestOfSize(bytes: number): Record<string, unknown> {
  const base = bookinfoInput() as unknown as Record<string, unknown>;
  const labels: Record<string, string> = { ...(base.workloadLabels as Record<string, string>) };
  const body = () => JSON.stringify({ ...base, workloadLabels: labels });
  // `,"key":"value"` costs key + value + 6 bytes: count instead of serialising on every step.
  let size = Buffer.byteLength(body());
  for (let i = 0; size < bytes - 400; i++) {
    labels[`pad-${i}`] = 'v'.repeat(63);
    size += `pad-${i}`.length + 63 + 6;
  }
  const growable = Array.from({ length: 8 }, (_, i) => `grow-${i}`);
  for (const k of growable) {
    labels[k] = 'v';
    size += k.length + 1 + 6;
  }
  for (const k of growable) {
    while (size < bytes && (labels[k]?.length ?? 63) < 63) {
      labels[k] += 'v';
      size += 1;
    }
  }
  if (Buffer.byteLength(body()) !== bytes) throw new Error(`could not pad the request to ${bytes} bytes`);
  return JSON.parse(body()) as Record<string, unknown>;
}

describe('onboarding API: Step Functions input limit at the edge', () => {
  it('answers 413 naming the limit, and stores and starts nothing, for a body over 262144 bytes', async () => {
    // Prepare
    const backend = recordingBackend();
    const body = JSON.stringify(requestOfSize(LIMIT + 1));

    // Act
    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body }, backend, fakeDeps(backend));

    // Assess
    expect(res.status).toBe(413);
    expect((res.body as { message: string }).message).toMatch(/262144 bytes.*Nothing was started/);
    expect((res.body as { message: string }).message).toContain('Step Functions');
    expect(backend.calls).toEqual([]);
  });

  it('accepts a body just under the limit: the execution input carries a reference to the CA secret, not the PEM', async () => {
    const backend = recordingBackend();
    const body = JSON.stringify(requestOfSize(LIMIT - 10));

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body }, backend, fakeDeps(backend));

    expect(res.status).toBe(202);
    const input = executionInputOf(backend.started[0]!.request);
    expect(Buffer.byteLength(input)).toBeLessThanOrEqual(LIMIT);
    expect(input).not.toContain('BEGIN CERTIFICATE');
  });

  it('accepts a request whose execution input is within the limit', async () => {
    const backend = recordingBackend();
    const input = requestOfSize(LIMIT - 2000);
    expect(Buffer.byteLength(executionInputOf(withCaReference(parseRequest(input), REF)))).toBeLessThanOrEqual(LIMIT);

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(input) }, backend, fakeDeps(backend));

    expect(res.status).toBe(202);
    expect(backend.started).toHaveLength(1);
  });

  it('answers 400 naming $.rootCaPem for a CA bundle over the Secrets Manager limit, before storing or starting anything', async () => {
    const backend = recordingBackend();
    const pem = bookinfoInput().rootCaPem;
    const big = { ...bookinfoInput(), rootCaPem: pem.repeat(Math.ceil(65537 / Buffer.byteLength(pem))) };

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(big) }, backend, fakeDeps(backend));

    expect(res.status).toBe(400);
    expect((res.body as { problems: { path: string; message: string }[] }).problems).toEqual([{ path: '$.rootCaPem', message: expect.stringContaining('Secrets Manager stores at most 65536 bytes') as string }]);
    expect(backend.calls).toEqual([]);
  });

  it("answers 400 with the feasibility check's problems and paths, before storing or starting anything", async () => {
    const backend = recordingBackend();
    const problems = [{ path: '$.network.subnetCidr', message: "10.9.0.0/24 is not inside the VPC's CIDR block(s) 10.0.0.0/16" }];
    const deps = fakeDeps(backend, { checkFeasibility: () => Promise.resolve(problems) });

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps);

    expect(res).toMatchObject({ status: 400, body: { message: 'The onboarding request is invalid: 1 problem(s). Nothing was started.', problems } });
    expect(backend.calls).toEqual([]);
  });
});

describe('onboarding API: the CA bundle is stored before the execution starts', () => {
  it('stores the PEM in the workload secret, then starts the execution with only the secret version', async () => {
    // Prepare
    const backend = recordingBackend();

    // Act
    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, fakeDeps(backend));

    // Assess
    expect(res.status).toBe(202);
    const { executionId } = res.body as { executionId: string };
    expect(backend.calls).toEqual(['check bookinfo/ratings', 'store bookinfo/ratings pem', `start ${executionId}`]);
    const started = backend.started[0]!.request;
    expect(started.rootCaSecret).toEqual(REF);
    expect(started).not.toHaveProperty('rootCaPem');
    expect(executionInputOf(started)).not.toContain('BEGIN CERTIFICATE');
    // The execution input validates as a request (the reference names this workload's secret).
    expect(parseRequest(JSON.parse(executionInputOf(started)))).toMatchObject({ rootCaSecret: REF });
  });

  it('keeps the name deterministic from the request with its PEM: the same request is one execution, and a changed CA another', async () => {
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const a = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps);
    const b = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps);
    const pem = bookinfoInput().rootCaPem;
    // One run per workload: the changed request is another execution once the first has ended.
    backend.views.get((a.body as { executionId: string }).executionId)!.status = 'SUCCEEDED';
    const c = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify({ ...bookinfoInput(), rootCaPem: `${pem}\n${pem}` }) }, backend, deps);

    expect(b.body).toMatchObject({ executionId: (a.body as { executionId: string }).executionId, duplicate: true, status: 'RUNNING' });
    expect((c.body as { executionId: string }).executionId).not.toBe((a.body as { executionId: string }).executionId);
    // The duplicate wrote no secret version and started nothing.
    expect(backend.calls.filter((x) => x.startsWith('store'))).toHaveLength(2);
    expect(backend.started).toHaveLength(2);
  });

  it('resumes a failed request under -r2, storing the CA again for the new execution', async () => {
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const first = (await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps)).body as { executionId: string };
    backend.views.set(first.executionId, { ...backend.views.get(first.executionId)!, status: 'FAILED' as ExecutionStatus });

    const again = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps);

    expect(again.body).toMatchObject({ executionId: `${first.executionId}-r2`, duplicate: false });
    expect(backend.calls.slice(-2)).toEqual(['store bookinfo/ratings pem', `start ${first.executionId}-r2`]);
  });

  describe('?reconcile=true: an explicit new run of a request that already ended', () => {
    const post = (backend: Recording, deps: Partial<ApiDeps>, query?: Record<string, string>) =>
      handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()), ...(query ? { query } : {}) }, backend, deps);
    const setStatus = (backend: Recording, id: string, status: ExecutionStatus) => backend.views.set(id, { ...backend.views.get(id)!, status });

    it('without it, a request that succeeded is answered with its execution (duplicate), even if its resources are gone since', async () => {
      const backend = recordingBackend();
      const deps = fakeDeps(backend);
      const first = (await post(backend, deps)).body as { executionId: string };
      setStatus(backend, first.executionId, 'SUCCEEDED');

      const again = await post(backend, deps);
      const explicitFalse = await post(backend, deps, { reconcile: 'false' });

      for (const r of [again, explicitFalse]) expect(r).toMatchObject({ status: 202, body: { executionId: first.executionId, status: 'SUCCEEDED', duplicate: true } });
      expect(backend.started).toHaveLength(1);
    });

    it('with it, a request that succeeded starts the next -rN, storing the CA and taking the lock as any start', async () => {
      const backend = recordingBackend();
      const deps = fakeDeps(backend);
      const first = (await post(backend, deps)).body as { executionId: string };
      setStatus(backend, first.executionId, 'SUCCEEDED');

      const r2 = await post(backend, deps, { reconcile: 'true' });
      expect(r2).toMatchObject({ status: 202, body: { executionId: `${first.executionId}-r2`, status: 'RUNNING', duplicate: false, reconciles: first.executionId } });
      expect(backend.calls.slice(-3)).toEqual(['check bookinfo/ratings', 'store bookinfo/ratings pem', `start ${first.executionId}-r2`]);

      // Still running: a second reconcile (a double click) is the same run, nothing new starts.
      const dup = await post(backend, deps, { reconcile: 'true' });
      expect(dup.body).toMatchObject({ executionId: `${first.executionId}-r2`, status: 'RUNNING', duplicate: true });
      expect(dup.body).not.toHaveProperty('reconciles');
      expect(backend.started).toHaveLength(2);

      // Ended (failed this time): the next reconcile is -r3, and a plain POST would have resumed with it too.
      setStatus(backend, `${first.executionId}-r2`, 'FAILED');
      const r3 = await post(backend, deps, { reconcile: 'true' });
      expect(r3.body).toMatchObject({ executionId: `${first.executionId}-r3`, duplicate: false, reconciles: `${first.executionId}-r2` });
    });

    it('with it, a request never submitted starts as without it (no -rN, nothing to reconcile)', async () => {
      const backend = recordingBackend();
      const r = await post(backend, fakeDeps(backend), { reconcile: 'true' });
      expect(r.body).toMatchObject({ duplicate: false, status: 'RUNNING' });
      expect((r.body as { executionId: string }).executionId).not.toMatch(/-r\d+$/);
      expect(r.body).not.toHaveProperty('reconciles');
    });

    it('refuses a reconcile value other than true or false, before reading the body', async () => {
      const backend = recordingBackend();
      const r = await post(backend, fakeDeps(backend), { reconcile: 'yes' });
      expect(r).toMatchObject({ status: 400, body: { problems: [{ path: '?reconcile', message: 'must be true or false' }] } });
      expect(backend.calls).toEqual([]);
    });
  });

  it('refuses a body that sets rootCaSecret: only the API points an execution at a secret', async () => {
    const backend = recordingBackend();
    const { rootCaPem: _pem, ...noPem } = bookinfoInput();

    const withRef = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify({ ...noPem, rootCaSecret: REF }) }, backend, fakeDeps(backend));
    const withBoth = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify({ ...bookinfoInput(), rootCaSecret: REF }) }, backend, fakeDeps(backend));
    const withNeither = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(noPem) }, backend, fakeDeps(backend));

    expect(withRef.status).toBe(400);
    expect((withRef.body as { problems: unknown[] }).problems).toEqual([{ path: '$.rootCaSecret', message: expect.stringContaining('set by the API') as string }]);
    expect(withBoth.status).toBe(400);
    expect(withNeither).toMatchObject({ status: 400, body: { problems: [{ path: '$.rootCaPem', message: 'is required' }] } });
    expect(backend.calls).toEqual([]);
  });

  it('answers 409 with the message when the workload secret belongs to someone else, and starts nothing', async () => {
    const backend = recordingBackend();
    const deps = fakeDeps(backend, {
      storeCaBundle: () => Promise.reject(new ResourceConflictError('Secrets Manager secret "mesh-onboarding/bookinfo/ratings/root-ca" exists but was not made by this tool')),
    });

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps).catch(errorResponse);

    expect(res).toMatchObject({ status: 409, body: { message: expect.stringContaining('not made by this tool') as string } });
    expect(backend.started).toEqual([]);
  });
});

describe('onboarding API: one run per workload', () => {
  const post = (body: unknown, backend: Recording, deps: Partial<ApiDeps>) => handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(body) }, backend, deps);
  const other = () => ({ ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, desiredCount: 2 } });

  it('answers 409 WorkloadBusy naming the running execution to another request for the workload, storing and starting nothing', async () => {
    // Prepare
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const first = (await post(bookinfoInput(), backend, deps)).body as { executionId: string };

    // Act
    const res = await post(other(), backend, deps);

    // Assess
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'WorkloadBusy',
      message: expect.stringContaining(`workload bookinfo/ratings is being changed by execution ${first.executionId} (onboard-workload, running since`) as string,
      executionId: first.executionId,
      location: `/onboardings/${first.executionId}`,
    });
    expect((res.body as { message: string }).message).toContain('Nothing was started');
    // The second request is checked against the account (reads only), then refused: nothing stored, nothing started.
    expect(backend.calls).toEqual(['check bookinfo/ratings', `store bookinfo/ratings pem`, `start ${first.executionId}`, 'check bookinfo/ratings']);
    // The identical request still gets the same execution.
    expect((await post(bookinfoInput(), backend, deps)).body).toMatchObject({ executionId: first.executionId, duplicate: true });
  });

  it.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT'] as const)('takes the lock over from a holder that ended %s without freeing it', async (status) => {
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const first = (await post(bookinfoInput(), backend, deps)).body as { executionId: string };
    backend.views.get(first.executionId)!.status = status;

    const res = await post(other(), backend, deps);

    expect(res.status).toBe(202);
    const second = (res.body as { executionId: string }).executionId;
    expect(second).not.toBe(first.executionId);
    expect((deps as ReturnType<typeof fakeLocks>).locks.get('bookinfo/ratings')).toMatchObject({ executionId: second, machine: 'onboard-workload' });
  });

  it('a holder not found yet is being started (409) while its lock is young; an old one was left by an API that died before starting it (taken over)', async () => {
    const backend = recordingBackend();
    const now = new Date('2026-11-29T10:20:30.456Z');
    const locks = new Map<string, WorkloadLock>([['bookinfo/ratings', { executionId: 'onboard-bookinfo_ratings-starting', machine: 'onboard-workload', acquiredAt: new Date(now.getTime() - 5_000).toISOString() }]]);
    const young = await post(bookinfoInput(), backend, { ...fakeDeps(backend), ...fakeLocks(locks), getWorkload: (w) => Promise.resolve({ workload: w, lock: locks.get(w) } as WorkloadRecord) });
    expect(young).toMatchObject({ status: 409, body: { executionId: 'onboard-bookinfo_ratings-starting', message: expect.stringContaining('starting since') as string } });

    locks.set('bookinfo/ratings', { ...locks.get('bookinfo/ratings')!, acquiredAt: new Date(now.getTime() - LOCK_START_GRACE_MS - 1).toISOString() });
    const old = await post(bookinfoInput(), backend, { ...fakeDeps(backend), ...fakeLocks(locks), getWorkload: (w) => Promise.resolve({ workload: w, lock: locks.get(w) } as WorkloadRecord) });
    expect(old.status).toBe(202);
    expect(locks.get('bookinfo/ratings')?.executionId).toBe((old.body as { executionId: string }).executionId);
  });

  it('never takes over from a teardown it cannot check: 409 naming it, without a location', async () => {
    const backend = recordingBackend();
    const locks = new Map<string, WorkloadLock>([['bookinfo/ratings', { executionId: 'offboard-bookinfo_ratings-1', machine: 'offboard-workload', acquiredAt: '2026-11-28T00:00:00.000Z' }]]);
    const res = await post(bookinfoInput(), backend, { ...fakeDeps(backend), ...fakeLocks(locks), getWorkload: (w) => Promise.resolve({ workload: w, lock: locks.get(w) } as WorkloadRecord) });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'WorkloadBusy', message: expect.stringContaining('offboard-bookinfo_ratings-1 (offboard-workload') as string, executionId: 'offboard-bookinfo_ratings-1' });
    expect(backend.calls).toEqual(['check bookinfo/ratings']);
  });

  it('frees the lock it took when the start fails', async () => {
    const backend = recordingBackend();
    const deps = fakeDeps(backend, { storeCaBundle: () => Promise.reject(new ResourceConflictError('secret is not ours')) });
    await expect(post(bookinfoInput(), backend, deps)).rejects.toMatchObject({ name: 'ResourceConflictError' });
    expect((deps as ReturnType<typeof fakeLocks>).locks.size).toBe(0);
  });

  it('maps a WorkloadBusyError that reaches the edge to the same 409 body', () => {
    expect(errorResponse(new WorkloadBusyError('workload a/b is being changed by execution x', 'x'))).toMatchObject({ status: 409, body: { error: 'WorkloadBusy', message: 'workload a/b is being changed by execution x', executionId: 'x' } });
  });
});

describe('onboarding API: GET /onboardings lists the registry', () => {
  const record = (workload: string, over: Partial<WorkloadRecord> = {}): WorkloadRecord => ({
    workload,
    request: parseRequest(bookinfoInput()),
    status: 'ONBOARDED',
    executionId: `arn:aws:states:us-east-1:123456789012:execution:onboard-workload:onboard-${workload.replace('/', '_')}-0123456789abcdef`,
    updatedAt: '2026-11-29T10:00:00.000Z',
    ledger: [{ kind: 'secret', id: 'x', created: true }],
    ...over,
  });

  it('answers one page with each workload, its status and its latest execution, and the token of the next page', async () => {
    // Prepare
    const backend = recordingBackend();
    const asked: unknown[] = [];
    const deps = fakeDeps(backend, {
      listWorkloads: (page) => {
        asked.push(page);
        return Promise.resolve({
          items: [record('bookinfo/ratings', { verification: { at: '2026-11-29T11:00:00.000Z', ok: true, drift: [] } }), record('bookinfo/reviews', { status: 'FAILED', failure: { step: 'Pre-flight mesh', error: 'MeshPrerequisiteError', cause: 'no WorkloadGroup' } })],
          nextToken: 'eyJ3b3JrbG9hZCI6ImJvb2tpbmZvL3Jldmlld3MifQ',
        });
      },
    });

    // Act
    const res = await handleApiRequest({ method: 'GET', path: '/onboardings', query: { limit: '2', nextToken: 'eyJ3b3JrbG9hZCI6ImEvYiJ9' } }, backend, deps);

    // Assess
    expect(asked).toEqual([{ limit: 2, nextToken: 'eyJ3b3JrbG9hZCI6ImEvYiJ9' }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      onboardings: [
        {
          workload: 'bookinfo/ratings',
          status: 'ONBOARDED',
          executionId: 'onboard-bookinfo_ratings-0123456789abcdef',
          updatedAt: '2026-11-29T10:00:00.000Z',
          location: '/onboardings/onboard-bookinfo_ratings-0123456789abcdef',
          verification: { at: '2026-11-29T11:00:00.000Z', ok: true, drift: [] },
        },
        {
          workload: 'bookinfo/reviews',
          status: 'FAILED',
          executionId: 'onboard-bookinfo_reviews-0123456789abcdef',
          updatedAt: '2026-11-29T10:00:00.000Z',
          location: '/onboardings/onboard-bookinfo_reviews-0123456789abcdef',
          failure: { step: 'Pre-flight mesh', error: 'MeshPrerequisiteError', cause: 'no WorkloadGroup' },
        },
      ],
      nextToken: 'eyJ3b3JrbG9hZCI6ImJvb2tpbmZvL3Jldmlld3MifQ',
    });
    expect(JSON.stringify(res.body)).not.toContain('BEGIN CERTIFICATE');
  });

  it('asks for 50 by default and answers 400 to a limit out of 1-100 or a token it did not give', async () => {
    const backend = recordingBackend();
    const asked: unknown[] = [];
    const deps = fakeDeps(backend, {
      listWorkloads: (page) => {
        asked.push(page);
        // What registry.ts does with a token that is not base64url JSON.
        if (page.nextToken) JSON.parse(Buffer.from(page.nextToken, 'base64url').toString('utf8'));
        return Promise.resolve({ items: [] });
      },
    });

    expect(await handleApiRequest({ method: 'GET', path: '/onboardings' }, backend, deps)).toMatchObject({ status: 200, body: { onboardings: [] } });
    expect(asked).toEqual([{ limit: 50 }]);
    for (const limit of ['0', '101', 'ten', '-1', '1.5']) {
      const res = await handleApiRequest({ method: 'GET', path: '/onboardings', query: { limit } }, backend, deps);
      expect(res, limit).toMatchObject({ status: 400, body: { problems: [{ path: '?limit', message: 'must be a whole number from 1 to 100' }] } });
    }
    for (const nextToken of ['not a token!', 'bm90IGpzb24']) {
      const res = await handleApiRequest({ method: 'GET', path: '/onboardings', query: { nextToken } }, backend, deps);
      expect(res, nextToken).toMatchObject({ status: 400, body: { problems: [{ path: '?nextToken' }] } });
    }
  });
});

describe('onboarding API: POST /onboardings/{id}/verify', () => {
  it("starts one re-verification of the onboarding's workload and answers 202 with its execution id", async () => {
    // Prepare
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const { executionId: onboarding } = (await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps)).body as { executionId: string };

    // Act
    const res = await handleApiRequest({ method: 'POST', path: `/onboardings/${onboarding}/verify` }, backend, deps);

    // Assess
    expect(res.status).toBe(202);
    const body = res.body as { executionId: string };
    expect(body).toMatchObject({ workload: 'bookinfo/ratings', onboarding, status: 'RUNNING' });
    expect(body.executionId).toMatch(/^verify-bookinfo_ratings-20261129T102030Z-[0-9a-f]{6}$/);
    expect(backend.calls.at(-1)).toBe(`verify ${body.executionId} bookinfo/ratings`);
  });

  it('answers 409 for a workload that is not onboarded (still onboarding, failed, or not in the registry), starting nothing', async () => {
    for (const record of [{ status: 'ONBOARDING' }, { status: 'FAILED' }, undefined]) {
      const backend = recordingBackend();
      const deps = fakeDeps(backend, { getWorkload: (workload) => Promise.resolve(record ? ({ workload, executionId: 'e', ...record } as WorkloadRecord) : undefined) });
      const { executionId: onboarding } = (await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(bookinfoInput()) }, backend, deps)).body as { executionId: string };
      const res = await handleApiRequest({ method: 'POST', path: `/onboardings/${onboarding}/verify` }, backend, deps);
      expect(res.status).toBe(409);
      expect((res.body as { message: string }).message).toContain(record ? record.status : 'not in the registry');
      expect(backend.calls.filter((c) => c.startsWith('verify'))).toEqual([]);
    }
  });

  it('answers 404 for an unknown id and 405 for another method, starting nothing', async () => {
    const backend = recordingBackend();
    expect(await handleApiRequest({ method: 'POST', path: '/onboardings/onboard-nobody_here-0000/verify' }, backend, fakeDeps(backend))).toMatchObject({ status: 404 });
    expect(await handleApiRequest({ method: 'GET', path: '/onboardings/x/verify' }, backend, fakeDeps(backend))).toMatchObject({ status: 405, headers: { allow: 'POST' } });
    expect(backend.calls).toEqual([]);
  });
});

describe('onboarding API: routes and errors', () => {
  it('answers 404 naming the routes, 405 with Allow, and 404 for an unknown id', async () => {
    const backend = recordingBackend();
    expect(await handleApiRequest({ method: 'GET', path: '/nowhere' }, backend)).toMatchObject({ status: 404, body: { routes: expect.arrayContaining(['POST /onboardings/{id}/verify']) as unknown } });
    expect(await handleApiRequest({ method: 'DELETE', path: '/onboardings' }, backend)).toMatchObject({ status: 405, headers: { allow: 'GET, POST' } });
    expect(await handleApiRequest({ method: 'PUT', path: '/onboardings/abc' }, backend)).toMatchObject({ status: 405, headers: { allow: 'GET, DELETE' } });
    expect(await handleApiRequest({ method: 'GET', path: '/onboardings/abc/' }, backend)).toMatchObject({ status: 404, body: { message: 'no onboarding with id abc' } });
  });

  it('turns errors into their name and message, never a stack: throttling 503, a conflict 409, the rest 500', () => {
    const plain = new TypeError('boom');
    expect(errorResponse(new AwsThrottledError('Rate exceeded'))).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
    expect(errorResponse(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))).toMatchObject({ status: 503 });
    expect(errorResponse(new ResourceConflictError('taken'))).toMatchObject({ status: 409, body: { message: 'taken' } });
    const res = errorResponse(plain);
    expect(res).toMatchObject({ status: 500, body: { message: 'internal error: TypeError: boom' } });
    expect(JSON.stringify(res)).not.toMatch(/\s+at\s/);
  });
});

describe('onboarding API: dry run (?dryRun=true)', () => {
  it('starts a new plan-... execution each time, with the PEM replaced by its SHA-256: no lock, no secret stored, no feasibility refusal', async () => {
    // Prepare
    const backend = recordingBackend();
    const deps = fakeDeps(backend);
    const body = JSON.stringify(bookinfoInput());

    // Act
    const one = await handleApiRequest({ method: 'POST', path: '/onboardings', query: { dryRun: 'true' }, body }, backend, deps);
    const two = await handleApiRequest({ method: 'POST', path: '/onboardings', query: { dryRun: 'true' }, body }, backend, deps);

    // Assess
    expect(one.status).toBe(202);
    expect(one.body).toMatchObject({ dryRun: true, duplicate: false });
    expect((one.body as { executionId: string }).executionId).toMatch(/^plan-bookinfo_ratings-\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect((two.body as { executionId: string }).executionId).not.toBe((one.body as { executionId: string }).executionId);
    expect(backend.calls.every((c) => c.startsWith('start plan-'))).toBe(true);
    const input = backend.started[0]!.request;
    expect(input).toMatchObject({ dryRun: true, rootCaSha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    expect(input).not.toHaveProperty('rootCaPem');
    expect(JSON.stringify(input)).not.toContain('BEGIN CERTIFICATE');
    // The execution input is a valid request: Validate request will accept it.
    expect(() => parseRequest(JSON.parse(executionInputOf(input)))).not.toThrow();
  });

  it('takes dryRun: true in the body as the query does', async () => {
    const backend = recordingBackend();
    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify({ ...bookinfoInput(), dryRun: true }) }, backend, fakeDeps(backend));
    expect(res.status).toBe(202);
    expect(backend.calls).toEqual([expect.stringMatching(/^start plan-/)]);
  });

  it('refuses rootCaSha256 from a caller, and a dryRun flag that is not true or false, starting nothing', async () => {
    const backend = recordingBackend();
    const own = await handleApiRequest({ method: 'POST', path: '/onboardings', query: { dryRun: 'true' }, body: JSON.stringify({ ...bookinfoInput(), rootCaSha256: 'a'.repeat(64) }) }, backend, fakeDeps(backend));
    expect(own.status).toBe(400);
    expect(JSON.stringify(own.body)).toContain('$.rootCaSha256');
    const flag = await handleApiRequest({ method: 'POST', path: '/onboardings', query: { dryRun: 'maybe' }, body: JSON.stringify(bookinfoInput()) }, backend, fakeDeps(backend));
    expect(flag.status).toBe(400);
    expect(flag.body).toMatchObject({ problems: [{ path: '?dryRun', message: 'must be true or false' }] });
    expect(backend.calls).toEqual([]);
  });
});
