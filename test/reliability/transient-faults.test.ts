/**
 * Throttling and transient faults (issue 9, item 6): 30% of AWS call attempts are answered with
 * a throttling or 5xx error in the service's own protocol (before they reach the emulator), and
 * 30% of Kubernetes API requests get a 429 with Retry-After, a 500, or no answer until the
 * connection drops (local/fault-proxy.ts in front of the stand-in). Five distinct workloads
 * onboard all at once into one VPC, racing for the shared network they all need (made under the
 * per-VPC lease of functions/lib/network-lease.ts): every one succeeds, nothing is duplicated,
 * and the retries show in the logs and the metrics. FAULT_ONE_FIRST=1 onboards the first alone
 * (it makes the shared network) and then the other four at once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { resetClients, setFaultInjector } from '../../functions/lib/clients.ts';
import { metrics } from '../../functions/lib/middleware.ts';
import { seedMesh } from '../../local/kube-api-standin.ts';
import { runWorkflow, type ExecutionOutcome, type RunOptions, type StepEvent } from '../../local/engine/run-workflow.ts';
import { startFaultProxy, type FaultProxy } from '../../local/fault-proxy.ts';
import { SANDBOX_ACCOUNT, startSandbox, type Sandbox } from '../../local/sandbox.ts';
import { transientAwsFaults } from '../support/aws-faults.ts';
import { duplicates, inventory } from '../support/inventory.ts';
import { captureLogs } from '../support/logs.ts';
import { bookinfoInput } from '../support/requests.ts';

const RATE = Number(process.env.FAULT_RATE ?? 0.3);
const SEED = Number(process.env.FAULT_SEED ?? 20261129);
const WORKLOADS = ['ratings', 'reviews', 'details', 'productpage', 'reviews-v2'];
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };

let sb: Sandbox;
let proxy: FaultProxy;

beforeAll(async () => {
  sb = await startSandbox({ intervalMs: 100 });
  for (const wg of WORKLOADS) seedMesh(sb.kube.store, { workloadGroup: wg, account: SANDBOX_ACCOUNT });
  proxy = await startFaultProxy({ target: sb.kube.url, rate: RATE, seed: SEED });
  // The orchestrator's Kubernetes client now goes through the proxy.
  process.env.MESH_KUBE_API_URL = proxy.url;
  // The sandbox turns SDK retries off (moto's HTML 500s are bugs to read, not to retry); here they are the point: Lambda's setting.
  process.env.AWS_MAX_ATTEMPTS = '3';
  resetClients();
}, 120_000);
afterAll(async () => {
  setFaultInjector(undefined);
  await proxy?.stop();
  await sb?.stop();
});

function requestFor(name: string) {
  const base = bookinfoInput();
  return { ...base, workloadGroup: { namespace: 'bookinfo', name }, ecs: { ...base.ecs, service: name, family: `bookinfo_${name.replace(/-/g, '_')}` } };
}

describe(`transient faults: ${RATE * 100}% of AWS and Kubernetes requests fail`, () => {
  it('onboards five workloads, each once, with every retry in the logs and metrics', async () => {
    const aws = transientAwsFaults({ rate: RATE, seed: SEED });
    const stepRetries: StepEvent[] = [];
    // Called through (metrics are off in tests: POWERTOOLS_METRICS_DISABLED); the calls are what is counted.
    const spy = vi.spyOn(metrics, 'addMetric');
    const started = Date.now();
    setFaultInjector(aws);
    const onEvent = (e: StepEvent) => e.type === 'retried' && stepRetries.push(e);
    let outcomes: ExecutionOutcome[] = [];
    const { lines } = await captureLogs(async () => {
      const run = (w: string) => runWorkflow(requestFor(w), { ...FAST, onEvent, executionName: `faults-${w}` });
      const alone = process.env.FAULT_ONE_FIRST === '1' ? WORKLOADS.slice(0, 1) : [];
      for (const w of alone) outcomes.push(await run(w));
      outcomes = [...outcomes, ...(await Promise.all(WORKLOADS.slice(alone.length).map(run)))];
    });
    setFaultInjector(undefined);
    const metricNames = spy.mock.calls.map((c) => c[0]);
    spy.mockRestore();
    const ms = Date.now() - started;

    // The faults happened, and each retry is visible.
    const sdkRetryLogs = lines.filter((l) => l.message === 'AWS call retried by the SDK');
    const kubeRetryLogs = lines.filter((l) => l.message === 'Kubernetes API call retried');
    const retryableStepFailures = lines.filter((l) => l.message === 'step failed' && l.retryable === true);
    const count = (n: string) => metricNames.filter((m) => m === n).length;
    const leaseWaits = retryableStepFailures.filter((l) => JSON.stringify(l).includes('network lease taken'));
    const slowest = (o: ExecutionOutcome) =>
      o.history
        .filter((h) => h.stateType === 'Task')
        .sort((a, b) => (b.durationMs ?? 0) - (a.durationMs ?? 0))
        .slice(0, 3)
        .map((h) => `${h.state} ${((h.durationMs ?? 0) / 1000).toFixed(1)} s${h.attempts > 1 ? ` (${h.attempts} attempts)` : ''}`)
        .join(', ');
    const kubeFaults = proxy.stats.faults['429'] + proxy.stats.faults['500'] + proxy.stats.faults.timeout;
    const byCode = Object.entries(aws.injected.reduce<Record<string, number>>((acc, f) => ({ ...acc, [`${f.code} ${f.status}`]: (acc[`${f.code} ${f.status}`] ?? 0) + 1 }), {}))
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ');
    console.log(
      [
        `Transient faults at ${RATE * 100}% (seed ${SEED}), ${process.env.FAULT_ONE_FIRST === '1' ? 'one first, then four at once' : 'all five at once'}: ${outcomes.filter((o) => o.status === 'SUCCEEDED').length}/${WORKLOADS.length} onboardings SUCCEEDED in ${Math.round(ms / 1000)} s`,
        `  AWS: ${aws.injected.length} faults injected (${byCode}); ${sdkRetryLogs.length} SDK retries logged and counted (AwsCallRetried)`,
        `  Kubernetes: ${proxy.stats.requests} requests, ${kubeFaults} faults (429 ×${proxy.stats.faults['429']}, 500 ×${proxy.stats.faults['500']}, dropped ×${proxy.stats.faults.timeout}); ${kubeRetryLogs.length} client retries logged and counted (KubernetesCallRetried)`,
        `  Steps: ${stepRetries.length} step-level retries by the state machine (${[...new Set(stepRetries.map((r) => `${r.state} (${r.error})`))].join(', ') || 'none'}); ${retryableStepFailures.length} retryable step failures logged and counted (StepFailedRetryable)`,
        `  Network lease: ${leaseWaits.length} steps gave up waiting for another run's lease (ResourceNotReadyError, retried by the state machine)`,
        ...outcomes.map((o) => `  ${o.executionName}: ${Math.round(o.durationMs / 1000)} s; slowest steps ${slowest(o)}`),
      ].join('\n'),
    );

    // Every onboarding succeeded, and the account holds one of each resource.
    expect(outcomes.map((o) => `${o.executionName}: ${o.status}${o.error ? ` ${o.error}: ${o.cause}` : ''}`)).toEqual(WORKLOADS.map((w) => `faults-${w}: SUCCEEDED`));
    const inv = await inventory(sb.moto.endpoint, { registryTable: sb.registryTable, eksClusterSecurityGroupId: sb.vpc.clusterSecurityGroupId });
    expect(duplicates(inv)).toEqual([]);
    for (const w of WORKLOADS) {
      expect(inv[`ecs:service:bookinfo/${w}`], w).toBe(1);
      expect(inv[`registry:bookinfo/${w}:ONBOARDED`], w).toBe(1);
    }
    expect(Object.keys(inv).filter((k) => k.startsWith('ec2:nat-gateway:'))).toHaveLength(1);

    expect(aws.injected.length).toBeGreaterThan(0);
    expect(kubeFaults).toBeGreaterThan(0);
    // An injected AWS fault is retried by the SDK unless it hit the call's last attempt or the retry quota (then the step fails, retryably).
    expect(sdkRetryLogs.length).toBeGreaterThan(0);
    expect(sdkRetryLogs.length).toBeLessThanOrEqual(aws.injected.length);
    expect(count('AwsCallRetried')).toBe(sdkRetryLogs.length);
    expect(kubeRetryLogs.length).toBeGreaterThan(0);
    expect(count('KubernetesCallRetried')).toBe(kubeRetryLogs.length);
    // Each step-level retry follows a retryable failure that was logged and counted.
    expect(retryableStepFailures.length).toBeGreaterThanOrEqual(stepRetries.length);
    expect(count('StepFailedRetryable')).toBe(retryableStepFailures.length);
  }, 900_000);
});
