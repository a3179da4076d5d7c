/**
 * `mesh-onboard sandbox`: runs `local/cli.ts --keep` as a child, writes the local API's URL for
 * the other commands, and on Ctrl-C stops the child and removes the file.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../cli/mesh-onboard.ts';
import type { Io } from '../../cli/render.ts';
import { runSandbox } from '../../cli/sandbox.ts';
import { eventually } from '../support/emulator.ts';

const quiet: Io = { out: () => undefined, err: () => undefined, write: () => undefined, tty: false };

describe('mesh-onboard sandbox', () => {
  it('serves the local API until stopped, and the other commands find it through the endpoint file', async () => {
    // Prepare
    const endpointFile = join(mkdtempSync(join(tmpdir(), 'mesh-onboard-sandbox-')), 'endpoint');
    const stop = new AbortController();
    const lines: string[] = [];
    const io: Io = { ...quiet, out: (l) => lines.push(l) };

    // Act
    const running = runSandbox({ io, json: true, endpointFile, args: ['--reverify-every', '0'], stop: stop.signal });
    const endpoint = await eventually(async () => {
      if (!existsSync(endpointFile)) throw new Error('no endpoint yet');
      return readFileSync(endpointFile, 'utf8').trim();
    }, 90_000, 200);
    const listed: string[] = [];
    const code = await run(['list', '--json'], { io: { ...quiet, out: (l) => listed.push(l) }, env: {}, endpointFile });
    stop.abort();
    const ended = await running;

    // Assess
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(JSON.parse(lines[0]!)).toEqual({ endpoint, endpointFile });
    expect(code).toBe(0);
    expect(JSON.parse(listed.join('\n'))).toMatchObject({ ok: true, onboardings: [expect.objectContaining({ workload: 'bookinfo/ratings', status: 'ONBOARDED' })] });
    expect(ended).toEqual({ exitCode: 0, endpoint });
    expect(existsSync(endpointFile)).toBe(false);
  }, 150_000);
});
