import { CreateClusterCommand, DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { ResourceConflictError } from '../errors.ts';
import { isManagedByUs } from '../tags.ts';

/**
 * Finds the ECS cluster by name or creates it with the FARGATE capacity provider.
 * An existing ACTIVE cluster is reused even when another tool made it (clusters are
 * commonly shared); only an INACTIVE one we did not make is a conflict.
 */
export async function ensureEcsCluster(name: string, tags: { key: string; value: string }[]): Promise<{ clusterName: string; clusterArn: string; created: boolean }> {
  const found = await ecs().send(new DescribeClustersCommand({ clusters: [name], include: ['TAGS'] }));
  const existing = found.clusters?.find((c) => c.clusterName === name && c.status !== 'INACTIVE');
  if (existing?.clusterArn) return { clusterName: name, clusterArn: existing.clusterArn, created: false };
  const inactive = found.clusters?.find((c) => c.clusterName === name && c.status === 'INACTIVE');
  if (inactive && !isManagedByUs(inactive.tags)) {
    throw new ResourceConflictError(`ECS cluster "${name}" exists in state INACTIVE and was not made by this tool; delete it or choose another ecs.cluster`);
  }
  // CreateCluster is idempotent on AWS for the same name and settings.
  const made = await ecs().send(
    new CreateClusterCommand({
      clusterName: name,
      capacityProviders: ['FARGATE'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      settings: [{ name: 'containerInsights', value: 'enabled' }],
      tags,
    }),
  );
  if (!made.cluster?.clusterArn) throw new Error(`CreateCluster returned no ARN for ${name}`);
  return { clusterName: name, clusterArn: made.cluster.clusterArn, created: true };
}
