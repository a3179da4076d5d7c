/**
 * `npm start -- --keep` whose onboarding fails: the sandbox and its API stay up so the user can
 * inspect what failed; the failure and how to look at it are printed; stopping it then exits 1.
 * The request is examples/bookstore-details.json, whose mesh prerequisites the sandbox does not
 * seed (the user applies examples/mesh-prerequisites.yaml first), so the onboarding fails early.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('npm start -- --keep, with an onboarding that fails', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-keep-failed-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERTOOLS_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli.ts', '--keep', '--reverify-every', '0', '--kubeconfig', kubeconfig, '--request', 'examples/bookstore-details.json'], {
    cwd: ROOT,
    env,
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  afterAll(() => {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the failure, stays up and says how to inspect it', async () => {
    const deadline = Date.now() + 90_000;
    while (!stdout.includes('Re-verification:')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start -- --keep did not stay up after the failure:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(stderr).toContain('Onboarding FAILED:');
    expect(stdout).toContain('The onboarding failed; with --keep the sandbox stays up');
    expect(stdout).toContain('the exit code is then 1');
    expect(stdout).toMatch(/--data @examples\/bookstore-details\.json/);
    expect(existsSync(kubeconfig)).toBe(true);
  }, 100_000);

  it('its local API serves, and lists the failed workload from the registry', async () => {
    const url = /Local onboarding API: +(http:\/\/127\.0\.0\.1:\d+)\/onboardings/.exec(stdout)?.[1];
    expect(url, stdout).toBeDefined();
    const res = await fetch(`${url}/onboardings`);
    expect(res.status).toBe(200);
    const { onboardings } = (await res.json()) as { onboardings: { workload: string; status: string }[] };
    expect(onboardings).toEqual(expect.arrayContaining([expect.objectContaining({ workload: 'bookstore/details', status: 'FAILED' })]));
  });

  it('Ctrl-C then stops it with exit code 1 and removes the kubeconfig', async () => {
    process.kill(child.pid!, 'SIGINT');
    expect(await exited).toBe(1);
    expect(existsSync(kubeconfig)).toBe(false);
  }, 60_000);
});
