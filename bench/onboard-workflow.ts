/**
 * Benchmark: the onboarding workflow in the local sandbox (`npm run bench`).
 * Measures sandbox start-up, a first onboarding (everything created), re-runs of the same
 * request (everything reused: the idempotent path every resume takes) and onboardings of
 * further workloads into the same VPC (NAT gateway and task subnet reused), with the
 * per-step medians. Wait states are scaled to --wait-ms, as in `npm start`.
 */
import { parseArgs } from 'node:util';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'wait-ms': { type: 'string', default: '250' } } });
const runs = Number(values.runs);
const waitMs = Number(values['wait-ms']);

const { readFileSync } = await import('node:fs');
const { startSandbox } = await import('../local/sandbox.ts');
const { runWorkflow } = await import('../local/engine/run-workflow.ts');

const request = JSON.parse(readFileSync(new URL('../examples/bookinfo-ratings.json', import.meta.url), 'utf8')) as { ecs: Record<string, unknown> };

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

const t0 = performance.now();
const sandbox = await startSandbox();
const startup = performance.now() - t0;
const stepTimes = new Map<string, number[]>();
const totals: Record<string, number[]> = { first: [], rerun: [], other: [] };

async function timed(kind: keyof typeof totals, input: unknown): Promise<void> {
  const o = await runWorkflow(input, { waitMs });
  if (o.status !== 'SUCCEEDED') throw new Error(`${kind} run ${o.status}: ${o.error} ${o.cause}`);
  totals[kind]!.push(o.durationMs);
  if (kind === 'rerun') for (const h of o.history) if (h.stateType === 'Task') stepTimes.set(h.state, [...(stepTimes.get(h.state) ?? []), h.durationMs ?? 0]);
}

try {
  await timed('first', request);
  for (let i = 0; i < runs; i++) await timed('rerun', request);
  for (let i = 0; i < runs; i++) await timed('other', { ...request, ecs: { ...request.ecs, service: `ratings-${i}`, family: `bookinfo_ratings_${i}` } });
} finally {
  await sandbox.stop();
}

const row = (name: string, xs: number[]) => {
  const s = stats(xs);
  return `| ${name} | ${xs.length} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} |`;
};
console.log(`Node ${process.version}, ${process.platform}/${process.arch}, Wait states scaled to ${waitMs} ms\n`);
console.log('| phase | runs | median ms | min ms | max ms |\n|---|---|---|---|---|');
console.log(row('sandbox start-up (moto, stand-in, seed)', [startup]));
console.log(row('first onboarding (all created)', totals.first!));
console.log(row('re-run, same request (all reused)', totals.rerun!));
console.log(row('another service, same cluster and VPC', totals.other!));
console.log('\nPer step on a re-run (median ms):\n\n| step | median ms | max ms |\n|---|---|---|');
for (const [step, xs] of stepTimes) console.log(`| ${step} | ${stats(xs).median} | ${stats(xs).max} |`);
