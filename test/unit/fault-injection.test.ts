/**
 * The reliability suites' instruments, checked on their own: the clients' test-only fault hook
 * (answers in each service's wire protocol become the SDK's real errors, retried and then
 * classified as the state machine expects; every retry logged and counted; a success hook that
 * can hold the caller), the Kubernetes fault proxy, and the Kubernetes client's in-step retries.
 */
import { createServer, type Server } from 'node:http';
import { DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { ListClustersCommand } from '@aws-sdk/client-ecs';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dynamodb, ec2, ecs, eks, iam, resetClients, secrets, setFaultInjector, sts } from '../../functions/lib/clients.ts';
import { AwsThrottledError, AwsTransientError, classifyError, KubernetesUnavailableError } from '../../functions/lib/errors.ts';
import { MeshKube } from '../../functions/lib/kube/client.ts';
import { metrics } from '../../functions/lib/middleware.ts';
import { startFaultProxy } from '../../local/fault-proxy.ts';
import { awsErrorResponse, isMutating, killAfter, transientAwsFaults, type AwsFaultKind } from '../support/aws-faults.ts';
import { captureLogs } from '../support/logs.ts';

// Nothing listens here: every attempt is answered by the hook, none reaches the network.
const saved = { ...process.env };
beforeAll(() => {
  Object.assign(process.env, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', AWS_MAX_ATTEMPTS: '2' });
  resetClients();
});
afterAll(() => {
  process.env = saved;
  resetClients();
});
afterEach(() => setFaultInjector(undefined));

const calls: [string, () => Promise<unknown>][] = [
  ['ec2', () => ec2().send(new DescribeVpcsCommand({}))],
  ['iam', () => iam().send(new GetRoleCommand({ RoleName: 'r' }))],
  ['sts', () => sts().send(new GetCallerIdentityCommand({}))],
  ['ecs', () => ecs().send(new ListClustersCommand({}))],
  ['secrets', () => secrets().send(new DescribeSecretCommand({ SecretId: 's' }))],
  ['dynamodb', () => dynamodb().send(new GetItemCommand({ TableName: 't', Key: { k: { S: 'v' } } }))],
  ['eks', () => eks().send(new DescribeClusterCommand({ name: 'c' }))],
];

describe('the clients\' fault hook', () => {
  // Each protocol once, the three kinds in turn (the SDK's own backoff makes every case take a second or two).
  const KINDS: AwsFaultKind[] = ['throttle', 'internal', 'unavailable'];
  it.each(calls.map(([service, send], i) => [service, KINDS[i % KINDS.length]!, send] as const))(
    '%s %s: the SDK deserializes it as AWS\'s error, retries it, and it classifies as retryable',
    async (service, kind, send) => {
      const want = awsErrorResponse(service, kind);
      const attempts: number[] = [];
      setFaultInjector({
        beforeAttempt: (_call, attempt) => {
          attempts.push(attempt);
          return want;
        },
      });
      const spy = vi.spyOn(metrics, 'addMetric');
      const { result: err, lines } = await captureLogs(() => send().then(() => undefined, (e: unknown) => e));
      const retried = spy.mock.calls.filter((c) => c[0] === 'AwsCallRetried').length;
      spy.mockRestore();

      expect(err).toMatchObject({ name: want.code, $metadata: { httpStatusCode: want.statusCode, attempts: 2 } });
      expect(attempts).toEqual([1, 2]);
      expect(classifyError(err)).toBeInstanceOf(kind === 'throttle' ? AwsThrottledError : AwsTransientError);
      expect(lines.filter((l) => l.message === 'AWS call retried by the SDK').map((l) => [l.attempt, l.previousError])).toEqual([[2, `HTTP ${want.statusCode}`]]);
      expect(retried).toBe(1);
    },
  );

  it('runs after a success and can hold the caller there (a kill), naming the call', async () => {
    const ok = { statusCode: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: '{"clusterArns":[]}' };
    setFaultInjector({ beforeAttempt: () => ok });
    await expect(ecs().send(new ListClustersCommand({}))).resolves.toMatchObject({ clusterArns: [] });

    const killed: string[] = [];
    setFaultInjector({ beforeAttempt: () => ok, ...killAfter('ecs:ListClusters#1', (c) => killed.push(c)) });
    // ListClusters is a read: never a kill point.
    await expect(ecs().send(new ListClustersCommand({}))).resolves.toBeDefined();
    expect(killed).toEqual([]);
    expect(isMutating({ command: 'CreateCluster' })).toBe(true);
    expect(isMutating({ command: 'DescribeClusters' })).toBe(false);
  });

  it('draws the same faults from the same seed', () => {
    const draw = () => {
      const f = transientAwsFaults({ rate: 0.3, seed: 7 });
      for (let i = 0; i < 200; i++) f.beforeAttempt?.({ service: 'ecs', command: 'ListClusters', input: {} }, 1);
      return f.injected.map((x) => x.code);
    };
    const a = draw();
    expect(a).toEqual(draw());
    expect(a.length).toBeGreaterThan(40);
    expect(a.length).toBeLessThan(80);
  });

  it('is unset by default: the clients answer from the network', async () => {
    setFaultInjector(undefined);
    await expect(ecs().send(new ListClustersCommand({}))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('the Kubernetes fault proxy and the client\'s retries', () => {
  let upstream: Server;
  let target: string;
  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookinfo' } }));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    target = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  });
  afterAll(() => {
    upstream.closeAllConnections();
    upstream.close();
  });
  const token = async () => 'k8s-aws-v1.x';

  it.each(['429', '500', 'timeout'] as const)('answers %s, which the client retries (logged, counted) and then reports as KubernetesUnavailableError', async (fault) => {
    const proxy = await startFaultProxy({ target, rate: 1, seed: 1, faults: [fault], holdMs: 100, retryAfterSeconds: 0 });
    try {
      const spy = vi.spyOn(metrics, 'addMetric');
      const client = new MeshKube({ clusterName: 'c', server: proxy.url }, { namespace: 'bookinfo', token });
      const { result: err, lines } = await captureLogs(() => client.getNamespace('bookinfo').then(() => undefined, (e: unknown) => e));
      const retried = spy.mock.calls.filter((c) => c[0] === 'KubernetesCallRetried').length;
      spy.mockRestore();
      expect(err).toBeInstanceOf(KubernetesUnavailableError);
      expect(proxy.stats).toMatchObject({ requests: 3, forwarded: 0 });
      expect(proxy.stats.faults[fault]).toBe(3);
      expect(lines.filter((l) => l.message === 'Kubernetes API call retried').map((l) => l.attempt)).toEqual([2, 3]);
      expect(retried).toBe(2);
    } finally {
      await proxy.stop();
    }
  });

  it('gives up on a request the server never answers (per-request timeout), retries it, then reports KubernetesUnavailableError', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const client = new MeshKube({ clusterName: 'c', server: `http://127.0.0.1:${(silent.address() as { port: number }).port}` }, { namespace: 'bookinfo', token, requestTimeoutMs: 200 });
      const started = Date.now();
      const err = await client.getNamespace('bookinfo').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(KubernetesUnavailableError);
      expect((err as Error).message).toMatch(/did not answer get namespace bookinfo within 200 ms/);
      // Three attempts of 200 ms and two short backoffs: far from the Task's 60 s.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('forwards what it does not fault, and a 429 carries Retry-After and a Status', async () => {
    const proxy = await startFaultProxy({ target, rate: 0, seed: 1, faults: ['429'] });
    try {
      const client = new MeshKube({ clusterName: 'c', server: proxy.url }, { namespace: 'bookinfo', token });
      await expect(client.getNamespace('bookinfo')).resolves.toMatchObject({ metadata: { name: 'bookinfo' } });
      proxy.setRate(1);
      const r = await fetch(`${proxy.url}/api/v1/namespaces/bookinfo`);
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(await r.json()).toMatchObject({ kind: 'Status', reason: 'TooManyRequests', code: 429 });
      expect(proxy.stats).toMatchObject({ requests: 2, forwarded: 1 });
    } finally {
      await proxy.stop();
    }
  });
});
