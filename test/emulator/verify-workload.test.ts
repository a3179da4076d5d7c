import { CreateClusterCommand, DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesAccessDeniedError, MeshPrerequisiteError, WaitDeadlineExceededError } from '../../functions/lib/errors.ts';
import { KUBE_API_URL_OVERRIDE_ENV, resetDiscoveryCache } from '../../functions/lib/kube/client.ts';
import type { WorkloadAutoRegistration } from '../../functions/lib/kube/resources.ts';
import { WAR_GROUP, warName } from '../../functions/lib/mesh-facts.ts';
import { onboardingConfigJson } from '../../functions/lib/onboarding-config.ts';
import type { Poll } from '../../functions/lib/poll.ts';
import type { RunningTask } from '../../functions/lib/workflow.ts';
import { resolveKubeTarget } from '../../functions/lib/kube/client.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { verifyWorkload as verifyStep } from '../../functions/verify-workload.ts';

/** The step as the workflow runs it: after Pre-flight mesh, whose result says where the Kubernetes API is. */
async function verifyWorkload(state: Omit<WorkflowState, 'preflight'>): ReturnType<typeof verifyStep> {
  const eks = state.request.network.eksClusterName;
  return verifyStep({ ...state, ...(eks ? { preflight: { kube: await resolveKubeTarget(eks) } as never } : {}) } as WorkflowState);
}
import { createMeshVpc } from '../../local/aws-fixtures.ts';
import { seedMesh, startKubeStandin, type KubeStore } from '../../local/kube-api-standin.ts';
import { createOnboardingPlane, startOnboardingPlane } from '../../local/onboarding-plane.ts';
import { eventually, useEmulator } from '../support/emulator.ts';
import { createEksCluster, useKubeStandin } from '../support/kube.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const kube = useKubeStandin();
const request = bookinfoRequest();

function task(taskId: string, privateIp = '10.0.3.10'): RunningTask {
  return { taskId, taskArn: `arn:aws:ecs:us-east-1:123456789012:task/bookinfo/${taskId}`, availabilityZone: 'us-east-1a', privateIp, lastStatus: 'RUNNING' };
}

const PLANE_POD = 'onboarding-plane-745bf76677-974tq';

function putWar(
  p: { taskId: string; namespace?: string; cluster?: string; status?: string; reason?: string; ip?: string; addresses?: { ip: string; type: string }[]; connectedOver?: string },
  store: KubeStore = kube.standin.store,
): string {
  const name = warName({ workloadGroup: 'ratings', partition: 'aws', account: '123456789012', zone: 'us-east-1a', cluster: p.cluster ?? 'bookinfo', taskId: p.taskId });
  const war: WorkloadAutoRegistration = {
    apiVersion: 'runtime.onboarding.tetrate.io/v1alpha1',
    kind: 'WorkloadAutoRegistration',
    metadata: { name, namespace: p.namespace ?? 'bookinfo' },
    spec: {
      identity: { aws: { partition: 'aws', account: '123456789012', region: 'us-east-1', zone: 'us-east-1a', ecs: { taskId: p.taskId, cluster: p.cluster ?? 'bookinfo', iamRole: { name: 'r' } } } },
      registration: { host: { addresses: p.addresses ?? [{ ip: p.ip ?? '10.0.3.10', type: 'VPC' }] }, ...(p.connectedOver ? { settings: { connectedOver: p.connectedOver } } : {}) },
    },
    status: {
      conditions: [{ type: 'AgentConnected', status: p.status ?? 'True', reason: p.reason ?? 'ConnectionEstablished', lastTransitionTime: '2026-01-02T03:04:05Z' }],
      ...(p.status === undefined || p.status === 'True' ? { activeAgentConnection: { connectedTo: PLANE_POD } } : {}),
    },
  };
  store.put(war);
  return name;
}

function clearWars() {
  for (const w of kube.standin.store.list('WorkloadAutoRegistration')) kube.standin.store.delete('WorkloadAutoRegistration', w.metadata.namespace, w.metadata.name);
}

beforeAll(async () => {
  await createEksCluster(emu.endpoint);
  seedMesh(kube.standin.store);
});

