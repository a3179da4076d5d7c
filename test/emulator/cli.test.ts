/**
 * `npm start` as a user runs it: a child process, its output and exit code.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bookinfoInput } from '../support/requests.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The environment a user has: none of the test setup's Powertools settings.
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERTOOLS_'))), ...extraEnv };
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'local/cli.ts', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm start', () => {
  it('onboards the bookinfo example to AGENT CONNECTED True and exits 0', async () => {
    const { code, stdout, stderr } = await runCli([]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^ {2}ok +Validate request/m);
    expect(stdout).toMatch(/^ {2}ok +Verify workload/m);
    expect(stdout).toContain('$ kubectl get war -n bookinfo');
    expect(stdout).toMatch(/^NAME +AGENT CONNECTED +AGE$/m);
    expect(stdout).toMatch(/^ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-\S+ +True +\d+s$/m);
    expect(stdout).toMatch(/^created +ecs-service +workload +arn:aws:ecs:us-east-1:123456789012:service\/bookinfo\/ratings$/m);
    expect(stdout).toMatch(/Onboarded in \d+ ms/);
    // Plain lines on a pipe: no progress bar escapes, and no handler JSON logs unless --verbose.
    expect(stdout).not.toContain('\r');
    expect(stdout).not.toContain('{"level"');
  }, 60_000);

  it('rejects an invalid request with every problem, exit 2, no stack trace and no sandbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, cpu: '3' }, app: undefined }));
    const { code, stdout, stderr } = await runCli(['--request', file]);
    expect(code).toBe(2);
    expect(stderr).toContain('$.ecs.cpu: must be a Fargate CPU size');
    expect(stderr).toContain('$.app: is required');
    expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(stdout).not.toContain('Starting the local sandbox');
  }, 30_000);

  it('refuses an unknown option with the usage', async () => {
    const { code, stderr } = await runCli(['--kep']);
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--kep'");
    expect(stderr).toContain('npm start -- --keep');
  }, 30_000);

  it('--help lists every option with its default, the signals and the exit codes', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const option of ['--keep', '--request FILE', '--verbose', '--wait-ms N', '--reverify-every S', '--kubeconfig FILE', '-h, --help']) expect(stdout).toContain(`  ${option} `);
    expect(stdout.match(/\(default: [^)]+\)/g)).toHaveLength(7);
    expect(stdout).toContain('(default: 250)');
    expect(stdout).toContain('(default: 60)');
    expect(stdout).toContain('SIGINT (Ctrl-C), SIGTERM or SIGHUP');
    expect(stdout).toContain('130 / 143 / 129');
  }, 30_000);

  it('takes a relative --request from the directory npm start was run in (INIT_CWD), not the package root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-cwd-'));
    writeFileSync(join(dir, 'mine.json'), JSON.stringify({ ...bookinfoInput(), app: undefined }));
    // As npm runs the script: cwd the package root, INIT_CWD where the user was.
    const { code, stderr } = await runCli(['--request', 'mine.json'], { INIT_CWD: dir, npm_lifecycle_event: 'start' });
    expect(code).toBe(2);
    expect(stderr).toContain(`The request ${join(dir, 'mine.json')} is invalid`);
    expect(stderr).toContain('$.app: is required');
  }, 30_000);
});
