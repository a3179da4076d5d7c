/**
 * A simulated Fargate scheduler for the local sandbox. moto records ECS services but
 * starts no task for them; this loop does what ECS would: for each ACTIVE service it
 * runs tasks of the service's current task definition (group `service:<name>`, the
 * service's awsvpc configuration) up to the desired count, and stops tasks of older
 * task definitions or above the count. Requires moto's task transitions pinned
 * (see pinEcsTaskStatus), or every DescribeTasks would move tasks towards STOPPED.
 */
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type Service,
  type Task,
} from '@aws-sdk/client-ecs';

export interface FargateSchedulerOptions {
  endpoint: string;
  region?: string;
  intervalMs?: number;
  /** When set, every task started stops at once with this reason (an app that crashes). */
  crash?: { stoppedReason: string };
}

export interface FargateScheduler {
  syncOnce(): Promise<{ started: number; stopped: number }>;
  /** Changes the crash behaviour for tasks started from now on. */
  setCrash(crash: FargateSchedulerOptions['crash']): void;
  /**
   * Holds one service (`held` true): its tasks are neither started nor stopped any more, as
   * when ECS cannot place or start them (image gone, no capacity), so a stopped task stays
   * missing. Released, the service converges to its desired count again.
   */
  hold(cluster: string, service: string, held: boolean): void;
  stop(): Promise<void>;
}

/** Makes moto keep ECS tasks in their current status (it advances them on every DescribeTasks otherwise). */
export async function pinEcsTaskStatus(admin: (path: string, body: unknown) => Promise<void>): Promise<void> {
  await admin('/moto-api/state-manager/set-transition', { model_name: 'ecs::task', transition: { progression: 'manual', times: 1_000_000 } });
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export function startFargateScheduler(opts: FargateSchedulerOptions): FargateScheduler {
  const ecs = new ECSClient({ endpoint: opts.endpoint, region: opts.region ?? 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  let crash = opts.crash;
  const held = new Set<string>();
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();

  async function servicesOf(cluster: string): Promise<Service[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListServicesCommand({ cluster, nextToken }));
      arns.push(...(page.serviceArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const out: Service[] = [];
    for (const c of chunks(arns, 10)) out.push(...((await ecs.send(new DescribeServicesCommand({ cluster, services: c }))).services ?? []));
    return out;
  }

  async function liveTasks(cluster: string): Promise<Task[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await ecs.send(new ListTasksCommand({ cluster, desiredStatus: 'RUNNING', nextToken }));
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const out: Task[] = [];
    for (const c of chunks(arns, 100)) out.push(...((await ecs.send(new DescribeTasksCommand({ cluster, tasks: c }))).tasks ?? []));
    return out.filter((t) => t.lastStatus !== 'STOPPED');
  }

  async function syncOnce(): Promise<{ started: number; stopped: number }> {
    let started = 0;
    let stoppedCount = 0;
    const clusters = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
    for (const cluster of clusters) {
      const tasks = await liveTasks(cluster);
      for (const svc of await servicesOf(cluster)) {
        if (svc.status !== 'ACTIVE' || !svc.serviceName || !svc.taskDefinition) continue;
        if (held.has(`${cluster.split('/').pop()}/${svc.serviceName}`)) continue;
        const group = `service:${svc.serviceName}`;
        const mine = tasks.filter((t) => t.group === group);
        const deployment = svc.deployments?.find((d) => d.status === 'PRIMARY')?.id ?? 'ecs-svc/local';
        for (const t of mine.filter((x) => x.taskDefinitionArn !== svc.taskDefinition)) {
          await ecs.send(new StopTaskCommand({ cluster, task: t.taskArn, reason: `Scaling activity initiated by (deployment ${deployment})` }));
          stoppedCount++;
        }
        const current = mine.filter((x) => x.taskDefinitionArn === svc.taskDefinition);
        const desired = svc.desiredCount ?? 0;
        for (const t of current.slice(desired)) {
          await ecs.send(new StopTaskCommand({ cluster, task: t.taskArn, reason: `Scaling activity initiated by (deployment ${deployment})` }));
          stoppedCount++;
        }
        const missing = desired - current.length;
        if (missing <= 0) continue;
        const net = svc.networkConfiguration?.awsvpcConfiguration;
        const subnets = net?.subnets ?? [];
        // One task at a time, each in the next subnet: ECS spreads a Fargate service's tasks over the zones of its subnets (moto puts them all in the first).
        const runs = [];
        for (let k = 0; k < missing; k++) {
          const subnet = subnets[(current.length + k) % Math.max(subnets.length, 1)];
          runs.push(
            await ecs.send(
              new RunTaskCommand({
                cluster,
                taskDefinition: svc.taskDefinition,
                count: 1,
                launchType: 'FARGATE',
                group,
                startedBy: deployment,
                // moto's RunTask needs securityGroups present, even if empty.
                networkConfiguration: { awsvpcConfiguration: { subnets: subnet ? [subnet] : [], securityGroups: net?.securityGroups ?? [], assignPublicIp: net?.assignPublicIp ?? 'DISABLED' } },
                ...(svc.tags && svc.tags.length > 0 ? { tags: svc.tags } : {}),
              }),
            ),
          );
        }
        const run = { tasks: runs.flatMap((r) => r.tasks ?? []) };
        started += run.tasks?.length ?? 0;
        if (crash) {
          for (const t of run.tasks ?? []) await ecs.send(new StopTaskCommand({ cluster, task: t.taskArn, reason: crash.stoppedReason }));
        }
      }
    }
    return { started, stopped: stoppedCount };
  }

  const interval = opts.intervalMs ?? 250;
  let busy = false;
  const timer = setInterval(() => {
    // One sync at a time, none queued behind it: a slow emulator call must not start a second, overlapping pass, nor pile them up.
    if (stopped || busy) return;
    busy = true;
    running = running
      .then(() => (stopped ? undefined : syncOnce().catch(() => undefined)))
      .finally(() => {
        busy = false;
      });
  }, interval);
  timer.unref();

  return {
    syncOnce: () => {
      const p = running.then(syncOnce);
      running = p.catch(() => undefined);
      return p;
    },
    setCrash: (c) => {
      crash = c;
    },
    hold: (cluster, service, h) => {
      if (h) held.add(`${cluster}/${service}`);
      else held.delete(`${cluster}/${service}`);
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
      ecs.destroy();
    },
  };
}
