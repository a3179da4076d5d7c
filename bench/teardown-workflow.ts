/**
 * Benchmark: the teardown workflow in the local sandbox (`npx tsx bench/teardown-workflow.ts`).
 * Each run onboards the bookinfo workload (a new task definition family each time: moto hands a
 * deleted revision's number out again), then tears it down: alone (everything goes, the shared
 * network and cluster too), or beside a second workload (shared resources kept). Wait states are
 * scaled to --wait-ms, as in `npm start`; the per-step medians are of the full teardowns.
 */
import { parseArgs } from 'node:util';

process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, 'wait-ms': { type: 'string', default: '250' } } });
const runs = Number(values.runs);
const waitMs = Number(values['wait-ms']);

const { readFileSync } = await import('node:fs');
const { startSandbox, SANDBOX_ACCOUNT } = await import('../local/sandbox.ts');
const { seedMesh } = await import('../local/kube-api-standin.ts');
const { runWorkflow } = await import('../local/engine/run-workflow.ts');

type Request = { workloadGroup: Record<string, unknown>; ecs: Record<string, unknown>; app: Record<string, unknown> };
const request = JSON.parse(readFileSync(new URL('../examples/bookinfo-ratings.json', import.meta.url), 'utf8')) as Request;

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

const sandbox = await startSandbox();
seedMesh(sandbox.kube.store, { workloadGroup: 'reviews', account: SANDBOX_ACCOUNT });
const stepTimes = new Map<string, number[]>();
const totals: Record<string, number[]> = { alone: [], shared: [] };

async function run(input: unknown, machine?: 'offboard-workload') {
  const o = await runWorkflow(input, { waitMs, ...(machine ? { machine } : {}) });
  if (o.status !== 'SUCCEEDED') throw new Error(`${machine ?? 'onboard'} ${o.status}: ${o.error} ${o.cause}`);
  return o;
}

try {
  for (let i = 0; i < runs; i++) {
    await run({ ...request, ecs: { ...request.ecs, family: `bench_ratings_${i}` } });
    const o = await run({ workload: 'bookinfo/ratings' }, 'offboard-workload');
    totals.alone!.push(o.durationMs);
    for (const h of o.history) if (h.stateType === 'Task') stepTimes.set(h.state, [...(stepTimes.get(h.state) ?? []), h.durationMs ?? 0]);
  }
  for (let i = 0; i < runs; i++) {
    await run({ ...request, ecs: { ...request.ecs, family: `bench_ratings_shared_${i}` } });
    await run({ ...request, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...request.ecs, service: 'reviews', family: `bench_reviews_${i}` }, app: { ...request.app, name: 'reviews' } });
    totals.shared!.push((await run({ workload: 'bookinfo/reviews' }, 'offboard-workload')).durationMs);
    await run({ workload: 'bookinfo/ratings' }, 'offboard-workload');
  }
} finally {
  await sandbox.stop();
}

const row = (name: string, xs: number[]) => {
  const s = stats(xs);
  return `| ${name} | ${xs.length} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} |`;
};
console.log(`Node ${process.version}, ${process.platform}/${process.arch}, Wait states scaled to ${waitMs} ms\n`);
console.log('| teardown | runs | median ms | min ms | max ms |\n|---|---|---|---|---|');
console.log(row('the only workload (shared network and cluster deleted too)', totals.alone!));
console.log(row('one of two in the cluster and VPC (shared kept)', totals.shared!));
console.log('\nPer step, the only workload (median ms):\n\n| step | median ms | max ms |\n|---|---|---|');
for (const [step, xs] of stepTimes) console.log(`| ${step} | ${stats(xs).median} | ${stats(xs).max} |`);
