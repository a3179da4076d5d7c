import type { Deployment, Task } from '@aws-sdk/client-ecs';
import { describeStoppedTask, privateIpOf, subnetIdOf, taskIdOf } from '#lib/aws/ecs-task.ts';
import { DESCRIBE_SERVICE_PERMISSIONS, describeService, listServiceTasks, SERVICE_TASKS_PERMISSIONS } from '#lib/aws/ecs-service.ts';
import { ResourceFailedError, ResourceNotReadyError, TaskStoppedError, WaitDeadlineExceededError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { effectiveTimeouts } from '#lib/request-defaults.ts';
import { READINESS } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import type { ReadinessResult, RunningTask, WorkflowState } from '#lib/workflow.ts';

/**
 * Stop reasons of a task that failed to start for a cause that usually passes on its own on a
 * first deployment, and that ECS retries by itself: the execution role's new policy is still
 * propagating (secrets / registry auth AccessDenied, role not assumable yet), or the NAT route
 * is still settling (image pull i/o timeout). Real failures (a container exited, OutOfMemory)
 * never match these.
 */
export const TRANSIENT_START_FAILURES: readonly RegExp[] = [
  /ResourceInitializationError/i,
  /CannotPullContainerError/i,
  /unable to assume (the )?(service linked )?role/i,
];

/** Transient start failures tolerated in one deployment; the next one ends the run. */
export const MAX_TRANSIENT_START_FAILURES = 3;


/** Stops that are not failures: a scale-in by the scheduler, or a person stopping the task (ECS replaces it). */
function isFailure(t: Task): boolean {
  if (t.stopCode === 'UserInitiated') return false;
  return !(t.stopCode === 'ServiceSchedulerInitiated' && /^Scaling activity/i.test(t.stoppedReason ?? ''));
}

/** A start-up failure ECS retries by itself; a task whose container exited non-zero is never one. */
export function isTransientStartFailure(t: Task): boolean {
  if (t.stopCode === 'EssentialContainerExited' || (t.containers ?? []).some((c) => c.exitCode != null && c.exitCode !== 0)) return false;
  const reason = t.stoppedReason ?? '';
  return TRANSIENT_START_FAILURES.some((p) => p.test(reason));
}


function stoppedError(service: string, failed: Task[], deployment: Deployment | undefined): TaskStoppedError {
  const parts = failed.slice(0, 3).map(describeStoppedTask);
  if (deployment?.rolloutState === 'FAILED') parts.unshift(`deployment ${deployment.id ?? '?'} FAILED: ${deployment.rolloutStateReason ?? 'no reason given'}`);
  return new TaskStoppedError(`ECS service "${service}": ${parts.join('; ')}`);
}

/**
 * The failed deployment that concerns our task definition: the primary one, or ours after the
 * circuit breaker rolled back to an older one. A FAILED deployment of ours beside a newer
 * primary of ours is an earlier attempt that a forced redeployment replaced.
 */
function failedDeployment(deployments: Deployment[], primary: Deployment | undefined, ours: string): Deployment | undefined {
  if (primary?.rolloutState === 'FAILED') return primary;
  if (primary?.taskDefinition === ours) return undefined;
  return deployments.find((d) => d.rolloutState === 'FAILED' && d.taskDefinition === ours);
}

const latestFirst = (a: Task, b: Task) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0);

/**
 * Check service readiness: ready when the deployment completed and `desiredCount` tasks of
 * the current task definition run. Not ready returns ready=false and the next poll. A task
 * that stopped for a real failure, or a failed deployment, is terminal; start-up failures
 * that usually pass (TRANSIENT_START_FAILURES) are waited out up to
 * MAX_TRANSIENT_START_FAILURES; the deadline ends the wait.
 */
