/**
 * mesh-onboard against the local sandbox's API, started in-process as local-api.test.ts does:
 * apply --watch to SUCCEEDED, status, list, verify, offboard, the --json documents, and the
 * exit codes of an invalid request (2), an unreachable API (3) and a failed workflow (1).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/mesh-onboard.ts';
import type { Io } from '../../cli/render.ts';
import { startApiServer, type ApiServer } from '../../local/api-server.ts';
import { LocalExecutions } from '../../local/local-executions.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
let api: ApiServer;
let backend: LocalExecutions;
const dir = mkdtempSync(join(tmpdir(), 'mesh-onboard-'));

beforeAll(async () => {
  backend = new LocalExecutions({ waitMs: 20, retryIntervalMs: 5 });
  api = await startApiServer(backend);
});
afterAll(async () => {
  await backend.settle();
  await api.stop();
});

function requestFile(name: string, request: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(request));
  return file;
}

/** Runs the CLI in-process against the test's API; stdout and stderr captured as lines. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; json: () => Record<string, unknown> }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = { out: (l) => stdout.push(l), err: (l) => stderr.push(l), write: () => undefined, tty: false };
  const code = await run([...argv, '--endpoint', api.url], { io, env: {}, endpointFile: join(dir, 'no-endpoint') });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n'), json: () => JSON.parse(stdout.join('\n')) as Record<string, unknown> };
}

const fast = ['--interval', '0.1', '--timeout', '120'];
const reviews = { ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...bookinfoInput().ecs, service: 'reviews', family: 'bookinfo_reviews' } };

describe('mesh-onboard: a workload from apply to offboard', () => {
  let executionId: string;

  it('plan prints every resource it would create and exits 0 (ready), changing nothing; --json holds the plan', async () => {
    const r = await cli('plan', requestFile('ratings-plan', bookinfoInput()), ...fast);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Plan for bookinfo\/ratings \(execution plan-[^)]+\): \d+ to create, 0 to update, \d+ to reuse, 0 in conflict\./);
    expect(r.stdout).toMatch(/\+ create\s+ecs-service\s+ratings/);
    expect(r.stdout).toContain('Ready. Nothing was changed.');
    expect(r.stdout).toMatch(/ok +Record plan/);

    const j = await cli('plan', requestFile('ratings-plan', bookinfoInput()), ...fast, '--json');
    expect(j.code).toBe(0);
    expect(j.json()).toMatchObject({ ok: true, exitCode: 0, plan: { workload: 'bookinfo/ratings', dryRun: true, status: 'ready', problems: [] } });
  }, 120_000);

  it('plan exits 1 (blocked) with each problem and its fix when the WorkloadGroup is missing', async () => {
    const r = await cli('plan', requestFile('reviews-plan', reviews), ...fast);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Problems \(\d+\); the apply would stop at the first:/);
    expect(r.stdout).toContain('Pre-flight mesh: WorkloadGroup bookinfo/reviews does not exist');
    expect(r.stdout).toContain('Blocked: fix the problems');
  }, 120_000);

  it('apply --watch prints each step once as it finishes and exits 0 on SUCCEEDED', async () => {
    // Act
    const r = await cli('apply', requestFile('ratings', bookinfoInput()), '--watch', ...fast);

    // Assess
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    executionId = /execution (\S+) \(/.exec(lines[0]!)?.[1] ?? '';
    expect(executionId).toMatch(/^onboard-bookinfo_ratings-/);
    const printed = lines.filter((l) => /^ {2}(ok|FAIL) +\S.* \d+ ms/.test(l)).map((l) => l.replace(/^ {2}\S+ +(.+?) +\d+ ms.*$/, '$1'));
    for (const state of ['Validate request', 'Pre-flight mesh', 'Ensure service', 'Verify workload', 'Record result']) expect(printed, state).toContain(state);
    // Once each: the lines are the run's steps (a loop's re-entered check is a step of its own), each printed when it ended.
    const view = (await cli('status', executionId, '--json')).json().execution as { steps: { state: string }[] };
    expect([...printed].sort()).toEqual(view.steps.map((s) => s.state).sort());
    expect(printed.indexOf('Provision identity and network')).toBeGreaterThan(printed.indexOf('Ensure NAT gateway'));
    expect(r.stdout).toMatch(/Onboarded bookinfo\/ratings in [\d.]+ s \(execution onboard-bookinfo_ratings-/);
  });

  it('apply --watch --json prints one document: the 202 answer and the ended execution', async () => {
    const r = await cli('apply', requestFile('ratings', bookinfoInput()), '--watch', '--json', ...fast);

    expect(r.code).toBe(0);
    expect(r.json()).toEqual({
      ok: true,
      exitCode: 0,
      accepted: { executionId, status: 'SUCCEEDED', duplicate: true, location: `/onboardings/${executionId}` },
      execution: expect.objectContaining({ executionId, status: 'SUCCEEDED', workload: 'bookinfo/ratings', steps: expect.arrayContaining([expect.objectContaining({ state: 'Ensure service', status: 'succeeded' })]), result: expect.objectContaining({ workload: 'bookinfo/ratings' }) }),
    });
  });

  it('status and list show the run and the registry, as text and as --json', async () => {
    const text = await cli('status', executionId);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^Execution ${executionId}: SUCCEEDED`));
    expect((await cli('status', executionId, '--json')).json()).toMatchObject({ ok: true, exitCode: 0, execution: { executionId, status: 'SUCCEEDED' } });

    const list = await cli('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^WORKLOAD +STATUS +VERIFIED +UPDATED +EXECUTION$/m);
    expect(list.stdout).toMatch(new RegExp(`^bookinfo/ratings +ONBOARDED .* ${executionId}$`, 'm'));
    expect((await cli('list', '--json')).json()).toMatchObject({ ok: true, exitCode: 0, onboardings: [expect.objectContaining({ workload: 'bookinfo/ratings', status: 'ONBOARDED', executionId })] });
  });

  it('verify --wait reports the re-verification landing in the registry', async () => {
    const r = await cli('verify', executionId, '--wait', '--json', ...fast);

    expect(r.code, JSON.stringify(r.json())).toBe(0);
    expect(r.json()).toMatchObject({ ok: true, exitCode: 0, verification: { workload: 'bookinfo/ratings', onboarding: executionId, status: 'RUNNING', result: { ok: true } } });
  });

  it('apply --reconcile starts a new run of a request that already succeeded; without it the same request is the old run', async () => {
    const again = await cli('apply', requestFile('ratings', bookinfoInput()), '--json');
    expect(again.json()).toMatchObject({ accepted: { executionId, duplicate: true } });

    const r = await cli('apply', requestFile('ratings', bookinfoInput()), '--reconcile', '--watch', '--json', ...fast);

    expect(r.code, JSON.stringify(r.json())).toBe(0);
    expect(r.json()).toMatchObject({ accepted: { executionId: `${executionId}-r2`, duplicate: false, reconciles: executionId }, execution: { status: 'SUCCEEDED' } });
  });

  it('exits 2 naming every problem for a request the API refuses, and for an unknown id', async () => {
    const r = await cli('apply', requestFile('bad', { ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, cpu: '100' } }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/answered 400: The onboarding request is invalid[\s\S]*\$\.ecs\.cpu/);
    expect(r.stderr).toContain('Fix: correct each field named above');

    expect((await cli('status', 'onboard-nobody_here-0000')).code).toBe(2);
    expect((await cli('offboard', 'nobody.here', '--json')).json()).toMatchObject({ ok: false, exitCode: 2, error: { message: expect.stringContaining('not in the registry') } });
  });

  it('offboard <execution id> --watch finds the workload and tears it down', async () => {
    const r = await cli('offboard', executionId, '--watch', ...fast);

    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Teardown accepted: execution offboard-bookinfo_ratings-/m);
    expect(r.stdout).toMatch(/Offboarded bookinfo\/ratings/);
    expect((await cli('list', '--json')).json().onboardings).toEqual([]);
  });
});

describe('mesh-onboard: a failed workflow and an unreachable API', () => {
  it('exits 1 naming the failed step, the cause and the fix when the WorkloadGroup is missing', async () => {
    const r = await cli('apply', requestFile('reviews', reviews), '--watch', ...fast);

    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Onboarding FAILED at step "Pre-flight mesh": MeshPrerequisiteError/);
    expect(r.stderr).toMatch(/WorkloadGroup bookinfo\/reviews does not exist/);
    expect(r.stderr).toMatch(/^Fix: Give the message to the mesh operator: apply the YAML it prints.*examples\/mesh-prerequisites\.yaml.*Then run mesh-onboard apply <request.json> again/m);

    const id = /execution (\S+) \(/.exec(r.stdout)?.[1] ?? '';
    const json = await cli('watch', id, '--json', ...fast);
    expect(json.code).toBe(1);
    expect(json.json()).toMatchObject({
      ok: false,
      exitCode: 1,
      execution: { executionId: id, status: 'FAILED' },
      failure: { step: 'Pre-flight mesh', error: 'MeshPrerequisiteError', cause: expect.stringContaining('WorkloadGroup bookinfo/reviews does not exist'), fix: expect.stringContaining('kubectl apply'), resourcesSoFar: [] },
    });
  });

  it('exits 1 with the running execution to wait for when another run holds the workload (409)', async () => {
    const variant = (service: string) => requestFile(service, { ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, service, family: `bookinfo_${service.replace(/-/g, '_')}` } });

    const [a, b] = await Promise.all([cli('apply', variant('ratings-busy-a'), '--json'), cli('apply', variant('ratings-busy-b'), '--json')]);

    expect([a.code, b.code].sort()).toEqual([0, 1]);
    const [won, lost] = a.code === 0 ? [a.json(), b.json()] : [b.json(), a.json()];
    const holder = (won.accepted as { executionId: string }).executionId;
    expect(lost).toMatchObject({ ok: false, exitCode: 1, error: { message: expect.stringContaining('answered 409'), fix: `wait for execution ${holder} (mesh-onboard watch ${holder}) to end, then run the command again`, details: { error: 'WorkloadBusy', executionId: holder } } });
    expect((await cli('watch', holder, ...fast)).code).toBe(0);
  });

  it('the bin launcher runs the CLI with tsx and exits 3 for an API that does not answer', async () => {
    const bin = fileURLToPath(new URL('../../bin/mesh-onboard.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'list', '--json', '--endpoint', 'http://127.0.0.1:9'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));

    expect(code).toBe(3);
    expect(JSON.parse(stdout)).toMatchObject({ ok: false, exitCode: 3, error: { message: expect.stringContaining('could not be reached') } });
    expect(sandbox().moto.endpoint).toBeTruthy();
  });
});
