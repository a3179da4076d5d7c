/**
 * Reverify workload with every AWS client mocked and the mesh's WARs injected: one test per
 * drift kind, the non-drift findings, what is written where, and the PutEvents contract
 * (HTTP 200 with a failed entry).
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ClusterNotFoundException, DescribeServicesCommand, DescribeTasksCommand, ECSClient, ListTasksCommand, type ListTasksCommandInput, type Service, type Task } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REGISTRATION_GRACE_SECONDS } from '../../functions/lib/drift.ts';
import type { WorkloadAutoRegistration } from '../../functions/lib/kube/resources.ts';
import type { Verification, WorkloadRecord } from '../../functions/lib/registry.ts';
import { DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE, DRIFT_METRIC_NAME, ENV, METRICS_NAMESPACE } from '../../functions/lib/settings.ts';
import type { WorkloadRequest } from '../../functions/lib/request.ts';
import { permissions, reverifyWorkload } from '../../functions/reverify-workload.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ecsMock = mockClient(ECSClient);
const docMock = mockClient(DynamoDBDocumentClient);
const eventsMock = mockClient(EventBridgeClient);
const cwMock = mockClient(CloudWatchClient);
const logsMock = mockClient(CloudWatchLogsClient);
const ALL = [ecsMock, docMock, eventsMock, cwMock, logsMock];

const NOW = new Date('2026-11-29T12:00:00.000Z');
const WORKLOAD = 'bookinfo/ratings';
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:reverify-workloads:hourly-1';
const SERVICE_ARN = 'arn:aws:ecs:us-east-1:123456789012:service/bookinfo/ratings';
const taskArn = (id: string) => `arn:aws:ecs:us-east-1:123456789012:task/bookinfo/${id}`;

const { rootCaPem: _ca, ...request } = bookinfoRequest();
const record = (over: Partial<WorkloadRecord> = {}): WorkloadRecord => ({
  workload: WORKLOAD,
  request: request as WorkloadRequest,
  status: 'ONBOARDED',
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:onboard-workload:first',
  updatedAt: '2026-11-29T10:00:00.000Z',
  ledger: [{ kind: 'log-group', id: '/ecs/bookinfo_ratings', created: true }],
  ...over,
});

function task(id: string, over: Partial<Task> = {}): Task {
  return {
    taskArn: taskArn(id),
    group: 'service:ratings',
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    startedAt: new Date(NOW.getTime() - 3600_000),
    attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: '10.0.3.10' }] }],
    ...over,
  };
}

function war(taskId: string, status: 'True' | 'False' | 'Unknown', reason = status === 'True' ? 'ConnectionEstablished' : 'AgentDisconnected'): WorkloadAutoRegistration {
  return {
    apiVersion: 'runtime.onboarding.tetrate.io/v1alpha1',
    kind: 'WorkloadAutoRegistration',
    metadata: { name: `ratings-aws-123456789012-us-east-1a-bookinfo-${taskId}`, namespace: 'bookinfo' },
    spec: { identity: { aws: { ecs: { taskId, cluster: 'bookinfo' } } }, registration: { host: { addresses: [{ ip: '10.0.3.10', type: 'VPC' }] } } },
    status: { conditions: [{ type: 'AgentConnected', status, reason, lastTransitionTime: '2026-11-29T11:30:00.000Z' }] },
  };
}

/** The AWS side: the registry record, the service (undefined = missing) and its tasks. */
function aws(opts: { record?: WorkloadRecord | undefined; service?: Partial<Service> | undefined | 'cluster-gone'; tasks?: Task[] }) {
  docMock.on(GetCommand).resolves({ Item: 'record' in opts ? opts.record : record() });
  docMock.on(UpdateCommand).resolves({});
  if (opts.service === 'cluster-gone') {
    ecsMock.on(DescribeServicesCommand).rejects(new ClusterNotFoundException({ message: 'Cluster not found.', $metadata: { httpStatusCode: 400 } }));
  } else {
    ecsMock.on(DescribeServicesCommand).resolves(
      opts.service
        ? { services: [{ serviceName: 'ratings', serviceArn: SERVICE_ARN, status: 'ACTIVE', desiredCount: 1, ...opts.service }] }
        : { services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] },
    );
  }
  const tasks = opts.tasks ?? [];
  ecsMock.on(ListTasksCommand).callsFake((input: ListTasksCommandInput) =>
    Promise.resolve({ taskArns: tasks.filter((t) => (input.desiredStatus === 'STOPPED' ? t.desiredStatus === 'STOPPED' : t.desiredStatus !== 'STOPPED')).map((t) => t.taskArn!) }),
  );
  ecsMock.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => Promise.resolve({ tasks: tasks.filter((t) => input.tasks.includes(t.taskArn!)) }));
  logsMock.on(FilterLogEventsCommand).resolves({ events: [] });
  logsMock.on(DescribeLogStreamsCommand).resolves({ logStreams: [] });
  eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'event-1' }] });
  cwMock.on(PutMetricDataCommand).resolves({});
}

