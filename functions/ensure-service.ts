import { ENSURE_SERVICE_PERMISSIONS, ensureEcsService } from '#lib/aws/ecs-service.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { need } from '#lib/state.ts';
import { ecsTags } from '#lib/tags.ts';
import type { ServiceResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure service: the Fargate service running the task definition in the task subnet. */
export async function ensureService(state: WorkflowState): Promise<ServiceResult> {
  const { request, cluster, taskDefinition, taskSubnet, securityGroup } = need(state, 'cluster', 'taskDefinition', 'taskSubnet', 'securityGroup');
  const serviceName = request.ecs.service;
  const { serviceArn, created, updated } = await ensureEcsService({
    cluster: cluster.clusterName,
    serviceName,
    taskDefinitionArn: taskDefinition.taskDefinitionArn,
    desiredCount: request.ecs.desiredCount,
    // Every task subnet: ECS spreads the service's tasks over their zones.
    subnets: taskSubnet.subnets.map((s) => s.subnetId),
    securityGroups: [securityGroup.groupId],
    enableExecuteCommand: request.ecs.enableExecuteCommand,
    tags: ecsTags(request),
    owner: request,
  });
  return { serviceArn, serviceName, clusterName: cluster.clusterName, updated, ledger: [{ kind: 'ecs-service', id: serviceArn, arn: serviceArn, created, ...(updated ? { updated: true } : {}) }] };
}

export const permissions: StepPermissions = ENSURE_SERVICE_PERMISSIONS;

export const handler = wrap('Ensure service', ensureService);
