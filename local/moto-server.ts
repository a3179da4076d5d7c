/**
 * Starts a real moto_server (the AWS emulator) on a free 127.0.0.1 port, with the flags
 * ../shared/notes/aws-emulator.md says this project needs, and stops it again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.ts';

export const MOTO_INSTALL_HINT =
  'moto_server (the local AWS emulator, moto 5.2.1) is not on the PATH. Install it with `pip install "moto[server]==5.2.1"` ' +
  '(or `pipx install "moto[server]==5.2.1"`), then run the tests again.';

const WATCHDOG = `
moto_server -H 127.0.0.1 -p "$2" & moto=$!
trap 'kill -TERM $moto 2>/dev/null; wait $moto; exit 0' TERM INT HUP
while kill -0 "$1" 2>/dev/null && kill -0 $moto 2>/dev/null; do sleep 1 & wait $!; done
kill -TERM $moto 2>/dev/null; wait $moto
`;

export class EmulatorUnavailableError extends Error {
  override name = 'EmulatorUnavailableError';
}

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Wipes all emulator state. */
  reset(): Promise<void>;
  /** POSTs to a moto-api admin path, e.g. `/moto-api/state-manager/set-transition`. */
  admin(path: string, body: unknown): Promise<void>;
  stop(): Promise<void>;
  /** The last lines moto printed (its log), for failure messages. */
  log(): string;
}

export interface MotoOptions {
  /** Extra environment for the server process. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export async function startMoto(opts: MotoOptions = {}): Promise<MotoServer> {
  if (!onPath('moto_server')) throw new EmulatorUnavailableError(MOTO_INSTALL_HINT);
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // A shell watchdog owns moto_server: it stops moto when asked (TERM/INT) and also when this
  // process dies without asking (SIGKILL, a crash, a closed pipe), so no emulator outlives us.
  const child: ChildProcess = spawn('sh', ['-c', WATCHDOG, 'moto-watchdog', String(process.pid), String(port)], {
    env: {
      ...process.env,
      // Needed to attach AmazonECSTaskExecutionRolePolicy; cannot be switched on later.
      MOTO_IAM_LOAD_MANAGED_POLICIES: 'true',
      // moto's own callbacks (e.g. Step Functions) go to this port.
      MOTO_PORT: String(port),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new EmulatorUnavailableError(`moto_server exited during start-up:\n${output}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new EmulatorUnavailableError(`moto_server did not answer on ${endpoint} within ${opts.startTimeoutMs ?? 30_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const admin = async (path: string, body: unknown) => {
    const res = await fetch(`${endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`moto ${path} answered ${res.status}: ${await res.text()}`);
  };
  return {
    endpoint,
    port,
    admin,
    reset: () => admin('/moto-api/reset', {}),
    log: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        // The watchdog waits for moto to exit; force it only if that hangs.
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Points this process's AWS SDK clients at the emulator (dummy credentials). */
export function useEmulatorEnvironment(endpoint: string, region = 'us-east-1'): void {
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_REGION = region;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  // moto answers some bugs with 500 + HTML; retrying only hides moto's real message.
  process.env.AWS_MAX_ATTEMPTS = '1';
}