export async function checkServiceReadiness(state: WorkflowState): Promise<ReadinessResult> {
  const { request, service, taskDefinition, taskSubnet, readiness } = need(state, 'service', 'taskDefinition', 'taskSubnet');
  const poll = nextPoll(readiness?.poll, effectiveTimeouts(request).serviceSeconds, new Date(), READINESS.service);
  const { clusterName, serviceName } = service;
  const svc = await describeService(clusterName, serviceName);
  // Right after CreateService, DescribeServices may not list the service yet (eventual consistency).
  if (!svc && !readiness?.poll) throw new ResourceNotReadyError(`ECS service "${serviceName}" in cluster "${clusterName}" is not visible yet right after it was created`);
  if (!svc || svc.status !== 'ACTIVE') {
    throw new ResourceFailedError(`ECS service "${serviceName}" in cluster "${clusterName}" is ${svc?.status ?? 'missing'}; it was deleted while waiting for it`);
  }
  const desired = svc.desiredCount ?? request.ecs.desiredCount;
  if (desired === 0) return { ready: true, tasks: [], poll, status: 'desired count 0: no tasks to wait for' };

  const ours = taskDefinition.taskDefinitionArn;
  const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
  const failedRollout = failedDeployment(svc.deployments ?? [], primary, ours);
  const tasks = await listServiceTasks(clusterName, serviceName);
  const current = tasks.filter((t) => t.taskDefinitionArn === ours);
  // Only stops since the current deployment began: older ones belong to an earlier attempt.
  const since = primary?.createdAt;
  const stopped = current.filter((t) => t.lastStatus === 'STOPPED' && isFailure(t) && !(since && t.stoppedAt && t.stoppedAt < since)).sort(latestFirst);
  const transient = stopped.filter(isTransientStartFailure);
  const real = stopped.filter((t) => !isTransientStartFailure(t));
  if (real.length > 0 || failedRollout) throw stoppedError(serviceName, [...real, ...transient], failedRollout);
  const lastStartFailure = transient[0] ? (transient[0].stoppedReason ?? 'no reason given') : undefined;
  if (lastStartFailure !== undefined && transient.length >= MAX_TRANSIENT_START_FAILURES) {
    const details = transient.slice(0, 3).map(describeStoppedTask).join('; ');
    throw new TaskStoppedError(`ECS service "${serviceName}": ${transient.length} tasks kept failing to start: ${lastStartFailure}; ${details}`);
  }

  // moto leaves rolloutState out in some setups: a full running count then means completed.
  const runningCount = primary?.runningCount ?? svc.runningCount ?? 0;
  const rollout = primary?.rolloutState ?? (runningCount === desired ? 'COMPLETED' : 'IN_PROGRESS');
  const zoneOfSubnet = new Map(taskSubnet.subnets.map((s) => [s.subnetId, s.availabilityZone]));
  const running: RunningTask[] = current
    .filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING')
    .map((t) => ({
      taskId: taskIdOf(t.taskArn),
      taskArn: t.taskArn ?? '',
      // Fargate reports the zone; else the zone of the task subnet its network interface is in.
      availabilityZone: t.availabilityZone ?? zoneOfSubnet.get(subnetIdOf(t) ?? '') ?? 'unknown',
      privateIp: privateIpOf(t) ?? '',
      lastStatus: t.lastStatus ?? 'RUNNING',
    }));
  const live = tasks.filter((t) => t.desiredStatus === 'RUNNING');
  const notRunning = live.filter((t) => t.lastStatus !== 'RUNNING');
  const ready =
    rollout === 'COMPLETED' && svc.runningCount === desired && running.length === desired && notRunning.length === 0 && running.every((t) => t.privateIp !== '');

  let status = `running ${running.length}/${desired}, deployment ${rollout}`;
  if (notRunning.length > 0) status += `, tasks ${notRunning.map((t) => t.lastStatus ?? 'UNKNOWN').join(', ')}`;
  if (lastStartFailure !== undefined) status += `, ${transient.length} ${transient.length === 1 ? 'task' : 'tasks'} failed to start (retrying): ${lastStartFailure}`;
  if (!ready && pastDeadline(poll)) {
    throw new WaitDeadlineExceededError(`ECS service "${serviceName}" in cluster "${clusterName}" not ready by ${poll.deadline}: ${status}`);
  }
  return { ready, tasks: running, poll, status };
}

export const permissions: StepPermissions = composePermissions(DESCRIBE_SERVICE_PERMISSIONS, SERVICE_TASKS_PERMISSIONS);

export const handler = wrap('Check service readiness', checkServiceReadiness);
