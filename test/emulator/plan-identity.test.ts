/**
 * The dry run of the Identity branch (Ensure cluster, task role, execution role, CA secret, log
 * group) on the emulator: in each case (fresh account, after the apply, after a change, a
 * conflict) the plan sends no mutating call, and the apply that follows does what the plan said:
 * the same (kind, action) per resource and the same ids for what exists.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRoleCommand, DetachRolePolicyCommand, IAMClient, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCaSecret, planCaSecret } from '../../functions/ensure-ca-secret.ts';
import { ensureCluster, planCluster } from '../../functions/ensure-cluster.ts';
import { ensureExecutionRole, planExecutionRole } from '../../functions/ensure-execution-role.ts';
import { ensureLogGroup, handler as logGroupHandler, planLogGroup } from '../../functions/ensure-log-group.ts';
import { ensureTaskRole, planTaskRole } from '../../functions/ensure-task-role.ts';
import { ecsTasksTrustPolicy } from '../../functions/lib/aws/iam-role.ts';
import { onCommand, type SentCommand } from '../../functions/lib/clients.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { isPlanned, type PlanEntry } from '../../functions/lib/plan.ts';
import type { LedgerEntry, StepResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { isMutating } from '../support/aws-faults.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoInput, bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const ACCOUNT = '123456789012';
const FIRST_PEM = bookinfoInput().rootCaPem;
const SECOND_PEM = readFileSync(new URL('../fixtures/second-root-ca.pem', import.meta.url), 'utf8');
const EXEC_MANAGED = 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy';
const THEIRS = [
  { Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' },
  { Key: 'mesh-onboarding/workload', Value: 'payments/ledger' },
];

let iam: IAMClient;
let sm: SecretsManagerClient;
let logs: CloudWatchLogsClient;
beforeAll(() => {
  const cfg = { endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 };
  iam = new IAMClient(cfg);
  sm = new SecretsManagerClient(cfg);
  logs = new CloudWatchLogsClient(cfg);
});

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const fp = (s: string) => `sha256:${sha256(s).slice(0, 12)}`;

/** Runs a plan, recording every command its clients send (before sending): none may change anything. */
async function planned<R extends StepResult>(plan: () => Promise<R>): Promise<R> {
  const sent: SentCommand[] = [];
  const stop = onCommand((c) => {
    sent.push(c);
  });
  try {
    const r = await plan();
    expect(sent.filter(isMutating).map((c) => `${c.service}:${c.command}`)).toEqual([]);
    expect(sent.length).toBeGreaterThan(0);
    expect(r.ledger).toEqual([]);
    return r;
  } finally {
    stop();
  }
}

/** The plan's and the ledger's resources as (kind, action, id) with created → create, updated → update, else reuse; no id for a create. */
function asPlanned(entries: PlanEntry[]): string[] {
  return entries.map((e) => `${e.kind} ${e.action} ${e.action === 'create' ? '-' : e.id}`).sort();
}
function asApplied(ledger: LedgerEntry[]): string[] {
  return ledger.map((e) => (e.created ? `${e.kind} create -` : `${e.kind} ${e.updated ? 'update' : 'reuse'} ${e.id}`)).sort();
}

/** Plans, then applies: the apply's ledger is the plan. Returns both. */
async function planThenApply<R extends StepResult>(state: WorkflowState, plan: (s: WorkflowState) => Promise<R>, apply: (s: WorkflowState) => Promise<R>): Promise<{ p: R; a: R }> {
  const p = await planned(() => plan(state));
  const a = await apply(state);
  expect(asApplied(a.ledger)).toEqual(asPlanned(p.plan ?? []));
  return { p, a };
}

/** A conflict: the plan says why in one entry, and the apply refuses with that very message. */
async function planConflict<R extends StepResult>(state: WorkflowState, plan: (s: WorkflowState) => Promise<R>, apply: (s: WorkflowState) => Promise<R>): Promise<PlanEntry> {
  const p = await planned(() => plan(state));
  expect(p.plan).toHaveLength(1);
  const entry = p.plan![0]!;
  expect(entry.action).toBe('conflict');
  const err = await apply(state).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ResourceConflictError);
  expect((err as Error).message).toBe(entry.detail);
  return entry;
}

