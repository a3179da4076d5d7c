/**
 * The workload registry written by the onboarding workflow, and the re-verification workflow
 * (statemachine/reverify-workloads.asl.json) run by the local engine against the sandbox:
 * onboard bookinfo, re-verify (ok, no event), make it drift (a stopped task; a disconnected
 * agent), re-verify again: a MeshWorkloadDrift event reaches the sandbox's SQS queue through
 * the EventBridge rule, the registry holds the findings, and the re-verification changed
 * nothing of the workload. One sandbox for the file; the tests run in order.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { MiddlewareStack } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeService, listServiceTasks } from '../../functions/lib/aws/ecs-service.ts';
import { cloudwatch, dynamodb, ecs, eks, events, logs } from '../../functions/lib/clients.ts';
import type { DriftEventDetail } from '../../functions/lib/drift-events.ts';
import type { WorkloadAutoRegistration } from '../../functions/lib/kube/resources.ts';
import { getWorkload, putWorkloadRecord, type WorkloadRecord } from '../../functions/lib/registry.ts';
import { DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE, DRIFT_METRIC_NAME, METRICS_NAMESPACE } from '../../functions/lib/settings.ts';
import type { ReverifyResult } from '../../functions/reverify-workload.ts';
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { handler as preflightHandler } from '../../functions/preflight-mesh.ts';
import { driftRoute } from '../../local/drift.ts';
import { sandboxSqs } from '../../local/drift-events.ts';
import { executionArnOf, runWorkflow, type ExecutionOutcome, type RunOptions } from '../../local/engine/run-workflow.ts';
import { eventually } from '../support/emulator.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };
const WORKLOAD = 'bookinfo/ratings';
const sqs = sandboxSqs();
afterAll(() => sqs.destroy());

interface DriftEvent {
  source: string;
  'detail-type': string;
  resources: string[];
  detail: DriftEventDetail;
}

/** Drift events that reached the sandbox's queue, deleted once read. */
async function takeEvents(): Promise<DriftEvent[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: sandbox().driftEvents.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: sandbox().driftEvents.queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}') as DriftEvent);
}

/** Polls the queue until a drift event arrives (or the deadline passes). */
async function nextEvent(): Promise<DriftEvent> {
  return eventually(async () => {
    const [e] = await takeEvents();
    if (!e) throw new Error('no drift event on the queue yet');
    return e;
  }, 5_000);
}

/** Every AWS command the step handlers send while `fn` runs, through the shared clients of functions/lib/clients.ts. */
async function recordingCommands<T>(fn: () => Promise<T>): Promise<{ result: T; commands: { name: string; input: Record<string, unknown> }[] }> {
  const commands: { name: string; input: Record<string, unknown> }[] = [];
  const stacks = [ecs(), eks(), logs(), dynamodb(), events(), cloudwatch()].map((c) => c.middlewareStack as unknown as MiddlewareStack<object, object>);
  for (const stack of stacks) {
    stack.add(
      (next, context) => async (args) => {
        commands.push({ name: String((context as { commandName?: string }).commandName), input: (args as { input: Record<string, unknown> }).input });
        return next(args);
      },
      { step: 'initialize', name: 'recordCommandsForTest' },
    );
  }
  try {
    return { result: await fn(), commands };
  } finally {
    for (const stack of stacks) stack.remove('recordCommandsForTest');
  }
}

/** What the re-verification must leave as it found it: the service, its tasks and the mesh registrations. */
async function workloadSnapshot(): Promise<unknown> {
  const svc = await describeService('bookinfo', 'ratings');
  const tasks = await listServiceTasks('bookinfo', 'ratings');
  return {
    service: { status: svc?.status, desiredCount: svc?.desiredCount, taskDefinition: svc?.taskDefinition, network: svc?.networkConfiguration, deployments: svc?.deployments?.map((d) => d.id) },
    tasks: tasks.map((t) => `${t.taskArn} ${t.lastStatus} ${t.desiredStatus}`).sort(),
    wars: sandbox().kube.store.list<WorkloadAutoRegistration>('WorkloadAutoRegistration', 'bookinfo').map((w) => JSON.stringify(w)),
  };
}

