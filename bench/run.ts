/**
 * `npm run bench`: every performance figure of issue 11, side by side in one run, each with its
 * target; writes bench/results.json and the README's Performance block, prints the same.
 *
 *   (c) bundles: per handler, minified bundle size and cold module load beside a floor handler
 *       with the same SDK clients (bench/bundles.ts), run first, while nothing else runs;
 *   (b) latency: the AWS latency model (bench/latency-model.ts): the workflow's end-to-end time,
 *       the critical path and the seed's manual procedure under the same model, in a fresh VPC
 *       and in a VPC that already has a NAT gateway (which the workflow reuses);
 *   (a) scenarios: transitions, Lambda invocations, AWS calls and Kubernetes requests per
 *       fresh onboarding, re-run, changed request, re-verification and teardown (bench/scenarios.ts);
 *   (d) concurrency: 1, 10, 30, 50 onboardings at once through the local API (bench/concurrency.ts).
 *
 * Options: --skip bundles,latency,scenarios,concurrency; --runs <cold loads per bundle, median>;
 * --levels 1,10,30,50; --wait-ms <ms per Wait state>; --reverify-workloads <n>; --no-readme
 * (with --skip the README is left alone unless --readme is given); --out <results path>.
 */
import { cpus, totalmem } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const SECTIONS = ['bundles', 'latency', 'scenarios', 'concurrency'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  allowNegative: true,
  options: {
    skip: { type: 'string', default: '' },
    // Three cold loads per bundle: the median of three already settles to a few ms, and ~45 bundles plus floors are timed.
    runs: { type: 'string', default: '3' },
    levels: { type: 'string', default: '1,10,30,50' },
    'wait-ms': { type: 'string', default: '50' },
    'retry-interval-ms': { type: 'string', default: '100' },
    'reverify-workloads': { type: 'string', default: '3' },
    'deadline-s': { type: 'string', default: '120' },
    readme: { type: 'boolean' },
    out: { type: 'string' },
  },
});
const skip = new Set(values.skip.split(',').map((s) => s.trim()).filter(Boolean));
for (const s of skip) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`--skip ${s}: not one of ${SECTIONS.join(', ')}`);
const runs = Number(values.runs);
const levels = values.levels.split(',').map(Number);
const waitMs = Number(values['wait-ms']);
const retryIntervalMs = Number(values['retry-interval-ms']);
const reverifyWorkloads = Number(values['reverify-workloads']);
const writeReadme = values.readme ?? skip.size === 0;

const { allOf, atMost, bundleRatioText, compactCounts, exactly, figure, figureTable, hasSdkClients, replaceReadmeBlock, summarize, table, usd, USD_PER_TRANSITION, worstBundle } = await import('./report.ts');
type Figure = import('./report.ts').Figure;
type ScenarioResult = import('./scenarios.ts').ScenarioResult;
type ConcurrencyResult = import('./concurrency.ts').ConcurrencyResult;

type LatencyResult = import('./latency-model.ts').LatencyFigures;
type BundleRow = import('./bundles.ts').BundleFigure;

const t0 = performance.now();
const log = (line: string) => console.error(line);
const errors: Partial<Record<Section, string>> = {};
let bundles: BundleRow[] | undefined;
let latency: LatencyResult | undefined;
let scenarios: ScenarioResult[] | undefined;
const concurrency: ConcurrencyResult[] = [];
const sectionSeconds: Partial<Record<Section, number>> = {};

async function section(name: Section, fn: () => Promise<void>): Promise<void> {
  if (skip.has(name)) return log(`${name}: skipped`);
  log(`${name}...`);
  const s = performance.now();
  try {
    await fn();
  } catch (e) {
    errors[name] = `${(e as Error).name}: ${(e as Error).message}`;
    log(`${name} FAILED: ${errors[name]}`);
  }
  sectionSeconds[name] = Math.round((performance.now() - s) / 100) / 10;
  log(`${name}: ${sectionSeconds[name]} s`);
}

