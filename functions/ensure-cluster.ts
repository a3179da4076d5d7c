import { clusterArnOf, ECS_CLUSTER_PERMISSIONS, ensureEcsCluster, findEcsCluster } from '#lib/aws/ecs-cluster.ts';
import { resolveAwsContext } from '#lib/aws/iam-role.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { planEntry } from '#lib/plan.ts';
import type { ClusterResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure cluster: the ECS cluster with capacity provider FARGATE, shared by every workload that names it. */
export async function ensureCluster(state: WorkflowState): Promise<ClusterResult> {
  const { request } = state;
  const { created, ...c } = await ensureEcsCluster({ name: request.ecs.cluster, containerInsights: request.ecs.containerInsights });
  return { ...c, ledger: [{ kind: 'ecs-cluster', id: c.clusterName, arn: c.clusterArn, created, shared: true }] };
}

/**
 * The dry run of Ensure cluster: reuse of the live cluster of that name (whoever made it: clusters
 * are shared, never a conflict), or its create, under the ARN CreateCluster will give it.
 */
export async function planCluster(state: WorkflowState): Promise<ClusterResult> {
  const { request } = state;
  const name = request.ecs.cluster;
  const existing = await findEcsCluster(name);
  const clusterArn = existing ?? clusterArnOf(await resolveAwsContext(state.preflight), name);
  const detail = `FARGATE capacity provider${request.ecs.containerInsights ? ', Container Insights on' : ''}`;
  return {
    clusterName: name,
    clusterArn,
    ledger: [],
    plan: [planEntry('ecs-cluster', name, existing ? { id: name, changes: [] } : undefined, { shared: true, ...(existing ? {} : { detail }) })],
  };
}

export const permissions: StepPermissions = ECS_CLUSTER_PERMISSIONS;

export const handler = wrap('Ensure cluster', ensureCluster, { plan: planCluster });
