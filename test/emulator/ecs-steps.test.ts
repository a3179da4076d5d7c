import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client, ModifyVpcAttributeCommand } from '@aws-sdk/client-ec2';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListServicesCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  type ContainerDefinition,
} from '@aws-sdk/client-ecs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkServiceReadiness } from '../../functions/check-service-readiness.ts';
import { ensureCaSecret } from '../../functions/ensure-ca-secret.ts';
import { ensureCluster } from '../../functions/ensure-cluster.ts';
import { ensureService } from '../../functions/ensure-service.ts';
import { registerTaskDefinition } from '../../functions/register-task-definition.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

// moto reports the service's deployment COMPLETED with one running task (it starts no task objects itself).
const emu = useEmulator({ env: { MOTO_ECS_SERVICE_RUNNING: '1' } });

const ACCOUNT = '123456789012';
const AGENT_IMAGE = 'registry.example/tetrate/onboarding-agent:1.11.0';
const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf`;
const TASK_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/bookinfo.ratings-ecs-task-role`;
const EXEC_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/bookinfo.ratings-ecs-exec-role`;

const preflight = bookinfoPreflight({ account: ACCOUNT, agentImage: AGENT_IMAGE, onboardingPolicy: 'allow-ecs-bookinfo' });

/** The workflow state an earlier run would have built, with a real cluster, subnet and security group in moto. */
async function baseState(ec2: EC2Client): Promise<WorkflowState> {
  const request = bookinfoRequest();
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).Vpc?.VpcId ?? '';
  // moto's RunTask fails (500) in a VPC without DNS host names.
  await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
  const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.3.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet?.SubnetId ?? '';
  const groupId = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'ecs-bookinfo.ratings', Description: 'test' }))).GroupId ?? '';
  const cluster = await ensureCluster({ request });
  return {
    request,
    preflight,
    cluster,
    taskRole: { roleName: 'bookinfo.ratings-ecs-task-role', roleArn: TASK_ROLE_ARN, ledger: [] },
    executionRole: { roleName: 'bookinfo.ratings-ecs-exec-role', roleArn: EXEC_ROLE_ARN, ledger: [] },
    caSecret: { secretName: 'mesh-onboarding/bookinfo/ratings/root-ca', secretArn: SECRET_ARN, updated: false, ledger: [] },
    logGroup: { logGroupName: '/ecs/bookinfo_ratings', retentionDays: 30, ledger: [] },
    taskSubnet: { subnets: [{ subnetId, cidr: '10.0.3.0/24', availabilityZone: 'us-east-1a', routeTableId: 'rtb-0123456789abcdef0' }], ledger: [] },
    securityGroup: { groupId, ledger: [] },
  };
}

describe('ECS steps (emulator)', () => {
  let ecs: ECSClient;
  let state: WorkflowState;

  beforeAll(async () => {
    ecs = new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 });
    state = await baseState(new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 }));
    // Keep simulated tasks RUNNING: moto otherwise moves a task one status on per DescribeTasks.
    await emu.moto.admin('/moto-api/state-manager/set-transition', { model_name: 'ecs::task', transition: { progression: 'manual', times: 1_000_000 } });
  });

  const container = (cs: ContainerDefinition[] | undefined, name: string) => {
    const c = cs?.find((x) => x.name === name);
    if (!c) throw new Error(`container ${name} missing`);
    return c;
  };

  it('registers one revision for the same content and returns it again', async () => {
    const first = await registerTaskDefinition(state);
    const second = await registerTaskDefinition(state);

    expect(first).toMatchObject({ family: 'bookinfo_ratings', revision: 1 });
    expect(first.ledger).toEqual([{ kind: 'task-definition', id: first.taskDefinitionArn, arn: first.taskDefinitionArn, created: true }]);
    expect(second.taskDefinitionArn).toBe(first.taskDefinitionArn);
    expect(second.ledger[0]?.created).toBe(false);

    const { taskDefinition: td, tags } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'bookinfo_ratings', include: ['TAGS'] }));
    expect(td?.revision).toBe(1);
    expect(td).toMatchObject({ networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512', taskRoleArn: TASK_ROLE_ARN, executionRoleArn: EXEC_ROLE_ARN });
    expect(td?.containerDefinitions?.map((c) => c.name).sort()).toEqual(['onboarding-agent', 'ratings']);
    expect(tags).toContainEqual({ key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' });

    const agent = container(td?.containerDefinitions, 'onboarding-agent');
    expect(agent).toMatchObject({ image: AGENT_IMAGE, user: '0', essential: true });
    const config = agent.environment?.find((e) => e.name === 'ONBOARDING_CONFIG')?.value;
    expect(JSON.parse(config ?? 'null')).toEqual({
      apiVersion: 'config.agent.onboarding.tetrate.io/v1alpha1',
      kind: 'OnboardingConfiguration',
      onboardingEndpoint: { host: 'a1b2c3d4e5f6-123456789.us-east-1.elb.amazonaws.com', port: 15443, transportSecurity: { tls: { sni: 'onboarding-endpoint.example' } } },
      workloadGroup: { namespace: 'bookinfo', name: 'ratings' },
      workload: { labels: { version: 'v5' } },
    });
    expect(agent.secrets).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: SECRET_ARN }]);
    expect(agent.environment?.map((e) => e.name)).not.toContain('ONBOARDING_AGENT_ROOT_CERTS');
    expect(JSON.stringify(td)).not.toContain('BEGIN CERTIFICATE');

    const app = container(td?.containerDefinitions, 'ratings');
    expect(app).toMatchObject({ image: 'docker.io/tetrate/tetrate-examples-bookinfo-ratings-localhost-v1:1.16.4', essential: true });
    expect(app.portMappings?.[0]).toMatchObject({ containerPort: 9080, protocol: 'tcp' });
    for (const c of [agent, app]) {
      expect(c.logConfiguration).toEqual({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/bookinfo_ratings', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs' } });
    }
    expect((agent.memoryReservation ?? 0) + (app.memoryReservation ?? 0)).toBeLessThanOrEqual(512);
  });

  it('registers revision 2 when the app image changes', async () => {
    const request = bookinfoRequest({ app: { image: 'docker.io/tetrate/tetrate-examples-bookinfo-ratings-localhost-v1:1.17.0' } });
    const changed = await registerTaskDefinition({ ...state, request });

    expect(changed.revision).toBe(2);
    expect(changed.ledger[0]?.created).toBe(true);
    const { taskDefinition: td } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'bookinfo_ratings' }));
    expect(td?.taskDefinitionArn).toBe(changed.taskDefinitionArn);
    expect(container(td?.containerDefinitions, 'ratings').image).toMatch(/:1\.17\.0$/);
    state = { ...state, request, taskDefinition: changed };
  });

  it('refuses a task definition family that another tool registered', async () => {
    await ecs.send(new RegisterTaskDefinitionCommand({ family: 'someone_else', containerDefinitions: [{ name: 'x', image: 'busybox', memory: 128 }] }));
    const request = bookinfoRequest({ ecs: { family: 'someone_else' } });

    await expect(registerTaskDefinition({ ...state, request })).rejects.toThrow(ResourceConflictError);
    const { taskDefinition: td } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'someone_else' }));
    expect(td?.revision).toBe(1);
  });

  it("refuses a task definition family registered by this tool for another workload, naming it", async () => {
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'reviews_family',
        containerDefinitions: [{ name: 'x', image: 'busybox', memory: 128 }],
        tags: [
          { key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' },
          { key: 'mesh-onboarding/workload', value: 'bookinfo/reviews' },
        ],
      }),
    );
    const request = bookinfoRequest({ ecs: { family: 'reviews_family' } });

    const err = await registerTaskDefinition({ ...state, request }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('bookinfo/reviews');
    const { taskDefinition: td } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'reviews_family' }));
    expect(td?.revision).toBe(1);
  });

  it('creates the service once, reuses it, and updates it when desiredCount changes', async () => {
    const first = await ensureService(state);
    const second = await ensureService(state);

    expect(first).toMatchObject({ serviceName: 'ratings', clusterName: 'bookinfo', updated: false });
    expect(first.ledger).toEqual([{ kind: 'ecs-service', id: first.serviceArn, arn: first.serviceArn, created: true }]);
    expect(second).toMatchObject({ serviceArn: first.serviceArn, updated: false });
    expect(second.ledger[0]?.created).toBe(false);

    const { serviceArns } = await ecs.send(new ListServicesCommand({ cluster: 'bookinfo' }));
    expect(serviceArns).toEqual([first.serviceArn]);
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'], include: ['TAGS'] }));
    expect(services?.[0]).toMatchObject({
      taskDefinition: state.taskDefinition?.taskDefinitionArn,
      desiredCount: 1,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: state.taskSubnet?.subnets.map((x) => x.subnetId), securityGroups: [state.securityGroup?.groupId], assignPublicIp: 'DISABLED' } },
    });
    expect(services?.[0]?.tags).toContainEqual({ key: 'mesh-onboarding/workload', value: 'bookinfo/ratings' });

    const request = bookinfoRequest({ app: state.request.app, ecs: { desiredCount: 2 } });
    const scaled = await ensureService({ ...state, request });
    expect(scaled).toMatchObject({ serviceArn: first.serviceArn, updated: true });
    expect(scaled.ledger[0]?.created).toBe(false);
    const after = await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'] }));
    expect(after.services?.[0]?.desiredCount).toBe(2);
    expect((await ecs.send(new ListServicesCommand({ cluster: 'bookinfo' }))).serviceArns).toHaveLength(1);
    state = { ...state, request, service: scaled };
  });

  it('reports the running tasks with their id, zone and private IP once the service runs them', async () => {
    const waiting = await checkServiceReadiness(state);
    expect(waiting).toMatchObject({ ready: false, tasks: [] });
    expect(waiting.status).toContain('running 0/2');

    // Simulate Fargate: moto's CreateService starts no tasks, so start the service's tasks as ECS would.
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'] }));
    const svc = services?.[0];
    const run = await ecs.send(
      new RunTaskCommand({
        cluster: 'bookinfo',
        taskDefinition: svc?.taskDefinition,
        count: 2,
        launchType: 'FARGATE',
        group: 'service:ratings',
        startedBy: svc?.deployments?.[0]?.id,
        networkConfiguration: svc?.networkConfiguration,
      }),
    );
    // A task of another group in the same cluster must not count (moto ignores ListTasks' serviceName).
    await ecs.send(new RunTaskCommand({ cluster: 'bookinfo', taskDefinition: svc?.taskDefinition, launchType: 'FARGATE', networkConfiguration: svc?.networkConfiguration }));
    const started = (run.tasks ?? []).map((t) => t.taskArn?.split('/').pop()).sort();

    const ready = await checkServiceReadiness({ ...state, readiness: waiting });
    expect(ready.ready).toBe(true);
    expect(ready.poll.attempt).toBe(2);
    expect(ready.tasks.map((t) => t.taskId).sort()).toEqual(started);
    for (const t of ready.tasks) {
      expect(t).toMatchObject({ availabilityZone: 'us-east-1a', lastStatus: 'RUNNING' });
      expect(t.privateIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(t.taskArn).toContain(t.taskId);
    }
  });
});

describe('CA rotation through the steps (emulator)', () => {
  // A workload of its own in the same emulator: its own secret, family and service.
  const SECOND_PEM = readFileSync(new URL('../fixtures/second-root-ca.pem', import.meta.url), 'utf8');
  const request = (rootCaPem?: string) => bookinfoRequest({ workloadGroup: { name: 'details' }, ecs: { service: 'details', family: 'bookinfo_details' }, ...(rootCaPem ? { rootCaPem } : {}) });

  /** Ensure CA secret → Register task definition → Ensure service, as the workflow runs them. */
  async function runSteps(base: WorkflowState, rootCaPem?: string): Promise<WorkflowState> {
    const r = request(rootCaPem);
    let s: WorkflowState = { ...base, request: r, caBundle: { pem: r.rootCaPem } };
    s = { ...s, caSecret: await ensureCaSecret(s) };
    s = { ...s, taskDefinition: await registerTaskDefinition(s) };
    return { ...s, service: await ensureService(s) };
  }

  it('a new rootCaPem gives a new secret version, a new task definition revision pinned to it, and an UpdateService', async () => {
    const ecs = new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 });
    const base = await baseState(new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 }));
    const agentSecrets = async (arn: string | undefined) =>
      (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).taskDefinition?.containerDefinitions?.find((c) => c.name === 'onboarding-agent')?.secrets;

    // Act: the first CA, the same again (a re-run), then a rotated CA.
    const first = await runSteps(base);
    const rerun = await runSteps(base);
    const rotated = await runSteps(base, SECOND_PEM);

    // Assess: the re-run changed nothing.
    expect(rerun.caSecret?.versionId).toBe(first.caSecret?.versionId);
    expect(rerun.taskDefinition?.taskDefinitionArn).toBe(first.taskDefinition?.taskDefinitionArn);
    expect(rerun.service?.updated).toBe(false);
    // The rotation: a new version, a new revision referencing it, and the service moved onto it.
    expect(rotated.caSecret).toMatchObject({ secretArn: first.caSecret?.secretArn, updated: true });
    expect(rotated.caSecret?.versionId).not.toBe(first.caSecret?.versionId);
    expect(rotated.taskDefinition?.revision).toBe((first.taskDefinition?.revision ?? 0) + 1);
    expect(await agentSecrets(first.taskDefinition?.taskDefinitionArn)).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: `${first.caSecret?.secretArn}:::${first.caSecret?.versionId}` }]);
    expect(await agentSecrets(rotated.taskDefinition?.taskDefinitionArn)).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: `${first.caSecret?.secretArn}:::${rotated.caSecret?.versionId}` }]);
    expect(rotated.service).toMatchObject({ serviceArn: first.service?.serviceArn, updated: true });
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['details'] }));
    expect(services?.[0]?.taskDefinition).toBe(rotated.taskDefinition?.taskDefinitionArn);
  });
});
