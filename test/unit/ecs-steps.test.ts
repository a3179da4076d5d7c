import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  UpdateServiceCommand,
  type Service,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { READINESS } from '../../functions/lib/settings.ts';
import { checkServiceReadiness, handler as readinessHandler } from '../../functions/check-service-readiness.ts';
import { ensureCluster, handler as ensureClusterHandler } from '../../functions/ensure-cluster.ts';
import { ensureService, handler as ensureServiceHandler } from '../../functions/ensure-service.ts';
import { taskDefinitionInput } from '../../functions/register-task-definition.ts';
import { taskDefinitionFingerprint } from '../../functions/lib/aws/task-definition.ts';
import {
  AwsThrottledError,
  ResourceConflictError,
  ResourceDrainingError,
  ResourceFailedError,
  ResourceNotReadyError,
  TaskStoppedError,
  UnexpectedError,
  WaitDeadlineExceededError,
} from '../../functions/lib/errors.ts';
import { nextPoll, type Poll } from '../../functions/lib/poll.ts';
import { need } from '../../functions/lib/state.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

const ecsMock = mockClient(ECSClient);
afterEach(() => {
  ecsMock.reset();
});

const ACCOUNT = '111122223333';
const TD_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/bookinfo_ratings:3`;
const OLD_TD_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/bookinfo_ratings:2`;
const SERVICE_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:service/bookinfo/ratings`;
const TASK_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task/bookinfo/3a151358f03a4e32bf8cd401c1c74653`;
const ourTags = [
  { key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' },
  { key: 'mesh-onboarding/workload', value: 'bookinfo/ratings' },
];
const DEPLOYED_AT = new Date('2026-01-01T10:00:00Z');

const preflight = bookinfoPreflight({ account: ACCOUNT, agentImage: 'registry.example/onboarding-agent:1' });

function state(overrides: Partial<WorkflowState> = {}): WorkflowState {
  return {
    request: bookinfoRequest(),
    preflight,
    cluster: { clusterName: 'bookinfo', clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/bookinfo`, ledger: [] },
    taskRole: { roleName: 'task', roleArn: `arn:aws:iam::${ACCOUNT}:role/task`, ledger: [] },
    executionRole: { roleName: 'exec', roleArn: `arn:aws:iam::${ACCOUNT}:role/exec`, ledger: [] },
    caSecret: { secretName: 'ca', secretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf`, updated: false, ledger: [] },
    logGroup: { logGroupName: '/ecs/bookinfo_ratings', retentionDays: 30, ledger: [] },
    taskSubnet: { subnets: [{ subnetId: 'subnet-0123456789abcdef0', cidr: '10.0.3.0/24', availabilityZone: 'us-east-1a', routeTableId: 'rtb-0123456789abcdef0' }], ledger: [] },
    securityGroup: { groupId: 'sg-0123456789abcdef0', ledger: [] },
    taskDefinition: { taskDefinitionArn: TD_ARN, family: 'bookinfo_ratings', revision: 3, ledger: [] },
    service: { serviceArn: SERVICE_ARN, serviceName: 'ratings', clusterName: 'bookinfo', updated: false, ledger: [] },
    ...overrides,
  };
}

function service(overrides: Partial<Service> = {}): Service {
  return {
    serviceName: 'ratings',
    serviceArn: SERVICE_ARN,
    status: 'ACTIVE',
    taskDefinition: TD_ARN,
    desiredCount: 1,
    runningCount: 0,
    enableExecuteCommand: true,
    networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0123456789abcdef0'], securityGroups: ['sg-0123456789abcdef0'], assignPublicIp: 'DISABLED' } },
    deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'IN_PROGRESS', runningCount: 0, createdAt: DEPLOYED_AT }],
    tags: ourTags,
    ...overrides,
  };
}

function task(overrides: Partial<Task> = {}): Task {
  return {
    taskArn: TASK_ARN,
    group: 'service:ratings',
    taskDefinitionArn: TD_ARN,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    availabilityZone: 'us-east-1b',
    attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: '10.0.3.25' }] }],
    ...overrides,
  };
}

