import { ECS_CLUSTER_PERMISSIONS, ensureEcsCluster } from '#lib/aws/ecs-cluster.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import type { ClusterResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure cluster: the ECS cluster with capacity provider FARGATE, shared by every workload that names it. */
export async function ensureCluster(state: WorkflowState): Promise<ClusterResult> {
  const { request } = state;
  const { created, ...c } = await ensureEcsCluster({ name: request.ecs.cluster, containerInsights: request.ecs.containerInsights });
  return { ...c, ledger: [{ kind: 'ecs-cluster', id: c.clusterName, arn: c.clusterArn, created, shared: true }] };
}

export const permissions: StepPermissions = ECS_CLUSTER_PERMISSIONS;

export const handler = wrap('Ensure cluster', ensureCluster);