describe('Verify workload (stand-in WARs)', () => {
  beforeEach(() => {
    clearWars();
    kube.standin.setServed(WAR_GROUP, true);
    resetDiscoveryCache();
  });

  it('reports connected, disconnected and missing tasks, ignoring other tasks, clusters and namespaces', async () => {
    const connected = putWar({ taskId: 'aaa', ip: '10.0.3.11' });
    const down = putWar({ taskId: 'bbb', status: 'False', reason: 'AgentDisconnected' });
    putWar({ taskId: 'zzz' }); // a task not in the readiness list
    putWar({ taskId: 'ccc', namespace: 'other' }); // same task id, other namespace
    putWar({ taskId: 'ccc', cluster: 'other-cluster' }); // same task id, other ECS cluster

    const r = await verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa'), { ...task('bbb'), availabilityZone: 'us-east-1b' }, task('ccc')], poll: undefined as unknown as Poll, status: 'ok' } });

    expect(r.allConnected).toBe(false);
    // Each task with its zone: the service spreads them over the task subnets' zones.
    expect(r.connected).toEqual([
      { taskId: 'aaa', availabilityZone: 'us-east-1a', warName: connected, agentConnected: { status: 'True', reason: 'ConnectionEstablished', since: '2026-01-02T03:04:05Z' }, connectedTo: PLANE_POD, address: '10.0.3.11', connectedOver: 'VPC' },
    ]);
    expect(r.disconnected).toEqual([
      { taskId: 'bbb', availabilityZone: 'us-east-1b', warName: down, agentConnected: { status: 'False', reason: 'AgentDisconnected', since: '2026-01-02T03:04:05Z' }, connectedTo: undefined, address: '10.0.3.10', connectedOver: 'VPC' },
    ]);
    expect(r.missing).toEqual([{ taskId: 'ccc', availabilityZone: 'us-east-1a' }]);
    expect(r.poll.attempt).toBe(1);
  });

  // docs.tetrate.io refs/onboarding/config/runtime/v1alpha1/registration: a host registers several
  // addresses ({ip, type: VPC|INTERNET}); settings.connectedOver says which one the mesh uses, VPC
  // when unspecified (refs/onboarding/config/types/registration/v1alpha1/registration).
  it.each([
    [undefined, '10.0.3.12'],
    ['VPC', '10.0.3.12'],
    ['INTERNET', '54.12.34.56'],
  ])('reports the address whose type is connectedOver (%s), not the first one', async (connectedOver, address) => {
    putWar({ taskId: 'aaa', connectedOver, addresses: [{ ip: '54.12.34.56', type: 'INTERNET' }, { ip: '10.0.3.12', type: 'VPC' }] });
    const r = await verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa')], poll: undefined as unknown as Poll, status: 'ok' } });
    expect(r.connected[0]).toMatchObject({ address, connectedOver: connectedOver ?? 'VPC' });
  });

  it('fails with a MeshPrerequisiteError when the cluster does not serve WorkloadAutoRegistrations', async () => {
    kube.standin.setServed(WAR_GROUP, false);
    const run = verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa')], poll: undefined as unknown as Poll, status: 'ok' } });
    await expect(run).rejects.toThrow(MeshPrerequisiteError);
    await expect(run).rejects.toThrow('runtime.onboarding.tetrate.io/v1alpha1 is not served by the Kubernetes API of EKS cluster "mesh-eks"');
  });

  it('lists WARs under the plural the cluster serves (API discovery)', async () => {
    const other = await startKubeStandin({ plurals: { WorkloadAutoRegistration: 'wars' } });
    const saved = process.env[KUBE_API_URL_OVERRIDE_ENV];
    process.env[KUBE_API_URL_OVERRIDE_ENV] = other.url;
    try {
      putWar({ taskId: 'aaa' }, other.store);
      const r = await verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa')], poll: undefined as unknown as Poll, status: 'ok' } });
      expect(r.allConnected).toBe(true);
      expect(other.requests.some((q) => q.startsWith('GET /apis/runtime.onboarding.tetrate.io/v1alpha1/namespaces/bookinfo/wars?'))).toBe(true);
    } finally {
      process.env[KUBE_API_URL_OVERRIDE_ENV] = saved;
      await other.stop();
    }
  });

  it('is all connected when every task has a connected WAR, and keeps counting polls', async () => {
    putWar({ taskId: 'aaa' });
    const prev = { attempt: 3, startedAt: new Date().toISOString(), deadline: new Date(Date.now() + 60_000).toISOString(), nextWaitSeconds: 10 };
    const r = await verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa')], poll: prev, status: 'ok' }, mesh: { allConnected: false, connected: [], disconnected: [], missing: [], poll: prev } });
    expect(r.allConnected).toBe(true);
    expect(r.poll.attempt).toBe(4);
    expect(r.poll.deadline).toBe(prev.deadline);
  });

  it('reads every page of a long WAR list', async () => {
    for (let i = 0; i < 230; i++) putWar({ taskId: `t${String(i).padStart(3, '0')}` });
    const before = kube.standin.requests.length;
    const r = await verifyWorkload({ request, readiness: { ready: true, tasks: [task('t000'), task('t229')], poll: undefined as unknown as Poll, status: 'ok' } });
    expect(r.allConnected).toBe(true);
    const lists = kube.standin.requests.slice(before).filter((q) => q.includes('/workloadautoregistrations?'));
    expect(lists).toHaveLength(3);
    expect(lists[0]).toContain('limit=100');
    expect(lists[1]).toContain('continue=');
  });

  it('fails past the deadline naming the missing and disconnected tasks', async () => {
    putWar({ taskId: 'bbb', status: 'Unknown', reason: 'AgentConnecting' });
    const prev = { attempt: 9, startedAt: '2026-01-01T00:00:00Z', deadline: '2026-01-01T00:10:00Z', nextWaitSeconds: 60 };
    const run = verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa'), task('bbb')], poll: prev, status: 'ok' }, mesh: { allConnected: false, connected: [], disconnected: [], missing: [], poll: prev } });
    await expect(run).rejects.toThrow(WaitDeadlineExceededError);
    await expect(run).rejects.toThrow(/no WorkloadAutoRegistration for aaa.*agent not connected for bbb \(AgentConnected Unknown, AgentConnecting\)/);
  });

  it.each([401, 403] as const)('turns %i from the Kubernetes API into KubernetesAccessDeniedError saying what to grant', async (status) => {
    kube.standin.setDeny({ status, principals: 'all' });
    try {
      const run = verifyWorkload({ request, readiness: { ready: true, tasks: [task('aaa')], poll: { attempt: 1, startedAt: '', deadline: '2999-01-01T00:00:00Z', nextWaitSeconds: 5 }, status: 'ok' } });
      await expect(run).rejects.toThrow(KubernetesAccessDeniedError);
      await expect(run).rejects.toThrow(/aws eks create-access-entry --cluster-name mesh-eks .*--kubernetes-groups mesh-onboarding-readers/);
      await expect(run).rejects.toThrow(/resources: \["workloadautoregistrations"\]/);
    } finally {
      kube.standin.setDeny(undefined);
    }
  });

  it('is all connected with zero tasks (desiredCount 0) without asking Kubernetes', async () => {
    const before = kube.standin.requests.length;
    const r = await verifyWorkload({ request: bookinfoRequest({ ecs: { desiredCount: 0 } }), readiness: { ready: true, tasks: [], poll: undefined as unknown as Poll, status: 'ok' } });
    expect(r).toMatchObject({ allConnected: true, connected: [], disconnected: [], missing: [] });
    expect(kube.standin.requests.length).toBe(before);
  });
});