function given(svc: Service, tasks: Task[]): void {
  ecsMock.on(DescribeServicesCommand).resolves({ services: [svc] });
  ecsMock.on(ListTasksCommand).resolves({ taskArns: tasks.map((t) => t.taskArn ?? '') });
  ecsMock.on(DescribeTasksCommand).resolves({ tasks });
}

function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
}

describe('Check service readiness: failure and wait paths', () => {
  it('fails with TaskStoppedError carrying the stop reason and each container exit code', async () => {
    // Prepare
    given(service(), [
      task({
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        stoppedAt: new Date(DEPLOYED_AT.getTime() + 60_000),
        containers: [
          { name: 'onboarding-agent', exitCode: 0 },
          { name: 'ratings', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' },
        ],
      }),
    ]);

    // Act
    const err = await checkServiceReadiness(state()).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(TaskStoppedError);
    const message = (err as Error).message;
    expect(message).toContain('Essential container in task exited');
    expect(message).toContain('EssentialContainerExited');
    expect(message).toContain('ratings exit 137 (OutOfMemoryError: Container killed due to memory usage)');
    expect(message).toContain('onboarding-agent exit 0');
    expect(message).toContain('3a151358f03a4e32bf8cd401c1c74653');
  });

  it('fails with TaskStoppedError when the deployment failed (circuit breaker)', async () => {
    given(
      service({
        deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }],
      }),
      [],
    );

    await expect(checkServiceReadiness(state())).rejects.toThrow(/ecs-svc\/1 FAILED: ECS deployment circuit breaker: tasks failed to start\./);
  });

  it('ignores stopped tasks of an older task definition, from before the deployment, or from a scale-in', async () => {
    const stopped = { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited' as const, stoppedReason: 'Essential container in task exited' };
    given(service(), [
      task({ ...stopped, taskArn: `${TASK_ARN}1`, taskDefinitionArn: OLD_TD_ARN, stoppedAt: new Date(DEPLOYED_AT.getTime() + 1000) }),
      task({ ...stopped, taskArn: `${TASK_ARN}2`, stoppedAt: new Date(DEPLOYED_AT.getTime() - 1000) }),
      task({ ...stopped, taskArn: `${TASK_ARN}3`, stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1)' }),
    ]);

    const result = await checkServiceReadiness(state());

    expect(result).toMatchObject({ ready: false, tasks: [], status: 'running 0/1, deployment IN_PROGRESS' });
  });

  it('returns ready=false with the next poll (short polls around the typical start time) while the deployment is in progress', async () => {
    // Prepare
    given(service(), [task({ lastStatus: 'PROVISIONING' })]);

    // Act
    const first = await checkServiceReadiness(state());
    const second = await checkServiceReadiness(state({ readiness: first }));

    // Assess
    expect(first).toMatchObject({ ready: false, tasks: [], status: 'running 0/1, deployment IN_PROGRESS, tasks PROVISIONING' });
    expect(first.poll.attempt).toBe(1);
    expect(Date.parse(first.poll.deadline) - Date.parse(first.poll.startedAt)).toBe(900_000);
    expect(second.poll).toMatchObject({ attempt: 2, startedAt: first.poll.startedAt, deadline: first.poll.deadline });
    expect([first.poll.nextWaitSeconds, second.poll.nextWaitSeconds]).toEqual([READINESS.service.pollSeconds, READINESS.service.pollSeconds]);
  });

  it('fails with WaitDeadlineExceededError naming the service and what is missing', async () => {
    given(service(), []);
    const expired: Poll = { attempt: 9, startedAt: '2026-01-01T10:00:00.000Z', deadline: '2026-01-01T10:15:00.000Z', nextWaitSeconds: 60 };

    const err = await checkServiceReadiness(state({ readiness: { ready: false, tasks: [], poll: expired, status: '' } })).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(WaitDeadlineExceededError);
    expect((err as Error).message).toMatch(/ECS service "ratings" in cluster "bookinfo" not ready .*running 0\/1, deployment IN_PROGRESS/);
  });

  it('is ready when the deployment completed and every task runs, reporting zone and IP', async () => {
    given(service({ runningCount: 1, deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'COMPLETED', runningCount: 1 }] }), [task()]);

    const result = await checkServiceReadiness(state());

    expect(result.ready).toBe(true);
    expect(result.tasks).toEqual([{ taskId: '3a151358f03a4e32bf8cd401c1c74653', taskArn: TASK_ARN, availabilityZone: 'us-east-1b', privateIp: '10.0.3.25', lastStatus: 'RUNNING' }]);
  });

  it('is ready at once with no tasks when desiredCount is 0', async () => {
    given(service({ desiredCount: 0 }), []);

    const result = await checkServiceReadiness(state());

    expect(result).toMatchObject({ ready: true, tasks: [] });
    expect(ecsMock).not.toHaveReceivedCommand(ListTasksCommand);
  });

  it('surfaces ECS throttling as AwsThrottledError from the wrapped handler', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    const err = await readinessHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AwsThrottledError);
    expect((err as Error).name).toBe('AwsThrottledError');
  });
});

