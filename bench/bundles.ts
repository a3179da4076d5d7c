/**
 * Benchmark: each handler's bundle against the floor, a minimal handler that makes the same SDK
 * clients (`npx tsx bench/bundles.ts [--runs 5] [--handlers a,b]`).
 *
 * Every handler is built with infra/bundle.ts's options, all in one esbuild build; the SDK clients
 * a bundle holds are read from esbuild's metafile (inputs under `@aws-sdk/client-<x>`), and the
 * floor is `new XClient({})` for each of them and a trivial handler, built with the same options
 * (one floor per distinct set of clients). Figures: minified bytes of both, and the cold module
 * load, a fresh `node --enable-source-maps` process per run importing the bundle once (source
 * maps on, as on Lambda: infra/step-function.ts), median of `runs`. Targets (issue 11): bytes and
 * load at most TARGET_RATIO times the floor's. Local disk and CPU are not Lambda's: read the
 * ratios, not the absolute figures.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_OPTIONS, PROJECT_ROOT } from '../infra/bundle.ts';

/** Issue 11's bound: a handler's bundle and its cold load at most this times its floor's. */
export const TARGET_RATIO = 1.3;

export interface BundleFigure { handler: string; clients: string[]; bytes: number; floorBytes: number; loadMs: number; floorLoadMs: number; }

/** What one build of a handler holds, before any load is timed. */
export interface BuiltBundle {
  handler: string;
  /** `ecs`, `ec2`, ... (the `@aws-sdk/client-<x>` packages in the bundle), sorted. */
  clients: string[];
  /** The bytes each package under node_modules adds to the bundle (`zod`, `aws-xray-sdk-core`, ...). */
  packages: Record<string, number>;
  bytes: number;
  file: string;
}

/** Every Lambda entry under functions/: the step handlers and the API's (infra/handlers.ts). */
export function handlerEntries(): string[] {
  const dir = join(PROJECT_ROOT, 'functions');
  const top = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => basename(f, '.ts'));
  const api = readdirSync(join(dir, 'api')).filter((f) => f.endsWith('.ts')).map((f) => `api/${basename(f, '.ts')}`);
  return [...top, ...api].sort();
}

/** The package a node_modules path belongs to (`@aws-sdk/client-ecs`, `zod`). */
function packageOf(input: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

function outputsByEntry(meta: Metafile): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const [file, o] of Object.entries(meta.outputs)) {
    if (!o.entryPoint) continue;
    const packages: Record<string, number> = {};
    for (const [input, i] of Object.entries(o.inputs)) {
      const p = packageOf(input);
      if (p && i.bytesInOutput > 0) packages[p] = (packages[p] ?? 0) + i.bytesInOutput;
    }
    out.set(file, packages);
  }
  return out;
}

const CLIENT_PACKAGE = /^@aws-sdk\/client-(.+)$/;

/** The client class a `@aws-sdk/client-<x>` package exports (`ECSClient`), from its dist-es file names. */
function clientClass(service: string): string {
  const dir = join(PROJECT_ROOT, 'node_modules', '@aws-sdk', `client-${service}`, 'dist-es');
  const f = readdirSync(dir).find((x) => /^[A-Za-z0-9]+Client\.js$/.test(x));
  if (!f) throw new Error(`no *Client.js in ${dir}`);
  return basename(f, '.js');
}

/**
 * Builds the given handlers (one esbuild build) into `outdir`. `sourcemap: false` (the test) skips
 * the maps, which change no byte of the code but double the build time.
 */
export async function buildHandlers(handlers: readonly string[], outdir: string, opts: { sourcemap?: boolean } = {}): Promise<BuiltBundle[]> {
  const result = await build({
    ...BUNDLE_OPTIONS,
    sourcemap: opts.sourcemap ?? BUNDLE_OPTIONS.sourcemap,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    entryPoints: Object.fromEntries(handlers.map((h) => [`${h}/index`, join(PROJECT_ROOT, 'functions', `${h}.ts`)])),
    outdir,
    absWorkingDir: PROJECT_ROOT,
    metafile: true,
    logLevel: 'error',
  });
  const outs = outputsByEntry(result.metafile);
  return handlers.map((handler) => {
    const file = join(outdir, handler, 'index.mjs');
    const packages = outs.get(relative(PROJECT_ROOT, file));
    if (!packages) throw new Error(`no output for ${handler} in the metafile`);
    const clients = Object.keys(packages).flatMap((p) => CLIENT_PACKAGE.exec(p)?.slice(1) ?? []).sort();
    return { handler, clients, packages, bytes: statSync(file).size, file };
  });
}

