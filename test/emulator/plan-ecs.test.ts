/**
 * The dry run of Register task definition and Ensure service against moto: each plan makes no
 * mutating call, and the apply that follows (with the real inputs the earlier steps would then
 * hand over) does exactly what the plan said. One emulator for the file; the tests run in order
 * on one workload (bookinfo/ratings), the conflicts on names of their own.
 */
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateServiceCommand, DeleteServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import type { Context } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureCluster } from '../../functions/ensure-cluster.ts';
import { ensureService, handler as serviceHandler, planService } from '../../functions/ensure-service.ts';
import { handler as taskDefinitionHandler, planTaskDefinition, registerTaskDefinition } from '../../functions/register-task-definition.ts';
import { setFaultInjector } from '../../functions/lib/clients.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { isPlanned, plannedId, type PlanEntry } from '../../functions/lib/plan.ts';
import type { LedgerEntry, ServiceResult, StepResult, TaskDefinitionResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { mutatingCallRecorder } from '../support/aws-faults.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();

const ACCOUNT = '123456789012';
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf`;
const NEW_IMAGE = 'docker.io/tetrate/tetrate-examples-bookinfo-ratings-localhost-v1:1.17.0';

/** Runs a plan with a recorder on every client: the plan must not change anything. */
async function planOnly<R extends StepResult>(plan: () => Promise<R>): Promise<R> {
  const recorder = mutatingCallRecorder();
  setFaultInjector(recorder);
  try {
    const planned = await plan();
    expect(recorder.calls, 'mutating calls during the plan').toEqual([]);
    expect(planned.ledger).toEqual([]);
    return planned;
  } finally {
    setFaultInjector(undefined);
  }
}

/** The plan action a ledger entry stands for. */
const actionOf = (e: LedgerEntry) => (e.created ? 'create' : e.updated ? 'update' : 'reuse');

/** The apply did what the plan said: the same (kind, action) multiset, the same id for every non-create. */
function expectApplyAsPlanned(plan: PlanEntry[] | undefined, ledger: LedgerEntry[]): void {
  const key = (kind: string, action: string, id?: string) => `${kind}:${action}:${action === 'create' ? '' : (id ?? '')}`;
  expect(ledger.map((e) => key(e.kind, actionOf(e), e.id)).sort()).toEqual((plan ?? []).map((e) => key(e.kind, e.action, e.id)).sort());
}

const only = (plan: PlanEntry[] | undefined): PlanEntry => {
  expect(plan).toHaveLength(1);
  return (plan ?? [])[0] as PlanEntry;
};

describe('Register task definition and Ensure service: plan, then apply', () => {
  let ec2: EC2Client;
  let ecs: ECSClient;
  let vpcId: string;
  /** What the earlier steps' applies hand over (real ids). */
  let real: WorkflowState;

  const newSubnet = async (cidr: string) => (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: 'us-east-1a' }))).Subnet?.SubnetId ?? '';
  const taskSubnet = (subnetId: string): WorkflowState['taskSubnet'] => ({ subnets: [{ subnetId, cidr: '10.0.3.0/24', availabilityZone: 'us-east-1a', routeTableId: 'rtb-0123456789abcdef0' }], ledger: [] });

  /** Plans both steps on `planState` (the service on the task definition's planned result), checks no call mutated, applies both on `applyState`. */
  async function planThenApply(planState: WorkflowState, applyState: WorkflowState, overrides: { serviceState?: (planned: TaskDefinitionResult) => WorkflowState } = {}) {
    const td = await planOnly(() => planTaskDefinition(planState));
    const svc = await planOnly(() => planService(overrides.serviceState?.(td) ?? { ...planState, taskDefinition: td }));
    const appliedTd = await registerTaskDefinition(applyState);
    expectApplyAsPlanned(td.plan, appliedTd.ledger);
    const appliedSvc = await ensureService({ ...applyState, taskDefinition: appliedTd });
    expectApplyAsPlanned(svc.plan, appliedSvc.ledger);
    real = { ...applyState, taskDefinition: appliedTd, service: appliedSvc };
    return { td, svc, appliedTd, appliedSvc };
  }

  beforeAll(async () => {
    const cfg = { endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 };
    ec2 = new EC2Client(cfg);
    ecs = new ECSClient(cfg);
    vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc?.VpcId ?? '';
    const subnetId = await newSubnet('10.0.3.0/24');
    const groupId = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'ecs-bookinfo.ratings', Description: 'test' }))).GroupId ?? '';
    const request = bookinfoRequest();
    real = {
      request,
      preflight: bookinfoPreflight(),
      // Not made yet: the first test plans with no cluster in the account.
      cluster: { clusterName: request.ecs.cluster, clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/${request.ecs.cluster}`, ledger: [] },
      taskRole: { roleName: 'bookinfo.ratings-ecs-task-role', roleArn: `arn:aws:iam::${ACCOUNT}:role/bookinfo.ratings-ecs-task-role`, ledger: [] },
      executionRole: { roleName: 'bookinfo.ratings-ecs-exec-role', roleArn: `arn:aws:iam::${ACCOUNT}:role/bookinfo.ratings-ecs-exec-role`, ledger: [] },
      caSecret: { secretName: 'mesh-onboarding/bookinfo/ratings/root-ca', secretArn: SECRET_ARN, versionId: 'v-1', updated: false, ledger: [] },
      logGroup: { logGroupName: '/ecs/bookinfo_ratings', retentionDays: 30, ledger: [] },
      taskSubnet: taskSubnet(subnetId),
      securityGroup: { groupId, ledger: [] },
    };
  });

  afterEach(() => setFaultInjector(undefined));

  it('nothing exists (not even the cluster): create, create, and the apply creates both', async () => {
    // As the earlier steps plan them: the secret, the subnet and the security group are still to be made.
    const planState: WorkflowState = {
      ...real,
      caSecret: { ...(real.caSecret as NonNullable<WorkflowState['caSecret']>), secretArn: plannedId('secret', 'mesh-onboarding/bookinfo/ratings/root-ca'), versionId: undefined },
      taskSubnet: taskSubnet(plannedId('vpc-subnet', 'bookinfo-us-east-1a')),
      securityGroup: { groupId: plannedId('security-group', 'ecs-bookinfo.ratings'), ledger: [] },
    };
    const td = await planOnly(() => planTaskDefinition(planState));
    expect(td).toMatchObject({ family: 'bookinfo_ratings', revision: 1, taskDefinitionArn: plannedId('task-definition', 'bookinfo_ratings') });
    expect(only(td.plan)).toMatchObject({ kind: 'task-definition', name: 'bookinfo_ratings', action: 'create' });
    const svc = await planOnly(() => planService({ ...planState, taskDefinition: td }));
    expect(only(svc.plan)).toMatchObject({ kind: 'ecs-service', name: 'ratings', action: 'create' });
    expect(isPlanned(svc.serviceArn)).toBe(true);

    // The apply, with what the earlier steps' applies would hand over.
    await ensureCluster({ request: real.request });
    const appliedTd = await registerTaskDefinition(real);
    expectApplyAsPlanned(td.plan, appliedTd.ledger);
    const appliedSvc = await ensureService({ ...real, taskDefinition: appliedTd });
    expectApplyAsPlanned(svc.plan, appliedSvc.ledger);
    real = { ...real, taskDefinition: appliedTd, service: appliedSvc };
  });

  it('after the apply: reuse, reuse, with the ids the apply reports', async () => {
    const { td, svc, appliedTd, appliedSvc } = await planThenApply(real, real);
    expect(only(td.plan)).toEqual({ kind: 'task-definition', name: 'bookinfo_ratings', id: appliedTd.taskDefinitionArn, action: 'reuse' });
    expect(td).toMatchObject({ taskDefinitionArn: appliedTd.taskDefinitionArn, revision: 1 });
    expect(only(svc.plan)).toEqual({ kind: 'ecs-service', name: 'ratings', id: appliedSvc.serviceArn, action: 'reuse' });
    expect(svc).toMatchObject({ serviceArn: appliedSvc.serviceArn, updated: false });
  });

  it('a new app image: a new revision naming the image change, and the service updated onto it', async () => {
    const before = real.taskDefinition as TaskDefinitionResult;
    const request = bookinfoRequest({ app: { image: NEW_IMAGE } });
    const changed = { ...real, request };
    const { td, svc, appliedTd } = await planThenApply(changed, changed);

    expect(td).toMatchObject({ revision: 2, taskDefinitionArn: plannedId('task-definition', 'bookinfo_ratings') });
    expect(only(td.plan)).toMatchObject({ action: 'create', changes: [{ field: 'containerDefinitions[ratings].image', current: bookinfoRequest().app.image, wanted: NEW_IMAGE }] });
    expect(only(td.plan).changes).toHaveLength(1);
    expect(only(svc.plan)).toMatchObject({ action: 'update', changes: [{ field: 'taskDefinition', current: before.taskDefinitionArn, wanted: td.taskDefinitionArn }] });
    expect(only(svc.plan).changes).toHaveLength(1);
    expect(appliedTd.revision).toBe(2);
  });

  it('a new desiredCount: the task definition reused, the service updated in desiredCount only', async () => {
    const request = bookinfoRequest({ app: { image: NEW_IMAGE }, ecs: { desiredCount: 2 } });
    const changed = { ...real, request };
    const { td, svc } = await planThenApply(changed, changed);

    expect(only(td.plan).action).toBe('reuse');
    expect(only(svc.plan)).toMatchObject({ action: 'update', changes: [{ field: 'desiredCount', current: 1, wanted: 2 }] });
    expect(only(svc.plan).changes).toHaveLength(1);
  });

  it('placeholders from earlier plans: a CA secret to be changed is a new revision; a subnet to be made, a service update', async () => {
    const caSecret = real.caSecret as NonNullable<WorkflowState['caSecret']>;
    const secretVersion = plannedId('secret', `${caSecret.secretName}@version`);
    const subnet = plannedId('vpc-subnet', 'bookinfo-us-east-1b');
    const planState: WorkflowState = { ...real, caSecret: { ...caSecret, updated: true, versionId: secretVersion }, taskSubnet: taskSubnet(subnet) };
    const applyState: WorkflowState = { ...real, caSecret: { ...caSecret, updated: true, versionId: 'v-2' }, taskSubnet: taskSubnet(await newSubnet('10.0.4.0/24')) };

    const { td, svc } = await planThenApply(planState, applyState);

    expect(only(td.plan)).toMatchObject({
      action: 'create',
      changes: [{ field: 'containerDefinitions[onboarding-agent].secrets.ONBOARDING_AGENT_ROOT_CERTS', current: `${SECRET_ARN}:::v-1`, wanted: `${SECRET_ARN}:::${secretVersion}` }],
    });
    expect(JSON.stringify(td.plan)).not.toContain('BEGIN CERTIFICATE');
    const fields = only(svc.plan).changes?.map((c) => c.field);
    expect(only(svc.plan).action).toBe('update');
    expect(fields).toEqual(['taskDefinition', 'networkConfiguration.subnets']);
    expect(only(svc.plan).changes?.[1]?.wanted).toEqual([subnet]);
  });

  it('a CA secret to be created again (someone deleted it): a new revision referencing the placeholder, the service updated onto it', async () => {
    const caSecret = real.caSecret as NonNullable<WorkflowState['caSecret']>;
    const placeholder = plannedId('secret', caSecret.secretName);
    const planState: WorkflowState = { ...real, caSecret: { ...caSecret, secretArn: placeholder, versionId: undefined } };
    const applyState: WorkflowState = { ...real, caSecret: { ...caSecret, secretArn: `${SECRET_ARN.slice(0, -6)}XyZ987`, versionId: 'v-1' } };

    const { td, svc } = await planThenApply(planState, applyState);

    expect(only(td.plan).changes).toEqual([{ field: 'containerDefinitions[onboarding-agent].secrets.ONBOARDING_AGENT_ROOT_CERTS', current: `${SECRET_ARN}:::v-2`, wanted: placeholder }]);
    expect(only(svc.plan).changes?.map((c) => c.field)).toEqual(['taskDefinition']);
  });

  it('an unknown agent image (the pre-flight found problems): a new revision, planned on the rest', async () => {
    const preflight = { ...bookinfoPreflight(), agentImage: undefined } as unknown as WorkflowState['preflight'];
    const td = await planOnly(() => planTaskDefinition({ ...real, preflight }));
    expect(only(td.plan)).toMatchObject({ action: 'create', detail: expect.stringContaining('agent image unknown until the pre-flight passes') as unknown });
    expect(only(td.plan).changes).toBeUndefined();
  });

  it('a service over a deleted (INACTIVE) one of the same name is planned as a create', async () => {
    await ecs.send(new DeleteServiceCommand({ cluster: 'bookinfo', service: 'ratings', force: true }));
    const { svc } = await planThenApply(real, real);
    expect(only(svc.plan)).toMatchObject({ action: 'create' });
  });

  it("another's family or service under our names: conflict, and the apply fails on it", async () => {
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'someone_else', containerDefinitions: [{ name: 'x', image: 'busybox', memory: 128 }] }));
    const theirs = [
      { key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' },
      { key: 'mesh-onboarding/workload', value: 'bookinfo/reviews' },
    ];
    const taken = await ecs.send(
      new CreateServiceCommand({
        cluster: 'bookinfo',
        serviceName: 'reviews',
        taskDefinition: (real.taskDefinition as TaskDefinitionResult).taskDefinitionArn,
        desiredCount: 1,
        launchType: 'FARGATE',
        networkConfiguration: { awsvpcConfiguration: { subnets: real.taskSubnet?.subnets.map((s) => s.subnetId), securityGroups: [real.securityGroup?.groupId ?? ''] } },
        tags: theirs,
      }),
    );
    const conflicted = { ...real, request: bookinfoRequest({ ecs: { family: 'someone_else', service: 'reviews' } }) };

    const td = await planOnly(() => planTaskDefinition(conflicted));
    const svc = await planOnly(() => planService({ ...conflicted, taskDefinition: td }));

    expect(only(td.plan)).toMatchObject({ action: 'conflict', name: 'someone_else', detail: expect.stringContaining('not made by this tool') as unknown });
    expect(only(svc.plan)).toMatchObject({ action: 'conflict', id: taken.service?.serviceArn, detail: expect.stringContaining('bookinfo/reviews') as unknown });
    await expect(registerTaskDefinition(conflicted)).rejects.toThrow(ResourceConflictError);
    await expect(ensureService(conflicted)).rejects.toThrow(ResourceConflictError);
  });

  it('through the wrapped handlers, request.dryRun plans instead of applying', async () => {
    const request = { ...bookinfoRequest({ app: { image: `${NEW_IMAGE}-rc1` }, ecs: { desiredCount: 3 } }), dryRun: true };
    const td = await planOnly(() => taskDefinitionHandler({ ...real, request }, {} as Context) as Promise<TaskDefinitionResult>);
    const svc = await planOnly(() => serviceHandler({ ...real, request, taskDefinition: td }, {} as Context) as Promise<ServiceResult>);

    expect(only(td.plan)).toMatchObject({ action: 'create', changes: [{ field: 'containerDefinitions[ratings].image', wanted: `${NEW_IMAGE}-rc1` }] });
    expect(only(svc.plan)).toMatchObject({ action: 'update' });
    expect(only(svc.plan).changes?.map((c) => c.field)).toEqual(['taskDefinition', 'desiredCount']);
  });
});
