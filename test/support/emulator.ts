/**
 * Emulator test harness: one real moto_server per test file (fresh state), started
 * before the file's tests and stopped after. Fails loudly when moto_server is missing.
 */
import { afterAll, beforeAll } from 'vitest';
import { resetClients } from '#lib/clients.ts';
import { startMoto, useEmulatorEnvironment, type MotoOptions, type MotoServer } from '../../local/moto-server.ts';

export interface EmulatorHandle {
  readonly moto: MotoServer;
  readonly endpoint: string;
}

/** `opts.env` e.g. `{MOTO_ECS_SERVICE_RUNNING: '1'}` (moto then reports services running with a COMPLETED rollout). */
export function useEmulator(opts: MotoOptions = {}): EmulatorHandle {
  let moto: MotoServer | undefined;
  beforeAll(async () => {
    moto = await startMoto(opts);
    useEmulatorEnvironment(moto.endpoint);
    resetClients();
  }, 60_000);
  afterAll(async () => {
    resetClients();
    await moto?.stop();
  });
  return {
    get moto() {
      if (!moto) throw new Error('emulator not started yet: use it inside a test or hook');
      return moto;
    },
    get endpoint() {
      if (!moto) throw new Error('emulator not started yet: use it inside a test or hook');
      return moto.endpoint;
    },
  };
}

/** Polls `check` until it returns without throwing, or fails with its last error at the deadline. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 10_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
