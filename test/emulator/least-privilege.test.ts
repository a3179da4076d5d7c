/**
 * Least privilege, proven on the emulator: the onboarding runs through the local engine in
 * scenarios that reach every branch the emulator can (fresh, re-run, changed request with
 * repaired drift, a second workload in the VPC, a subnet the user gives, a name collision), then
 * the re-verification runs over those workloads, healthy and drifted,
 * every command each step sends is recorded and mapped to what IAM authorizes, and each step's
 * exported `permissions` must allow exactly that: every authorization (action, resource and
 * conditions, with the tags the resource carried when it was sent) and no action it never sent,
 * apart from NOT_REACHED below. One sandbox for the file; the scenarios run in order.
 */
import { readFileSync } from 'node:fs';
import { CreateRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { DeleteNatGatewayCommand, DescribeAddressesCommand, DescribeNatGatewaysCommand, DisassociateAddressCommand, DescribeRouteTablesCommand, EC2Client, ReplaceRouteCommand, ReplaceRouteTableAssociationCommand } from '@aws-sdk/client-ec2';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUR_ROLES_ARN } from '../../functions/lib/aws/iam-role.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { acquireWorkloadLock, releaseWorkloadLock } from '../../functions/lib/registry.ts';
import { renderPermission, WILDCARD_RESOURCE_ACTIONS, type PlaceholderValues, type StepPermissions } from '../../functions/lib/permissions.ts';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import type { OnboardingResult } from '../../functions/record-result.ts';
import type { TeardownResult } from '../../functions/finish-teardown.ts';
import { runWorkflow, type RunOptions } from '../../local/engine/run-workflow.ts';
import { seedMesh } from '../../local/kube-api-standin.ts';
import { SANDBOX_ACCOUNT, SANDBOX_EKS_CLUSTER } from '../../local/sandbox.ts';
import { loadDefinition, taskSteps } from '../../statemachine/definition.ts';
import type { AwsTarget } from '../support/iam-actions.ts';
import { actionsByStep, deniedAuthorizations, emulatorFacts, grantedActions, startRecording, type RecordedCall } from '../support/record-actions.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };
const REGION = 'us-east-1';
const TARGET: AwsTarget = { partition: 'aws', region: REGION, account: SANDBOX_ACCOUNT };
// Every machine: the onboarding steps, the re-verification steps (run over the workloads onboarded here), the teardown steps
// (run last, removing them); and Execution ended, the EventBridge target the local engine calls at the end of every run.
const STEPS: { state: string; file: string }[] = [
  ...taskSteps(loadDefinition('onboard-workload')),
  ...taskSteps(loadDefinition('reverify-workloads')),
  ...taskSteps(loadDefinition('offboard-workload')),
  { state: 'Execution ended', file: 'execution-ended' },
];

/**
 * Actions a step is granted that no scenario here makes it send, each with the path that sends
 * it and the test that covers that path. Keep it short: anything else granted and never sent is
 * a grant to remove.
 */
