/**
 * The read-only look at one onboarded workload that the re-verification judges
 * (drift.ts): its ECS service, the service's tasks, the mesh registration of each running
 * task and the agent's traffic. It reuses the onboarding's own readers (describeService,
 * listServiceTasks, registrationOf, trafficEvidence) so both judge a workload by the same
 * facts. Nothing here writes: only Describe/List/Get/Filter calls.
 */
import type { Task } from '@aws-sdk/client-ecs';
import { describeStoppedTask, privateIpOf, taskIdOf } from './aws/ecs-task.ts';
import { trafficEvidence } from './traffic-evidence.ts';
import { registrationOf, warsByTask } from './registration.ts';
import { describeService, listServiceTasks } from './aws/ecs-service.ts';
import { isAwsError, MeshPrerequisiteError } from './errors.ts';
import { meshKube } from './kube/client.ts';
import type { WorkloadAutoRegistration } from './kube/resources.ts';
import { names } from './naming.ts';
import { nextPoll } from './poll.ts';
import type { WorkloadRecord } from './registry.ts';
import type { Observation } from './drift.ts';
import type { RunningTask } from './workflow.ts';

/** Reads the WorkloadAutoRegistrations of a namespace (injected in unit tests). */
export type WarReader = (eksClusterName: string, namespace: string) => Promise<WorkloadAutoRegistration[]>;

const readWars: WarReader = async (eksClusterName, namespace) => (await meshKube(eksClusterName, { namespace })).listWorkloadAutoRegistrations(namespace);


/** The service's task set: the running ones, those still starting, and the latest stop (why a task is missing). */
async function tasksOf(cluster: string, service: string): Promise<{ running: Task[]; starting: number; lastStopped?: Task }> {
  const tasks = await listServiceTasks(cluster, service);
  const meant = tasks.filter((t) => t.desiredStatus === 'RUNNING');
  const running = meant.filter((t) => t.lastStatus === 'RUNNING');
  const starting = meant.filter((t) => ['PROVISIONING', 'PENDING', 'ACTIVATING'].includes(t.lastStatus ?? '')).length;
  const lastStopped = tasks.filter((t) => t.lastStatus === 'STOPPED').sort((a, b) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0))[0];
  return { running, starting, ...(lastStopped ? { lastStopped } : {}) };
}

/** Observes the workload a registry record describes. */
export async function observeWorkload(record: WorkloadRecord, opts: { wars?: WarReader; now?: Date } = {}): Promise<Observation> {
  const { request } = record;
  const { cluster, service } = request.ecs;
  let svc;
  try {
    svc = await describeService(cluster, service);
  } catch (e) {
    // A deleted cluster takes its services with it: that is the drift "service missing", not a failed check.
    if (!isAwsError(e, 'ClusterNotFoundException')) throw e;
  }
  const base: Observation = { cluster, service, running: [], registrations: [] };
  if (!svc) return base;
  const ecsService = { ...(svc.serviceArn ? { serviceArn: svc.serviceArn } : {}), status: svc.status ?? 'UNKNOWN', desiredCount: svc.desiredCount ?? 0 };
  if (ecsService.status !== 'ACTIVE' || ecsService.desiredCount === 0) return { ...base, ecsService };

  const { running, starting, lastStopped } = await tasksOf(cluster, service);
  const runningTasks: RunningTask[] = running.map((t) => ({
    taskId: taskIdOf(t.taskArn),
    taskArn: t.taskArn ?? '',
    availabilityZone: t.availabilityZone ?? '',
    privateIp: privateIpOf(t) ?? '',
    lastStatus: t.lastStatus ?? 'RUNNING',
  }));
  const observed: Observation = {
    ...base,
    ecsService,
    running: running.map((t) => {
      const at = t.startedAt ?? t.createdAt;
      return { taskId: taskIdOf(t.taskArn), ...(at ? { startedAt: at.toISOString() } : {}) };
    }),
    ...(starting > 0 ? { starting } : {}),
    ...(lastStopped ? { lastStopped: describeStoppedTask(lastStopped) } : {}),
  };
  if (runningTasks.length === 0) return observed;

  const { namespace } = request.workloadGroup;
  const eksClusterName = request.network.eksClusterName;
  if (!eksClusterName) throw new MeshPrerequisiteError(`network.eksClusterName of ${record.workload} is not recorded: the mesh registrations of its tasks cannot be read`);
  const wars = await (opts.wars ?? readWars)(eksClusterName, namespace);
  const byTask = warsByTask(wars, cluster);
  observed.registrations = runningTasks.map((t) => registrationOf(t, byTask.get(t.taskId)));

  const logGroupName = record.ledger.find((e) => e.kind === 'log-group')?.id ?? names.logGroup(request);
  const now = opts.now ?? new Date();
  // Traffic evidence reads only the log group and the running tasks of the workflow state it is given.
  const t = await trafficEvidence(
    {
      request,
      logGroup: { logGroupName, retentionDays: request.logRetentionDays, ledger: [] },
      readiness: { ready: true, tasks: runningTasks, poll: nextPoll(undefined, 0, now), status: 're-verification' },
    },
    now,
  );
  observed.traffic = { trafficSeen: t.trafficSeen, inbound: t.inbound.total, outbound: t.outbound.total, ...(t.hint ? { hint: t.hint } : {}) };
  return observed;
}
