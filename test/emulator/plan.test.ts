/**
 * The dry run, end to end through the local API (the deployed API shares the contract) and the
 * very workflow the apply runs: every AWS command any code in this process sends is recorded
 * (the SDK middleware of functions/lib/clients.ts). A plan makes no mutating call at all, the
 * registry included; the apply that follows does exactly what the plan said: each resource it
 * created, updated or reused is one the plan listed with that action (and, when it existed, the
 * same id); a re-plan after it reuses everything; a changed request plans the changes the apply
 * then makes; problems are reported in the plan, and its status says blocked.
 */
import { describe, expect, it } from 'vitest';
import { onCommand, type SentCommand } from '../../functions/lib/clients.ts';
import type { ExecutionView } from '../../functions/lib/onboarding-api.ts';
import type { OnboardingPlan, PlanEntry } from '../../functions/lib/plan.ts';
import type { LedgerEntry } from '../../functions/lib/workflow.ts';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { runWorkflow } from '../../local/engine/run-workflow.ts';
import { isMutating } from '../support/aws-faults.ts';
import { useLocalApi } from '../support/local-api.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

useSandbox();
const local = useLocalApi();

type Input = ReturnType<typeof bookinfoInput>;
const post = (body: unknown, query = '') => local().post(body, query);
const ended = (executionId: string) => local().ended(executionId);

/** Runs `fn` and returns the commands sent meanwhile. */
async function recorded<T>(fn: () => Promise<T>): Promise<{ result: T; calls: SentCommand[] }> {
  const calls: SentCommand[] = [];
  const stop = onCommand((c) => {
    calls.push(c);
  });
  try {
    return { result: await fn(), calls };
  } finally {
    stop();
  }
}

async function plan(body: Input): Promise<{ plan: OnboardingPlan; mutating: string[]; view: ExecutionView }> {
  const { result: view, calls } = await recorded(async () => {
    const r = await post(body, '?dryRun=true');
    expect(r).toMatchObject({ status: 202, json: { dryRun: true, duplicate: false } });
    expect(r.json.executionId).toMatch(/^plan-/);
    return ended(r.json.executionId as string);
  });
  expect(view.status, JSON.stringify(view.error)).toBe('SUCCEEDED');
  return { plan: view.result as OnboardingPlan, mutating: calls.filter(isMutating).map((c) => `${c.service}:${c.command}`), view };
}

async function apply(body: Input, query = ''): Promise<OnboardingResult> {
  const r = await post(body, query);
  expect(r.status).toBe(202);
  const view = await ended(r.json.executionId as string);
  expect(view.status, JSON.stringify(view.error)).toBe('SUCCEEDED');
  return view.result as OnboardingResult;
}

/** The apply's ledger as plan actions: created → create, updated → update, else reuse. */
function actionsOf(result: OnboardingResult): { kind: string; action: string; id: string }[] {
  const as = (action: string) => (e: LedgerEntry) => ({ kind: e.kind, action, id: e.id });
  return [...result.created.map(as('create')), ...result.updated.map(as('update')), ...result.reused.map(as('reuse'))];
}

const key = (e: { kind: string; action: string }) => `${e.kind}:${e.action}`;
const sorted = (xs: string[]) => [...xs].sort();

/** The apply did what the plan said: the same (kind, action) multiset, and the same ids for what existed. */
function expectApplyMatchesPlan(p: OnboardingPlan, result: OnboardingResult): void {
  const done = actionsOf(result);
  expect(sorted(done.map(key)), 'what the apply did (kind:action) vs what the plan said').toEqual(sorted(p.resources.map(key)));
  const existing = (xs: { action: string; id?: string; kind: string }[]) => sorted(xs.filter((e) => e.action !== 'create').map((e) => `${e.kind}:${e.action}:${e.id}`));
  expect(existing(done)).toEqual(existing(p.resources as PlanEntry[]));
}

