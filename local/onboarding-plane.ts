/**
 * A simulated Tetrate onboarding plane for the local sandbox and tests. For every RUNNING
 * ECS task in the emulator whose task definition carries an onboarding agent
 * (`ONBOARDING_CONFIG`), it does what the real plane does once the agent dials in: if the
 * WorkloadGroup exists and an OnboardingPolicy allows the task, it writes the task's
 * WorkloadAutoRegistration into the Kubernetes stand-in's store; it removes the WAR of a
 * task that stopped.
 *
 * REQUIREMENT: moto moves an ECS task one status on at every DescribeTasks call. This
 * plane calls DescribeTasks, so it must not be what advances tasks: pin the transition
 * first (`pinEcsTaskStatus` in local/fargate-scheduler.ts, i.e. POST
 * /moto-api/state-manager/set-transition {"model_name":"ecs::task","transition":
 * {"progression":"manual","times":1000000}}).
 */
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, ListClustersCommand, ListTasksCommand, type Task, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { WorkloadAutoRegistration, WorkloadGroup, OnboardingPolicy, WarCondition } from '../functions/lib/kube/resources.ts';
import { WAR_CONNECTED_CONDITION, WAR_CONNECTED_REASON, WAR_GROUP, WAR_KIND, WAR_VERSION, warName } from '../functions/lib/mesh-facts.ts';
import { findAllowingPolicy, type EcsWorkloadIdentity } from '../functions/lib/onboarding-policy.ts';
import type { KubeStore } from './kube-api-standin.ts';

export interface OnboardingPlaneOptions {
  store: KubeStore;
  /** ECS client pointed at the emulator. */
  ecs: ECSClient;
  /** A new WAR reports AgentConnected Unknown for this long, then True. Default 0 (True at once). */
  connectDelayMs?: number;
  /** Agents never connect: AgentConnected False (reason AgentDisconnected). */
  disconnected?: boolean;
  /** How long the WAR of a stopped task stays (AgentConnected False) before it is removed. Default 0. */
  stoppedGraceMs?: number;
  /**
   * The onboarding-plane instance the agents are connected to (`status.activeAgentConnection.connectedTo`):
   * a pod of deployment/onboarding-plane, like the reference page's `onboarding-plane-745bf76677-974tq`.
   */
  connectedTo?: string;
  now?: () => number;
}

export interface SyncReport {
  registered: string[];
  refused: { taskId: string; reason: string }[];
  removed: string[];
}

export interface OnboardingPlane {
  syncOnce(): Promise<SyncReport>;
  start(opts?: { intervalMs?: number }): void;
  stop(): Promise<void>;
  setDisconnected(disconnected: boolean): void;
  /** Disconnects (or reconnects) the agents of one WorkloadGroup (`namespace/name`) only. */
  setWorkloadDisconnected(workload: string, disconnected: boolean): void;
}

interface AgentConfig {
  workloadGroup?: { namespace?: string; name?: string };
  workload?: { labels?: Record<string, string> };
  settings?: { connectedOver?: string };
}