// Bundles first: cold loads are timed while no emulator runs beside them.
await section('bundles', async () => {
  const { measureBundles } = await import('./bundles.ts');
  bundles = await measureBundles({ runs });
});
await section('latency', async () => {
  const { runLatencyModel } = await import('./latency-model.ts');
  latency = await runLatencyModel();
});
await section('scenarios', async () => {
  const { runScenarios } = await import('./scenarios.ts');
  scenarios = await runScenarios({ waitMs, retryIntervalMs, reverifyWorkloads, log });
});
await section('concurrency', async () => {
  const { runConcurrency } = await import('./concurrency.ts');
  for (const n of levels) concurrency.push(await runConcurrency(n, { waitMs, retryIntervalMs, deadlineMs: Number(values['deadline-s']) * 1000, log }));
});
const totalSeconds = Math.round((performance.now() - t0) / 1000);

// ---------------------------------------------------------------- figures

const figures: Figure[] = [];
const sc = (k: ScenarioResult['key']) => scenarios?.find((s) => s.key === k);
const ok = (s: ScenarioResult | undefined) => (s && s.status !== 'SUCCEEDED' ? ` (run ${s.status})` : '');
{
  const S = 'Workflow cost';
  const fresh = sc('fresh');
  const rerun = sc('rerun');
  const rev = sc('reverify');
  const perWorkload = rev ? rev.counts.transitions / rev.workloads : null;
  figures.push(
    figure(S, 'State transitions, fresh onboarding (sandbox)', fresh?.counts.transitions ?? null, fresh ? `${fresh.counts.transitions} (${usd(fresh.costUsd)})${ok(fresh)}` : undefined, atMost(45)),
    figure(S, 'Lambda invocations, fresh onboarding', fresh?.counts.lambdaInvocations ?? null),
    figure(S, 'State transitions per workload, re-verification', perWorkload, rev && perWorkload !== null ? `${perWorkload.toFixed(1)} (${rev.counts.transitions} for ${rev.workloads})${ok(rev)}` : undefined, atMost(12)),
    figure(S, 'AWS calls, fresh onboarding', fresh?.aws.resource.total ?? null, fresh ? `${fresh.aws.resource.total} (+${fresh.aws.registry.total} registry)` : undefined, atMost(40)),
    figure(S, 'AWS calls, re-run', rerun?.aws.resource.total ?? null, rerun ? `${rerun.aws.resource.total} (+${rerun.aws.registry.total} registry)` : undefined, atMost(20)),
    figure(S, 'Mutating AWS calls, re-run', rerun?.aws.resource.mutating ?? null, rerun ? `${rerun.aws.resource.mutating}${rerun.aws.resource.mutating ? `: ${compactCounts(rerun.aws.resource.mutatingOperations)}` : ''}` : undefined, exactly(0)),
  );
}
{
  const S = 'AWS latency model';
  const l = latency;
  const s = (x: number | undefined) => (x === undefined ? undefined : `${x.toFixed(0)} s`);
  const n = l?.existingNat;
  figures.push(
    figure(S, 'Workflow end to end, fresh VPC', l?.workflowSeconds ?? null, s(l?.workflowSeconds)),
    figure(S, 'Critical-path lower bound, fresh VPC', l?.criticalPathSeconds ?? null, s(l?.criticalPathSeconds)),
    figure(S, "Seed's manual procedure (makes a NAT gateway in either VPC)", l?.manualSeconds ?? null, s(l?.manualSeconds)),
    figure(S, 'Workflow ÷ critical path, fresh VPC', l?.ratioToCriticalPath ?? null, l ? l.ratioToCriticalPath.toFixed(2) : undefined, atMost(1.1, '≤ 1.10')),
    figure(S, 'Workflow ÷ manual procedure, fresh VPC', l?.ratioToManual ?? null, l ? `${l.ratioToManual.toFixed(2)} (bound ${(l.criticalPathSeconds / l.manualSeconds).toFixed(2)})` : undefined, atMost(0.75, '≤ 0.75')),
    // The sandbox's poll loops turn as its simulations allow; under the model they turn as AWS's latencies make them: both are held to the target.
    figure(S, 'State transitions, fresh onboarding, under the model', l?.transitions ?? null, l ? `${l.transitions} (${usd(l.transitions * USD_PER_TRANSITION)}), ${l.lambdaInvocations} Lambda invocations` : undefined, atMost(45)),
    figure(S, 'Workflow end to end, VPC with a NAT gateway', n?.workflowSeconds ?? null, s(n?.workflowSeconds)),
    figure(S, 'Critical-path lower bound, VPC with a NAT gateway', n?.criticalPathSeconds ?? null, s(n?.criticalPathSeconds)),
    figure(S, 'Workflow ÷ critical path, VPC with a NAT gateway', n?.ratioToCriticalPath ?? null, n ? n.ratioToCriticalPath.toFixed(2) : undefined, atMost(1.1, '≤ 1.10')),
    figure(S, 'Workflow ÷ manual procedure, VPC with a NAT gateway', n?.ratioToManual ?? null, n ? n.ratioToManual.toFixed(2) : undefined, atMost(0.75, '≤ 0.75')),
    figure(S, 'State transitions, VPC with a NAT gateway, under the model', n?.transitions ?? null, n ? `${n.transitions} (${usd(n.transitions * USD_PER_TRANSITION)}), ${n.lambdaInvocations} Lambda invocations` : undefined, atMost(45)),
  );
}
const bundleRatios = (bundles ?? []).map((b) => ({ ...b, sizeRatio: b.bytes / b.floorBytes, loadRatio: b.loadMs / b.floorLoadMs }));
// A handler with no SDK client (record-plan) has an empty module for a floor: it is shown as n/a and counts in no worst.
const comparedBundles = bundleRatios.filter((b) => hasSdkClients(b.clients));
{
  const S = 'Bundles';
  const ws = worstBundle(bundleRatios, 'sizeRatio');
  const wl = worstBundle(bundleRatios, 'loadRatio');
  const of = (w: { compared: number }) => (w.compared ? `of ${w.compared} handlers with SDK clients` : 'handler with SDK clients');
  figures.push(
    figure(S, `Bundle size ÷ floor, worst ${of(ws)}`, ws.worst?.sizeRatio ?? null, ws.worst ? `${ws.worst.sizeRatio.toFixed(2)} (${ws.worst.handler})` : undefined, atMost(1.3, '≤ 1.30')),
    figure(S, `Cold load ÷ floor, worst ${of(wl)}`, wl.worst?.loadRatio ?? null, wl.worst ? `${wl.worst.loadRatio.toFixed(2)} (${wl.worst.handler})` : undefined, atMost(1.3, '≤ 1.30')),
  );
}
// Each level's four figures in results.json; one row per level in the tables.
const concurrencyFigures: Figure[] = [];
for (const c of concurrency) {
  const S = 'Concurrency';
  const parts = [
    figure(S, `${c.count} at once: succeeded`, c.succeeded, `${c.succeeded}/${c.count} succeeded${c.timedOut ? ' (deadline passed)' : ''}`, exactly(c.count, 'all succeed')),
    figure(S, `${c.count} at once: wall time`, c.wallMs / 1000, `${(c.wallMs / 1000).toFixed(1)} s`, atMost(60, '≤ 60 s')),
    figure(S, `${c.count} at once: NAT gateways`, c.natGateways, `${c.natGateways} NAT gateway${c.natGateways === 1 ? '' : 's'}`, exactly(1, '1 NAT gateway')),
    figure(S, `${c.count} at once: duplicate resources`, c.duplicates.length, c.duplicates.length ? `duplicates: ${c.duplicates.slice(0, 3).join(', ')}` : 'no duplicate', exactly(0, 'no duplicate')),
  ];
  concurrencyFigures.push(...parts);
  figures.push(allOf(S, `${c.count} onboarding${c.count === 1 ? '' : 's'} at once, one VPC and cluster`, parts));
}
// Per handler in results.json; the tables show the worst and the per-handler table.
const handlerFigures = bundleRatios.flatMap((b) =>
  hasSdkClients(b.clients)
    ? [
        figure('Bundles per handler', `${b.handler}: bundle ÷ floor`, b.sizeRatio, b.sizeRatio.toFixed(2), atMost(1.3, '≤ 1.30')),
        figure('Bundles per handler', `${b.handler}: cold load ÷ floor`, b.loadRatio, b.loadRatio.toFixed(2), atMost(1.3, '≤ 1.30')),
      ]
    : // No SDK client: the floor is an empty module, so no ratio and no target.
      [figure('Bundles per handler', `${b.handler}: bundle ÷ floor`, null, 'n/a (no SDK client)'), figure('Bundles per handler', `${b.handler}: cold load ÷ floor`, null, 'n/a (no SDK client)')],
);
const summary = summarize(figures);
const handlersWithin = comparedBundles.filter((b) => b.sizeRatio <= 1.3 && b.loadRatio <= 1.3).length;

