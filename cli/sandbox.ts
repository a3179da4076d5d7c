/**
 * `mesh-onboard sandbox`: runs `local/cli.ts --keep` (what `npm start -- --keep` runs) as a
 * child, forwards Ctrl-C and SIGTERM to it, and writes the local API's URL to
 * .sandbox/endpoint (git-ignored) for the other commands to find; the file goes when the
 * sandbox stops.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EXIT, type ExitCode } from './api-client.ts';
import type { Io } from './render.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Where `sandbox` writes the local API's URL, and where the other commands look for it. */
export const SANDBOX_ENDPOINT_FILE = fileURLToPath(new URL('../.sandbox/endpoint', import.meta.url));

/** The local API's base URL in what local/cli.ts prints once the sandbox is kept. */
export function endpointInLine(line: string): string | undefined {
  return /Local onboarding API:\s+(https?:\/\/\S+?)\/onboardings\b/.exec(line)?.[1];
}

export interface SandboxRun {
  io: Io;
  /** With --json: the child's output goes to stderr, and stdout gets one line `{"endpoint": ...}` when the API is up. */
  json: boolean;
  endpointFile: string;
  args: string[];
  /** Stops the sandbox as Ctrl-C does (tests; a terminal's Ctrl-C and SIGTERM are forwarded anyway). */
  stop?: AbortSignal;
}

export async function runSandbox(o: SandboxRun): Promise<{ exitCode: ExitCode | number; endpoint?: string }> {
  // Its own process group: a terminal's Ctrl-C reaches only us, and we pass it on once (the child's shutdown is not run twice).
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../local/cli.ts', import.meta.url)), '--keep', ...o.args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let endpoint: string | undefined;
  const relay = (line: string) => (o.json ? o.io.err(line) : o.io.out(line));
  createInterface({ input: child.stdout }).on('line', (line) => {
    relay(line);
    const url = endpoint === undefined ? endpointInLine(line) : undefined;
    if (url) {
      endpoint = url;
      mkdirSync(dirname(o.endpointFile), { recursive: true });
      writeFileSync(o.endpointFile, `${url}\n`);
      if (o.json) o.io.out(JSON.stringify({ endpoint: url, endpointFile: o.endpointFile }));
      else o.io.out(`\nmesh-onboard commands in this checkout now use ${url} (written to ${o.endpointFile}; removed when the sandbox stops).`);
    }
  });
  createInterface({ input: child.stderr }).on('line', (line) => o.io.err(line));
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  const onExit = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  o.stop?.addEventListener('abort', onInt, { once: true });
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('exit', onExit);
  const code = await new Promise<number>((resolve) => {
    child.on('error', (e) => {
      o.io.err(`The sandbox could not be started: ${e.message}`);
      resolve(EXIT.apiUnreachable);
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal === 'SIGINT' ? 130 : 143)));
  });
  o.stop?.removeEventListener('abort', onInt);
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  process.off('exit', onExit);
  // Only our own URL is removed: a second sandbox may have written its own since.
  if (endpoint !== undefined) {
    try {
      if (readFileSync(o.endpointFile, 'utf8').trim() === endpoint) rmSync(o.endpointFile, { force: true });
    } catch {
      // Already gone.
    }
  }
  return { exitCode: code, ...(endpoint ? { endpoint } : {}) };
}
