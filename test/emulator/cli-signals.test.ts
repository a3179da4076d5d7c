/**
 * `npm start -- --keep` stopped the way an IDE's stop button, a supervisor or a CI cancel does it:
 * one signal to the process npm started, never to the process group. Each of SIGINT, SIGTERM and
 * SIGHUP must stop the whole tree (npm, the CLI, moto_server and its watchdog) within a deadline
 * and remove the kubeconfig. A re-verification runs every second, so one is usually under way
 * when the signal lands: it must be aborted, not fail on the stopped emulator.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const STOP_DEADLINE_MS = 45_000;

interface Proc {
  pid: number;
  ppid: number;
  cmd: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: the fields after it are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.push({ pid: Number(d), ppid, cmd });
    } catch {
      // gone between the listing and the read
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of all.filter((x) => x.ppid === p)) {
      found.push(c);
      queue.push(c.pid);
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped) is gone for our purpose.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, deadlineMs: number, detail: () => string): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${deadlineMs} ms:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.each([
  ['SIGINT', 'npm'],
  ['SIGTERM', 'npm'],
  ['SIGHUP', 'npm'],
  ['SIGHUP', 'cli'],
] as const)('npm start -- --keep, then %s to the %s process only', (signal, to) => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-signal-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('POWERTOOLS_')));
  let child: ReturnType<typeof spawn> | undefined;
  let tree: Proc[] = [];
  afterAll(() => {
    // Whatever the test found, leave nothing behind.
    for (const p of tree) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    if (child?.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops every process of the tree, moto_server included, and removes the kubeconfig', async () => {
    // Its own process group, as an IDE or supervisor runs it; the signal goes to one process, not the group.
    child = spawn('npm', ['start', '--', '--keep', '--reverify-every', '1', '--kubeconfig', kubeconfig], { cwd: ROOT, env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const output = () => `stdout:\n${stdout}\nstderr:\n${stderr}`;
    await until('npm start -- --keep did not come up', () => stdout.includes('Re-verification:') || child!.exitCode !== null, 120_000, output);
    expect(child.exitCode, output()).toBeNull();
    // Let a re-verification start, so the stop meets one under way.
    await until('no re-verification was printed', () => /re-verified \d+ workload/.test(stdout), 30_000, output);

    tree = descendants(child.pid!);
    const cli = tree.find((p) => p.ppid === child!.pid);
    // The script execs the CLI: npm's only child is the node process running local/cli.ts (no sh, no tsx wrapper between).
    expect(cli?.cmd, JSON.stringify(tree)).toMatch(/node .*--import tsx local\/cli\.ts/);
    expect(tree.some((p) => p.cmd.includes('moto_server')), JSON.stringify(tree)).toBe(true);
    expect(existsSync(kubeconfig)).toBe(true);

    process.kill(to === 'npm' ? child.pid! : cli!.pid, signal);

    const everyone = [child.pid!, ...tree.map((p) => p.pid)];
    await until('processes of the tree outlived the signal', () => everyone.every((pid) => !alive(pid)), STOP_DEADLINE_MS, () => `${JSON.stringify(tree.filter((p) => alive(p.pid)))}\n${output()}`);
    expect(existsSync(kubeconfig)).toBe(false);
    // One shutdown, once; nothing failed on an emulator already gone.
    expect(stdout.match(/stopping the sandbox/g), output()).toHaveLength(1);
    expect(output()).not.toContain('ECONNREFUSED');
  }, 200_000);
});