/** Runs the re-verification of every registered workload, recording the commands; checks they only read, bar the registry write and the drift publishers. */
async function reverify(input: unknown = {}): Promise<{ outcome: ExecutionOutcome; results: ReverifyResult[]; sent: string[] }> {
  const { result: outcome, commands } = await recordingCommands(() => runWorkflow(input, { ...FAST, machine: 'reverify-workloads' }));
  expect(outcome.status, `${outcome.error}: ${outcome.cause}`).toBe('SUCCEEDED');
  for (const c of commands) {
    const readOnly = /^(Describe|List|Get|Filter|Scan|Query)/.test(c.name.replace(/Command$/, ''));
    const allowedWrite = ['PutEventsCommand', 'PutMetricDataCommand'].includes(c.name) || (c.name === 'UpdateItemCommand' && c.input.TableName === sandbox().registryTable);
    expect(readOnly || allowedWrite, `the re-verification sent ${c.name}`).toBe(true);
  }
  return { outcome, results: outcome.output as ReverifyResult[], sent: commands.map((c) => c.name) };
}

beforeAll(async () => {
  await takeEvents();
});

describe('the onboarding workflow writes the workload registry', () => {
  it('a failed run records the failed step, its error and cause, and what the run made', async () => {
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        'Traffic evidence': async () => {
          throw Object.assign(new Error('injected'), { name: 'TaskStoppedError' });
        },
      },
    });
    expect(o.status).toBe('FAILED');
    const record = await getWorkload(WORKLOAD);
    expect(record).toMatchObject({ status: 'FAILED', executionId: executionArnOf(o.executionName), failure: { step: 'Traffic evidence', error: expect.any(String), cause: expect.stringContaining('injected') } });
    expect(record?.ledger.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway', 'task-definition', 'ecs-service']));
  });

  it('a run records the start, then the success with its ledger; the registry never holds the CA bundle', async () => {
    let atStart: WorkloadRecord | undefined;
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        // The step after Validate request sees what Validate request recorded.
        'Pre-flight mesh': async (s) => {
          atStart = await getWorkload(WORKLOAD);
          return (await preflightHandler(s as never, {} as never)) as never;
        },
      },
    });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    expect(atStart).toMatchObject({ status: 'ONBOARDING', executionId: executionArnOf(o.executionName), ledger: [] });
    const record = await getWorkload(WORKLOAD);
    expect(record).toMatchObject({ workload: WORKLOAD, status: 'ONBOARDED', executionId: executionArnOf(o.executionName), request: { ecs: { cluster: 'bookinfo', service: 'ratings' } } });
    expect(record?.failure).toBeUndefined();
    expect(record?.ledger.find((e) => e.kind === 'ecs-service')).toMatchObject({ id: expect.stringContaining('ratings') });
    const text = JSON.stringify(record);
    for (const secret of ['BEGIN CERTIFICATE', 'rootCaPem', 'caBundle']) expect(text).not.toContain(secret);
  });

  it('a request that fails validation records nothing: there is no validated workload', async () => {
    const input = { ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'never-valid' }, ecs: { ...bookinfoInput().ecs, memory: '3' } };
    const o = await runWorkflow(input, FAST);
    expect(o).toMatchObject({ status: 'FAILED', error: 'InvalidRequestError' });
    expect(await getWorkload('bookinfo/never-valid')).toBeUndefined();
  });
});

