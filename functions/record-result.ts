import { collectLedger } from '#lib/ledger.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { executionNameOf, recordOnboarded, registryTable, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import { need } from '#lib/state.ts';
import { workloadKey } from '#lib/tags.ts';
import type { LedgerEntry, MeshVerificationResult, TrafficEvidenceResult, WorkflowState } from '#lib/workflow.ts';

export interface OnboardingResult {
  workload: string;
  cluster: string;
  service: string;
  taskDefinitionArn: string;
  tasks: { taskId: string; privateIp: string; availabilityZone: string; warName?: string; agentConnected?: string; connectedTo?: string }[];
  created: LedgerEntry[];
  /** Existed and changed by this run (`updated`); a new task definition revision is in `created`. */
  updated: LedgerEntry[];
  /** Existed and left as found. */
  reused: LedgerEntry[];
  traffic?: Pick<TrafficEvidenceResult, 'trafficSeen' | 'inbound' | 'outbound' | 'accessLogSeen' | 'missingLogStreams' | 'hint'>;
  /** Where the agent image came from: the request, or the deployment it was derived from. */
  agentImageSource?: string;
}

/**
 * Record result: the execution's output. A summary of what was created, updated or reused (the
 * ledger teardown reads) and each task's mesh registration; the workload registry records
 * the success with the ledger, only while this execution holds the workload's lock, and frees
 * the lock in the same write (a run that lost it fails with WorkloadBusyError and writes nothing).
 * Never echoes the request's CA bundle.
 */
export async function recordResult(state: WorkflowState): Promise<OnboardingResult> {
  const s = need(state, 'service', 'taskDefinition', 'readiness');
  const mesh: MeshVerificationResult | undefined = s.mesh;
  const registrations = [...(mesh?.connected ?? []), ...(mesh?.disconnected ?? []), ...(mesh?.missing ?? [])];
  const ledger = collectLedger(s);
  if (registryTable() && s.execution) await recordOnboarded(s.request, s.execution.id, ledger, new Date(), { release: executionNameOf(s.execution.id) });
  return {
    workload: workloadKey(s.request),
    cluster: s.service.clusterName,
    service: s.service.serviceName,
    taskDefinitionArn: s.taskDefinition.taskDefinitionArn,
    tasks: s.readiness.tasks.map((t) => {
      const r = registrations.find((x) => x.taskId === t.taskId);
      return {
        taskId: t.taskId,
        privateIp: t.privateIp,
        availabilityZone: t.availabilityZone,
        ...(r?.warName ? { warName: r.warName } : {}),
        ...(r?.agentConnected ? { agentConnected: r.agentConnected.status } : {}),
        ...(r?.connectedTo ? { connectedTo: r.connectedTo } : {}),
      };
    }),
    created: ledger.filter((e) => e.created),
    updated: ledger.filter((e) => !e.created && e.updated === true),
    reused: ledger.filter((e) => !e.created && e.updated !== true),
    ...(s.traffic ? { traffic: trafficSummary(s.traffic) } : {}),
    ...(s.preflight?.agentImageSource ? { agentImageSource: s.preflight.agentImageSource } : {}),
  };
}

/** The traffic finding without the sample lines (they may hold request paths): counts, and why none may show. */
function trafficSummary(t: TrafficEvidenceResult): NonNullable<OnboardingResult['traffic']> {
  return {
    trafficSeen: t.trafficSeen,
    inbound: t.inbound,
    outbound: t.outbound,
    ...(t.accessLogSeen !== undefined ? { accessLogSeen: t.accessLogSeen } : {}),
    ...(t.missingLogStreams?.length ? { missingLogStreams: t.missingLogStreams } : {}),
    ...(t.hint ? { hint: t.hint } : {}),
  };
}

export const permissions: StepPermissions = REGISTRY_WRITE_PERMISSIONS;

export const handler = wrap('Record result', recordResult);