const SECRETS_DENIED =
  'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:ca-AbCdEf from secrets manager: AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/exec/abc is not authorized to perform: secretsmanager:GetSecretValue';
const PULL_TIMEOUT =
  'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref registry.example/onboarding-agent:1: failed to do request: Head "https://registry.example/v2/onboarding-agent/manifests/1": dial tcp 203.0.113.10:443: i/o timeout';
const ROLE_NOT_ASSUMABLE = 'ECS was unable to assume the role arn:aws:iam::111122223333:role/exec that was provided for this task.';

/** A task of the current deployment that failed to start `secondsAfterDeploy` after it began. */
function failedToStart(n: number, stoppedReason: string, secondsAfterDeploy = 30 + n): Task {
  return task({
    taskArn: `${TASK_ARN}${n}`,
    lastStatus: 'STOPPED',
    desiredStatus: 'STOPPED',
    stopCode: 'TaskFailedToStart',
    stoppedReason,
    stoppedAt: new Date(DEPLOYED_AT.getTime() + secondsAfterDeploy * 1000),
    containers: [{ name: 'onboarding-agent' }, { name: 'ratings' }],
  });
}

describe('Check service readiness: start-up failures ECS retries by itself', () => {
  it.each([
    ['secrets AccessDenied while the execution policy propagates', SECRETS_DENIED],
    ['image pull i/o timeout while the NAT route settles', PULL_TIMEOUT],
    ['execution role not assumable yet', ROLE_NOT_ASSUMABLE],
  ])('waits (ready=false, reason in status) on one task that failed to start: %s', async (_, reason) => {
    // Prepare
    given(service(), [failedToStart(1, reason), task({ taskArn: `${TASK_ARN}9`, lastStatus: 'PROVISIONING' })]);

    // Act
    const result = await checkServiceReadiness(state());

    // Assess
    expect(result).toMatchObject({ ready: false, tasks: [] });
    expect(result.status).toBe(`running 0/1, deployment IN_PROGRESS, tasks PROVISIONING, 1 task failed to start (retrying): ${reason}`);
  });

  it('names the latest reason and the count while under the limit', async () => {
    given(service(), [failedToStart(1, PULL_TIMEOUT, 10), failedToStart(2, SECRETS_DENIED, 50)]);

    const result = await checkServiceReadiness(state());

    expect(result.ready).toBe(false);
    expect(result.status).toBe(`running 0/1, deployment IN_PROGRESS, 2 tasks failed to start (retrying): ${SECRETS_DENIED}`);
  });

  it('fails with TaskStoppedError once 3 tasks of the current deployment failed to start', async () => {
    given(service(), [failedToStart(1, SECRETS_DENIED, 10), failedToStart(2, SECRETS_DENIED, 20), failedToStart(3, SECRETS_DENIED, 30)]);

    const err = await checkServiceReadiness(state()).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(TaskStoppedError);
    expect((err as Error).message).toContain(`ECS service "ratings": 3 tasks kept failing to start: ${SECRETS_DENIED}`);
    expect((err as Error).message).toContain('[TaskFailedToStart]');
  });

  it('does not count start failures from before the current deployment', async () => {
    given(service(), [failedToStart(1, SECRETS_DENIED, -300), failedToStart(2, SECRETS_DENIED, -200), failedToStart(3, PULL_TIMEOUT, 20)]);

    const result = await checkServiceReadiness(state());

    expect(result.status).toBe(`running 0/1, deployment IN_PROGRESS, 1 task failed to start (retrying): ${PULL_TIMEOUT}`);
  });

  it('still fails fast on a start failure that is not transient, and on a failed deployment', async () => {
    given(service(), [failedToStart(1, SECRETS_DENIED), failedToStart(2, 'CannotStartContainerError: Error response from daemon: invalid mount config')]);
    await expect(checkServiceReadiness(state())).rejects.toThrow(/CannotStartContainerError/);

    given(service({ deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', createdAt: DEPLOYED_AT }] }), [
      failedToStart(1, SECRETS_DENIED),
    ]);
    const err = await checkServiceReadiness(state()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskStoppedError);
    expect((err as Error).message).toMatch(/ecs-svc\/1 FAILED: ECS deployment circuit breaker.*ResourceInitializationError/);
  });

  it('does not treat an exited container as transient even when the reason mentions a start-up error', async () => {
    const exited = task({
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      stoppedAt: new Date(DEPLOYED_AT.getTime() + 30_000),
      containers: [{ name: 'onboarding-agent', exitCode: 1, reason: 'CannotPullContainerError in a sidecar log line' }, { name: 'ratings', exitCode: 0 }],
    });
    given(service(), [exited]);

    await expect(checkServiceReadiness(state())).rejects.toThrow(/onboarding-agent exit 1/);
    given(service(), [{ ...exited, stopCode: 'TaskFailedToStart', stoppedReason: PULL_TIMEOUT }]);
    await expect(checkServiceReadiness(state())).rejects.toThrow(TaskStoppedError);
  });
});

describe('Check service readiness: deployments and visibility', () => {
  it('waits (retryable) when DescribeServices does not list the service on the first poll, and fails later', async () => {
    // Prepare
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] });

    // Act
    const first = await readinessHandler(state(), {} as Context).catch((e: unknown) => e);
    const poll = nextPoll(undefined, 900);
    const later = await readinessHandler(state({ readiness: { ready: false, tasks: [], poll, status: '' } }), {} as Context).catch((e: unknown) => e);

    // Assess
    expect(first).toBeInstanceOf(ResourceNotReadyError);
    expect((first as Error).message).toContain('"ratings"');
    expect(later).toBeInstanceOf(ResourceFailedError);
    expect((later as Error).message).toContain('deleted while waiting');
  });

  it('waits on a forced redeployment that replaced a FAILED first deployment of the same task definition', async () => {
    given(
      service({
        deployments: [
          { id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'IN_PROGRESS', runningCount: 0, createdAt: DEPLOYED_AT },
          { id: 'ecs-svc/1', status: 'ACTIVE', taskDefinition: TD_ARN, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', createdAt: new Date(DEPLOYED_AT.getTime() - 600_000) },
        ],
      }),
      [failedToStart(1, SECRETS_DENIED, -400), failedToStart(2, SECRETS_DENIED, -300), failedToStart(3, SECRETS_DENIED, -200)],
    );

    const result = await checkServiceReadiness(state());

    expect(result).toMatchObject({ ready: false, status: 'running 0/1, deployment IN_PROGRESS' });
  });

  it('fails when the circuit breaker rolled our deployment back to an older task definition', async () => {
    given(
      service({
        taskDefinition: OLD_TD_ARN,
        deployments: [
          { id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: OLD_TD_ARN, rolloutState: 'IN_PROGRESS', createdAt: DEPLOYED_AT },
          { id: 'ecs-svc/2', status: 'ACTIVE', taskDefinition: TD_ARN, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: rolling back.' },
        ],
      }),
      [],
    );

    await expect(checkServiceReadiness(state())).rejects.toThrow(/ecs-svc\/2 FAILED: ECS deployment circuit breaker: rolling back\./);
  });
});