describe('Plan: Ensure cluster (emulator)', () => {
  const request = bookinfoRequest({ ecs: { cluster: 'plan-cluster' } });
  const state = { request, preflight: bookinfoPreflight() };

  it('plans the create under the ARN CreateCluster gives it, then the reuse', async () => {
    const { p, a } = await planThenApply(state, planCluster, ensureCluster);
    expect(p.plan).toEqual([{ kind: 'ecs-cluster', name: 'plan-cluster', action: 'create', shared: true, detail: 'FARGATE capacity provider' }]);
    expect(p.clusterArn).toBe(`arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/plan-cluster`);
    expect(a.clusterArn).toBe(p.clusterArn);

    const again = await planThenApply(state, planCluster, ensureCluster);
    expect(again.p.plan).toEqual([{ kind: 'ecs-cluster', name: 'plan-cluster', id: 'plan-cluster', action: 'reuse', shared: true }]);
    expect(again.p.clusterArn).toBe(a.clusterArn);
  });
});

describe('Plan: Ensure task role (emulator)', () => {
  const request = bookinfoRequest({ workloadGroup: { name: 'ptask' }, ecs: { enableExecuteCommand: true } });
  const state = { request, preflight: bookinfoPreflight() };
  const name = 'bookinfo.ptask-ecs-task-role';
  const policyId = `${name}/ecs-exec-ssmmessages`;

  it('plans the role and its ECS Exec policy on a fresh account, under the ARN the apply gives the role', async () => {
    const { p, a } = await planThenApply(state, planTaskRole, ensureTaskRole);
    expect(p.plan).toEqual([
      { kind: 'iam-role', name, action: 'create' },
      { kind: 'iam-role-policy', name: policyId, action: 'create' },
    ]);
    expect(p.roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/mesh-onboarding/${name}`);
    expect(a.roleArn).toBe(p.roleArn);
  });

  it('plans the reuse after the apply', async () => {
    const { p, a } = await planThenApply(state, planTaskRole, ensureTaskRole);
    expect(p.plan?.map((e) => e.action)).toEqual(['reuse', 'reuse']);
    expect(p.roleArn).toBe(a.roleArn);
  });

  it('plans the update of a drifted trust policy and a changed ECS Exec policy, field by field', async () => {
    const drifted = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
    const narrowed = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ssmmessages:OpenDataChannel', Resource: '*' }] };
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: name, PolicyDocument: JSON.stringify(drifted) }));
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'ecs-exec-ssmmessages', PolicyDocument: JSON.stringify(narrowed) }));

    const { p } = await planThenApply(state, planTaskRole, ensureTaskRole);
    expect(p.plan?.[0]).toEqual({ kind: 'iam-role', name, id: name, action: 'update', changes: [{ field: 'assumeRolePolicyDocument', current: drifted, wanted: ecsTasksTrustPolicy(ACCOUNT) }] });
    expect(p.plan?.[1]).toMatchObject({ kind: 'iam-role-policy', id: policyId, action: 'update', changes: [{ field: 'policyDocument', current: narrowed }] });
    expect((p.plan?.[1]?.changes?.[0]?.wanted as { Statement: { Action: string[] }[] }).Statement[0]?.Action).toContain('ssmmessages:CreateControlChannel');
  });

  it('plans the removal of the ECS Exec policy when enableExecuteCommand turns false', async () => {
    const off = { request: bookinfoRequest({ workloadGroup: { name: 'ptask' }, ecs: { enableExecuteCommand: false } }), preflight: bookinfoPreflight() };
    const { p } = await planThenApply(off, planTaskRole, ensureTaskRole);
    expect(p.plan).toHaveLength(1);
    expect(p.plan?.[0]).toMatchObject({ kind: 'iam-role', id: name, action: 'update', changes: [{ field: 'inlinePolicies.ecs-exec-ssmmessages', wanted: null }] });
    // Converged: nothing left to do.
    expect((await planThenApply(off, planTaskRole, ensureTaskRole)).p.plan?.map((e) => e.action)).toEqual(['reuse']);
  });

  it("plans a conflict for another workload's role of that name, as the apply refuses it", async () => {
    const other = { request: bookinfoRequest({ workloadGroup: { name: 'ptaken' }, ecs: { enableExecuteCommand: true } }), preflight: bookinfoPreflight() };
    await iam.send(new CreateRoleCommand({ RoleName: 'bookinfo.ptaken-ecs-task-role', AssumeRolePolicyDocument: JSON.stringify(ecsTasksTrustPolicy(ACCOUNT)), Tags: THEIRS }));
    const entry = await planConflict(other, planTaskRole, ensureTaskRole);
    expect(entry).toMatchObject({ kind: 'iam-role', id: 'bookinfo.ptaken-ecs-task-role' });
    expect(entry.detail).toContain('payments/ledger');
  });
});

describe('Plan: Ensure execution role (emulator)', () => {
  const request = bookinfoRequest({ workloadGroup: { name: 'pexec' } });
  const state = { request, preflight: bookinfoPreflight() };
  const name = 'bookinfo.pexec-ecs-exec-role';
  const policyId = `${name}/read-root-ca-secret`;

  it('plans the role and its CA-secret policy on a fresh account, then their reuse', async () => {
    const { p, a } = await planThenApply(state, planExecutionRole, ensureExecutionRole);
    expect(p.plan).toEqual([
      { kind: 'iam-role', name, action: 'create' },
      { kind: 'iam-role-policy', name: policyId, action: 'create' },
    ]);
    expect(p.roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/mesh-onboarding/${name}`);
    expect(a.roleArn).toBe(p.roleArn);
    expect((await planThenApply(state, planExecutionRole, ensureExecutionRole)).p.plan?.map((e) => e.action)).toEqual(['reuse', 'reuse']);
  });

  it('plans the re-attach of a detached managed policy and the rewrite of a changed inline policy', async () => {
    const widened = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*' }] };
    await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: EXEC_MANAGED }));
    await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'read-root-ca-secret', PolicyDocument: JSON.stringify(widened) }));

    const { p } = await planThenApply(state, planExecutionRole, ensureExecutionRole);
    expect(p.plan?.[0]).toEqual({ kind: 'iam-role', name, id: name, action: 'update', changes: [{ field: 'attachedPolicies', current: [], wanted: [EXEC_MANAGED] }] });
    expect(p.plan?.[1]).toMatchObject({ kind: 'iam-role-policy', id: policyId, action: 'update', changes: [{ field: 'policyDocument', current: widened }] });
    expect(p.plan?.[1]?.changes?.[0]?.wanted).toMatchObject({ Statement: [{ Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:mesh-onboarding/bookinfo/pexec/root-ca-??????` }] });
  });

  it("plans a conflict for a role of that name this tool did not make", async () => {
    const other = { request: bookinfoRequest({ workloadGroup: { name: 'pforeign' } }), preflight: bookinfoPreflight() };
    await iam.send(new CreateRoleCommand({ RoleName: 'bookinfo.pforeign-ecs-exec-role', AssumeRolePolicyDocument: JSON.stringify(ecsTasksTrustPolicy(ACCOUNT)), Tags: [{ Key: 'owner', Value: 'someone-else' }] }));
    const entry = await planConflict(other, planExecutionRole, ensureExecutionRole);
    expect(entry.detail).toContain('not made by this tool');
  });
});

describe('Plan: Ensure CA secret (emulator)', () => {
  const request = bookinfoRequest({ workloadGroup: { name: 'psecret' } });
  const name = 'mesh-onboarding/bookinfo/psecret/root-ca';
  /** The plan sees only the PEM's hash (as Validate request hands a dry run); the apply, the PEM. */
  const pair = (pem: string) => ({
    plan: (s: WorkflowState) => planCaSecret({ ...s, caBundle: { sha256: sha256(pem) } }),
    apply: (s: WorkflowState) => ensureCaSecret({ ...s, caBundle: { pem } }),
  });
  const first = pair(FIRST_PEM);
  const second = pair(SECOND_PEM);

  it('plans the create with placeholder ARN and version (their suffixes are random), then the reuse of the version the apply made', async () => {
    const { p, a } = await planThenApply({ request }, first.plan, first.apply);
    expect(p.plan).toEqual([{ kind: 'secret', name, action: 'create', detail: `holding ${fp(FIRST_PEM)}` }]);
    expect(isPlanned(p.secretArn)).toBe(true);
    expect(isPlanned(p.versionId)).toBe(true);

    const again = await planThenApply({ request }, first.plan, first.apply);
    expect(again.p.plan).toEqual([{ kind: 'secret', name, id: name, action: 'reuse' }]);
    expect(again.p.secretArn).toBe(a.secretArn);
    expect(again.p.versionId).toBe(a.versionId);
    expect(again.p.updated).toBe(false);
  });

  it('plans a changed CA as an update of its value, by fingerprint only', async () => {
    const { p, a } = await planThenApply({ request }, second.plan, second.apply);
    expect(p.plan).toEqual([{ kind: 'secret', name, id: name, action: 'update', changes: [{ field: 'value', current: fp(FIRST_PEM), wanted: fp(SECOND_PEM) }] }]);
    expect(p.updated).toBe(true);
    expect(a.updated).toBe(true);
    expect(JSON.stringify(p)).not.toContain('BEGIN CERTIFICATE');
  });

  it('plans the restore of a secret scheduled for deletion', async () => {
    await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    // Same PEM as stored: only the restore changes the secret.
    const { p } = await planThenApply({ request }, second.plan, second.apply);
    expect(p.plan).toMatchObject([{ kind: 'secret', id: name, action: 'update', changes: [{ field: 'deletedDate', wanted: null }] }]);
    expect((await planThenApply({ request }, second.plan, second.apply)).p.plan?.[0]?.action).toBe('reuse');
  });

  it('plans a version the API stored as the apply checks it: reuse, or a conflict when the secret no longer has it', async () => {
    const stored = await ensureCaSecret({ request, caBundle: { pem: SECOND_PEM } });
    const ref = { arn: stored.secretArn, versionId: stored.versionId! };
    const { p } = await planThenApply({ request, caBundle: { secret: ref } }, planCaSecret, ensureCaSecret);
    expect(p).toMatchObject({ secretArn: ref.arn, versionId: ref.versionId, plan: [{ kind: 'secret', id: name, action: 'reuse' }] });

    const gone = { request, caBundle: { secret: { ...ref, versionId: '00000000-0000-4000-8000-000000000000' } } };
    expect((await planConflict(gone, planCaSecret, ensureCaSecret)).detail).toContain('no longer has version');
  });

  it("plans a conflict for another workload's secret without reading its value", async () => {
    const borrowed = 'mesh-onboarding/bookinfo/pborrowed/root-ca';
    await sm.send(new CreateSecretCommand({ Name: borrowed, SecretString: 'their CA', Tags: THEIRS }));
    const req = bookinfoRequest({ workloadGroup: { name: 'pborrowed' } });
    const sent: string[] = [];
    const stop = onCommand((c) => {
      sent.push(c.command);
    });
    const entry = await planConflict({ request: req }, first.plan, first.apply).finally(stop);
    expect(entry).toMatchObject({ kind: 'secret', id: borrowed });
    expect(entry.detail).toContain('payments/ledger');
    expect(sent).not.toContain('GetSecretValue');
  });
});

describe('Plan: Ensure log group (emulator)', () => {
  const request = bookinfoRequest({ ecs: { family: 'plan_family' } });
  const name = '/ecs/plan_family';

  it('plans the create, then the reuse', async () => {
    const { p, a } = await planThenApply({ request }, planLogGroup, ensureLogGroup);
    expect(p.plan).toEqual([{ kind: 'log-group', name, action: 'create', detail: 'retention 30 days' }]);
    expect(p.logGroupName).toBe(a.logGroupName);
    expect((await planThenApply({ request }, planLogGroup, ensureLogGroup)).p.plan).toEqual([{ kind: 'log-group', name, id: name, action: 'reuse' }]);
  });

  it('plans another retention as an update of retentionInDays', async () => {
    const longer = { request: bookinfoRequest({ ecs: { family: 'plan_family' }, logRetentionDays: 90 }) };
    const { p } = await planThenApply(longer, planLogGroup, ensureLogGroup);
    expect(p.plan).toEqual([{ kind: 'log-group', name, id: name, action: 'update', changes: [{ field: 'retentionInDays', current: 30, wanted: 90 }], detail: 'retention 90 days' }]);
    expect(p.retentionDays).toBe(90);
  });

  it('plans a conflict for a group of that name this tool did not make', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/plan_foreign', tags: { owner: 'someone-else' } }));
    const entry = await planConflict({ request: bookinfoRequest({ ecs: { family: 'plan_foreign' } }) }, planLogGroup, ensureLogGroup);
    expect(entry).toMatchObject({ kind: 'log-group', id: '/ecs/plan_foreign' });
  });

  it('answers with the plan through the wrapped handler when the request is a dry run', async () => {
    const dry = { request: bookinfoRequest({ ecs: { family: 'plan_handler' }, dryRun: true }), preflight: bookinfoPreflight() };
    const sent: SentCommand[] = [];
    const stop = onCommand((c) => {
      sent.push(c);
    });
    const r = (await logGroupHandler(dry, {} as never).finally(stop)) as StepResult;
    expect(r.ledger).toEqual([]);
    expect(r.plan).toEqual([{ kind: 'log-group', name: '/ecs/plan_handler', action: 'create', detail: 'retention 30 days' }]);
    expect(sent.filter(isMutating)).toEqual([]);
  });
});
