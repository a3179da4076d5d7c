/**
 * Lambda runs minified bundles, where esbuild renames classes (`InvalidRequestError` becomes
 * something like `yr`). The error's `name` is what Lambda reports as `errorType` and what the
 * ASL's ErrorEquals match, so it must survive minification: checked here on real bundles,
 * built the way Lambda's are (esbuild, ESM, minified), not only on the TypeScript source.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRYABLE_ERROR_NAMES, TERMINAL_ERROR_NAMES } from '../../functions/lib/errors.ts';

const ROOT = new URL('../../', import.meta.url);
let dir: string;

async function bundle(entry: string, name: string): Promise<string> {
  const outfile = join(dir, `${name}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outfile,
    logLevel: 'silent',
    // The usual ESM banner for CommonJS dependencies (as the CDK function construct sets it).
    banner: { js: "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" },
  });
  return outfile;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'error-names-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('error names survive a minified bundle', () => {
  it('every typed error keeps its literal name, although the classes themselves are renamed', async () => {
    const probe = join(dir, 'probe.ts');
    const errorsPath = new URL('functions/lib/errors.ts', ROOT).pathname;
    writeFileSync(
      probe,
      `import { RETRYABLE_ERRORS, TERMINAL_ERRORS, classifyError, errorNameOf } from ${JSON.stringify(errorsPath)};
       export const names = [...RETRYABLE_ERRORS, ...TERMINAL_ERRORS].map(errorNameOf);
       export const classNames = [...RETRYABLE_ERRORS, ...TERMINAL_ERRORS].map((c) => c.name);
       export const classified = classifyError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })).name;`,
    );
    const mod = (await import(pathToFileURL(await bundle(probe, 'probe')).href)) as { names: string[]; classNames: string[]; classified: string };
    expect(mod.names).toEqual([...RETRYABLE_ERROR_NAMES, ...TERMINAL_ERROR_NAMES]);
    expect(mod.classified).toBe('AwsThrottledError');
    // The bundle really was minified: class names no longer match (else this test proves nothing).
    expect(mod.classNames.filter((n, i) => n !== mod.names[i]).length).toBeGreaterThan(0);
  });

  it('a bundled handler throws the typed error by its literal name (the errorType Lambda reports)', async () => {
    const out = await bundle(new URL('functions/validate-request.ts', ROOT).pathname, 'validate-request');
    const { handler } = (await import(pathToFileURL(out).href)) as { handler: (e: unknown, c: unknown) => Promise<unknown> };
    const context = { functionName: 'validate-request', awsRequestId: 'test', getRemainingTimeInMillis: () => 10_000 };
    const err = await handler({ workloadGroup: { namespace: 'Not A Label' } }, context).catch((e: unknown) => e);
    expect((err as Error).name).toBe('InvalidRequestError');
    expect((err as Error).constructor.name).not.toBe('InvalidRequestError');
  });
});