describe('Ensure service: paths the emulator cannot show', () => {
  it('refuses an ACTIVE service with our name that another tool made', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ tags: [{ key: 'team', value: 'payments' }] })] });

    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('"ratings"');
    expect(ecsMock).not.toHaveReceivedCommand(CreateServiceCommand);
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });

  it('waits on the slow draining schedule (ResourceDrainingError) for a DRAINING service instead of making a second one', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'DRAINING' })] });

    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceDrainingError);
    expect((err as Error).name).toBe('ResourceDrainingError');
    expect((err as Error).message).toMatch(/"ratings".*DRAINING/);
    expect(ecsMock).not.toHaveReceivedCommand(CreateServiceCommand);
  });

  it('recreates an INACTIVE service with FARGATE, the circuit breaker and a stable client token', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'INACTIVE' })] });
    ecsMock.on(CreateServiceCommand).resolves({ service: service() });

    const first = await ensureService(state());
    await ensureService(state());

    expect(first.ledger[0]?.created).toBe(true);
    expect(ecsMock).toHaveReceivedCommandWith(CreateServiceCommand, {
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
      propagateTags: 'TASK_DEFINITION',
      enableExecuteCommand: true,
    });
    const tokens = ecsMock.commandCalls(CreateServiceCommand).map((c) => c.args[0].input.clientToken);
    expect(tokens[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(tokens[1]).toBe(tokens[0]);
  });

  it('does not update for enableExecuteCommand reported as null, and redeploys when it really differs', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ enableExecuteCommand: null as unknown as boolean })] });
    const unknown = await ensureService(state());
    expect(unknown.updated).toBe(false);
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);

    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ enableExecuteCommand: false })] });
    const changed = await ensureService(state());
    expect(changed.updated).toBe(true);
    expect(ecsMock).toHaveReceivedCommandWith(UpdateServiceCommand, { service: 'ratings', enableExecuteCommand: true, forceNewDeployment: true });
  });

  it('forces a new deployment when the primary one FAILED and nothing else differs', async () => {
    // Prepare
    const failed = service({ deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }] });
    ecsMock.on(DescribeServicesCommand).resolves({ services: [failed] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: service() });

    // Act
    const result = await ensureService(state());

    // Assess
    expect(result).toMatchObject({ serviceArn: SERVICE_ARN, updated: true, ledger: [{ kind: 'ecs-service', id: SERVICE_ARN, created: false }] });
    expect(ecsMock).toHaveReceivedCommandTimes(UpdateServiceCommand, 1);
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({ cluster: 'bookinfo', service: 'ratings', forceNewDeployment: true });
  });

  it('does not redeploy a service whose primary deployment is in progress or completed', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });

    const result = await ensureService(state());

    expect(result.updated).toBe(false);
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  });
});

