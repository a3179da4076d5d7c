import { CreateClusterCommand, DescribeClustersCommand, type ClusterSetting } from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { arnTemplate, requestTaggedByUs, type StepPermissions } from '../permissions.ts';
import { sharedTags } from '../tags.ts';
import type { AwsContext } from '../workflow.ts';

/** Cluster names come from requests: any cluster of the account and region. */
export const ECS_CLUSTERS_ARN = arnTemplate('ecs', 'cluster/*');

/**
 * ensureEcsCluster. Creating with tags is authorized as ecs:TagResource too, narrowed by
 * `ecs:CreateAction` (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
 * CreateCluster also tries to create ECS's service-linked role (it is skipped when the caller
 * may not: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html),
 * and without that role the first CreateService of the account fails ("Unable to assume the
 * service linked role", https://github.com/aws-samples/baseline-environment-on-aws/issues/238):
 * so that one role, for ECS only.
 */
export const ECS_CLUSTER_PERMISSIONS: StepPermissions = [
  { sid: 'FindEcsCluster', actions: ['ecs:DescribeClusters'], resources: [ECS_CLUSTERS_ARN] },
  { sid: 'CreateEcsCluster', actions: ['ecs:CreateCluster'], resources: [ECS_CLUSTERS_ARN], conditions: requestTaggedByUs() },
  { sid: 'TagEcsClusterOnCreate', actions: ['ecs:TagResource'], resources: [ECS_CLUSTERS_ARN], conditions: { StringEquals: { 'ecs:CreateAction': 'CreateCluster' } } },
  {
    sid: 'CreateEcsServiceLinkedRole',
    actions: ['iam:CreateServiceLinkedRole'],
    resources: ['arn:${Partition}:iam::${Account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS'],
    conditions: { StringEquals: { 'iam:AWSServiceName': 'ecs.amazonaws.com' } },
  },
];

export interface ClusterSpec {
  name: string;
  /** Turn on CloudWatch Container Insights, only when this call creates the cluster (it bills CloudWatch metrics). */
  containerInsights: boolean;
}

/**
 * The tags of the ECS cluster in ECS's lower-case shape: managed-by only, never a workload,
 * because every workload of that cluster shares it (the ledger records who uses it).
 */
export function clusterTags(): { key: string; value: string }[] {
  return sharedTags().map((t) => ({ key: t.Key, value: t.Value }));
}

/**
 * The ARN of the cluster `name` ensureEcsCluster would reuse (an ACTIVE or otherwise live one), or
 * undefined when it would create it: the one look-up of the apply and the plan.
 */
export async function findEcsCluster(name: string): Promise<string | undefined> {
  const found = await ecs().send(new DescribeClustersCommand({ clusters: [name] }));
  return found.clusters?.find((c) => c.clusterName === name && c.status !== 'INACTIVE')?.clusterArn;
}

/** The ARN CreateCluster gives the cluster `name`: what a plan names the cluster it would create. */
export function clusterArnOf(ctx: AwsContext, name: string): string {
  return `arn:${ctx.partition}:ecs:${ctx.region}:${ctx.account}:cluster/${name}`;
}

/**
 * Finds the ECS cluster by name or creates it with the FARGATE capacity provider. An ACTIVE
 * cluster is reused whoever made it and whatever its tags and settings (clusters are shared);
 * an INACTIVE one is a deleted cluster, not a conflict: CreateCluster with its name makes a new
 * cluster (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html:
 * INACTIVE clusters "might remain discoverable ... for a period of time").
 */
export async function ensureEcsCluster(spec: ClusterSpec): Promise<{ clusterName: string; clusterArn: string; created: boolean }> {
  const { name } = spec;
  const existing = await findEcsCluster(name);
  if (existing) return { clusterName: name, clusterArn: existing, created: false };
  // Only when asked: a cluster value overrides the account's containerInsights default
  // (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ClusterSetting.html), so
  // leaving it out keeps whatever the account chose instead of switching the cost on.
  const settings: ClusterSetting[] | undefined = spec.containerInsights ? [{ name: 'containerInsights', value: 'enabled' }] : undefined;
  // CreateCluster is idempotent on AWS for the same name and settings.
  const made = await ecs().send(
    new CreateClusterCommand({
      clusterName: name,
      capacityProviders: ['FARGATE'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }],
      settings,
      tags: clusterTags(),
    }),
  );
  if (!made.cluster?.clusterArn) throw new Error(`CreateCluster returned no ARN for ${name}`);
  return { clusterName: name, clusterArn: made.cluster.clusterArn, created: true };
}
