/**
 * `npm start -- --keep` as a user runs it: it prints `export KUBECONFIG=...`, kubectl works with
 * that file against the kept sandbox, and Ctrl-C removes it. Needs kubectl (client) on PATH. The
 * child runs in its own process group, killed whole.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('npm start -- --keep', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-keep-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERTOOLS_')));
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'local/cli.ts', '--keep', '--reverify-every', '0', '--kubeconfig', kubeconfig], { cwd: ROOT, env, detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  afterAll(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const kubectl = async (...args: string[]) => (await promisify(execFile)('kubectl', [...args, '--cache-dir', join(dir, 'cache')], { cwd: ROOT, env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 30_000 })).stdout;

  it('prints the kubeconfig to export, with example commands', async () => {
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('Re-verification:')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start -- --keep did not come up:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stdout).toContain(`  export KUBECONFIG=${kubeconfig}\n  kubectl get war -A\n  kubectl apply -f examples/mesh-prerequisites.yaml`);
    expect(existsSync(kubeconfig)).toBe(true);
  }, 100_000);

  it('kubectl works with it: the onboarded ratings WAR is connected, and prerequisites apply', async () => {
    expect(await kubectl('get', 'war', '-A')).toMatch(/^bookinfo\s+ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-\S+\s+True\s+\d+s$/m);
    expect(await kubectl('apply', '-f', 'examples/mesh-prerequisites.yaml')).toContain('workloadgroup.networking.istio.io/details created');
    expect(await kubectl('get', 'wg', '-A')).toMatch(/^bookstore\s+details\s+\d+s$/m);
  });

  it('Ctrl-C stops the sandbox and removes the kubeconfig', async () => {
    // As a terminal's Ctrl-C: SIGINT to the whole process group (tsx and the node process it runs).
    process.kill(-child.pid!, 'SIGINT');
    expect([0, 130]).toContain(await exited);
    // tsx exits at once; the node process it ran stops the sandbox, then removes the file: slow on a loaded 2-core machine.
    const deadline = Date.now() + 60_000;
    while (existsSync(kubeconfig) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(kubeconfig)).toBe(false);
  }, 75_000);
});
