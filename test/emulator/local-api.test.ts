/**
 * The local HTTP API (same contract as the deployed one) on the sandbox: validation at the
 * edge, the CA bundle stored before the start, 202 + Location, polling to success, one
 * execution for a double submit, the list from the emulator's registry, and the verify route.
 */
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand, GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { getWorkload, putWorkloadRecord } from '../../functions/lib/registry.ts';
import { startApiServer, type ApiServer } from '../../local/api-server.ts';
import { driftRoute } from '../../local/drift.ts';
import { LocalExecutions } from '../../local/local-executions.ts';
import { eventually } from '../support/emulator.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
let api: ApiServer;
let backend: LocalExecutions;

beforeAll(async () => {
  backend = new LocalExecutions({ waitMs: 20, retryIntervalMs: 5 });
  // Mounted as the CLI mounts it: the sandbox's drift route beside the contract's.
  api = await startApiServer(backend, 0, { routes: [driftRoute(sandbox())] });
});
afterAll(async () => {
  await backend.settle();
  await api.stop();
});

const secretsClient = () => new SecretsManagerClient({ endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 });

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, { method, body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

describe('local onboarding API', () => {
  it('answers 400 with every problem and its path, and touches nothing', async () => {
    const bad = { ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, cpu: '100' }, nework: {} };
    const r = await call('POST', '/onboardings', bad);
    expect(r.status).toBe(400);
    const problems = r.json.problems as { path: string; message: string }[];
    expect(problems.map((p) => p.path).sort()).toEqual(['$', '$.ecs.cpu']);
    expect(JSON.stringify(r.json)).not.toMatch(/\s+at\s.+\.ts:\d+/);
    expect(await call('GET', '/onboardings')).toMatchObject({ status: 200, json: { onboardings: [] } });
    const endpoint = sandbox().moto.endpoint;
    expect((await new ECSClient({ endpoint, region: 'us-east-1' }).send(new ListClustersCommand({}))).clusterArns).toEqual([]);
    expect((await new IAMClient({ endpoint, region: 'us-east-1' }).send(new ListRolesCommand({}))).Roles).toEqual([]);
    expect((await secretsClient().send(new ListSecretsCommand({}))).SecretList).toEqual([]);
  });

  it('answers 400 to a body that is not JSON, and keeps serving', async () => {
    const r = await call('POST', '/onboardings', '{"workloadGroup": ');
    expect(r.status).toBe(400);
    expect((r.json.problems as { path: string }[])[0]?.path).toBe('$');
    expect((await call('GET', '/onboardings')).status).toBe(200);
    expect((await call('DELETE', '/onboardings')).status).toBe(405);
    expect((await call('GET', '/nowhere')).status).toBe(404);
    expect((await call('GET', '/onboardings/does-not-exist')).status).toBe(404);
  });

  it('answers 413 naming the limit to a 2 MB body, instead of resetting the connection, and keeps serving', async () => {
    // Step Functions takes an execution input of at most 256 KiB (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
    const r = await call('POST', '/onboardings', JSON.stringify({ ...bookinfoInput(), padding: 'x'.repeat(2 * 1024 * 1024) }));
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ limitBytes: 262144 });
    expect(String(r.json.message)).toContain('Nothing was started');
    expect((await call('GET', '/onboardings')).status).toBe(200);
  });

  it('answers 400 naming $.rootCaPem to a CA bundle over the Secrets Manager limit, before anything runs', async () => {
    // SecretString is at most 65536 bytes (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html):
    // refused at the edge rather than at Ensure CA secret, after the network was built.
    const pem = bookinfoInput().rootCaPem;
    const r = await call('POST', '/onboardings', { ...bookinfoInput(), rootCaPem: pem.repeat(Math.ceil(65537 / pem.length)) });
    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual([{ path: '$.rootCaPem', message: expect.stringContaining('Secrets Manager stores at most 65536 bytes') as string }]);
    expect(await call('GET', '/onboardings')).toMatchObject({ status: 200, json: { onboardings: [] } });
  });

  it('accepts a request with 202 and a Location, then reports the run until it succeeds', async () => {
    const r = await call('POST', '/onboardings', bookinfoInput());
    expect(r.status).toBe(202);
    const location = r.headers.get('location');
    expect(location).toBe(`/onboardings/${String(r.json.executionId)}`);
    const done = await eventually(async () => {
      const v = (await call('GET', location!)).json as unknown as ExecutionView;
      if (v.status === 'RUNNING') throw new Error(`still running at ${v.currentStep}`);
      return v;
    }, 60_000, 200);
    expect(done.status, JSON.stringify(done.error)).toBe('SUCCEEDED');
    expect(done.steps.map((s) => s.state)).toEqual(expect.arrayContaining(['Validate request', 'Ensure service', 'Verify workload', 'Record result']));
    for (const s of done.steps) expect(s.durationMs).toBeGreaterThanOrEqual(0);
    expect(done.result).toMatchObject({ workload: 'bookinfo/ratings', tasks: [expect.objectContaining({ agentConnected: 'True' })] });
    expect(JSON.stringify(done)).not.toContain('BEGIN CERTIFICATE');
    // The API stored the PEM before the start; the run checked that version instead of writing one.
    const secret = await secretsClient().send(new DescribeSecretCommand({ SecretId: 'mesh-onboarding/bookinfo/ratings/root-ca' }));
    expect(Object.values(secret.VersionIdsToStages ?? {})).toEqual([['AWSCURRENT']]);
    expect((await secretsClient().send(new GetSecretValueCommand({ SecretId: secret.ARN }))).SecretString).toBe(bookinfoInput().rootCaPem);
  });

  it('turns a double submit of the same request into one execution', async () => {
    const a = await call('POST', '/onboardings', bookinfoInput());
    const b = await call('POST', '/onboardings', bookinfoInput());
    expect(b.json.executionId).toBe(a.json.executionId);
    expect(b.json.duplicate).toBe(true);
    expect((await call('GET', `/onboardings/${String(a.json.executionId)}`)).status).toBe(200);
    // The list is the registry, written by the workflow's Validate request and Record result.
    const listed = ((await call('GET', '/onboardings')).json.onboardings as { workload: string; executionId: string; status: string }[]).filter((o) => o.workload === 'bookinfo/ratings');
    expect(listed).toEqual([expect.objectContaining({ executionId: a.json.executionId, status: 'ONBOARDED', location: `/onboardings/${String(a.json.executionId)}` })]);
  });

  it("starts a re-verification of the onboarding's workload with the reverify-workloads machine", async () => {
    const { json: onboarding } = await call('POST', '/onboardings', bookinfoInput());

    const r = await call('POST', `/onboardings/${String(onboarding.executionId)}/verify`);

    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ workload: 'bookinfo/ratings', onboarding: onboarding.executionId, status: 'RUNNING' });
    const outcome = await backend.verification(String(r.json.executionId));
    expect(outcome?.status, outcome?.cause).toBe('SUCCEEDED');
    expect(outcome?.history.map((h) => h.state)).toEqual(expect.arrayContaining(['List workloads', 'Reverify workload']));
    expect(JSON.stringify(outcome?.output)).toContain('bookinfo/ratings');
    expect((await call('POST', '/onboardings/onboard-nobody_here-0000/verify')).status).toBe(404);
    expect((await call('GET', `/onboardings/${String(onboarding.executionId)}/verify`)).status).toBe(405);
  });
});

