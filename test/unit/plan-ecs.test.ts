/**
 * The dry runs of Register task definition and Ensure service on answers moto does not give: a
 * DRAINING service, a FAILED deployment, ECS Exec reported, throttling; and the task definition
 * comparison's field paths on what DescribeTaskDefinition returns on AWS.
 */
import { CreateServiceCommand, DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureService, handler as ensureServiceHandler, planService } from '../../functions/ensure-service.ts';
import { taskDefinitionInput } from '../../functions/register-task-definition.ts';
import { taskDefinitionChanges } from '../../functions/lib/aws/task-definition.ts';
import { AwsThrottledError, ResourceDrainingError } from '../../functions/lib/errors.ts';
import { need } from '../../functions/lib/state.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { bookinfoPreflight, bookinfoRequest } from '../support/requests.ts';

const ecsMock = mockClient(ECSClient);
afterEach(() => {
  ecsMock.reset();
});

const ACCOUNT = '111122223333';
const TD_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/bookinfo_ratings:3`;
const SERVICE_ARN = `arn:aws:ecs:us-east-1:${ACCOUNT}:service/bookinfo/ratings`;
const ourTags = [
  { key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' },
  { key: 'mesh-onboarding/workload', value: 'bookinfo/ratings' },
];

function state(overrides: Partial<WorkflowState> = {}): WorkflowState {
  return {
    request: bookinfoRequest(),
    preflight: bookinfoPreflight({ account: ACCOUNT }),
    cluster: { clusterName: 'bookinfo', clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/bookinfo`, ledger: [] },
    taskRole: { roleName: 'task', roleArn: `arn:aws:iam::${ACCOUNT}:role/task`, ledger: [] },
    executionRole: { roleName: 'exec', roleArn: `arn:aws:iam::${ACCOUNT}:role/exec`, ledger: [] },
    caSecret: { secretName: 'ca', secretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf`, versionId: 'v-1', updated: false, ledger: [] },
    logGroup: { logGroupName: '/ecs/bookinfo_ratings', retentionDays: 30, ledger: [] },
    taskSubnet: { subnets: [{ subnetId: 'subnet-0123456789abcdef0', cidr: '10.0.3.0/24', availabilityZone: 'us-east-1a', routeTableId: 'rtb-0123456789abcdef0' }], ledger: [] },
    securityGroup: { groupId: 'sg-0123456789abcdef0', ledger: [] },
    taskDefinition: { taskDefinitionArn: TD_ARN, family: 'bookinfo_ratings', revision: 3, ledger: [] },
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
    enableExecuteCommand: true,
    networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0123456789abcdef0'], securityGroups: ['sg-0123456789abcdef0'], assignPublicIp: 'DISABLED' } },
    deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'COMPLETED' }],
    tags: ourTags,
    ...overrides,
  };
}

const noWrites = () => {
  expect(ecsMock).not.toHaveReceivedCommand(CreateServiceCommand);
  expect(ecsMock).not.toHaveReceivedCommand(UpdateServiceCommand);
  expect(ecsMock).not.toHaveReceivedCommand(RegisterTaskDefinitionCommand);
};

describe('Ensure service plan: what moto cannot show', () => {
  it('a DRAINING service: planned as a create after the wait, with a problem saying the apply waits for it', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'DRAINING' })] });

    const planned = await planService(state());

    expect(planned.plan).toEqual([{ kind: 'ecs-service', name: 'ratings', action: 'create', detail: expect.stringContaining('DRAINING') as unknown }]);
    expect(planned.problems).toEqual([{ step: 'Ensure service', path: 'ecs.service', message: expect.stringMatching(/DRAINING.*waits for it.*ResourceDrainingError/) as unknown }]);
    noWrites();
    // What the plan says happens: the apply waits (retryable), it does not create yet.
    await expect(ensureService(state())).rejects.toThrow(ResourceDrainingError);
    noWrites();
  });

  it('a FAILED primary deployment is an update forcing a new deployment, as the apply does', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ deployments: [{ id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD_ARN, rolloutState: 'FAILED' }] })] });
    ecsMock.on(UpdateServiceCommand).resolves({ service: service() });

    const planned = await planService(state());
    expect(planned.plan).toEqual([{ kind: 'ecs-service', name: 'ratings', id: SERVICE_ARN, action: 'update', changes: [{ field: 'forceNewDeployment', current: 'primary deployment FAILED', wanted: true }] }]);
    noWrites();

    const applied = await ensureService(state());
    expect(applied.ledger).toEqual([{ kind: 'ecs-service', id: SERVICE_ARN, arn: SERVICE_ARN, created: false, updated: true }]);
    expect(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input).toEqual({ cluster: 'bookinfo', service: 'ratings', forceNewDeployment: true });
  });

  it('ECS Exec and the security group as fields of the update; ECS Exec reported as null is not a change', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [service({ enableExecuteCommand: false, networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0123456789abcdef0'], securityGroups: ['sg-0aaaaaaaaaaaaaaaa'] } } })],
    });
    const planned = await planService(state());
    expect(planned.plan?.[0]?.changes).toEqual([
      { field: 'networkConfiguration.securityGroups', current: ['sg-0aaaaaaaaaaaaaaaa'], wanted: ['sg-0123456789abcdef0'] },
      { field: 'enableExecuteCommand', current: false, wanted: true },
    ]);

    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ enableExecuteCommand: null as unknown as boolean })] });
    expect((await planService(state())).plan?.[0]?.action).toBe('reuse');
    noWrites();
  });

  it('throttling is not planned past: the wrapped handler throws AwsThrottledError in a dry run', async () => {
    ecsMock.on(DescribeServicesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    const dryRun = state({ request: { ...bookinfoRequest(), dryRun: true } });

    const err = await ensureServiceHandler(dryRun, {} as Context).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(AwsThrottledError);
    noWrites();
  });
});

describe('Register task definition: the comparison names each differing leaf', () => {
  const sent = taskDefinitionInput(need(state(), 'preflight', 'taskRole', 'executionRole', 'caSecret', 'logGroup'));
  // What DescribeTaskDefinition returns on AWS: defaults added, lists in another order.
  const described: TaskDefinition = {
    ...sent,
    taskDefinitionArn: TD_ARN,
    revision: 3,
    status: 'ACTIVE',
    compatibilities: ['EC2', 'FARGATE'],
    containerDefinitions: [...(sent.containerDefinitions ?? [])].reverse().map((c) => ({ ...c, cpu: 0, mountPoints: [], portMappings: c.portMappings?.map((p) => ({ ...p, hostPort: p.containerPort })) })),
  };

  it('none for what AWS adds or reorders', () => {
    expect(taskDefinitionChanges(described, sent)).toEqual([]);
  });

  it('one per leaf: cpu, memory, the task role, the agent config, the CA secret ARN, a port', () => {
    const wanted = taskDefinitionInput(
      need(
        state({
          request: bookinfoRequest({ ecs: { cpu: '512', memory: '1024' }, app: { port: 9081 }, onboardingEndpoint: { host: 'onboarding.example' } }),
          taskRole: { roleName: 'task2', roleArn: `arn:aws:iam::${ACCOUNT}:role/task2`, ledger: [] },
          caSecret: { secretName: 'ca', secretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf`, versionId: 'v-2', updated: true, ledger: [] },
        }),
        'preflight',
        'taskRole',
        'executionRole',
        'caSecret',
        'logGroup',
      ),
    );
    const fields = taskDefinitionChanges(described, wanted).map((c) => c.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'cpu',
        'memory',
        'taskRoleArn',
        'containerDefinitions[onboarding-agent].environment.ONBOARDING_CONFIG',
        'containerDefinitions[onboarding-agent].secrets.ONBOARDING_AGENT_ROOT_CERTS',
        'containerDefinitions[ratings].portMappings[9080]',
        'containerDefinitions[ratings].portMappings[9081]',
      ]),
    );
    expect(taskDefinitionChanges(described, wanted).find((c) => c.field.endsWith('ONBOARDING_AGENT_ROOT_CERTS'))).toEqual({
      field: 'containerDefinitions[onboarding-agent].secrets.ONBOARDING_AGENT_ROOT_CERTS',
      current: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf:::v-1`,
      wanted: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:ca-AbCdEf:::v-2`,
    });
  });

  it('a container on one side only is one change, not one per field', () => {
    const renamed = { ...sent, containerDefinitions: sent.containerDefinitions?.map((c) => (c.name === 'ratings' ? { ...c, name: 'ratings-v2' } : c)) };
    expect(taskDefinitionChanges(described, renamed).map((c) => [c.field, c.current !== undefined, c.wanted !== undefined])).toEqual([
      ['containerDefinitions[ratings]', true, false],
      ['containerDefinitions[ratings-v2]', false, true],
    ]);
  });
});