const NOT_REACHED: Record<string, Record<string, string>> = {
  'Ensure task subnet': {
    'dynamodb:GetItem':
      'only when another run holds the VPC network lease (to name the holder); the scenarios here run one at a time: test/unit/network-lease.test.ts "throws ResourceNotReadyError naming the holder once its wait is over", and test/emulator/concurrent-onboardings.test.ts',
  },
  'Traffic evidence': {
    'logs:DescribeLogStreams':
      'only after FilterLogEvents answers ResourceNotFoundException for a stream that does not exist yet, which AWS does and moto does not: test/unit/traffic-evidence.test.ts "counts the traffic of the tasks that logged, and names the streams that do not exist"',
  },
  'Reverify workload': {
    'logs:DescribeLogStreams':
      'the same traffic-evidence path as Traffic evidence (a stream that does not exist yet), which moto never answers: test/unit/traffic-evidence.test.ts "counts the traffic of the tasks that logged, and names the streams that do not exist"',
  },
  'Ensure CA secret': {
    'secretsmanager:ListSecretVersionIds':
      'only when an execution started through the API names a secret version that has lost its staging label (the scenarios here start with the PEM): test/emulator/api-function.test.ts "refuses a reference to a version the secret does not have, or to another workload\'s secret"',
  },
  'Start teardown': {
    'ec2:DescribeSecurityGroups': 'only when neither the request nor the EKS cluster (deleted meanwhile) names the VPC: test/unit/teardown-steps.test.ts "Start teardown finds the VPC from a recorded resource when the EKS cluster is gone"',
    'ec2:DescribeSubnets': 'the same fallback (a recorded subnet): test/unit/teardown-steps.test.ts "Start teardown finds the VPC from a recorded resource when the EKS cluster is gone"',
    'ec2:DescribeNatGateways': 'the same fallback (a recorded NAT gateway): test/unit/teardown-steps.test.ts "Start teardown finds the VPC from a recorded resource when the EKS cluster is gone"',
  },
  'Delete cluster': {
    'ecs:ListServices':
      'only after DeleteCluster answers ClusterContainsServicesException (services still DRAINING), which moto never does (it deletes at once): test/unit/teardown-steps.test.ts "DeleteCluster while services remain"',
    'ecs:DescribeServices': 'the same path (is the remaining service this workload\'s, DRAINING?): test/unit/teardown-steps.test.ts "DeleteCluster while services remain"',
  },
  'Finish teardown': {
    'dynamodb:GetItem':
      'only when the conditional delete of the record fails (already gone: a retried last state; or locked by another execution): test/emulator/teardown.test.ts "Finish teardown, retried after the record went, reports it and deletes nothing"',
  },
  'Execution ended': {
    'states:DescribeExecution':
      'only when the EventBridge event left the input out (input and output over 248 KiB together), which the local engine never does: test/unit/execution-ended.test.ts "reads the input with DescribeExecution when the event left it out (over 248 KiB)"',
  },
  'Ensure NAT gateway': {
    'dynamodb:GetItem':
      'only when another run holds the VPC network lease (to name the holder); the scenarios here run one at a time: test/unit/network-lease.test.ts "throws ResourceNotReadyError naming the holder once its wait is over", and test/emulator/concurrent-onboardings.test.ts',
    'ec2:ReleaseAddress':
      'only when two runs race to allocate the Elastic IP of one VPC (moto ignores ClientToken, so the race cannot be staged faithfully here): test/unit/nat-gateway.test.ts "NAT Elastic IP race (two runs in one VPC)"',
  },
};

/** The construct's placeholder values for the sandbox. */
function placeholderValues(): PlaceholderValues {
  return {
    Partition: 'aws',
    Region: REGION,
    Account: SANDBOX_ACCOUNT,
    EksClusterName: [SANDBOX_EKS_CLUSTER],
    RegistryTableArn: `arn:aws:dynamodb:${REGION}:${SANDBOX_ACCOUNT}:table/${sandbox().registryTable}`,
    DriftEventBusArn: `arn:aws:events:${REGION}:${SANDBOX_ACCOUNT}:event-bus/${sandbox().driftEvents.busName}`,
    OnboardStateMachineArn: `arn:aws:states:${REGION}:${SANDBOX_ACCOUNT}:stateMachine:onboard-workload`,
    ReverifyStateMachineArn: `arn:aws:states:${REGION}:${SANDBOX_ACCOUNT}:stateMachine:reverify-workloads`,
    OnboardStateMachineName: 'onboard-workload',
    ReverifyStateMachineName: 'reverify-workloads',
    OffboardStateMachineArn: `arn:aws:states:${REGION}:${SANDBOX_ACCOUNT}:stateMachine:offboard-workload`,
    OffboardStateMachineName: 'offboard-workload',
  };
}

/** A request from the bookinfo example with some sections overridden (one level deep). */
function request(over: { [K in keyof OnboardingRequestInput]?: Partial<OnboardingRequestInput[K]> } = {}): OnboardingRequestInput {
  const base = bookinfoInput() as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    const cur = base[k];
    base[k] = typeof cur === 'object' && cur !== null && typeof v === 'object' && v !== null ? { ...cur, ...v } : v;
  }
  return base as unknown as OnboardingRequestInput;
}

const reviews = (service: string, extra: Parameters<typeof request>[0] = {}) =>
  request({ ...extra, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { service, family: `bookinfo_${service.replace(/-/g, '_')}`, ...extra.ecs }, app: { name: 'reviews', ...extra.app } });

async function succeeded(input: OnboardingRequestInput, opts: RunOptions = {}): Promise<OnboardingResult> {
  const o = await runWorkflow(input, { ...FAST, ...opts });
  expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
  return o.output as OnboardingResult;
}

