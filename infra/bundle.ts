/**
 * Bundles the handlers with the local esbuild, in-process, all in ONE build (never Docker).
 *
 * Why not NodejsFunction's bundling: it spawns one esbuild per function (through `npx`), and
 * each re-parses the AWS SDK and Powertools; with ~20 handlers that was 55 s on a busy
 * 2-core machine against 13 s for one build of all entries (same options, same output).
 * The result is cached on disk under a digest of every file esbuild read (its metafile), so
 * a second synth with unchanged sources reuses the bundles and a changed file rebuilds them.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, version as esbuildVersion, type BuildOptions, type Metafile } from 'esbuild';

/** The project root: the lock file, tsconfig and `functions/` live here. */
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** CommonJS dependencies bundled into an ESM file call `require`; ESM has none, so make one. */
export const ESM_REQUIRE_BANNER = "import{createRequire as __cr}from'module';const require=__cr(import.meta.url);";

/**
 * Whether `@aws-sdk/*` goes into each bundle (true) or comes from the Lambda runtime (false).
 * Bundled: half the cold module load time and the exact SDK version the tests ran
 * (bench/sdk-bundling.ts; figures in infra/README.md).
 */
export const BUNDLE_AWS_SDK = true;

/** The esbuild options of every handler bundle. */
export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: true,
  // Stack traces need the mappings only; the sources would double the map's size and its parse time.
  sourcesContent: false,
  // ESM entry points of dependencies (the SDK's dist-es) tree-shake better.
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  external: BUNDLE_AWS_SDK ? [] : ['@aws-sdk/*'],
  // Lambda's Node.js runtime treats .mjs as an ES module.
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Files that change how imports resolve (or what esbuild may drop) without being esbuild inputs themselves. */
const RESOLUTION_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'functions/lib/clients/package.json'];

export interface HandlerBundle {
  /** A directory holding `index.mjs` and `index.mjs.map`: the function's code asset. */
  readonly dir: string;
  /** Size of index.mjs. */
  readonly bytes: number;
}

const memo = new Map<string, HandlerBundle>();

/** The bundle of each handler file (`preflight-mesh`, `api/onboardings`), built together once per process. */
export function handlerBundles(files: readonly string[]): ReadonlyMap<string, HandlerBundle> {
  const wanted = [...new Set(files)].sort();
  if (wanted.some((f) => !memo.has(f))) {
    for (const [f, b] of buildOrReuse(wanted)) memo.set(f, b);
  }
  return new Map(wanted.map((f) => [f, memo.get(f)!]));
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Digest of the given inputs' contents, or undefined when one is gone. */
function digestOf(inputs: readonly string[], salt: string): string | undefined {
  const h = createHash('sha256').update(salt);
  for (const rel of [...inputs, ...RESOLUTION_FILES].sort()) {
    const abs = resolve(PROJECT_ROOT, rel);
    if (!existsSync(abs)) return undefined;
    h.update(rel).update('\0').update(sha256(readFileSync(abs))).update('\n');
  }
  return h.digest('hex');
}

function buildOrReuse(files: readonly string[]): Map<string, HandlerBundle> {
  const salt = JSON.stringify({ esbuildVersion, BUNDLE_OPTIONS, files });
  const root = process.env.MESH_ONBOARDING_BUNDLE_CACHE || join(tmpdir(), 'ecs-mesh-onboarding-bundles');
  const keyDir = join(root, sha256(salt).slice(0, 16));
  const listFile = join(keyDir, 'inputs.json');
  mkdirSync(keyDir, { recursive: true });

  // The inputs of the last build: if none of them changed, neither did its output.
  const lastInputs = existsSync(listFile) ? (JSON.parse(readFileSync(listFile, 'utf8')) as string[]) : undefined;
  const lastDigest = lastInputs && digestOf(lastInputs, salt);
  if (lastDigest && existsSync(join(keyDir, lastDigest, 'done'))) return collect(join(keyDir, lastDigest), files);

  const tmp = join(keyDir, `building-${randomUUID()}`);
  const result = buildSync({
    ...BUNDLE_OPTIONS,
    entryPoints: Object.fromEntries(files.map((f) => [`${f}/index`, join(PROJECT_ROOT, 'functions', `${f}.ts`)])),
    outdir: tmp,
    absWorkingDir: PROJECT_ROOT,
    metafile: true,
    external: [...BUNDLE_OPTIONS.external],
    mainFields: [...BUNDLE_OPTIONS.mainFields],
  });
  for (const f of files) portableSourceMap(join(tmp, f, 'index.mjs.map'));
  const inputs = Object.keys((result.metafile as Metafile).inputs).filter((p) => !p.includes(':'));
  const digest = digestOf(inputs, salt);
  if (!digest) throw new Error('a bundle input vanished during the build');
  writeFileSync(join(tmp, 'done'), '');
  const final = join(keyDir, digest);
  // Content-addressed: a directory, once complete, never changes; a concurrent build of the same inputs is equal.
  if (existsSync(final)) rmSync(tmp, { recursive: true, force: true });
  else renameSync(tmp, final);
  const list = join(keyDir, `inputs-${randomUUID()}.json`);
  writeFileSync(list, JSON.stringify(inputs));
  renameSync(list, listFile);
  return collect(final, files);
}

/**
 * Rewrites the map's sources relative to the project root (`functions/lib/request.ts`,
 * `node_modules/zod/...`), so stack traces read the same on Lambda and a bundle's bytes (its
 * asset hash, hence whether CloudFormation updates the function) do not depend on where the
 * checkout or the cache lives.
 */
function portableSourceMap(mapFile: string): void {
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources: string[] };
  const modules = realpathSync(join(PROJECT_ROOT, 'node_modules'));
  map.sources = map.sources.map((src) => {
    const abs = resolve(dirname(mapFile), src);
    return abs.startsWith(`${modules}/`) ? join('node_modules', relative(modules, abs)) : relative(PROJECT_ROOT, abs);
  });
  writeFileSync(mapFile, JSON.stringify(map));
}

function collect(dir: string, files: readonly string[]): Map<string, HandlerBundle> {
  return new Map(
    files.map((f) => {
      const fdir = join(dir, f);
      return [f, { dir: fdir, bytes: statSync(join(fdir, 'index.mjs')).size }];
    }),
  );
}