const run = (wars: WorkloadAutoRegistration[] = []) => reverifyWorkload({ workload: WORKLOAD, executionId: EXECUTION }, { wars: async () => wars, now: () => NOW });

function recordedVerification(): Verification {
  const update = docMock.commandCalls(UpdateCommand)[0]?.args[0].input;
  expect(update).toMatchObject({ TableName: 'registry', Key: { workload: WORKLOAD }, ConditionExpression: 'attribute_exists(#k)' });
  return update?.ExpressionAttributeValues?.[':v'] as Verification;
}

function publishedDetail(): Record<string, unknown> {
  const entry = eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
  expect(entry).toMatchObject({ Source: DRIFT_EVENT_SOURCE, DetailType: DRIFT_EVENT_DETAIL_TYPE });
  return JSON.parse(entry?.Detail ?? '{}') as Record<string, unknown>;
}

const saved = { table: process.env[ENV.registryTable], bus: process.env[ENV.driftEventBus] };
beforeAll(() => {
  process.env[ENV.registryTable] = 'registry';
});
beforeEach(() => {
  delete process.env[ENV.driftEventBus];
});
afterEach(() => {
  for (const m of ALL) m.reset();
});
afterAll(() => {
  for (const [k, v] of [[ENV.registryTable, saved.table], [ENV.driftEventBus, saved.bus]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('Reverify workload', () => {
  it('an onboarded workload as it was: ok, recorded, nothing published', async () => {
    aws({ service: {}, tasks: [task('t1')] });
    expect(await run([war('t1', 'True')])).toEqual({ workload: WORKLOAD, checked: true, ok: true, drift: [] });
    expect(recordedVerification()).toEqual({
      at: NOW.toISOString(),
      ok: true,
      drift: [],
      executionId: EXECUTION,
      notes: [expect.stringContaining('no request through the agent')],
      traffic: { trafficSeen: false, inbound: 0, outbound: 0 },
    });
    expect(eventsMock).not.toHaveReceivedCommand(PutEventsCommand);
    expect(cwMock).not.toHaveReceivedCommand(PutMetricDataCommand);
  });

  it('service missing: drift, announced with an event and one data point of the drift metric', async () => {
    aws({ service: undefined });
    const r = await run();
    expect(r).toEqual({ workload: WORKLOAD, checked: true, ok: false, drift: [{ kind: 'service-missing', message: 'ECS service "ratings" in cluster "bookinfo" does not exist' }], eventId: 'event-1' });
    expect(recordedVerification()).toMatchObject({ ok: false, drift: [{ kind: 'service-missing' }] });
    expect(publishedDetail()).toEqual({
      workload: WORKLOAD,
      cluster: 'bookinfo',
      service: 'ratings',
      namespace: 'bookinfo',
      eksClusterName: 'mesh-eks',
      findings: [{ kind: 'service-missing', message: expect.any(String) }],
      checkedAt: NOW.toISOString(),
      executionId: EXECUTION,
      onboardingExecutionId: record().executionId,
    });
    // The default bus when DRIFT_EVENT_BUS_NAME is unset.
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.EventBusName).toBeUndefined();
    expect(cwMock).toHaveReceivedCommandWith(PutMetricDataCommand, { Namespace: METRICS_NAMESPACE, MetricData: [{ MetricName: DRIFT_METRIC_NAME, Value: 1, Unit: 'Count', Timestamp: NOW }] });
    expect(ecsMock).not.toHaveReceivedCommand(ListTasksCommand);
  });

  it('a deleted cluster is the service missing, not a failed check', async () => {
    aws({ service: 'cluster-gone' });
    expect(await run()).toMatchObject({ ok: false, drift: [{ kind: 'service-missing' }] });
  });

  it('service DRAINING or INACTIVE: deleted', async () => {
    aws({ service: { status: 'INACTIVE' } });
    expect(await run()).toMatchObject({ ok: false, drift: [{ kind: 'service-inactive', message: expect.stringContaining('is INACTIVE') }] });
    expect(publishedDetail()).toMatchObject({ serviceArn: SERVICE_ARN });
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.Resources).toEqual([SERVICE_ARN]);
  });

  it('service scaled to zero: drift, and no task or mesh read', async () => {
    aws({ service: { desiredCount: 0 } });
    expect(await run()).toMatchObject({ ok: false, drift: [{ kind: 'service-scaled-to-zero' }] });
    expect(ecsMock).not.toHaveReceivedCommand(ListTasksCommand);
  });

  it('fewer running tasks than desired: drift naming why the last task stopped', async () => {
    const stopped = task('gone', { lastStatus: 'STOPPED', desiredStatus: 'STOPPED', stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', stoppedAt: new Date(NOW.getTime() - 60_000) });
    aws({ service: { desiredCount: 3 }, tasks: [task('t1'), task('pending', { lastStatus: 'PENDING' }), stopped] });
    const r = await run([war('t1', 'True')]);
    expect(r).toMatchObject({
      ok: false,
      drift: [{ kind: 'tasks-below-desired', message: expect.stringMatching(/runs 1 of 3 desired tasks \(1 starting\); last stopped: task gone stopped \[EssentialContainerExited\]: Essential container in task exited/) }],
    });
  });

  it('a running task without a WorkloadAutoRegistration: drift once past the grace period, a note before', async () => {
    const fresh = task('new', { startedAt: new Date(NOW.getTime() - 30_000) });
    aws({ service: { desiredCount: 2 }, tasks: [task('old'), fresh] });
    const r = await run([]);
    expect(r).toMatchObject({ ok: false, drift: [{ kind: 'war-missing', taskId: 'old' }] });
    expect(recordedVerification().notes).toContain('task new started 30 s ago and has no WorkloadAutoRegistration yet');
    expect(publishedDetail()).toMatchObject({ findings: [{ kind: 'war-missing', taskId: 'old' }] });
    expect(REGISTRATION_GRACE_SECONDS).toBeGreaterThan(30);
  });

  it('agent disconnected: drift at once, even for a new task; a new agent still connecting is a note', async () => {
    const fresh = (id: string) => task(id, { startedAt: new Date(NOW.getTime() - 10_000) });
    aws({ service: { desiredCount: 3 }, tasks: [task('t1'), fresh('t2'), fresh('t3')] });
    const r = await run([war('t1', 'False'), war('t2', 'False'), war('t3', 'Unknown', 'AgentConnecting')]);
    expect(r).toMatchObject({
      ok: false,
      drift: [
        { kind: 'agent-disconnected', taskId: 't1', message: expect.stringContaining('AgentConnected False (AgentDisconnected, since 2026-11-29T11:30:00.000Z)') },
        { kind: 'agent-disconnected', taskId: 't2' },
      ],
    });
    expect(recordedVerification().notes).toContain('the agent of task t3 (started 10 s ago) is still connecting');
  });

  it('ignores a WAR of the same task id in another ECS cluster', async () => {
    aws({ service: {}, tasks: [task('t1')] });
    const elsewhere = war('t1', 'True');
    elsewhere.spec.identity!.aws!.ecs!.cluster = 'arn:aws:ecs:us-east-1:123456789012:cluster/other';
    expect(await run([elsewhere])).toMatchObject({ ok: false, drift: [{ kind: 'war-missing', taskId: 't1' }] });
  });

  it('publishes to the configured drift bus', async () => {
    process.env[ENV.driftEventBus] = 'mesh-drift';
    aws({ service: undefined });
    await run();
    expect(eventsMock.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.EventBusName).toBe('mesh-drift');
  });

  it('a workload not in the registry is an InvalidRequestError (the Map reports it); one not onboarded is skipped, unwritten', async () => {
    aws({ record: undefined });
    await expect(run()).rejects.toMatchObject({ name: 'InvalidRequestError' });
    for (const m of ALL) m.reset();
    aws({ record: record({ status: 'FAILED' }) });
    expect(await run()).toEqual({ workload: WORKLOAD, checked: false, reason: 'status FAILED: only onboarded workloads are re-verified' });
    expect(docMock).not.toHaveReceivedCommand(UpdateCommand);
    expect(ecsMock).not.toHaveReceivedCommand(DescribeServicesCommand);
  });
});

describe('PutEvents answers HTTP 200 with failed entries (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html)', () => {
  it.each([
    ['ThrottlingException', 'AwsThrottledError', true],
    ['InternalFailure', 'AwsTransientError', true],
    ['AccessDeniedException', 'AwsAccessDeniedError', false],
    ['NotAuthorizedForSourceException', 'AwsAccessDeniedError', false],
    ['MalformedDetail', 'UnexpectedError', false],
  ])('an entry failed with %s: %s (retryable %s), the metric not sent', async (code, name, retryable) => {
    aws({ service: undefined });
    eventsMock.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: code, ErrorMessage: 'entry refused' }], $metadata: { httpStatusCode: 200 } });
    await expect(run()).rejects.toMatchObject({ name, retryable, message: expect.stringContaining(`${code}: entry refused`) });
    expect(cwMock).not.toHaveReceivedCommand(PutMetricDataCommand);
    // The verification is recorded before the event: a retry records it again and publishes once more.
    expect(docMock).toHaveReceivedCommand(UpdateCommand);
  });
});

describe('permissions', () => {
  it('grant exactly the actions the step sends across its paths', async () => {
    const sent = new Set<string>();
    const collect = () => {
      for (const [prefix, m] of [['ecs', ecsMock], ['dynamodb', docMock], ['events', eventsMock], ['cloudwatch', cwMock], ['logs', logsMock]] as const) {
        for (const c of m.calls()) {
          const name = (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
          // The document client's Get/Update are DynamoDB's GetItem/UpdateItem.
          sent.add(`${prefix}:${prefix === 'dynamodb' ? `${name}Item` : name}`);
        }
        m.reset();
      }
    };
    aws({ service: {}, tasks: [task('t1')] });
    logsMock.on(FilterLogEventsCommand).rejects(Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' }));
    await run([war('t1', 'False')]);
    collect();
    const granted = new Set(permissions.flatMap((p) => p.actions));
    // eks:DescribeCluster is sent by the mesh client, which the unit test replaces (the emulator test sends it).
    expect([...granted].filter((a) => a !== 'eks:DescribeCluster').sort()).toEqual([...sent].sort());
    for (const p of permissions) if (p.resources.includes('*')) expect(p.conditions, p.sid).toBeDefined();
  });
});