describe('Register task definition: comparison with what AWS returns', () => {
  it('treats fields AWS adds or reorders as the same content, and a changed image as different', () => {
    const sent = taskDefinitionInput(need(state(), 'preflight', 'taskRole', 'executionRole', 'caSecret', 'logGroup'));
    // What DescribeTaskDefinition returns on AWS: defaults added, lists and options in another order.
    const described: TaskDefinition = {
      ...sent,
      taskDefinitionArn: TD_ARN,
      revision: 3,
      status: 'ACTIVE',
      compatibilities: ['EC2', 'FARGATE'],
      volumes: [],
      placementConstraints: [],
      registeredAt: new Date(),
      containerDefinitions: [...(sent.containerDefinitions ?? [])].reverse().map((c) => ({
        ...c,
        cpu: 0,
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
        portMappings: c.portMappings?.map((p) => ({ ...p, hostPort: p.containerPort })),
        logConfiguration: c.logConfiguration && { ...c.logConfiguration, options: Object.fromEntries(Object.entries(c.logConfiguration.options ?? {}).reverse()) },
      })),
    };

    expect(taskDefinitionFingerprint(described)).toBe(taskDefinitionFingerprint(sent));
    const newImage = { ...described, containerDefinitions: described.containerDefinitions?.map((c) => (c.name === 'ratings' ? { ...c, image: 'repo/ratings:2' } : c)) };
    expect(taskDefinitionFingerprint(newImage)).not.toBe(taskDefinitionFingerprint(sent));
  });
});

