/** The CLI without an API: usage errors, bad request files, endpoint discovery, signed requests and the fixes it prints. */
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.ts';
import { resolveEndpoint, run } from '../../cli/mesh-onboard.ts';
import { TROUBLESHOOTING } from '../../functions/lib/errors.ts';
import { failureOf, fixFor, StepPrinter, type Io } from '../../cli/render.ts';
import { endpointInLine } from '../../cli/sandbox.ts';

function captured(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), write: () => undefined, tty: false };
}
const dir = mkdtempSync(join(tmpdir(), 'mesh-onboard-'));
const noFile = join(dir, 'no-endpoint');

describe('mesh-onboard without an API', () => {
  it('exits 2 on invalid usage', async () => {
    for (const argv of [['nonsense'], ['apply'], ['status'], ['list', '--nope'], ['watch', 'x', '--interval', 'soon', '--endpoint', 'http://127.0.0.1:9']]) {
      const io = captured();
      expect(await run(argv, { io, env: {}, endpointFile: noFile }), argv.join(' ')).toBe(2);
    }
  });

  it('exits 2 on a request file that is missing or not JSON, before any call', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"workloadGroup": ');
    const io = captured();
    expect(await run(['apply', bad, '--endpoint', 'http://127.0.0.1:9'], { io, env: {}, endpointFile: noFile })).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/is not JSON[\s\S]*Fix: mesh-onboard example/);
    const json = captured();
    expect(await run(['apply', join(dir, 'missing.json'), '--json', '--endpoint', 'http://127.0.0.1:9'], { io: json, env: {}, endpointFile: noFile })).toBe(2);
    expect(JSON.parse(json.stdout.join('\n'))).toMatchObject({ ok: false, exitCode: 2, error: { message: expect.stringContaining('cannot read the request') } });
  });

  it('exits 3, naming the fix, when no endpoint is known or it does not answer', async () => {
    const none = captured();
    expect(await run(['list'], { io: none, env: {}, endpointFile: noFile })).toBe(3);
    expect(none.stderr.join('\n')).toContain('mesh-onboard sandbox');
    const refused = captured();
    expect(await run(['list', '--json'], { io: refused, env: { MESH_ONBOARD_ENDPOINT: 'http://127.0.0.1:9' }, endpointFile: noFile })).toBe(3);
    expect(JSON.parse(refused.stdout.join('\n'))).toMatchObject({ ok: false, exitCode: 3, error: { fix: expect.stringContaining('mesh-onboard sandbox') } });
  });

  it('finds the endpoint in the flag, then the environment, then the file the sandbox wrote', () => {
    const file = join(dir, 'endpoint');
    writeFileSync(file, 'http://127.0.0.1:4321\n');
    expect(resolveEndpoint('http://a', { MESH_ONBOARD_ENDPOINT: 'http://b' }, file)).toBe('http://a');
    expect(resolveEndpoint(undefined, { MESH_ONBOARD_ENDPOINT: 'http://b' }, file)).toBe('http://b');
    expect(resolveEndpoint(undefined, {}, file)).toBe('http://127.0.0.1:4321');
    expect(endpointInLine('  Local onboarding API:       http://127.0.0.1:40123/onboardings')).toBe('http://127.0.0.1:40123');
  });

  it('signs requests to a deployed API, keeps its stage, and turns a 403 into exit 3 with the IAM fix', async () => {
    const seen: { url?: string; authorization?: string; date?: string }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization, date: req.headers['x-amz-date'] as string | undefined });
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"message":"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: execute-api:Invoke"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      // Signed as a request to AWS would be (a loopback endpoint is not signed unless told).
      const api = new ApiClient({ endpoint: `http://127.0.0.1:${port}/prod/`, region: 'eu-west-1', sign: true, credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }) });

      const refused = api.call('GET', '/onboardings?limit=1');

      await expect(refused).rejects.toMatchObject({ exitCode: 3, message: expect.stringContaining('answered 403'), fix: expect.stringContaining('execute-api:Invoke') });
      expect(seen).toEqual([{ url: '/prod/onboardings?limit=1', authorization: expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=accept;host;x-amz-date, Signature=[0-9a-f]{64}$/), date: expect.stringMatching(/^\d{8}T\d{6}Z$/) }]);
      expect(new ApiClient({ endpoint: 'http://127.0.0.1:1' }).signed).toBe(false);
    } finally {
      server.close();
    }
  });

  it('names the failed step, the cause and the fix for a workflow failure', () => {
    const base = { executionId: 'onboard-bookinfo_reviews-1', status: 'FAILED' as const, workload: 'bookinfo/reviews', startedAt: '2026-11-29T00:00:00Z' };
    const steps = [{ state: 'Validate request', status: 'succeeded', startedAt: '', attempts: 1 }, { state: 'Pre-flight mesh', status: 'failed', startedAt: '', attempts: 1, error: 'MeshPrerequisiteError' }];
    const mesh = failureOf({ ...base, steps, error: { error: 'MeshPrerequisiteError', cause: 'Pre-flight mesh: WorkloadGroup bookinfo/reviews does not exist', resourcesSoFar: [] } });
    expect(mesh).toMatchObject({ step: 'Pre-flight mesh', error: 'MeshPrerequisiteError', cause: 'WorkloadGroup bookinfo/reviews does not exist', fix: expect.stringContaining('examples/mesh-prerequisites.yaml') });
    const denied = failureOf({ ...base, steps, error: { error: 'KubernetesAccessDeniedError', cause: 'Pre-flight mesh: answered 403 Forbidden' } });
    expect(denied.fix).toMatch(/access entry.*RBAC/);
    const unavailable = failureOf({ ...base, steps: [], error: { error: 'KubernetesUnavailableError', cause: 'Verify workload: Kubernetes API answered 503 to list' } });
    expect(unavailable.fix).toContain('EKS cluster security group');
    // One source for fixes: the troubleshooting table the docs are generated from.
    for (const [name, row] of Object.entries(TROUBLESHOOTING)) expect(fixFor(name, 'x').startsWith(row.fix), name).toBe(true);
    expect(fixFor('TaskStoppedError', 'x', { ...base, executionId: 'offboard-bookinfo_reviews-1', steps: [] })).toContain('mesh-onboard offboard bookinfo/reviews again');
  });
});