describe('dry run (plan) through the API', () => {
  let first: OnboardingPlan;

  it('plans a fresh onboarding with no mutating call at all, and writes nothing to the registry', async () => {
    const r = await plan(bookinfoInput());
    expect(r.mutating).toEqual([]);
    first = r.plan;
    expect(first).toMatchObject({ workload: 'bookinfo/ratings', dryRun: true, status: 'ready', problems: [] });
    expect(first.summary.create).toBeGreaterThan(10);
    expect(first.summary.conflict).toBe(0);
    const kinds = new Set(first.resources.map((e) => e.kind));
    for (const k of ['ecs-cluster', 'iam-role', 'secret', 'log-group', 'nat-gateway', 'vpc-subnet', 'security-group', 'task-definition', 'ecs-service']) expect(kinds, k).toContain(k);
    // The steps ran and the workflow ended at Record plan: no wait, no verification.
    const states = r.view.steps.map((s) => s.state);
    expect(states).toContain('Record plan');
    expect(states).not.toContain('Check NAT gateway');
    expect(states).not.toContain('Check service readiness');
    const listed = (await (await fetch(`${local().api.url}/onboardings`)).json()) as { onboardings: { workload: string }[] };
    expect(listed.onboardings.map((w) => w.workload)).not.toContain('bookinfo/ratings');
  }, 90_000);

  it('the apply then does exactly what the plan said', async () => {
    const result = await apply(bookinfoInput());
    expectApplyMatchesPlan(first, result);
  }, 90_000);

  it('a plan after the apply reuses everything, with no mutating call; a re-run (reconcile) then reuses exactly that', async () => {
    const r = await plan(bookinfoInput());
    expect(r.mutating).toEqual([]);
    expect(r.plan.status).toBe('ready');
    expect(r.plan.summary).toMatchObject({ create: 0, update: 0, conflict: 0 });
    expect(r.plan.summary.reuse).toBeGreaterThan(10);
    expectApplyMatchesPlan(r.plan, await apply(bookinfoInput(), '?reconcile=true'));
  }, 90_000);

  it('a changed request plans the changes (with the fields) and the apply makes exactly those', async () => {
    const changed: Input = { ...bookinfoInput(), app: { ...bookinfoInput().app, image: 'docker.io/istio/examples-bookinfo-ratings-v1:1.20.3' }, ecs: { ...bookinfoInput().ecs, desiredCount: 2 } };
    const r = await plan(changed);
    expect(r.mutating).toEqual([]);
    const td = r.plan.resources.find((e) => e.kind === 'task-definition');
    expect(td).toMatchObject({ action: 'create' });
    expect(JSON.stringify(td?.changes)).toContain('examples-bookinfo-ratings-v1:1.20.3');
    const svc = r.plan.resources.find((e) => e.kind === 'ecs-service');
    expect(svc).toMatchObject({ action: 'update' });
    expect(svc?.changes?.map((c) => c.field)).toEqual(expect.arrayContaining(['desiredCount', 'taskDefinition']));
    expect(svc?.changes?.find((c) => c.field === 'desiredCount')).toMatchObject({ current: 1, wanted: 2 });

    expectApplyMatchesPlan(r.plan, await apply(changed));
  }, 120_000);

  it('reports problems instead of failing: a missing WorkloadGroup (with the YAML) and a taken block; status blocked', async () => {
    const r = await plan({ ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...bookinfoInput().ecs, service: 'reviews', family: 'bookinfo_reviews' }, network: { ...bookinfoInput().network, subnetCidrs: ['10.0.0.0/16'] } } as Input);
    expect(r.mutating).toEqual([]);
    expect(r.plan.status).toBe('blocked');
    const messages = r.plan.problems.map((p) => `${p.step} ${p.path ?? ''} ${p.message}`).join('\n');
    expect(messages).toMatch(/Pre-flight mesh .*WorkloadGroup bookinfo\/reviews does not exist/);
    expect(messages).toContain('kind: WorkloadGroup');
    expect(r.plan.problems.some((p) => p.step === 'Resolve network' && p.path?.includes('network.subnetCidrs[0]')), JSON.stringify(r.plan, null, 1)).toBe(true);
  }, 90_000);

  it('refuses a body that sets rootCaSha256 itself, and a bad dryRun flag', async () => {
    const own = await post({ ...bookinfoInput(), rootCaSha256: 'a'.repeat(64), dryRun: true }, '?dryRun=true');
    expect(own.status).toBe(400);
    expect(JSON.stringify(own.json)).toContain('$.rootCaSha256');
    const flag = await post(bookinfoInput(), '?dryRun=yes');
    expect(flag).toMatchObject({ status: 400, json: { problems: [{ path: '?dryRun', message: 'must be true or false' }] } });
  });
});

describe('dry run started as from the Step Functions console', () => {
  it('takes the plain request with dryRun: true and the PEM; ends Planned with the plan; no mutating call, no PEM in any state', async () => {
    const input = { ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'details' }, ecs: { ...bookinfoInput().ecs, service: 'details', family: 'bookinfo_details' }, dryRun: true };
    const events: unknown[] = [];
    const { result: outcome, calls } = await recorded(() => runWorkflow(input, { waitMs: 20, onEngineEvent: (e) => events.push(e) }));
    expect(outcome.status, outcome.cause).toBe('SUCCEEDED');
    expect(calls.filter(isMutating)).toEqual([]);
    expect((outcome.output as OnboardingPlan).workload).toBe('bookinfo/details');
    expect(outcome.history.at(-1)?.state).toBe('Planned');
    const pemBody = input.rootCaPem.split('\n')[1]!;
    // The execution input holds the PEM (the console user typed it), so Validate request's events do; no later state does.
    type Ev = { type?: string; state?: { name?: string } };
    const later = (events as Ev[]).filter((e) => e.type !== 'ExecutionStarted' && e.state?.name !== 'Validate request');
    expect(later.length).toBeGreaterThan(20);
    const leaking = later.filter((e) => JSON.stringify(e).includes(pemBody)).map((e) => `${e.type} ${e.state?.name}`);
    expect(leaking).toEqual([]);
  }, 90_000);
});
