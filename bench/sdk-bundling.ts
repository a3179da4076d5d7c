/**
 * Benchmark: bundle the AWS SDK into each function, or take it from the Lambda runtime?
 * (`npx tsx bench/sdk-bundling.ts [--runs 9] [--handlers a,b]`)
 *
 * For a few representative handlers it builds two bundles with infra/bundle.ts's options
 * (esbuild, ESM, minified, source maps, the require banner): one with `@aws-sdk/*`
 * bundled, one with `@aws-sdk/*` external (NodejsFunction's default on nodejs18.x and later).
 * It reports each bundle's size (esbuild's metafile: output bytes, and the bytes the SDK and
 * Smithy add), then the cold module load time: a fresh `node --enable-source-maps` process per
 * run imports the bundle once, median of --runs. The external variant resolves `@aws-sdk/*`
 * from this project's node_modules (CommonJS dist files, as the runtime's copy is loaded).
 * Local disk and CPU are not Lambda's: compare the two variants, not the absolute figures.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';
import { BUNDLE_OPTIONS } from '../infra/bundle.ts';

const { values } = parseArgs({
  allowNegative: true,
  options: {
    runs: { type: 'string', default: '9' },
    handlers: { type: 'string', default: 'validate-request,list-workloads,traffic-evidence,ensure-nat-gateway,preflight-mesh' },
    // Off: what the load costs without NODE_OPTIONS=--enable-source-maps.
    'source-maps': { type: 'boolean', default: true },
    // What-if: functions/lib/clients.ts with its module-scope `lazy(...)` calls marked pure, so
    // esbuild can drop the clients a handler never uses (today every client is kept).
    'pure-clients': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
// Under the project so the external variant resolves @aws-sdk/* from its node_modules (dist/ is git-ignored).
const OUT = join(ROOT, 'dist', 'sdk-bench');
const NODE = process.execPath;

const VARIANTS = { bundled: [] as string[], external: ['@aws-sdk/*'] } as const;
type Variant = keyof typeof VARIANTS;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

const pureClients: Plugin = {
  name: 'pure-clients',
  setup(b) {
    b.onLoad({ filter: /functions\/lib\/clients\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replace(/= lazy\(/g, '= /* @__PURE__ */ lazy('),
      loader: 'ts',
    }));
  },
};

async function bundle(file: string, variant: Variant): Promise<{ outfile: string; bytes: number; sdkBytes: number }> {
  const outfile = join(OUT, variant, file, 'index.mjs');
  const result = await build({
    ...BUNDLE_OPTIONS,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    entryPoints: [join(ROOT, 'functions', `${file}.ts`)],
    outfile,
    metafile: true,
    logLevel: 'silent',
    external: [...VARIANTS[variant]],
    plugins: values['pure-clients'] ? [pureClients] : [],
  });
  const out = (result.metafile as Metafile).outputs[Object.keys(result.metafile!.outputs).find((k) => k.endsWith('index.mjs'))!]!;
  const sdkBytes = Object.entries(out.inputs)
    .filter(([path]) => /node_modules\/(@aws-sdk|@smithy|@aws-crypto)\//.test(path))
    .reduce((n, [, i]) => n + i.bytesInOutput, 0);
  return { outfile, bytes: statSync(outfile).size, sdkBytes };
}

/** Milliseconds a fresh Node process takes to import the module (source maps on, as on Lambda). */
function loadOnce(outfile: string): number {
  const probe = `const t=performance.now();await import(${JSON.stringify(`file://${outfile}`)});console.log(performance.now()-t);`;
  const r = spawnSync(NODE, [...(values['source-maps'] ? ['--enable-source-maps'] : []), '--input-type=module', '-e', probe], {
    env: { ...process.env, POWERTOOLS_TRACE_ENABLED: 'false', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`loading ${outfile} failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`node ${process.version}, ${runs} cold loads per bundle (median), source maps ${values['source-maps'] ? 'on' : 'off'}${values['pure-clients'] ? ', clients marked pure' : ''}\n`);
console.log('handler                  | bundled: size (SDK+Smithy) | load ms | external: size | load ms');
for (const file of values.handlers.split(',')) {
  const row: string[] = [file.padEnd(24)];
  for (const variant of Object.keys(VARIANTS) as Variant[]) {
    const b = await bundle(file, variant);
    loadOnce(b.outfile); // first load warms the OS file cache; Lambda's first load reads from its own cache
    const ms = median(Array.from({ length: runs }, () => loadOnce(b.outfile)));
    row.push(variant === 'bundled' ? `${kb(b.bytes).padStart(9)} (${kb(b.sdkBytes)})`.padEnd(26) : kb(b.bytes).padStart(14), ms.toFixed(0).padStart(7));
  }
  console.log(row.join(' | '));
}
rmSync(OUT, { recursive: true, force: true });
