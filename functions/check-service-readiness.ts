import type { Deployment, Task } from '@aws-sdk/client-ecs';
import { describeService, listServiceTasks } from '#lib/aws/ecs-service.ts';
import { ResourceFailedError, TaskStoppedError, WaitDeadlineExceededError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import { effectiveTimeouts } from '#lib/request.ts';
import { need } from '#lib/state.ts';
import type { ReadinessResult, RunningTask, WorkflowState } from '#lib/workflow.ts';

const taskId = (arn: string) => arn.split('/').pop() ?? arn;

function privateIp(t: Task): string | undefined {
  const eni = t.attachments?.find((a) => a.type === 'ElasticNetworkInterface');
  return eni?.details?.find((d) => d.name === 'privateIPv4Address')?.value ?? t.containers?.flatMap((c) => c.networkInterfaces ?? []).find((n) => n.privateIpv4Address)?.privateIpv4Address;
}

/** Stops that are not failures: a scale-in by the scheduler, or a person stopping the task (ECS replaces it). */
function isFailure(t: Task): boolean {
  if (t.stopCode === 'UserInitiated') return false;
  return !(t.stopCode === 'ServiceSchedulerInitiated' && /^Scaling activity/i.test(t.stoppedReason ?? ''));
}

/** One line per stopped task: why it stopped and how each container ended. */
export function describeStoppedTask(t: Task): string {
  const containers = (t.containers ?? []).map((c) => `${c.name ?? '?'} exit ${c.exitCode ?? 'none'}${c.reason ? ` (${c.reason})` : ''}`).join(', ');
  return `task ${taskId(t.taskArn ?? '?')} stopped [${t.stopCode ?? 'no stop code'}]: ${t.stoppedReason ?? 'no reason given'}; containers: ${containers || 'none reported'}`;
}

function stoppedError(service: string, failed: Task[], deployment: Deployment | undefined): TaskStoppedError {
  const parts = failed.slice(0, 3).map(describeStoppedTask);
  if (deployment?.rolloutState === 'FAILED') parts.unshift(`deployment ${deployment.id ?? '?'} FAILED: ${deployment.rolloutStateReason ?? 'no reason given'}`);
  return new TaskStoppedError(`ECS service "${service}": ${parts.join('; ')}`);
}

/**
 * Check service readiness: ready when the deployment completed and `desiredCount` tasks of
 * the current task definition run. Not ready returns ready=false and the next poll; a
 * stopped task or failed deployment is terminal; the deadline ends the wait.
 */
export async function checkServiceReadiness(state: WorkflowState): Promise<ReadinessResult> {
  const { request, service, taskDefinition, taskSubnet, readiness } = need(state, 'service', 'taskDefinition', 'taskSubnet');
  const poll = nextPoll(readiness?.poll, effectiveTimeouts(request).serviceSeconds);
  const { clusterName, serviceName } = service;
  const svc = await describeService(clusterName, serviceName);
  if (!svc || svc.status !== 'ACTIVE') {
    throw new ResourceFailedError(`ECS service "${serviceName}" in cluster "${clusterName}" is ${svc?.status ?? 'missing'}; it was deleted while waiting for it`);
  }
  const desired = svc.desiredCount ?? request.ecs.desiredCount;
  if (desired === 0) return { ready: true, tasks: [], poll, status: 'desired count 0: no tasks to wait for' };

  const ours = taskDefinition.taskDefinitionArn;
  const primary = svc.deployments?.find((d) => d.status === 'PRIMARY');
  const failedDeployment = svc.deployments?.find((d) => d.rolloutState === 'FAILED' && (d === primary || d.taskDefinition === ours));
  const tasks = await listServiceTasks(clusterName, serviceName);
  const current = tasks.filter((t) => t.taskDefinitionArn === ours);
  // Only stops since the current deployment began: older ones belong to an earlier attempt.
  const since = primary?.createdAt;
  const failed = current.filter((t) => t.lastStatus === 'STOPPED' && isFailure(t) && !(since && t.stoppedAt && t.stoppedAt < since));
  if (failed.length > 0 || failedDeployment) throw stoppedError(serviceName, failed, failedDeployment);

  // moto leaves rolloutState out in some setups: a full running count then means completed.
  const runningCount = primary?.runningCount ?? svc.runningCount ?? 0;
  const rollout = primary?.rolloutState ?? (runningCount === desired ? 'COMPLETED' : 'IN_PROGRESS');
  const running: RunningTask[] = current
    .filter((t) => t.lastStatus === 'RUNNING' && t.desiredStatus === 'RUNNING')
    .map((t) => ({
      taskId: taskId(t.taskArn ?? ''),
      taskArn: t.taskArn ?? '',
      // Fargate reports the zone; the service has one subnet, so its zone is the fallback.
      availabilityZone: t.availabilityZone ?? taskSubnet.availabilityZone,
      privateIp: privateIp(t) ?? '',
      lastStatus: t.lastStatus ?? 'RUNNING',
    }));
  const live = tasks.filter((t) => t.desiredStatus === 'RUNNING');
  const notRunning = live.filter((t) => t.lastStatus !== 'RUNNING');
  const ready =
    rollout === 'COMPLETED' && svc.runningCount === desired && running.length === desired && notRunning.length === 0 && running.every((t) => t.privateIp !== '');

  let status = `running ${running.length}/${desired}, deployment ${rollout}`;
  if (notRunning.length > 0) status += `, tasks ${notRunning.map((t) => t.lastStatus ?? 'UNKNOWN').join(', ')}`;
  if (!ready && pastDeadline(poll)) {
    throw new WaitDeadlineExceededError(`ECS service "${serviceName}" in cluster "${clusterName}" not ready by ${poll.deadline}: ${status}`);
  }
  return { ready, tasks: running, poll, status };
}

export const handler = wrap('Check service readiness', checkServiceReadiness);
