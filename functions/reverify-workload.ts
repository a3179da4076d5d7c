import { assessDrift } from '#lib/drift.ts';
import { DRIFT_PUBLISH_PERMISSIONS, publishDriftEvent, putDriftMetric } from '#lib/drift-events.ts';
import { InvalidRequestError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { DESCRIBE_SERVICE_PERMISSIONS, SERVICE_TASKS_PERMISSIONS } from '#lib/aws/ecs-service.ts';
import { MESH_KUBE_PERMISSIONS } from '#lib/kube/client.ts';
import { AGENT_LOG_PERMISSIONS } from '#lib/traffic-evidence.ts';
import { getWorkload, recordVerification, REGISTRY_WRITE_PERMISSIONS, type DriftFinding, type Verification } from '#lib/registry.ts';
import { observeWorkload, type WarReader } from '#lib/workload-observation.ts';

export interface ReverifyInput {
  workload: string;
  /** The re-verification execution (the Map's ItemSelector passes `$$.Execution.Id`). */
  executionId?: string;
}

export type ReverifyResult =
  | { workload: string; checked: true; ok: boolean; drift: DriftFinding[]; eventId?: string }
  /** Not onboarded (an onboarding under way, or failed): nothing to hold it to. */
  | { workload: string; checked: false; reason: string };

/**
 * Reverify workload: the read-only checks of one onboarded workload (its ECS service, running
 * tasks, each task's WorkloadAutoRegistration and AgentConnected condition, the agent's
 * traffic), recorded in the registry. Drift is announced with a MeshWorkloadDrift event and a
 * WorkloadDrift data point. Never changes the workload's resources.
 */
export async function reverifyWorkload(input: ReverifyInput, opts: { wars?: WarReader; now?: () => Date } = {}): Promise<ReverifyResult> {
  const { workload, executionId } = input;
  const record = await getWorkload(workload);
  if (!record) throw new InvalidRequestError([{ path: '$.workload', message: `"${workload}" is not in the workload registry` }]);
  if (record.status !== 'ONBOARDED') return { workload, checked: false, reason: `status ${record.status}: only onboarded workloads are re-verified` };

  const now = opts.now ?? (() => new Date());
  const observation = await observeWorkload(record, { ...(opts.wars ? { wars: opts.wars } : {}), now: now() });
  const at = now();
  const { drift, notes } = assessDrift(observation, at);
  const verification: Verification = {
    at: at.toISOString(),
    ok: drift.length === 0,
    drift,
    ...(executionId ? { executionId } : {}),
    ...(notes.length > 0 ? { notes } : {}),
    ...(observation.traffic ? { traffic: { trafficSeen: observation.traffic.trafficSeen, inbound: observation.traffic.inbound, outbound: observation.traffic.outbound } } : {}),
  };
  // The registry first: a retry after a failed publish records the same finding again and publishes once more (consumers dedupe on workload + executionId).
  await recordVerification(workload, verification);
  if (verification.ok) return { workload, checked: true, ok: true, drift };

  const eventId = await publishDriftEvent({
    workload,
    cluster: observation.cluster,
    service: observation.service,
    ...(observation.ecsService?.serviceArn ? { serviceArn: observation.ecsService.serviceArn } : {}),
    namespace: record.request.workloadGroup.namespace,
    ...(record.request.network.eksClusterName ? { eksClusterName: record.request.network.eksClusterName } : {}),
    findings: drift,
    checkedAt: verification.at,
    ...(executionId ? { executionId } : {}),
    onboardingExecutionId: record.executionId,
  });
  await putDriftMetric(at);
  return { workload, checked: true, ok: false, drift, eventId };
}

/**
 * Exactly what the step calls: the same read permissions the onboarding's readers declare next
 * to their calls (service and tasks, the mesh cluster, the agent's log), the registry, and the
 * drift publishers. Composed, not copied, so a reader that changes its calls changes both.
 */
export const permissions: StepPermissions = composePermissions(
  { sid: 'ReadWorkloadRecord', actions: ['dynamodb:GetItem'], resources: ['${RegistryTableArn}'] },
  REGISTRY_WRITE_PERMISSIONS,
  DESCRIBE_SERVICE_PERMISSIONS,
  SERVICE_TASKS_PERMISSIONS,
  MESH_KUBE_PERMISSIONS,
  AGENT_LOG_PERMISSIONS,
  DRIFT_PUBLISH_PERMISSIONS,
);

export const handler = wrap('Reverify workload', (input: ReverifyInput) => reverifyWorkload(input));
