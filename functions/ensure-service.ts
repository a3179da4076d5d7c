import { decideService, ENSURE_SERVICE_PERMISSIONS, ensureEcsService, type WantedService } from '#lib/aws/ecs-service.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { plannedId, type PlanEntry } from '#lib/plan.ts';
import { need } from '#lib/state.ts';
import { ecsTags } from '#lib/tags.ts';
import type { ServiceResult, WorkflowState } from '#lib/workflow.ts';

/** The service the state asks for: what the apply and the dry run both compare against. */
function wantedService(state: WorkflowState): WantedService {
  const { request, cluster, taskDefinition, taskSubnet, securityGroup } = need(state, 'cluster', 'taskDefinition', 'taskSubnet', 'securityGroup');
  return {
    cluster: cluster.clusterName,
    serviceName: request.ecs.service,
    taskDefinitionArn: taskDefinition.taskDefinitionArn,
    desiredCount: request.ecs.desiredCount,
    // Every task subnet: ECS spreads the service's tasks over their zones.
    subnets: taskSubnet.subnets.map((s) => s.subnetId),
    securityGroups: [securityGroup.groupId],
    enableExecuteCommand: request.ecs.enableExecuteCommand,
    tags: ecsTags(request),
    owner: request,
  };
}

/** Ensure service: the Fargate service running the task definition in the task subnet. */
export async function ensureService(state: WorkflowState): Promise<ServiceResult> {
  const w = wantedService(state);
  const { serviceArn, created, updated } = await ensureEcsService(w);
  return { serviceArn, serviceName: w.serviceName, clusterName: w.cluster, updated, ledger: [{ kind: 'ecs-service', id: serviceArn, arn: serviceArn, created, ...(updated ? { updated: true } : {}) }] };
}

/**
 * Ensure service's dry run: the same look-up and comparison as the apply (decideService), no
 * CreateService or UpdateService. Placeholders from earlier plans (a new task definition
 * revision, a subnet or security group to be made) are only compared, never sent: they differ
 * from what an existing service runs, so they show as the update's fields. A DRAINING service
 * is planned as a create after the wait, with a problem saying the apply waits for it.
 */
export async function planService(state: WorkflowState): Promise<ServiceResult> {
  const w = wantedService(state);
  const decision = await decideService(w);
  const entry = { kind: 'ecs-service', name: w.serviceName } as const;
  const result = (serviceArn: string, e: PlanEntry, updated = false): ServiceResult => ({ serviceArn, serviceName: w.serviceName, clusterName: w.cluster, updated, ledger: [], plan: [e] });
  const planned = plannedId('ecs-service', `${w.cluster}/${w.serviceName}`);
  switch (decision.action) {
    case 'reuse':
      return result(decision.serviceArn, { ...entry, id: decision.serviceArn, action: 'reuse' });
    case 'update':
      return result(decision.serviceArn, { ...entry, id: decision.serviceArn, action: 'update', changes: decision.changes }, true);
    case 'conflict':
      return result(decision.serviceArn ?? planned, { ...entry, ...(decision.serviceArn ? { id: decision.serviceArn } : {}), action: 'conflict', detail: decision.error.message });
    case 'create':
      return result(planned, { ...entry, action: 'create', detail: `in cluster ${w.cluster}${decision.previous ? ', over the INACTIVE (deleted) service of that name' : ''}` });
    case 'wait':
      return {
        ...result(planned, { ...entry, action: 'create', detail: `in cluster ${w.cluster}, once the DRAINING service of that name is INACTIVE` }),
        problems: [
          {
            step: 'Ensure service',
            path: 'ecs.service',
            message: `${decision.error.message}. The apply waits for it (Ensure service retries ResourceDrainingError about every 30 s, 20 times) and then creates the service; if it is still DRAINING after that, the onboarding fails. Wait for it to drain, or choose another ecs.service.`,
          },
        ],
      };
  }
}

export const permissions: StepPermissions = ENSURE_SERVICE_PERMISSIONS;

export const handler = wrap('Ensure service', ensureService, { plan: planService });