// ---------------------------------------------------------------- tables

const cpu = cpus();
const machine = { cpus: cpu.length, model: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), platform: process.platform, arch: process.arch };
const date = new Date().toISOString();
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
const clientsOf = (c: BundleRow['clients']) => (!Array.isArray(c) ? c : c.length > 4 ? `${c.length} clients` : c.join(', ') || 'none');

const scenarioTable = scenarios
  ? table(
      ['scenario', 'transitions', 'Lambda invocations', 'Step Functions', 'AWS calls: mutating / read', 'registry calls: mutating / read', 'Kubernetes: mutating / read', 'local ms'],
      scenarios.map((s) => [
        `${s.label}${ok(s)}`,
        s.counts.transitions + (s.counts.retries ? ` (${s.counts.retries} retries)` : ''),
        s.counts.lambdaInvocations,
        usd(s.costUsd),
        `${s.aws.resource.total}: ${s.aws.resource.mutating} / ${s.aws.resource.readOnly}`,
        `${s.aws.registry.total}: ${s.aws.registry.mutating} / ${s.aws.registry.readOnly}`,
        `${s.kube.total}: ${s.kube.mutating} / ${s.kube.readOnly}`,
        s.wallMs,
      ]),
    )
  : undefined;
const callsTable = scenarios
  ? table(
      ['scenario', 'AWS calls by operation (mutating first)', 'registry', 'Kubernetes requests', 'states entered more than once'],
      scenarios.map((s) => [s.key, compactCounts(s.aws.resource.byOperation), compactCounts(s.aws.registry.byOperation), compactCounts(s.kube.byOperation), compactCounts(s.counts.repeated)]),
    )
  : undefined;
