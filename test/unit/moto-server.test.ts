import { afterEach, expect, it } from 'vitest';
import { EmulatorUnavailableError, startMoto } from '../../local/moto-server.ts';

const PATH = process.env.PATH;
afterEach(() => {
  process.env.PATH = PATH;
});

it('fails, never skips, with install instructions when moto_server is not on the PATH', async () => {
  process.env.PATH = '/nonexistent';
  const err = await startMoto().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EmulatorUnavailableError);
  expect((err as Error).message).toMatch(/moto_server .* is not on the PATH\. Install it with `pip install "moto\[server\]==5\.2\.1"`/);
});
