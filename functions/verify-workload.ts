import { MeshPrerequisiteError, WaitDeadlineExceededError } from '#lib/errors.ts';
import { meshKubeAt } from '#lib/kube/client.ts';
import { registrationOf, warsByTask } from '#lib/registration.ts';
import { wrap } from '#lib/middleware.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { effectiveTimeouts } from '#lib/request-defaults.ts';
import { READINESS } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import type { MeshVerificationResult, TaskRegistration, WorkflowState } from '#lib/workflow.ts';

export { registrationOf } from '#lib/registration.ts';

/**
 * Verify workload: each running task must have a WorkloadAutoRegistration in the
 * WorkloadGroup's namespace whose AgentConnected condition is True. Polled by the state
 * machine until all are connected or the mesh timeout runs out.
 */
export async function verifyWorkload(state: WorkflowState): Promise<MeshVerificationResult> {
  const { request, readiness } = need(state, 'readiness');
  const { namespace } = request.workloadGroup;
  const poll = nextPoll(state.mesh?.poll, effectiveTimeouts(request).meshSeconds, new Date(), READINESS.mesh);
  const tasks = readiness.tasks;

  const connected: TaskRegistration[] = [];
  const disconnected: TaskRegistration[] = [];
  const missing: TaskRegistration[] = [];
  if (tasks.length > 0) {
    if (!request.network.eksClusterName) throw new MeshPrerequisiteError('network.eksClusterName is required to read the WorkloadAutoRegistrations of the tasks');
    // The target Pre-flight mesh resolved: no DescribeCluster on every poll.
    const target = state.preflight?.kube;
    if (target?.clusterName !== request.network.eksClusterName) throw new Error(`Pre-flight mesh has not resolved EKS cluster "${request.network.eksClusterName}": Verify workload runs after it`);
    const kube = meshKubeAt(target, { namespace });
    const wars = await kube.listWorkloadAutoRegistrations(namespace);
    const byTask = warsByTask(wars, request.ecs.cluster);
    for (const t of tasks) {
      const reg = registrationOf(t, byTask.get(t.taskId));
      if (!reg.warName) missing.push(reg);
      else if (reg.agentConnected?.status === 'True') connected.push(reg);
      else disconnected.push(reg);
    }
  }

  const allConnected = missing.length === 0 && disconnected.length === 0;
  if (!allConnected && pastDeadline(poll)) {
    const describe = (r: TaskRegistration) => (r.warName ? `${r.taskId} (AgentConnected ${r.agentConnected?.status ?? 'Unknown'}${r.agentConnected?.reason ? `, ${r.agentConnected.reason}` : ''})` : r.taskId);
    throw new WaitDeadlineExceededError(
      `Tasks of ${namespace}/${request.workloadGroup.name} did not all connect to the mesh by ${poll.deadline}: ` +
        [missing.length > 0 ? `no WorkloadAutoRegistration for ${missing.map(describe).join(', ')}` : '', disconnected.length > 0 ? `agent not connected for ${disconnected.map(describe).join(', ')}` : '']
          .filter(Boolean)
          .join('; ') +
        `. Check the onboarding-agent container's log and the onboarding endpoint's reachability from the task subnet.`,
    );
  }
  return { allConnected, connected, disconnected, missing, poll };
}

/**
 * None in AWS: the Kubernetes API is reached with the target Pre-flight mesh resolved (the
 * workflow state's `preflight.kube`) and an EKS token (a presigned sts:GetCallerIdentity, which
 * needs no permission). The Kubernetes side (RBAC to list WorkloadAutoRegistrations) is the mesh
 * operator's, see For the mesh operator.
 */
export const permissions: StepPermissions = [];

export const handler = wrap('Verify workload', verifyWorkload);
