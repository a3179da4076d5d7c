import { ensureEcsCluster } from '#lib/aws/ecs-cluster.ts';
import { wrap } from '#lib/middleware.ts';
import { ecsTags } from '#lib/tags.ts';
import type { ClusterResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure cluster: the ECS cluster with capacity provider FARGATE. */
export async function ensureCluster(state: WorkflowState): Promise<ClusterResult> {
  const { request } = state;
  const { created, ...c } = await ensureEcsCluster(request.ecs.cluster, ecsTags(request));
  return { ...c, ledger: [{ kind: 'ecs-cluster', id: c.clusterName, arn: c.clusterArn, created }] };
}

export const handler = wrap('Ensure cluster', ensureCluster);