describe('mesh-onboard progress', () => {
  it('keeps a bar naming the running step on a terminal, and plain lines only otherwise', () => {
    const writes: string[] = [];
    const lines: string[] = [];
    const view = (status: 'RUNNING' | 'SUCCEEDED', steps: { state: string; status: string; durationMs?: number }[], currentStep?: string) =>
      ({ executionId: 'onboard-x-1', status, workload: 'a/b', startedAt: '', steps: steps.map((s) => ({ startedAt: '', attempts: 1, ...s })), ...(currentStep ? { currentStep } : {}) }) as never;
    const printer = new StepPrinter({ out: (l) => lines.push(l), err: () => undefined, write: (t) => writes.push(t), tty: true }, 4);

    printer.update(view('RUNNING', [{ state: 'Validate request', status: 'succeeded', durationMs: 5 }, { state: 'Pre-flight mesh', status: 'running' }], 'Pre-flight mesh'));
    printer.update(view('RUNNING', [{ state: 'Validate request', status: 'succeeded', durationMs: 5 }, { state: 'Pre-flight mesh', status: 'succeeded', durationMs: 7 }, { state: 'Ensure cluster', status: 'running' }], 'Ensure cluster'));
    printer.update(view('SUCCEEDED', [{ state: 'Validate request', status: 'succeeded', durationMs: 5 }, { state: 'Pre-flight mesh', status: 'succeeded', durationMs: 7 }, { state: 'Ensure cluster', status: 'succeeded', durationMs: 9 }]));

    expect(lines.map((l) => l.replace(/ +/g, ' '))).toEqual([' ok Validate request 5 ms', ' ok Pre-flight mesh 7 ms', ' ok Ensure cluster 9 ms']);
    expect(writes.filter((w) => w.includes('/4 '))).toEqual([expect.stringContaining('[######..................] 1/4 Pre-flight mesh...'), expect.stringContaining('[############............] 2/4 Ensure cluster...')]);
    expect(writes.at(-1)).toBe('\r\x1b[K');
  });
});

describe('mesh-onboard watch', () => {
  it('rides out a passing 503 while polling, and exits with the final status', async () => {
    let polls = 0;
    const server = createServer((_req, res) => {
      polls++;
      if (polls === 1) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end('{"message":"temporarily unavailable, try again"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ executionId: 'onboard-a_b-1', status: 'SUCCEEDED', workload: 'a/b', startedAt: '', durationMs: 1000, steps: [{ state: 'Validate request', status: 'succeeded', startedAt: '', attempts: 1, durationMs: 3 }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const io = captured();
      const code = await run(['watch', 'onboard-a_b-1', '--interval', '0.05', '--endpoint', `http://127.0.0.1:${(server.address() as { port: number }).port}`], { io, env: {}, endpointFile: noFile });

      expect(code).toBe(0);
      expect(polls).toBe(2);
      expect(io.stdout.join('\n')).toMatch(/ok +Validate request +3 ms[\s\S]*Onboarded a\/b in 1\.0 s/);
    } finally {
      server.close();
    }
  });
});