// Real ECS answers, which moto does not give: CreateService while a same-named service is
// DRAINING, and a client token ECS already saw. "If you attempt to create a new service with the
// same name as an existing service in either ACTIVE or DRAINING status, you receive an error":
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html
// Client tokens: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html
describe('Ensure service: creating it again after a delete (contract with real ECS answers)', () => {
  const DELETED_AT = new Date('2026-01-01T09:00:00Z');
  const tokens = () => ecsMock.commandCalls(CreateServiceCommand).map((c) => c.args[0].input.clientToken);

  it.each([
    ['Creation of service was not idempotent.'],
    ['Unable to Start a service that is still Draining.'],
  ])('maps InvalidParameterException "%s" to ResourceDrainingError', async (message) => {
    // Prepare: DescribeServices already shows the old one INACTIVE (or not at all), CreateService still refuses.
    ecsMock.on(DescribeServicesCommand).resolves({ services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] });
    ecsMock.on(CreateServiceCommand).rejects(awsError('InvalidParameterException', message));

    // Act
    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(ResourceDrainingError);
    expect((err as Error).name).toBe('ResourceDrainingError');
    expect((err as Error).message).toContain(message);
  });

  it('gives the client token a generation: a re-creation after a delete never reuses the first token', async () => {
    ecsMock.on(CreateServiceCommand).resolves({ service: service() });

    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });
    await ensureService(state());
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'INACTIVE', createdAt: DELETED_AT })] });
    await ensureService(state());
    await ensureService(state());
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'INACTIVE', createdAt: new Date('2026-01-02T09:00:00Z') })] });
    await ensureService(state());

    const [first, afterDelete, retried, afterSecondDelete] = tokens();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(afterDelete).not.toBe(first);
    expect(retried).toBe(afterDelete);
    expect(new Set([first, afterDelete, afterSecondDelete]).size).toBe(3);
  });

  it('does not report as created a deleted service that CreateService hands back for a token it saw, and tries a fresh token', async () => {
    // Prepare: the INACTIVE record is gone (purged), so the token is the first one again and ECS answers with the deleted service.
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });
    ecsMock
      .on(CreateServiceCommand)
      .resolvesOnce({ service: service({ status: 'INACTIVE', createdAt: DELETED_AT, desiredCount: 0 }) })
      .resolves({ service: service({ createdAt: DEPLOYED_AT }) });

    // Act
    const result = await ensureService(state());

    // Assess
    expect(result).toMatchObject({ serviceArn: SERVICE_ARN, ledger: [{ kind: 'ecs-service', created: true }] });
    expect(ecsMock).toHaveReceivedCommandTimes(CreateServiceCommand, 2);
    const [stale, fresh] = tokens();
    expect(fresh).not.toBe(stale);
  });

  it('waits (ResourceDrainingError) when CreateService hands back a DRAINING service, and never reports it created', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });
    ecsMock.on(CreateServiceCommand).resolves({ service: service({ status: 'DRAINING', createdAt: DELETED_AT }) });

    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceDrainingError);
    expect(ecsMock).toHaveReceivedCommandTimes(CreateServiceCommand, 1);
  });

  it('gives up, unretried, when CreateService keeps handing back deleted services', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [] });
    let n = 0;
    ecsMock.on(CreateServiceCommand).callsFake(() => ({ service: service({ status: 'INACTIVE', createdAt: new Date(DELETED_AT.getTime() - ++n * 60_000) }) }));

    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(UnexpectedError);
    expect((err as Error).message).toContain('kept handing back deleted services');
    expect(new Set(tokens()).size).toBe(tokens().length);
  });
});

describe('Ensure service: one workload per service', () => {
  it("refuses a service with this tool's tag that belongs to another workload, naming it", async () => {
    const theirs = [
      { key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' },
      { key: 'mesh-onboarding/workload', value: 'bookinfo/reviews' },
    ];
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ tags: theirs, taskDefinition: OLD_TD_ARN })] });

    const err = await ensureServiceHandler(state(), {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('bookinfo/reviews');
    expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
    expect(ecsMock).not.toHaveReceivedCommand(CreateServiceCommand);
  });
});

