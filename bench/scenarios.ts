/**
 * Section (a) of `npm run bench`: the workflows' own costs, each scenario in one sandbox, in
 * order (each depends on what the previous left): a fresh onboarding, a re-run of the same
 * request, a changed request, further workloads into the same VPC and cluster, one
 * re-verification of them all, and their teardowns. Per scenario: state transitions and Lambda
 * invocations (from the engine's events), AWS calls (the shared clients' `onCommand` recorder,
 * i.e. the SDK middleware every handler's client carries) and Kubernetes requests (the
 * stand-in's request log). Wait states last `waitMs` (the engine's scaling), so poll loops run
 * as often as the sandbox's simulated scheduler and mesh make them, not as AWS would.
 */
import { readFileSync } from 'node:fs';
import { onCommand, type SentCommand } from '../functions/lib/clients.ts';
import type { MachineName } from '../statemachine/definition.ts';
import { seedMesh } from '../local/kube-api-standin.ts';
import { runWorkflow } from '../local/engine/run-workflow.ts';
import { SANDBOX_ACCOUNT, startSandbox } from '../local/sandbox.ts';
import { countTransitions, splitAwsCalls, tallyKubeRequests, USD_PER_TRANSITION, type AwsCallSplit, type CallTally, type EngineEventLike, type TransitionCount } from './report.ts';

export type ScenarioKey = 'fresh' | 'rerun' | 'changed' | 'another' | 'reverify' | 'teardown-one' | 'teardown-last';

export interface ScenarioResult {
  key: ScenarioKey;
  label: string;
  machine: MachineName;
  status: string;
  error?: string;
  /** Workloads the execution covered (the re-verification's Map items; 1 otherwise). */
  workloads: number;
  /** Local wall time of the execution (the sandbox, Waits scaled): not an AWS figure. */
  wallMs: number;
  counts: TransitionCount;
  costUsd: number;
  aws: AwsCallSplit;
  kube: CallTally;
  /** Local milliseconds per Task state (summed over its runs): where the sandbox run spent its time (folded in from the former bench/onboard-workflow.ts). */
  stepMs: Record<string, number>;
  /** What the onboarding result listed (created / updated / reused entries). */
  resources?: { created: number; updated: number; reused: number };
}

export interface ScenarioOptions {
  waitMs: number;
  retryIntervalMs: number;
  /** How many workloads the re-verification covers (the first plus this many minus one). */
  reverifyWorkloads: number;
  log?: (line: string) => void;
}

type Request = { workloadGroup: { namespace: string; name: string }; ecs: Record<string, unknown> & { service: string; family: string; desiredCount: number }; app: Record<string, unknown> & { name: string; image: string } };

const example = (): Request => JSON.parse(readFileSync(new URL('../examples/bookinfo-ratings.json', import.meta.url), 'utf8')) as Request;

/** A distinct workload of the example (its own WorkloadGroup, service and task definition family). */
export function workloadOf(base: Request, name: string): Request {
  return { ...base, workloadGroup: { ...base.workloadGroup, name }, ecs: { ...base.ecs, service: name, family: `bookinfo_${name}` }, app: { ...base.app, name } };
}

export async function runScenarios(opts: ScenarioOptions): Promise<ScenarioResult[]> {
  const log = opts.log ?? (() => undefined);
  const sandbox = await startSandbox({ intervalMs: 100 });
  let calls: SentCommand[] = [];
  const stopRecording = onCommand((c) => {
    calls.push(c);
  });
  const results: ScenarioResult[] = [];

  async function measure(key: ScenarioKey, label: string, machine: MachineName, input: unknown, workloads = 1): Promise<ScenarioResult> {
    calls = [];
    const events: EngineEventLike[] = [];
    const kubeFrom = sandbox.kube.requests.length;
    const o = await runWorkflow(input, { machine, waitMs: opts.waitMs, retryIntervalMs: opts.retryIntervalMs, onEngineEvent: (e) => events.push(e as EngineEventLike) });
    // The calls include functions/execution-ended.ts, which EventBridge runs at the end of every onboarding and teardown on AWS.
    const counts = countTransitions(events);
    const output = o.output as { created?: unknown[]; updated?: unknown[]; reused?: unknown[] } | undefined;
    const r: ScenarioResult = {
      key,
      label,
      machine,
      status: o.status,
      ...(o.status === 'SUCCEEDED' ? {} : { error: `${o.error}: ${o.cause}` }),
      workloads,
      wallMs: o.durationMs,
      counts,
      costUsd: counts.transitions * USD_PER_TRANSITION,
      aws: splitAwsCalls(calls, sandbox.registryTable),
      kube: tallyKubeRequests(sandbox.kube.requests.slice(kubeFrom)),
      stepMs: o.history.filter((h) => h.stateType === 'Task').reduce<Record<string, number>>((m, h) => ({ ...m, [h.state]: (m[h.state] ?? 0) + (h.durationMs ?? 0) }), {}),
      ...(machine === 'onboard-workload' && Array.isArray(output?.created) ? { resources: { created: output.created.length, updated: output.updated?.length ?? 0, reused: output.reused?.length ?? 0 } } : {}),
    };
    log(`  ${label}: ${r.status}, ${counts.transitions} transitions, ${r.aws.resource.total} AWS calls (${r.aws.resource.mutating} mutating), ${r.wallMs} ms`);
    results.push(r);
    return r;
  }

  try {
    const first = example();
    const others = Array.from({ length: Math.max(0, opts.reverifyWorkloads - 1) }, (_, i) => workloadOf(first, `bench${i + 1}`));
    for (const w of others) seedMesh(sandbox.kube.store, { workloadGroup: w.workloadGroup.name, account: SANDBOX_ACCOUNT });

    await measure('fresh', 'fresh onboarding (empty account: network, cluster, identity created)', 'onboard-workload', first);
    await measure('rerun', 're-run of the same request (everything reused)', 'onboard-workload', first);
    const changed: Request = { ...first, ecs: { ...first.ecs, desiredCount: 0 }, app: { ...first.app, image: first.app.image.replace(/:[^:/]+$/, ':1.16.5') } };
    await measure('changed', 'changed request (new app image, desiredCount 1 → 0)', 'onboard-workload', changed);
    // Back to the original request, so every workload is whole for the re-verification.
    await runWorkflow(first, { waitMs: opts.waitMs, retryIntervalMs: opts.retryIntervalMs });
    for (const [i, w] of others.entries()) {
      if (i === 0) await measure('another', 'another workload into the same VPC and cluster (shared network reused)', 'onboard-workload', w);
      else await runWorkflow(w, { waitMs: opts.waitMs, retryIntervalMs: opts.retryIntervalMs });
    }
    await measure('reverify', `re-verification of ${1 + others.length} workloads (one execution, a Map over them)`, 'reverify-workloads', {}, 1 + others.length);
    const keyOf = (w: Request) => `${w.workloadGroup.namespace}/${w.workloadGroup.name}`;
    for (const [i, w] of others.entries()) {
      if (i === 0) await measure('teardown-one', `teardown of one of ${1 + others.length} workloads (shared network and cluster kept)`, 'offboard-workload', { workload: keyOf(w) });
      else await runWorkflow({ workload: keyOf(w) }, { machine: 'offboard-workload', waitMs: opts.waitMs, retryIntervalMs: opts.retryIntervalMs });
    }
    await measure('teardown-last', 'teardown of the last workload (shared network and cluster deleted too)', 'offboard-workload', { workload: keyOf(first) });
    return results;
  } finally {
    stopRecording();
    await sandbox.stop();
  }
}
