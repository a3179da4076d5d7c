import { listServiceTasks, SERVICE_TASKS_PERMISSIONS } from '#lib/aws/ecs-service.ts';
import { WaitDeadlineExceededError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import { effectiveTimeouts } from '#lib/request-defaults.ts';
import { teardownState, type DrainResult, type TeardownState } from '#lib/teardown.ts';

/**
 * Check tasks stopped: one turn of the wait for the service's tasks to stop after it was scaled
 * to 0. Bounded by timeouts.serviceSeconds of the workload's request (default 15 minutes); past
 * it, WaitDeadlineExceededError naming the tasks still running.
 */
export async function checkTasksStopped(state: Partial<TeardownState>): Promise<DrainResult> {
  const s = teardownState(state);
  const status = s.scaleDown?.status ?? 'absent';
  // Not ours (left alone) or no service at all: nothing of ours to wait for.
  if (status === 'foreign' || status === 'absent') return { stopped: true, running: 0, status };
  const { cluster } = s.request.ecs;
  const services = s.scaleDown?.services ?? [s.request.ecs.service];
  const running = [];
  for (const name of services) running.push(...(await listServiceTasks(cluster, name)).filter((t) => t.lastStatus !== 'STOPPED'));
  if (running.length === 0) return { stopped: true, running: 0, status };
  const seconds = effectiveTimeouts(s.request).serviceSeconds;
  if (s.drain?.poll && pastDeadline(s.drain.poll)) {
    throw new WaitDeadlineExceededError(
      `ECS service(s) ${services.map((n) => `"${n}"`).join(', ')} in cluster "${cluster}" still have ${running.length} task(s) not stopped after ${seconds} s (${running.map((t) => `${t.taskArn?.split('/').pop()} ${t.lastStatus}`).join(', ')}); stop them (aws ecs stop-task) and run the teardown again`,
    );
  }
  return { stopped: false, running: running.length, status, poll: nextPoll(s.drain?.poll, seconds) };
}

export const permissions: StepPermissions = SERVICE_TASKS_PERMISSIONS;

export const handler = wrap('Check tasks stopped', checkTasksStopped);