describe('CA rotation: the task definition pins the secret version', () => {
  const SECRET_ARN = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf`;
  const V1 = 'EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE';
  const V2 = 'EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE';
  const withVersion = (versionId?: string) => need(state({ caSecret: { secretName: 'ca', secretArn: SECRET_ARN, versionId, updated: false, ledger: [] } }), 'preflight', 'taskRole', 'executionRole', 'caSecret', 'logGroup');
  const agentSecrets = (versionId?: string) => taskDefinitionInput(withVersion(versionId)).containerDefinitions?.find((c) => c.name === 'onboarding-agent')?.secrets;

  it('references <secret ARN>:::<version id>, so a new CA version is new task definition content', () => {
    // ECS's valueFrom form arn:...:secret:name-AbCdEf:json-key:version-stage:version-id:
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html
    expect(agentSecrets(V1)).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: `${SECRET_ARN}:::${V1}` }]);
    expect(taskDefinitionFingerprint(taskDefinitionInput(withVersion(V2)))).not.toBe(taskDefinitionFingerprint(taskDefinitionInput(withVersion(V1))));
    expect(taskDefinitionFingerprint(taskDefinitionInput(withVersion(V1)))).toBe(taskDefinitionFingerprint(taskDefinitionInput(withVersion(V1))));
    // A state recorded before versions were: the bare ARN, as before.
    expect(agentSecrets(undefined)).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: SECRET_ARN }]);
  });

  it('rolls the service onto the revision of the new CA (UpdateService with the new task definition)', async () => {
    // Prepare: the service runs revision 2 (old CA); the new CA's revision is 3.
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ taskDefinition: OLD_TD_ARN })] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: service() });

    // Act
    const result = await ensureService(state());

    // Assess
    expect(result.updated).toBe(true);
    expect(ecsMock).toHaveReceivedCommandWith(UpdateServiceCommand, { cluster: 'bookinfo', service: 'ratings', taskDefinition: TD_ARN });
  });
});

describe('Ensure cluster: shared by every workload of the cluster (contract)', () => {
  const CLUSTER_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/bookinfo`;

  it('creates a cluster again over an INACTIVE (deleted) one of the same name, whoever made that', async () => {
    // DeleteCluster leaves it INACTIVE, "discoverable in your account for a period of time":
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'bookinfo', clusterArn: CLUSTER_ARN, status: 'INACTIVE', tags: [{ key: 'team', value: 'payments' }] }] });
    ecsMock.on(CreateClusterCommand).resolves({ cluster: { clusterName: 'bookinfo', clusterArn: CLUSTER_ARN, status: 'ACTIVE' } });

    const result = await ensureClusterHandler({ request: bookinfoRequest() }, {} as Context);

    expect(result.ledger).toEqual([{ kind: 'ecs-cluster', id: 'bookinfo', arn: CLUSTER_ARN, created: true, shared: true }]);
    expect(ecsMock).toHaveReceivedCommandTimes(CreateClusterCommand, 1);
  });

  it('tags a new cluster managed-by only (no workload: it is shared) and leaves Container Insights to the account unless asked', async () => {
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ arn: CLUSTER_ARN, reason: 'MISSING' }] });
    ecsMock.on(CreateClusterCommand).resolves({ cluster: { clusterName: 'bookinfo', clusterArn: CLUSTER_ARN, status: 'ACTIVE' } });

    await ensureCluster({ request: bookinfoRequest() });
    await ensureCluster({ request: bookinfoRequest({ ecs: { containerInsights: true } }) });

    const [plain, insights] = ecsMock.commandCalls(CreateClusterCommand).map((c) => c.args[0].input);
    expect(plain?.tags).toEqual([{ key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' }]);
    expect(plain?.settings).toBeUndefined();
    expect(plain?.capacityProviders).toEqual(['FARGATE']);
    // ClusterSetting: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ClusterSetting.html
    expect(insights?.settings).toEqual([{ name: 'containerInsights', value: 'enabled' }]);
  });

  it('reuses an ACTIVE cluster whatever its tags and settings, and changes nothing on it', async () => {
    ecsMock.on(DescribeClustersCommand).resolves({
      clusters: [{ clusterName: 'bookinfo', clusterArn: CLUSTER_ARN, status: 'ACTIVE', tags: [{ key: 'team', value: 'payments' }], settings: [{ name: 'containerInsights', value: 'disabled' }] }],
    });

    const result = await ensureCluster({ request: bookinfoRequest({ ecs: { containerInsights: true } }) });

    expect(result).toMatchObject({ clusterArn: CLUSTER_ARN, ledger: [{ created: false }] });
    expect(ecsMock).not.toHaveReceivedCommand(CreateClusterCommand);
  });
});