/** Builds one floor per distinct client set (key: the clients joined by `+`, `none` for none). */
export async function buildFloors(clientSets: readonly (readonly string[])[], outdir: string, opts: { sourcemap?: boolean } = {}): Promise<Map<string, { bytes: number; file: string }>> {
  const keys = [...new Set(clientSets.map(floorKey))];
  const srcDir = join(outdir, 'src');
  mkdirSync(srcDir, { recursive: true });
  const entryPoints: Record<string, string> = {};
  for (const key of keys) {
    const services = key === 'none' ? [] : key.split('+');
    const src = join(srcDir, `${key}.mjs`);
    writeFileSync(
      src,
      [
        ...services.map((s, i) => `import { ${clientClass(s)} as C${i} } from '@aws-sdk/client-${s}';`),
        `const clients = [${services.map((_, i) => `new C${i}({})`).join(', ')}];`,
        'export const handler = async () => ({ clients: clients.length });',
      ].join('\n'),
    );
    entryPoints[`floor/${key}/index`] = src;
  }
  await build({
    ...BUNDLE_OPTIONS,
    sourcemap: opts.sourcemap ?? BUNDLE_OPTIONS.sourcemap,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    entryPoints,
    outdir,
    // From the project root so `@aws-sdk/*` resolves in its node_modules.
    absWorkingDir: PROJECT_ROOT,
    nodePaths: [join(PROJECT_ROOT, 'node_modules')],
    logLevel: 'error',
  });
  return new Map(keys.map((key) => {
    const file = join(outdir, 'floor', key, 'index.mjs');
    return [key, { bytes: statSync(file).size, file }];
  }));
}

export function floorKey(clients: readonly string[]): string {
  return clients.length === 0 ? 'none' : [...clients].sort().join('+');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** Milliseconds a fresh Node process takes to import the module once. */
function loadOnce(file: string): Promise<number> {
  const probe = `const t=performance.now();await import(${JSON.stringify(`file://${file}`)});console.log(performance.now()-t);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', probe], {
      env: { ...process.env, NODE_OPTIONS: '', POWERTOOLS_TRACE_ENABLED: 'false', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`loading ${file} failed: ${err}`))));
  });
}

/** Runs `jobs` with at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

/**
 * Builds every handler (or `handlers`) and its floor, and times `runs` cold loads of each (median).
 * Loads run two at a time on a machine with two cores or more, handlers and floors interleaved so
 * both see the same contention.
 */
export async function measureBundles(opts?: { runs?: number; handlers?: string[] }): Promise<BundleFigure[]> {
  const runs = opts?.runs ?? 5;
  const handlers = opts?.handlers ?? handlerEntries();
  const outdir = mkdtempSync(join(tmpdir(), 'bundles-bench-'));
  try {
    const built = await buildHandlers(handlers, outdir);
    const floors = await buildFloors(built.map((b) => b.clients), outdir);
    const files = [...new Set([...built.map((b) => b.file), ...[...floors.values()].map((f) => f.file)])];
    const width = Math.max(1, Math.min(2, availableParallelism()));
    // One warm-up each (the OS file cache; Lambda reads its own cached copy), then the timed runs, round-robin.
    await pool(files.map((f) => () => loadOnce(f)), width);
    const times = new Map<string, number[]>(files.map((f) => [f, []]));
    const jobs = Array.from({ length: runs }, () => files.map((f) => async () => times.get(f)!.push(await loadOnce(f)))).flat();
    await pool(jobs, width);
    return built.map((b) => {
      const floor = floors.get(floorKey(b.clients))!;
      return { handler: b.handler, clients: b.clients, bytes: b.bytes, floorBytes: floor.bytes, loadMs: median(times.get(b.file)!), floorLoadMs: median(times.get(floor.file)!) };
    });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The figures as a table, each ratio marked when it misses TARGET_RATIO. */
export function bundleTable(figures: readonly BundleFigure[]): string {
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  const ratio = (a: number, b: number) => {
    const r = a / b;
    return `${r.toFixed(2)}${r > TARGET_RATIO ? ' !' : '  '}`;
  };
  const rows = [['handler', 'clients', 'bytes', 'floor', 'ratio', 'load ms', 'floor ms', 'ratio']];
  for (const f of figures) {
    // With no SDK client the floor is an empty module: a ratio against it says nothing.
    const none = f.clients.length === 0;
    rows.push([f.handler, f.clients.join(',') || '-', kb(f.bytes), kb(f.floorBytes), none ? 'n/a' : ratio(f.bytes, f.floorBytes), f.loadMs.toFixed(0), f.floorLoadMs.toFixed(0), none ? 'n/a' : ratio(f.loadMs, f.floorLoadMs)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')).join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, handlers: { type: 'string' } } });
  const started = performance.now();
  const figures = await measureBundles({ runs: Number(values.runs), handlers: values.handlers?.split(',') });
  console.log(`node ${process.version}, ${values.runs} cold loads per bundle (median), source maps on; "!" marks a ratio over ${TARGET_RATIO}\n`);
  console.log(bundleTable(figures));
  const compared = figures.filter((f) => f.clients.length > 0);
  const within = (key: 'bytes' | 'loadMs', floor: 'floorBytes' | 'floorLoadMs') => compared.filter((f) => f[key] <= TARGET_RATIO * f[floor]).length;
  console.log(`\nof ${compared.length} handlers with SDK clients: ${within('bytes', 'floorBytes')} within the bytes target, ${within('loadMs', 'floorLoadMs')} within the load target; ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