/** The agent container's parsed ONBOARDING_CONFIG and image, if the task definition has one. */
function agentOf(td: TaskDefinition): { config: AgentConfig; image?: string } | undefined {
  for (const c of td.containerDefinitions ?? []) {
    const raw = c.environment?.find((e) => e.name === 'ONBOARDING_CONFIG')?.value;
    if (!raw) continue;
    try {
      return { config: JSON.parse(raw) as AgentConfig, image: c.image };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function tagOf(image: string | undefined): string {
  const last = image?.split('/').pop() ?? '';
  return last.includes(':') ? last.split(':').pop()! : 'unknown';
}

function privateIp(task: Task): string | undefined {
  for (const a of task.attachments ?? []) {
    const ip = a.details?.find((d) => d.name === 'privateIPv4Address')?.value;
    if (ip) return ip;
  }
  return task.containers?.flatMap((c) => c.networkInterfaces ?? []).find((n) => n.privateIpv4Address)?.privateIpv4Address;
}

function condition(status: WarCondition['status'], reason: string, message: string, at: number): WarCondition {
  return { type: WAR_CONNECTED_CONDITION, status, reason, message, lastTransitionTime: new Date(at).toISOString() };
}

export function createOnboardingPlane(opts: OnboardingPlaneOptions): OnboardingPlane {
  const now = opts.now ?? (() => Date.now());
  const connectDelayMs = opts.connectDelayMs ?? 0;
  const graceMs = opts.stoppedGraceMs ?? 0;
  const connectedTo = opts.connectedTo ?? 'onboarding-plane-7d9f8b6c5-x2x9q';
  let disconnected = opts.disconnected ?? false;
  const disconnectedWorkloads = new Set<string>();
  const taskDefs = new Map<string, TaskDefinition>();
  // WARs this plane made: name -> namespace, creation time, and when its task was last seen gone.
  const made = new Map<string, { namespace: string; createdAt: number; goneSince?: number }>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  // A tick while a sync runs adds none behind it, and none starts once stopped: on a loaded machine a queue of syncs made stop() wait for all of them.
  let busy = false;
  let stopped = false;

  async function taskDefinition(arn: string): Promise<TaskDefinition | undefined> {
    if (!taskDefs.has(arn)) {
      const r = await opts.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }));
      if (r.taskDefinition) taskDefs.set(arn, r.taskDefinition);
    }
    return taskDefs.get(arn);
  }

  async function runningTasks(): Promise<Task[]> {
    const out: Task[] = [];
    const clusters = (await opts.ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    for (const cluster of clusters) {
      const arns = (await opts.ecs.send(new ListTasksCommand({ cluster }))).taskArns ?? [];
      for (let i = 0; i < arns.length; i += 100) {
        const r = await opts.ecs.send(new DescribeTasksCommand({ cluster, tasks: arns.slice(i, i + 100) }));
        out.push(...(r.tasks ?? []).filter((t) => t.lastStatus === 'RUNNING'));
      }
    }
    return out;
  }

  /** The agent's view of its status at time `t`. */
  function connection(workload: string, createdAt: number, t: number): WarCondition[] {
    if (disconnected || disconnectedWorkloads.has(workload)) return [condition('False', 'AgentDisconnected', 'the agent is not connected to the onboarding plane', t)];
    if (t - createdAt < connectDelayMs) return [condition('Unknown', 'AgentConnecting', 'waiting for the agent to connect', createdAt)];
    return [condition('True', WAR_CONNECTED_REASON, 'the agent is connected', createdAt + connectDelayMs)];
  }

  function setStatus(war: WorkloadAutoRegistration, conditions: WarCondition[]): boolean {
    const prev = war.status?.conditions?.find((c) => c.type === WAR_CONNECTED_CONDITION);
    const next = conditions[0]!;
    if (prev?.status === next.status && prev.reason === next.reason) return false;
    war.status = { conditions, ...(next.status === 'True' ? { activeAgentConnection: { connectedTo } } : {}) };
    return true;
  }

  async function register(task: Task, report: SyncReport): Promise<string | undefined> {
    const arn = task.taskArn ?? '';
    const [, partition = 'aws', , region = '', account = ''] = arn.split(':');
    const taskId = arn.split('/').pop() ?? '';
    const cluster = (task.clusterArn ?? '').split('/').pop() ?? '';
    const td = task.taskDefinitionArn ? await taskDefinition(task.taskDefinitionArn) : undefined;
    const agent = td && agentOf(td);
    if (!agent) return undefined;
    const refuse = (reason: string) => {
      report.refused.push({ taskId, reason });
      return undefined;
    };
    const namespace = agent.config.workloadGroup?.namespace;
    const wgName = agent.config.workloadGroup?.name;
    if (!namespace || !wgName) return refuse('ONBOARDING_CONFIG has no workloadGroup');
    const roleArn = task.overrides?.taskRoleArn ?? td.taskRoleArn;
    if (!roleArn) return refuse('the task has no task role: the agent cannot prove its identity');
    // moto 5.2.1 leaves availabilityZone empty on Fargate tasks; the real plane always knows it.
    const zone = task.availabilityZone || `${region}a`;
    const wg = opts.store.get<WorkloadGroup>('WorkloadGroup', namespace, wgName);
    if (!wg) return refuse(`WorkloadGroup ${namespace}/${wgName} does not exist`);
    const identity: EcsWorkloadIdentity = { partition, account, region, zone, ecs: { cluster, iamRoleName: roleArn.split('/').pop()! } };
    const policies = opts.store.list<OnboardingPolicy>('OnboardingPolicy', namespace);
    const decision = findAllowingPolicy(policies, identity, wg.metadata.labels);
    if (!decision.policy) return refuse(`no OnboardingPolicy allows the task: ${decision.mismatches.join('; ') || 'none in the namespace'}`);

    const name = warName({ workloadGroup: wgName, partition, account, zone, cluster, taskId });
    const t = now();
    const existing = opts.store.get<WorkloadAutoRegistration>(WAR_KIND, namespace, name);
    const mine = made.get(name);
    if (existing && mine) {
      mine.goneSince = undefined;
      if (setStatus(existing, connection(`${namespace}/${wgName}`, mine.createdAt, t))) opts.store.put(existing);
      return name;
    }
    const ip = privateIp(task);
    const war: WorkloadAutoRegistration = {
      apiVersion: `${WAR_GROUP}/${WAR_VERSION}`,
      kind: WAR_KIND,
      metadata: {
        name,
        namespace,
        labels: { ...wg.spec.template?.labels },
        ownerReferences: [{ apiVersion: wg.apiVersion, kind: 'WorkloadGroup', name: wgName, uid: wg.metadata.uid, controller: true }],
      },
      spec: {
        identity: { aws: { partition, account, region, zone, ecs: { taskId, cluster, iamRole: { name: identity.ecs.iamRoleName } } } },
        registration: {
          agent: { version: tagOf(agent.image) },
          host: { addresses: ip ? [{ ip, type: 'VPC' }] : [] },
          // The WorkloadGroup's template labels win over the agent's (they cannot be overridden).
          workload: { labels: { ...agent.config.workload?.labels, ...wg.spec.template?.labels } },
          settings: { connectedOver: agent.config.settings?.connectedOver ?? 'VPC' },
        },
      },
    };
    setStatus(war, connection(`${namespace}/${wgName}`, t, t));
    opts.store.put(war);
    made.set(name, { namespace, createdAt: t });
    report.registered.push(name);
    return name;
  }

  async function syncOnce(): Promise<SyncReport> {
    const report: SyncReport = { registered: [], refused: [], removed: [] };
    const live = new Set<string>();
    for (const task of await runningTasks()) {
      const name = await register(task, report);
      if (name) live.add(name);
    }
    const t = now();
    for (const [name, m] of made) {
      if (live.has(name)) continue;
      m.goneSince ??= t;
      const war = opts.store.get<WorkloadAutoRegistration>(WAR_KIND, m.namespace, name);
      if (!war || t - m.goneSince >= graceMs) {
        opts.store.delete(WAR_KIND, m.namespace, name);
        made.delete(name);
        report.removed.push(name);
      } else if (setStatus(war, [condition('False', 'AgentDisconnected', 'the task stopped', m.goneSince)])) {
        opts.store.put(war);
      }
    }
    return report;
  }

  return {
    // After the sync under way, if any: a sync asked for by hand (a test, a drift) sees every change made before it.
    syncOnce: () => {
      const p = running.then(syncOnce);
      running = p.catch(() => undefined);
      return p;
    },
    start({ intervalMs = 500 } = {}) {
      if (timer) return;
      stopped = false;
      timer = setInterval(() => {
        // One sync at a time, none queued behind it; a failed sync is retried at the next tick.
        if (busy || stopped) return;
        busy = true;
        running = running
          .then(() => (stopped ? undefined : syncOnce()))
          .catch(() => undefined)
          .finally(() => {
            busy = false;
          });
      }, intervalMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    setDisconnected(d: boolean) {
      disconnected = d;
    },
    setWorkloadDisconnected(workload: string, d: boolean) {
      if (d) disconnectedWorkloads.add(workload);
      else disconnectedWorkloads.delete(workload);
    },
  };
}

/**
 * Makes a plane on the emulator at `endpoint` (dummy credentials) and starts its sync loop.
 * Pin moto's ECS task transitions first (see the file comment).
 */
export function startOnboardingPlane(
  opts: Omit<OnboardingPlaneOptions, 'ecs'> & { ecs?: ECSClient; endpoint?: string; region?: string; intervalMs?: number },
): OnboardingPlane {
  const { endpoint, region, intervalMs, ...rest } = opts;
  const ecs =
    opts.ecs ??
    new ECSClient({ endpoint: endpoint ?? process.env.AWS_ENDPOINT_URL, region: region ?? process.env.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
  const plane = createOnboardingPlane({ ...rest, ecs });
  plane.start({ intervalMs });
  return plane;
}