describe('local onboarding API: a failed onboarding, fixed and submitted again', () => {
  it('reports the failed step and cause, then resumes under a new execution once the mesh is fixed', async () => {
    const request = { ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...bookinfoInput().ecs, service: 'reviews', family: 'bookinfo_reviews' } };
    const waitDone = (location: string) =>
      eventually(async () => {
        const v = (await call('GET', location)).json as unknown as ExecutionView;
        if (v.status === 'RUNNING') throw new Error(`still running at ${v.currentStep}`);
        return v;
      }, 60_000, 200);

    const first = await call('POST', '/onboardings', request);
    expect(first.status).toBe(202);
    const failed = await waitDone(String(first.json.location));
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toMatchObject({ error: 'MeshPrerequisiteError', resourcesSoFar: [] });
    expect(failed.error?.cause).toMatch(/^Pre-flight mesh: .*WorkloadGroup bookinfo\/reviews does not exist/s);
    expect(failed.steps.find((s) => s.state === 'Pre-flight mesh')).toMatchObject({ status: 'failed', error: 'MeshPrerequisiteError' });

    // The mesh operator applies the WorkloadGroup the error printed.
    sandbox().kube.store.put({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'WorkloadGroup',
      metadata: { name: 'reviews', namespace: 'bookinfo', labels: { app: 'reviews' } },
      spec: { template: { labels: { app: 'reviews', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookinfo-reviews' } },
    } as never);

    const again = await call('POST', '/onboardings', request);
    expect(again.status).toBe(202);
    expect(again.json.executionId).toBe(`${String(first.json.executionId)}-r2`);
    const resumed = await waitDone(String(again.json.location));
    expect(resumed.status, JSON.stringify(resumed.error)).toBe('SUCCEEDED');
  });
});

describe('local onboarding API: the list comes from the registry', () => {
  it("lists the emulator registry's workloads page by page, as the deployed API does", async () => {
    // Prepare: records as the workflow's record steps write them (execution id = the execution ARN).
    for (const name of ['productpage', 'details', 'reviews']) {
      const { rootCaPem: _pem, ...request } = bookinfoRequest({ workloadGroup: { namespace: 'shop', name } });
      await putWorkloadRecord({
        workload: `shop/${name}`,
        request,
        status: 'ONBOARDED',
        executionId: `arn:aws:states:us-east-1:000000000000:execution:onboard-workload:onboard-shop_${name}-0123456789abcdef`,
        updatedAt: '2026-11-29T10:00:00.000Z',
        ledger: [],
        verification: { at: '2026-11-29T11:00:00.000Z', ok: true, drift: [] },
      });
    }

    // Act: every page, two at a time.
    const seen: { workload: string; executionId: string; location: string }[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const r = await call('GET', `/onboardings?limit=2${nextToken ? `&nextToken=${nextToken}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...(r.json.onboardings as typeof seen));
      nextToken = r.json.nextToken as string | undefined;
      pages++;
    } while (nextToken && pages < 10);

    // Assess
    const shop = seen.filter((o) => o.workload.startsWith('shop/'));
    expect(shop.map((o) => o.workload).sort()).toEqual(['shop/details', 'shop/productpage', 'shop/reviews']);
    expect(shop.find((o) => o.workload === 'shop/details')).toMatchObject({ executionId: 'onboard-shop_details-0123456789abcdef', location: '/onboardings/onboard-shop_details-0123456789abcdef', verification: { ok: true } });
    expect(pages).toBeGreaterThanOrEqual(2);
    expect((await call('GET', '/onboardings?limit=0')).status).toBe(400);
  });

  it('serves a sandbox route mounted beside the contract (POST /sandbox/drift), which the deployed API does not have', async () => {
    const r = await call('POST', '/sandbox/drift', { workload: 'nobody/here', kind: 'restore' });

    expect(r).toMatchObject({ status: 404, json: { message: expect.stringContaining('not in the workload registry') as string } });
    expect((await call('GET', '/onboardings?limit=1')).status).toBe(200);
  });
});

describe('local onboarding API: one run per workload', () => {
  /** The bookinfo request for another service of bookinfo/ratings: another request, the same workload. */
  const variant = (service: string) => ({ ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, service, family: `bookinfo_${service.replace(/-/g, '_')}` } });
  const ended = (location: string) =>
    eventually(async () => {
      const v = (await call('GET', location)).json as unknown as ExecutionView;
      if (v.status === 'RUNNING') throw new Error(`still running at ${v.currentStep}`);
      return v;
    }, 60_000, 100);

  it('two different requests for one workload at once: one is accepted, the other gets 409 naming it; the identical request is the same execution', async () => {
    // Act
    const [a, b] = await Promise.all([call('POST', '/onboardings', variant('ratings-lock-a')), call('POST', '/onboardings', variant('ratings-lock-b'))]);

    // Assess
    expect([a.status, b.status].sort()).toEqual([202, 409]);
    const [won, lost] = a.status === 202 ? [a, b] : [b, a];
    expect(lost.json).toEqual({
      error: 'WorkloadBusy',
      message: expect.stringContaining(`workload bookinfo/ratings is being changed by execution ${String(won.json.executionId)} (onboard-workload,`) as string,
      executionId: won.json.executionId,
      location: won.json.location,
    });
    const again = await call('POST', '/onboardings', a.status === 202 ? variant('ratings-lock-a') : variant('ratings-lock-b'));
    expect(again).toMatchObject({ status: 202, json: { executionId: won.json.executionId, duplicate: true } });
    expect((await ended(String(won.json.location))).status).toBe('SUCCEEDED');

    // Once it has ended, the other request is accepted.
    const next = await call('POST', '/onboardings', won === a ? variant('ratings-lock-b') : variant('ratings-lock-a'));
    expect(next.status).toBe(202);
    expect((await ended(String(next.json.location))).status).toBe('SUCCEEDED');
  });

  it('after a run is aborted, or fails, the next different request is accepted: the lock went with the run', async () => {
    // Aborted once it has taken the lock (past Validate request).
    const c = await call('POST', '/onboardings', variant('ratings-lock-c'));
    expect(c.status).toBe(202);
    await eventually(async () => {
      const v = (await call('GET', String(c.json.location))).json as unknown as ExecutionView;
      if (!v.steps.some((s) => s.state === 'Validate request' && s.status === 'succeeded')) throw new Error('not past Validate request yet');
    }, 30_000, 20);
    expect((await backend.abort(String(c.json.executionId)))?.status).toBe('ABORTED');
    const aborted = await getWorkload('bookinfo/ratings');
    expect(aborted?.lock).toBeUndefined();
    expect(aborted).toMatchObject({ status: 'FAILED', failure: { step: 'Execution aborted' } });

    // Fails: a task that stops.
    sandbox().scheduler.setCrash({ stoppedReason: 'Essential container in task exited' });
    try {
      const d = await call('POST', '/onboardings', variant('ratings-lock-d'));
      expect(d.status).toBe(202);
      expect((await ended(String(d.json.location))).error).toMatchObject({ error: 'TaskStoppedError' });
    } finally {
      sandbox().scheduler.setCrash(undefined);
    }

    const e = await call('POST', '/onboardings', variant('ratings-lock-e'));
    expect(e.status).toBe(202);
    expect((await ended(String(e.json.location))).status).toBe('SUCCEEDED');
    expect((await getWorkload('bookinfo/ratings'))?.lock).toBeUndefined();
  });
});