const bundleTable = bundleRatios.length
  ? table(
      ['handler', 'SDK clients', 'bundle', 'floor', '÷', 'cold load', 'floor', '÷'],
      bundleRatios.map((b) => [b.handler, clientsOf(b.clients), kib(b.bytes), kib(b.floorBytes), bundleRatioText(b, 'sizeRatio'), `${b.loadMs.toFixed(0)} ms`, `${b.floorLoadMs.toFixed(0)} ms`, bundleRatioText(b, 'loadRatio')]),
    )
  : undefined;
const concurrencyTable = concurrency.length
  ? table(
      ['at once', 'succeeded', 'wall time', 'NAT gateways', 'Elastic IPs', 'ECS clusters', 'our subnets', 'duplicates'],
      concurrency.map((c) => [c.count, `${c.succeeded}/${c.count}`, `${(c.wallMs / 1000).toFixed(1)} s`, c.natGateways, c.elasticIps, c.ecsClusters, c.subnets, c.duplicates.length]),
    )
  : undefined;

const header = `Measured ${date.slice(0, 10)} on ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, Node ${process.version}; the whole run took ${totalSeconds} s.`;
const reproduce = '**Reproduce:** `npm ci && npm run bench` (needs `moto_server` on the PATH; writes this block and `bench/results.json`; `npm run bench -- --skip concurrency --no-readme` for a quick look).';
const notes = [
  `*Transitions* are what Step Functions bills for a Standard workflow: each state entered (inside Map iterations and Parallel branches too) plus each retry, at ${usd(USD_PER_TRANSITION * 1000)} per 1,000 (us-east-1). *Lambda invocations*: Task states run, retries included (plus, for onboarding and teardown, one run of execution-ended from EventBridge, not counted here).`,
  '*AWS calls* are counted by the SDK middleware every handler client carries (`onCommand` in functions/lib/clients.ts), execution-ended included; the *registry* column is the workload registry\'s own DynamoDB bookkeeping (records, locks, network lease), kept apart. A *mutating call on a re-run* is any resource call whose operation is not a Describe/List/Get/... read: a create, put, tag, attach, update or delete; the registry\'s lock and status writes are not among them.',
  `Scenarios run in one sandbox in order; Wait states last ${waitMs} ms, so poll loops turn as often as the sandbox's simulations need, not as AWS would: the latency model counts them again under AWS timing. Concurrency: a fresh sandbox per level, every onboarding a distinct workload into one VPC and one ECS cluster through the local API.`,
];

