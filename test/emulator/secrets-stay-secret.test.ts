/**
 * Secrets stay secret (issue 9, item 9): through the local API, a full run and a run that fails
 * late (a task stops, after the network, roles, secret and service were made), and every read of
 * them; captured: every
 * stdout/stderr write and console line (logger at DEBUG), every raw engine event (each state's
 * input and output, what an execution history holds), every API answer and header, the failure
 * record, the registry's items and the task definitions. None holds the CA PEM, a line of its base64 body,
 * or the PEM base64-encoded. Only the workload's secret holds it. Then both workloads are torn
 * down through the API (DELETE /onboardings/{namespace.name}) and the same search runs over all of it.
 */
import { readFileSync } from 'node:fs';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { logger } from '../../functions/lib/middleware.ts';
import type { ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { startApiServer, type ApiServer } from '../../local/api-server.ts';
import { LocalExecutions } from '../../local/local-executions.ts';
import { eventually } from '../support/emulator.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
const PEM = readFileSync(new URL('../fixtures/second-root-ca.pem', import.meta.url), 'utf8');
const request = { ...bookinfoInput(), rootCaPem: PEM };

/** What must never show: the PEM, each line of its base64 body (16+ characters), and the PEM base64-encoded. */
const needles = [
  PEM.trim(),
  // As it reads inside JSON text (newlines escaped).
  JSON.stringify(PEM.trim()).slice(1, -1),
  ...PEM.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')),
  Buffer.from(PEM).toString('base64').slice(0, 48),
];

const captured: { where: string; text: string }[] = [];
const keep = (where: string, v: unknown) => captured.push({ where, text: typeof v === 'string' ? v : JSON.stringify(v) });
let api: ApiServer;
let backend: LocalExecutions;

beforeAll(async () => {
  backend = new LocalExecutions({ waitMs: 20, retryIntervalMs: 5, onEngineEvent: (e) => keep('engine event', e) });
  api = await startApiServer(backend);
  // Every byte written to stdout/stderr and every console line, with the logger at its most verbose.
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      keep(stream === process.stdout ? 'stdout' : 'stderr', text);
      // The logger's JSON lines are kept, not echoed (the test's output stays readable).
      if (text.startsWith('{"level":')) return true;
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
  }
  for (const m of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const orig = console[m].bind(console);
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      keep(`console.${m}`, args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      orig(...args);
    });
  }
  vi.spyOn(logger, 'refreshSampleRateCalculation').mockImplementation(() => undefined);
  logger.setLogLevel('DEBUG');
});
afterAll(async () => {
  logger.setLogLevel('SILENT');
  vi.restoreAllMocks();
  await backend.settle();
  await api.stop();
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  keep(`API ${method} ${path}`, text);
  for (const [k, v] of res.headers) keep(`API ${method} ${path} header ${k}`, v);
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
}

const finished = (location: string) =>
  eventually(async () => {
    const v = (await call('GET', location)).json as unknown as ExecutionView;
    if (v.status === 'RUNNING') throw new Error(`still running at ${v.currentStep}`);
    return v;
  }, 60_000, 200);

describe('the CA PEM stays secret', () => {
  it('a full run exposes it nowhere', async () => {
    const r = await call('POST', '/onboardings', request);
    expect(r.status).toBe(202);
    const v = await finished(String(r.json.location));
    expect(v.status, JSON.stringify(v.error)).toBe('SUCCEEDED');
    await call('GET', '/onboardings');
  });

  it('a run that fails late (a task stops) exposes it nowhere', async () => {
    // Another workload of the namespace, with the same CA bundle: its WorkloadGroup as the mesh operator applies it.
    sandbox().kube.store.put({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'WorkloadGroup',
      metadata: { name: 'reviews', namespace: 'bookinfo', labels: { app: 'reviews' } },
      spec: { template: { labels: { app: 'reviews', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookinfo-reviews' } },
    } as never);
    sandbox().scheduler.setCrash({ stoppedReason: 'Essential container in task exited' });
    try {
      const r = await call('POST', '/onboardings', { ...request, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...request.ecs, service: 'reviews', family: 'bookinfo_reviews' } });
      expect(r.status).toBe(202);
      const v = await finished(String(r.json.location));
      expect(v.status).toBe('FAILED');
      expect(v.error?.error).toBe('TaskStoppedError');
      expect(v.error?.resourcesSoFar?.length).toBeGreaterThan(0);
      await call('GET', '/onboardings');
    } finally {
      sandbox().scheduler.setCrash(undefined);
    }
  });

  it('is in none of the logs, engine events, API answers, failure record, registry or task definition', async () => {
    const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
    const items = (await new DynamoDBClient(cfg).send(new ScanCommand({ TableName: sandbox().registryTable }))).Items ?? [];
    keep('registry', items);
    expect(items).toHaveLength(2);
    for (const family of ['bookinfo_ratings', 'bookinfo_reviews']) keep('task definition', await new ECSClient(cfg).send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] })));

    // The capture really saw the runs: both executions' events, the failure record, info logs.
    const kinds = new Set(captured.map((c) => c.where));
    expect([...kinds]).toEqual(expect.arrayContaining(['engine event', 'stdout', 'registry', 'task definition']));
    expect(captured.some((c) => c.where === 'engine event' && c.text.includes('"failureRecord"'))).toBe(true);
    expect(captured.some((c) => c.where === 'engine event' && c.text.includes('"rootCaSecret"'))).toBe(true);
    expect(captured.some((c) => c.where === 'stdout' && c.text.includes('step finished'))).toBe(true);

    // The search finds the PEM where it is: in the request as JSON, every needle but the base64-encoded form.
    expect(needles.filter((n) => JSON.stringify(request).includes(n))).toHaveLength(needles.length - 2);
    const leaks = captured.flatMap((c) => needles.filter((n) => c.text.includes(n)).map((n) => `${c.where}: ${n.slice(0, 30)}...`));
    expect(leaks).toEqual([]);

    // Where it must be: the workload's secret, exactly as sent.
    const secret = await new SecretsManagerClient(cfg).send(new GetSecretValueCommand({ SecretId: 'mesh-onboarding/bookinfo/ratings/root-ca' }));
    expect(secret.SecretString).toBe(PEM);
  });

  it('a teardown exposes it nowhere: its logs, engine events, API answers and output', async () => {
    const from = captured.length;
    // Both workloads go through DELETE: the onboarded one and the one whose onboarding failed late.
    for (const workload of ['bookinfo.ratings', 'bookinfo.reviews']) {
      const r = await call('DELETE', `/onboardings/${workload}`);
      expect(r.status, JSON.stringify(r.json)).toBe(202);
      const v = await finished(String(r.json.location));
      expect(v.status, JSON.stringify(v.error)).toBe('SUCCEEDED');
      // The execution's output (or failure record), as the engine ended it.
      const outcome = await backend.ended(String(r.json.executionId));
      keep('teardown outcome', { output: outcome?.output, failureRecord: outcome?.failureRecord, error: outcome?.error, cause: outcome?.cause, history: outcome?.history });
    }
    await call('GET', '/onboardings');
    const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
    const items = (await new DynamoDBClient(cfg).send(new ScanCommand({ TableName: sandbox().registryTable }))).Items ?? [];
    keep('registry after teardown', items);
    expect(items).toEqual([]);

    // The capture saw the teardowns: the DELETE and GET answers, their engine events and log lines, the output naming the deleted secret.
    const seen = captured.slice(from);
    const kinds = new Set(seen.map((c) => c.where));
    expect([...kinds]).toEqual(expect.arrayContaining(['API DELETE /onboardings/bookinfo.ratings', 'engine event', 'stdout', 'teardown outcome']));
    expect(seen.some((c) => c.where.startsWith('API GET /onboardings/offboard-'))).toBe(true);
    expect(seen.some((c) => c.where === 'engine event' && c.text.includes('Delete CA secret'))).toBe(true);
    expect(seen.some((c) => c.where === 'teardown outcome' && c.text.includes('mesh-onboarding/bookinfo/ratings/root-ca'))).toBe(true);
    expect(seen.some((c) => c.where === 'stdout' && c.text.includes('Delete CA secret'))).toBe(true);

    const leaks = captured.flatMap((c) => needles.filter((n) => c.text.includes(n)).map((n) => `${c.where}: ${n.slice(0, 30)}...`));
    expect(leaks).toEqual([]);
  });
});