describe('re-verification in the local engine', () => {
  it('an onboarded workload re-verifies ok: recorded, no event, nothing changed', async () => {
    const before = await workloadSnapshot();
    const { outcome, results, sent } = await reverify();
    expect(results).toEqual([{ workload: WORKLOAD, checked: true, ok: true, drift: [] }]);
    expect(sent).not.toContain('PutEventsCommand');
    expect((await getWorkload(WORKLOAD))?.verification).toMatchObject({ ok: true, drift: [], executionId: executionArnOf(outcome.executionName, 'reverify-workloads'), traffic: { trafficSeen: false } });
    // moto delivers a rule's match to SQS inside PutEvents: an empty queue now means no event was sent.
    expect(await takeEvents()).toEqual([]);
    expect(await workloadSnapshot()).toEqual(before);
  });

  it('a stopped task that stays stopped is drift: the event arrives on the queue, the registry holds the findings', async () => {
    const applied = await sandbox().drift(WORKLOAD, 'stop-task');
    expect(applied.stoppedTasks).toHaveLength(1);
    const before = await workloadSnapshot();

    const { outcome, results } = await reverify();
    const executionId = executionArnOf(outcome.executionName, 'reverify-workloads');
    expect(results).toEqual([{ workload: WORKLOAD, checked: true, ok: false, drift: [expect.objectContaining({ kind: 'tasks-below-desired' })], eventId: expect.any(String) }]);

    const event = await nextEvent();
    expect(event).toMatchObject({ source: DRIFT_EVENT_SOURCE, 'detail-type': DRIFT_EVENT_DETAIL_TYPE, resources: [expect.stringContaining('service/bookinfo/ratings')] });
    expect(event.detail).toMatchObject({ workload: WORKLOAD, cluster: 'bookinfo', service: 'ratings', namespace: 'bookinfo', eksClusterName: 'mesh-eks', executionId, checkedAt: expect.any(String) });
    expect(event.detail.findings).toEqual([{ kind: 'tasks-below-desired', message: expect.stringMatching(/runs 0 of 1 desired tasks; last stopped: task \S+ stopped .*drift stop-task/) }]);

    expect((await getWorkload(WORKLOAD))?.verification).toMatchObject({ ok: false, executionId, drift: [{ kind: 'tasks-below-desired' }] });
    expect(await workloadSnapshot()).toEqual(before);
    const metric = await cloudwatch().send(
      new GetMetricStatisticsCommand({ Namespace: METRICS_NAMESPACE, MetricName: DRIFT_METRIC_NAME, StartTime: new Date(Date.now() - 600_000), EndTime: new Date(Date.now() + 60_000), Period: 60, Statistics: ['Sum'] }),
    );
    expect(metric.Datapoints?.reduce((n, d) => n + (d.Sum ?? 0), 0)).toBeGreaterThanOrEqual(1);
  });

  it('restored, the workload re-verifies ok again', async () => {
    await sandbox().drift(WORKLOAD, 'restore');
    // The simulated Fargate starts a replacement and the plane registers it: wait for the mesh to show it connected.
    await eventually(async () => {
      const running = (await listServiceTasks('bookinfo', 'ratings')).filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING');
      const wars = sandbox().kube.store.list<WorkloadAutoRegistration>('WorkloadAutoRegistration', 'bookinfo');
      expect(running).toHaveLength(1);
      const war = wars.find((w) => w.spec.identity?.aws?.ecs?.taskId === running[0]?.taskArn?.split('/').pop());
      expect(war?.status?.conditions?.[0]?.status).toBe('True');
    }, 10_000);
    const { results } = await reverify();
    expect(results).toEqual([{ workload: WORKLOAD, checked: true, ok: true, drift: [] }]);
    expect(await takeEvents()).toEqual([]);
  });

  it('a disconnected agent (made through POST /sandbox/drift) is drift: the event names the task and the condition', async () => {
    const route = driftRoute(sandbox());
    expect(await route({ method: 'POST', path: '/sandbox/drift', body: JSON.stringify({ workload: WORKLOAD, kind: 'disconnect-agent' }) })).toMatchObject({ status: 200, body: { workload: WORKLOAD, kind: 'disconnect-agent' } });
    const before = await workloadSnapshot();
    const { results } = await reverify();
    expect(results[0]).toMatchObject({ workload: WORKLOAD, ok: false, drift: [{ kind: 'agent-disconnected', taskId: expect.any(String) }] });

    const event = await nextEvent();
    expect(event.detail.findings).toEqual([{ kind: 'agent-disconnected', taskId: expect.any(String), message: expect.stringContaining('AgentConnected False (AgentDisconnected') }]);
    expect((await getWorkload(WORKLOAD))?.verification).toMatchObject({ ok: false, drift: [{ kind: 'agent-disconnected' }] });
    expect(await workloadSnapshot()).toEqual(before);
    await sandbox().drift(WORKLOAD, 'restore');
  });

  it("one workload's failing check does not stop the others: the Map's Catch reports it and goes on", async () => {
    // A registered workload whose mesh cluster is gone: its check fails (MeshPrerequisiteError), terminal, after the ECS reads.
    const request = bookinfoRequest({ workloadGroup: { namespace: 'bookinfo', name: 'orphan' }, network: { eksClusterName: 'deleted-eks' } });
    await putWorkloadRecord({ workload: 'bookinfo/orphan', request, status: 'ONBOARDED', executionId: 'earlier', updatedAt: new Date().toISOString(), ledger: [] });

    const { results } = await reverify();
    const byWorkload = Object.fromEntries(results.map((r) => [r.workload, r]));
    expect(byWorkload[WORKLOAD]).toEqual({ workload: WORKLOAD, checked: true, ok: true, drift: [] });
    expect(byWorkload['bookinfo/orphan']).toMatchObject({ workload: 'bookinfo/orphan', checked: false, error: 'MeshPrerequisiteError', cause: expect.stringContaining('deleted-eks') });
    expect((await getWorkload('bookinfo/orphan'))?.verification).toBeUndefined();
    expect(await takeEvents()).toEqual([]);
  });
});