// Why the fresh-VPC ratio to the manual procedure stays missed, and what the second scenario measures.
if (latency) {
  const bound = latency.criticalPathSeconds / latency.manualSeconds;
  notes.push(
    `*AWS latency model*: a recorded sandbox onboarding replayed on a virtual clock (bench/latency-model.ts). In a *fresh VPC* (no NAT gateway) the NAT gateway's wait, the tasks that cannot run before it and the agent make up most of any run: the critical-path lower bound alone is ${bound.toFixed(2)} × the manual procedure's time${bound > 0.75 ? ', so the ≤ 0.75 target is out of reach of any workflow there: it stays missed for a physical reason, not a fixable one' : ''}. In a *VPC with a NAT gateway* (an available public NAT gateway routed to the internet gateway, as in an EKS VPC with private node subnets) the workflow reuses it and makes none; the seed's manual procedure always makes its own, so it is compared with the same manual time.${latency.existingNat ? '' : ' That scenario was not measured in this run.'}`,
  );
}

const errorLines = Object.entries(errors).map(([k, v]) => `- **${k} failed**: ${v}`);
const skipped = [...skip].map((s) => `- ${s}: skipped`);
const targetsLine = `Targets: ${summary.met} met, ${summary.missed} missed${summary.missed ? ` (${summary.missedLabels.slice(0, 6).join('; ')}${summary.missedLabels.length > 6 ? '; ...' : ''})` : ''}${summary.unchecked ? `, ${summary.unchecked} not measured` : ''}.${comparedBundles.length ? ` Per handler: ${handlersWithin} of ${comparedBundles.length} with SDK clients within 1.3 × the floor in both size and cold load${bundleRatios.length > comparedBundles.length ? ` (${bundleRatios.length - comparedBundles.length} without any: n/a)` : ''}.` : ''}`;

function render(full: boolean): string {
  const parts: string[] = [header, '', reproduce, '', targetsLine, '', ...(errorLines.length || skipped.length ? [...errorLines, ...skipped, ''] : []), figureTable(figures)];
  if (scenarioTable) parts.push('', '**Per scenario**', '', scenarioTable);
  if (concurrencyTable) parts.push('', '**Concurrent onboardings**', '', concurrencyTable);
  if (bundleTable) parts.push('', full ? '**Per handler** (minified bundle and cold module load, a fresh process each, median)' : '<details><summary>Per handler: bundle and cold load beside the floor</summary>', '', bundleTable, ...(full ? [] : ['', '</details>']));
  if (callsTable) parts.push('', full ? '**Calls per scenario**' : '<details><summary>Calls per scenario, by operation</summary>', '', callsTable, ...(full ? [] : ['', '</details>']));
  parts.push('', ...notes.flatMap((n) => [n, '']));
  return parts.join('\n').trim();
}

const results = {
  date,
  machine,
  node: process.version,
  totalSeconds,
  sectionSeconds,
  options: { skip: [...skip], runs, levels, waitMs, retryIntervalMs, reverifyWorkloads },
  pricing: { usdPerTransition: USD_PER_TRANSITION, source: 'https://aws.amazon.com/step-functions/pricing/ (Standard workflows, us-east-1)' },
  summary,
  figures,
  detailFigures: [...concurrencyFigures, ...handlerFigures],
  errors,
  scenarios: scenarios ?? null,
  latency: latency ?? null,
  bundles: bundles ?? null,
  concurrency,
};
const out = values.out ?? fileURLToPath(new URL('./results.json', import.meta.url));
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
if (writeReadme) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, replaceReadmeBlock(readFileSync(path, 'utf8'), render(false)));
}
console.log(render(true));
console.log(`\nWrote ${relative(process.cwd(), out)}${writeReadme ? ' and the README block' : ' (README left alone)'}; ${totalSeconds} s.`);
process.exitCode = Object.keys(errors).length ? 1 : 0;