describe('Verify workload with the simulated onboarding plane on emulator tasks', () => {
  let ecs: ECSClient;
  let subnetId: string;
  let securityGroupId: string;
  const planes: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    ecs = new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 });
    // The plane calls DescribeTasks; moto would otherwise advance tasks to STOPPED on each call.
    await emu.moto.admin('/moto-api/state-manager/set-transition', { model_name: 'ecs::task', transition: { progression: 'manual', times: 1_000_000 } });
    const vpc = await createMeshVpc({ endpoint: emu.endpoint, name: 'mesh' });
    subnetId = vpc.publicSubnetIds[0];
    securityGroupId = vpc.clusterSecurityGroupId;
    await ecs.send(new CreateClusterCommand({ clusterName: 'bookinfo', capacityProviders: ['FARGATE'] }));
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'bookinfo_ratings',
        networkMode: 'awsvpc',
        requiresCompatibilities: ['FARGATE'],
        cpu: '256',
        memory: '512',
        taskRoleArn: 'arn:aws:iam::123456789012:role/bookinfo.ratings-ecs-task-role',
        executionRoleArn: 'arn:aws:iam::123456789012:role/bookinfo.ratings-ecs-exec-role',
        containerDefinitions: [
          { name: 'onboarding-agent', image: 'registry.example/tetrate/onboarding-agent:1.11.0', memoryReservation: 128, user: '0', environment: [{ name: 'ONBOARDING_CONFIG', value: onboardingConfigJson(request) }] },
          { name: 'ratings', image: request.app.image, memoryReservation: 256, essential: true },
        ],
      }),
    );
  });
  beforeEach(() => {
    clearWars();
    seedMesh(kube.standin.store);
  });
  afterEach(async () => {
    for (const p of planes.splice(0)) await p.stop();
  });

  async function runTask(): Promise<RunningTask> {
    const r = await ecs
      .send(new RunTaskCommand({ cluster: 'bookinfo', taskDefinition: 'bookinfo_ratings', launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: [subnetId], securityGroups: [securityGroupId], assignPublicIp: 'DISABLED' } } }))
      .catch((e: unknown) => {
        throw new Error(`RunTask failed: ${String(e)}\n${emu.moto.log().slice(-3000)}`);
      });
    const arn = r.tasks?.[0]?.taskArn;
    if (!arn) throw new Error(`RunTask started no task: ${JSON.stringify(r.failures)}\n${emu.moto.log()}`);
    const [t] = (await ecs.send(new DescribeTasksCommand({ cluster: 'bookinfo', tasks: [arn] }))).tasks ?? [];
    const ip = t?.attachments?.[0]?.details?.find((d) => d.name === 'privateIPv4Address')?.value ?? '';
    return { taskId: arn.split('/').pop()!, taskArn: arn, availabilityZone: t?.availabilityZone ?? '', privateIp: ip, lastStatus: t?.lastStatus ?? '' };
  }

  async function stopAll(ids: string[]) {
    for (const id of ids) await ecs.send(new StopTaskCommand({ cluster: 'bookinfo', task: id, reason: 'test done' }));
  }

  it('registers a running task the policy allows; the WAR connects after the delay; a stopped task loses it after the grace period', async () => {
    const t = await runTask();
    expect(t.lastStatus).toBe('RUNNING');
    let clock = 1_000_000;
    const plane = createOnboardingPlane({ store: kube.standin.store, ecs, connectDelayMs: 5000, stoppedGraceMs: 60_000, now: () => clock });
    const first = await plane.syncOnce();
    expect(first.refused).toEqual([]);
    expect(first.registered).toHaveLength(1);

    const state = { request, readiness: { ready: true, tasks: [t], poll: undefined as unknown as Poll, status: 'ok' } };
    const pending = await verifyWorkload(state);
    expect(pending.allConnected).toBe(false);
    expect(pending.disconnected[0]?.agentConnected).toMatchObject({ status: 'Unknown', reason: 'AgentConnecting' });

    clock += 5000;
    await plane.syncOnce();
    const done = await verifyWorkload({ ...state, mesh: pending });
    expect(done.allConnected).toBe(true);
    const reg = done.connected[0]!;
    expect(reg.warName).toBe(first.registered[0]);
    expect(reg.warName).toBe(warName({ workloadGroup: 'ratings', partition: 'aws', account: '123456789012', zone: t.availabilityZone || 'us-east-1a', cluster: 'bookinfo', taskId: t.taskId }));
    expect(reg.address).toBe(t.privateIp);
    // An onboarding-plane pod name, like the reference page's `connectedTo: onboarding-plane-745bf76677-974tq`.
    expect(reg.connectedTo).toMatch(/^onboarding-plane-[a-z0-9]{8,10}-[a-z0-9]{5}$/);
    expect(reg.agentConnected).toMatchObject({ status: 'True', reason: 'ConnectionEstablished' });

    const war = kube.standin.store.get<WorkloadAutoRegistration>('WorkloadAutoRegistration', 'bookinfo', reg.warName!);
    expect(war?.spec.identity?.aws?.ecs).toEqual({ taskId: t.taskId, cluster: 'bookinfo', iamRole: { name: 'bookinfo.ratings-ecs-task-role' } });
    expect(war?.spec.registration?.workload?.labels).toEqual({ version: 'v5', app: 'ratings', class: 'ecs', cloud: 'aws' });
    expect(war?.spec.registration?.agent?.version).toBe('1.11.0');
    expect(war?.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'WorkloadGroup', name: 'ratings', controller: true });

    await stopAll([t.taskId]);
    const stopping = await plane.syncOnce();
    expect(stopping.removed).toEqual([]);
    const afterStop = await verifyWorkload({ ...state, mesh: done });
    expect(afterStop.disconnected[0]?.agentConnected).toMatchObject({ status: 'False', reason: 'AgentDisconnected' });
    clock += 60_000;
    const gone = await plane.syncOnce();
    expect(gone.removed).toEqual([reg.warName]);
    expect(kube.standin.store.list('WorkloadAutoRegistration')).toEqual([]);
  });

  it('reports an agent that never connects as disconnected (started plane, polled with a deadline)', async () => {
    const t = await runTask();
    planes.push(startOnboardingPlane({ store: kube.standin.store, ecs, disconnected: true, intervalMs: 50 }));
    const r = await eventually(async () => {
      const v = await verifyWorkload({ request, readiness: { ready: true, tasks: [t], poll: undefined as unknown as Poll, status: 'ok' } });
      expect(v.disconnected).toHaveLength(1);
      return v;
    });
    expect(r.disconnected[0]?.agentConnected).toMatchObject({ status: 'False', reason: 'AgentDisconnected' });
    await stopAll([t.taskId]);
  });

  it('refuses a task when the only policy has no aws.accounts (required, so the matcher is invalid)', async () => {
    kube.standin.store.put({
      apiVersion: 'authorization.onboarding.tetrate.io/v1alpha1',
      kind: 'OnboardingPolicy',
      metadata: { name: 'allow-ecs', namespace: 'bookinfo' },
      spec: { allow: [{ workloads: [{ aws: { ecs: {} } }], onboardTo: [{ workloadGroupSelector: {} }] }] },
    });
    const t = await runTask();
    const report = await createOnboardingPlane({ store: kube.standin.store, ecs }).syncOnce();
    expect(report.registered).toEqual([]);
    expect(report.refused).toEqual([{ taskId: t.taskId, reason: expect.stringContaining('aws.accounts is empty or absent: it is required') }]);
    await stopAll([t.taskId]);
  });

  it('makes no WAR when the policy denies the task, so the task is missing', async () => {
    kube.standin.store.put({
      apiVersion: 'authorization.onboarding.tetrate.io/v1alpha1',
      kind: 'OnboardingPolicy',
      metadata: { name: 'allow-ecs', namespace: 'bookinfo' },
      spec: { allow: [{ workloads: [{ aws: { accounts: ['123456789012'], ecs: { iamRoleNames: ['someOtherRole'] } } }], onboardTo: [{ workloadGroupSelector: {} }] }] },
    });
    const t = await runTask();
    const plane = createOnboardingPlane({ store: kube.standin.store, ecs });
    const report = await plane.syncOnce();
    expect(report.registered).toEqual([]);
    expect(report.refused).toEqual([{ taskId: t.taskId, reason: expect.stringContaining('aws.ecs.iamRoleNames ["someOtherRole"]') }]);
    expect(kube.standin.store.list('WorkloadAutoRegistration')).toEqual([]);
    const v = await verifyWorkload({ request, readiness: { ready: true, tasks: [t], poll: undefined as unknown as Poll, status: 'ok' } });
    expect(v.missing).toEqual([{ taskId: t.taskId }]);
    await stopAll([t.taskId]);
  });
});