describe('least privilege of the onboarding steps', () => {
  const permissions = new Map<string, StepPermissions>();
  let recording: { calls: RecordedCall[]; stop: () => void };
  let facts: ReturnType<typeof emulatorFacts>;
  const raw = <T>(make: (cfg: object) => T): T => make({ endpoint: sandbox().moto.endpoint, region: REGION, maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

  beforeAll(async () => {
    for (const s of STEPS) {
      const mod = (await import(`../../functions/${s.file}.ts`)) as { permissions?: StepPermissions };
      if (mod.permissions) permissions.set(s.state, mod.permissions);
    }
    facts = emulatorFacts(sandbox().moto.endpoint, REGION);
    recording = startRecording(TARGET, facts);
    // Two more workloads of the bookinfo namespace the mesh knows (the policy allows any task role of the account).
    for (const wg of ['reviews', 'details']) seedMesh(sandbox().kube.store, { workloadGroup: wg, account: SANDBOX_ACCOUNT });
  });
  /** Runs `fn` with the recording paused; later calls go on being recorded into the same list. */
  async function unrecorded(fn: () => Promise<unknown>): Promise<void> {
    const before = recording;
    before.stop();
    try {
      await fn();
    } finally {
      const after = startRecording(TARGET, facts);
      recording = {
        get calls() {
          return [...before.calls, ...after.calls];
        },
        stop: after.stop,
      };
    }
  }
  afterAll(() => {
    recording?.stop();
    facts?.destroy();
  });

  it('every Task state exports permissions: named actions, `*` only where the service has no resource-level permissions, PassRole only on our roles to ECS tasks', () => {
    expect(STEPS.filter((s) => !permissions.has(s.state)).map((s) => s.file)).toEqual([]);
    for (const [state, perms] of permissions) {
      const sids = perms.map((p) => p.sid);
      expect(new Set(sids).size, `${state}: duplicate Sid`).toBe(sids.length);
      for (const p of perms) {
        const where = `${state} / ${p.sid}`;
        expect(p.sid, where).toMatch(/^[A-Za-z0-9]+$/);
        for (const a of p.actions) expect(a, where).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
        expect(p.resources.length, where).toBeGreaterThan(0);
        if (p.resources.includes('*')) {
          expect(p.resources, `${where}: '*' with other resources`).toEqual(['*']);
          expect(p.actions.filter((a) => !WILDCARD_RESOURCE_ACTIONS.includes(a)), `${where}: '*' for actions that have resource types`).toEqual([]);
        }
        if (p.actions.includes('iam:PassRole')) {
          expect(p.actions, where).toEqual(['iam:PassRole']);
          expect(p.resources, where).toEqual([OUR_ROLES_ARN]);
          expect(p.conditions, where).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
        }
        // Every placeholder is one the construct fills.
        expect(JSON.stringify(renderPermission(p, placeholderValues())), where).not.toContain('${');
      }
    }
  });

  /** A dry run: its look-ups are recorded like every call, and must be allowed by each step's permissions too. */
  async function planned(input: OnboardingRequestInput): Promise<{ status: string; summary: Record<string, number> }> {
    const o = await runWorkflow({ ...input, dryRun: true }, FAST);
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    return o.output as { status: string; summary: Record<string, number> };
  }

  it('a dry run of a fresh onboarding', async () => {
    expect((await planned(request())).summary.create).toBeGreaterThan(10);
  });

  it('a fresh onboarding', async () => {
    const r = await succeeded(request());
    expect(r.created.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'iam-role', 'secret', 'log-group', 'nat-gateway', 'vpc-subnet', 'security-group', 'ecs-service']));
  });

  it('a re-run reuses everything; a NAT gateway reported pending sends Check NAT gateway to AWS', async () => {
    const { handler: ensureNat } = await import('../../functions/ensure-nat-gateway.ts');
    const r = await succeeded(request(), {
      handlerOverrides: { 'Ensure NAT gateway': async (s) => ({ ...((await ensureNat(s as unknown as WorkflowState, {} as never)) as object), state: 'pending' }) as never },
    });
    expect(r.created).toEqual([]);
  });

  it('a changed request (new CA, app port, desired count, ECS Exec off, EKS rule off, retention) over drifted resources', async () => {
    // Drift the resources the earlier runs made, as a person might: each is repaired by the run.
    const iam = raw((c) => new IAMClient(c));
    const ec2 = raw((c) => new EC2Client(c));
    const sm = raw((c) => new SecretsManagerClient(c));
    try {
      const ec2Trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] };
      for (const role of ['bookinfo.ratings-ecs-task-role', 'bookinfo.ratings-ecs-exec-role']) {
        await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: JSON.stringify(ec2Trust) }));
      }
      const [table] = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'tag:Name', Values: ['bookinfo-ecs-subnet-rt-us-east-1a'] }] }))).RouteTables ?? [];
      const association = table?.Associations?.find((a) => a.SubnetId);
      expect(association?.RouteTableAssociationId).toBeDefined();
      await ec2.send(new ReplaceRouteCommand({ RouteTableId: table!.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', GatewayId: sandbox().vpc.internetGatewayId }));
      await ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: association!.RouteTableAssociationId!, RouteTableId: sandbox().vpc.publicRouteTableId }));
      await sm.send(new DeleteSecretCommand({ SecretId: 'mesh-onboarding/bookinfo/ratings/root-ca', RecoveryWindowInDays: 7 }));
    } finally {
      for (const c of [iam, ec2, sm]) c.destroy();
    }

    const changed = request({
      app: { port: 9081 },
      ecs: { desiredCount: 0, enableExecuteCommand: false },
      network: { allowFromEksClusterSecurityGroup: false },
      logRetentionDays: 14 as never,
    });
    changed.rootCaPem = readFileSync(new URL('../fixtures/second-root-ca.pem', import.meta.url), 'utf8');
    // Planned first (every update it will make, read only), then applied.
    expect((await planned(changed)).summary.update).toBeGreaterThan(3);
    const r = await succeeded(changed);
    expect(r.created.map((e) => e.kind)).toEqual(['task-definition']);
  });

  it('a second workload in the same VPC and ECS cluster', async () => {
    const r = await succeeded(reviews('reviews'));
    expect(r.reused.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway', 'vpc-subnet', 'route-table']));
  });

  it('a service on a subnet the user gives', async () => {
    const [table] = await raw((c) => new EC2Client(c)).send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'tag:Name', Values: ['bookinfo-ecs-subnet-rt-us-east-1a'] }] })).then((o) => o.RouteTables ?? []);
    const subnetId = table?.Associations?.find((a) => a.SubnetId)?.SubnetId;
    expect(subnetId).toBeDefined();
    const r = await succeeded(reviews('reviews-given-subnet', { network: { subnetIds: [subnetId!] } }));
    expect(r.reused.map((e) => e.id)).toContain(subnetId);
  });

  it('a NAT gateway someone deleted, its route table drifted: made again, and both route tables moved to it', async () => {
    const ec2 = raw((c) => new EC2Client(c));
    const vpcId = sandbox().vpc.vpcId;
    let deleted: string;
    try {
      const [nat] = (await ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'state', Values: ['available'] }] }))).NatGateways ?? [];
      deleted = nat!.NatGatewayId!;
      await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: deleted }));
      // AWS frees a deleted NAT gateway's Elastic IP; moto keeps it associated.
      const eips = (await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:mesh-onboarding/role', Values: ['nat-eip'] }] }))).Addresses ?? [];
      for (const a of eips) if (a.AssociationId) await ec2.send(new DisassociateAddressCommand({ AssociationId: a.AssociationId }));
      const [table] = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'tag:Name', Values: [`mesh-onboarding-nat-gw-rt-${vpcId}`] }] }))).RouteTables ?? [];
      const association = table?.Associations?.find((a) => a.SubnetId);
      await ec2.send(new ReplaceRouteCommand({ RouteTableId: table!.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: deleted }));
      await ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: association!.RouteTableAssociationId!, RouteTableId: sandbox().vpc.publicRouteTableId }));
    } finally {
      ec2.destroy();
    }
    const r = await succeeded(request());
    const nat = r.created.find((e) => e.kind === 'nat-gateway');
    expect(nat?.id).toBeDefined();
    expect(nat?.id).not.toBe(deleted);
    const check = raw((c) => new EC2Client(c));
    try {
      const [table] = (await check.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'tag:Name', Values: ['bookinfo-ecs-subnet-rt-us-east-1a'] }] }))).RouteTables ?? [];
      expect(table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')?.NatGatewayId).toBe(nat?.id);
    } finally {
      check.destroy();
    }
  });

  it('a task role name taken by a role this tool did not make fails in Ensure task role', async () => {
    const iam = raw((c) => new IAMClient(c));
    try {
      await iam.send(new CreateRoleCommand({ RoleName: 'bookinfo.details-ecs-task-role', AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}' }));
    } finally {
      iam.destroy();
    }
    const o = await runWorkflow(request({ workloadGroup: { namespace: 'bookinfo', name: 'details' }, ecs: { service: 'details', family: 'bookinfo_details' }, app: { name: 'details' } }), FAST);
    expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    expect(o.history.find((h) => h.state === 'Ensure task role')).toMatchObject({ status: 'failed', error: 'ResourceConflictError' });
    expect(o.cause).toContain('bookinfo.details-ecs-task-role" exists but was not made by this tool');
  });

  it('a run while another execution holds the workload lock stops in Validate request, which reads the holder it names', async () => {
    const holder = { executionId: 'someone-else', machine: 'onboard-workload' as const, acquiredAt: new Date().toISOString() };
    await unrecorded(() => acquireWorkloadLock('bookinfo/ratings', holder));
    try {
      const o = await runWorkflow(request(), FAST);
      expect(o).toMatchObject({ status: 'FAILED', error: 'WorkloadBusyError' });
    } finally {
      await unrecorded(() => releaseWorkloadLock('bookinfo/ratings', holder.executionId));
    }
  });

  it('re-verifies every workload, healthy and then drifted (a stopped task): reads, the registry write, the drift event and metric', async () => {
    const healthy = await runWorkflow({}, { ...FAST, machine: 'reverify-workloads' });
    expect(healthy.status, `${healthy.error}: ${healthy.cause}`).toBe('SUCCEEDED');
    // The sandbox's own calls that make the drift (StopTask) are no step's: not recorded.
    await unrecorded(() => sandbox().drift('bookinfo/ratings', 'stop-task'));
    try {
      const drifted = await runWorkflow({ workloads: ['bookinfo/ratings'] }, { ...FAST, machine: 'reverify-workloads' });
      expect(drifted.status).toBe('SUCCEEDED');
      expect(drifted.output).toEqual([expect.objectContaining({ workload: 'bookinfo/ratings', ok: false })]);
    } finally {
      await unrecorded(() => sandbox().drift('bookinfo/ratings', 'restore'));
    }
  });

  it('tears the workloads down: the failed one (a role not ours kept), one of two sharing the network (shared kept), the last (everything, the shared network and cluster too)', async () => {
    const teardown = async (workload: string) => {
      const o = await runWorkflow({ workload }, { ...FAST, machine: 'offboard-workload' });
      expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
      return o.output as TeardownResult;
    };
    const details = await teardown('bookinfo/details');
    expect(details.kept).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'iam-role', id: 'bookinfo.details-ecs-task-role' })]));
    const reviews = await teardown('bookinfo/reviews');
    expect(reviews.kept.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway']));
    // A teardown that fails after taking the lock releases it (Record teardown failure), and the next one finishes.
    const failed = await runWorkflow(
      { workload: 'bookinfo/ratings' },
      {
        ...FAST,
        machine: 'offboard-workload',
        handlerOverrides: {
          'Scale service down': async () => {
            throw new ResourceConflictError('injected');
          },
        },
      },
    );
    expect(failed).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    const ratings = await teardown('bookinfo/ratings');
    expect(ratings.deleted.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway', 'elastic-ip', 'vpc-subnet', 'route-table']));
  });

  it('every call a step sent is allowed by its permissions: action, resource and conditions', () => {
    const calls = recording.calls;
    expect(calls.filter((c) => c.step === undefined).map((c) => `${c.service} ${c.command}`)).toEqual([]);
    const problems: Record<string, string[]> = {};
    for (const s of STEPS) {
      const denied = deniedAuthorizations(
        calls.filter((c) => c.step === s.state),
        permissions.get(s.state) ?? [],
        placeholderValues(),
      );
      if (denied.length > 0) problems[s.state] = denied;
    }
    expect(problems).toEqual({});
  });

  it('every step is granted only the actions it sent (or NOT_REACHED, with why)', () => {
    const sent = actionsByStep(recording.calls);
    const extra: Record<string, string[]> = {};
    const stale: Record<string, string[]> = {};
    for (const s of STEPS) {
      const got = sent.get(s.state) ?? new Set<string>();
      const allowedUnsent = NOT_REACHED[s.state] ?? {};
      const unsent = [...grantedActions(permissions.get(s.state) ?? [])].filter((a) => !got.has(a) && !(a in allowedUnsent));
      if (unsent.length > 0) extra[s.state] = unsent.sort();
      // An entry whose action is now sent, or no longer granted, is stale.
      const outdated = Object.keys(allowedUnsent).filter((a) => got.has(a) || !grantedActions(permissions.get(s.state) ?? []).has(a));
      if (outdated.length > 0) stale[s.state] = outdated;
    }
    expect(extra).toEqual({});
    expect(stale).toEqual({});
  });

  it('every statement of every step is needed: some call is denied without it (unless all its actions are NOT_REACHED)', () => {
    const unneeded: string[] = [];
    for (const s of STEPS) {
      const perms = permissions.get(s.state) ?? [];
      const calls = recording.calls.filter((c) => c.step === s.state);
      for (const p of perms) {
        if (p.actions.every((a) => a in (NOT_REACHED[s.state] ?? {}))) continue;
        const without = perms.filter((x) => x !== p);
        if (deniedAuthorizations(calls, without, placeholderValues()).length === 0) unneeded.push(`${s.state} / ${p.sid}`);
      }
    }
    expect(unneeded).toEqual([]);
  });
});
