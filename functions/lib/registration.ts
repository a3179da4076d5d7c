/**
 * Reading the mesh's WorkloadAutoRegistrations of ECS tasks: what Verify workload and the
 * re-verification both judge a task by.
 */
import type { WorkloadAutoRegistration } from './kube/resources.ts';
import { DEFAULT_CONNECTED_OVER, WAR_CONNECTED_CONDITION } from './mesh-facts.ts';
import type { RunningTask, TaskRegistration } from './workflow.ts';

/** The registrations of `cluster`'s tasks by task id (a WAR's `ecs.cluster` is a name, or an ARN ending in `cluster/<name>`). */
export function warsByTask(wars: readonly WorkloadAutoRegistration[], cluster: string): Map<string, WorkloadAutoRegistration> {
  const byTask = new Map<string, WorkloadAutoRegistration>();
  for (const w of wars) {
    const ecs = w.spec.identity?.aws?.ecs;
    if (ecs?.taskId && ecs.cluster?.split('/').pop() === cluster) byTask.set(ecs.taskId, w);
  }
  return byTask;
}

/**
 * One task's registration as the mesh reports it (a WAR absent means `missing`). The address is
 * the one whose `type` is the registration's `settings.connectedOver` (VPC when unspecified):
 * a host may register several (docs.tetrate.io refs/onboarding/config/runtime/v1alpha1/registration
 * lists a VPC and an INTERNET address), and the mesh reaches it over that one.
 */
export function registrationOf(task: RunningTask, war: WorkloadAutoRegistration | undefined): TaskRegistration {
  const zone = task.availabilityZone ? { availabilityZone: task.availabilityZone } : {};
  if (!war) return { taskId: task.taskId, ...zone };
  const cond = war.status?.conditions?.find((c) => c.type === WAR_CONNECTED_CONDITION);
  const raw = war.spec.registration?.settings?.connectedOver;
  // AddressType is UNSPECIFIED (0) | VPC | INTERNET; unspecified means VPC (refs/.../types/registration/v1alpha1/{registration,hostinfo}).
  const connectedOver = raw && raw !== 'UNSPECIFIED' ? raw : DEFAULT_CONNECTED_OVER;
  return {
    taskId: task.taskId,
    ...zone,
    warName: war.metadata.name,
    agentConnected: cond ? { status: cond.status, reason: cond.reason, since: cond.lastTransitionTime } : { status: 'Unknown', reason: 'NoConditionYet' },
    connectedTo: war.status?.activeAgentConnection?.connectedTo,
    address: war.spec.registration?.host?.addresses?.find((a) => a.type === connectedOver)?.ip,
    connectedOver,
  };
}
