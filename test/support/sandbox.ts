/** One local sandbox per test file, started before its tests and stopped after. */
import { afterAll, beforeAll } from 'vitest';
import { startSandbox, type Sandbox, type SandboxOptions } from '../../local/sandbox.ts';

export function useSandbox(opts: SandboxOptions = {}): () => Sandbox {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    sandbox = await startSandbox({ intervalMs: 100, ...opts });
  }, 90_000);
  afterAll(async () => {
    await sandbox?.stop();
  }, 30_000);
  return () => {
    if (!sandbox) throw new Error('sandbox not started yet: use it inside a test or hook');
    return sandbox;
  };
}
