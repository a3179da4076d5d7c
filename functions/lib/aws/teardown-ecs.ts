/**
 * Deleting what onboarding made in ECS: the workload's service (scaled to 0, then deleted), its
 * task definition revisions, and the shared cluster when nothing else uses it. Every function
 * looks the resource up first, acts only on one carrying this tool's tags (and, per workload,
 * this workload's), and treats "not found" as done, so a teardown run again finishes the job.
 */
import {
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  paginateListServices,
  paginateListTaskDefinitions,
  UpdateServiceCommand,
  type Service,
  type TaskDefinitionStatus,
} from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { isAwsError, ResourceDrainingError } from '../errors.ts';
import { arnTemplate, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import type { OnboardingRequest } from '../request.ts';
import { isManagedByUs, ownershipOf, type Ownership } from '../tags.ts';
import { ECS_CLUSTERS_ARN } from './ecs-cluster.ts';
import { describeService, DESCRIBE_SERVICE_PERMISSIONS } from './ecs-service.ts';

const ECS_SERVICES_ARN = arnTemplate('ecs', 'service/*/*');
const TASK_DEFINITIONS_ARN = arnTemplate('ecs', 'task-definition/*:*');

type Owner = Pick<OnboardingRequest, 'workloadGroup'>;

/**
 * workloadServices: ListServices has no resource type; `*` narrowed by `ecs:cluster`, as
 * ListTasks (see WILDCARD_RESOURCE_ACTIONS).
 */
export const WORKLOAD_SERVICES_PERMISSIONS: StepPermissions = [
  ...DESCRIBE_SERVICE_PERMISSIONS,
  { sid: 'ListClusterServices', actions: ['ecs:ListServices'], resources: ['*'], conditions: { ArnLike: { 'ecs:cluster': ECS_CLUSTERS_ARN } } },
];

/** scaleServiceToZero. */
export const SCALE_SERVICE_DOWN_PERMISSIONS: StepPermissions = [
  ...WORKLOAD_SERVICES_PERMISSIONS,
  { sid: 'ScaleDownOurEcsService', actions: ['ecs:UpdateService'], resources: [ECS_SERVICES_ARN], conditions: resourceTaggedByUs() },
];

/** deleteOurService. */
export const DELETE_SERVICE_PERMISSIONS: StepPermissions = [
  ...WORKLOAD_SERVICES_PERMISSIONS,
  { sid: 'DeleteOurEcsService', actions: ['ecs:DeleteService'], resources: [ECS_SERVICES_ARN], conditions: resourceTaggedByUs() },
];

/**
 * deleteTaskDefinitions. ListTaskDefinitions and DeregisterTaskDefinition have no resource type
 * (`*`, WILDCARD_RESOURCE_ACTIONS): which revisions are ours is decided by their tags in code;
 * DeleteTaskDefinitions names the revisions, so it is narrowed to those carrying our tag.
 */
export const DELETE_TASK_DEFINITIONS_PERMISSIONS: StepPermissions = [
  { sid: 'ReadTaskDefinitions', actions: ['ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions', 'ecs:DeregisterTaskDefinition'], resources: ['*'] },
  { sid: 'DeleteOurTaskDefinitions', actions: ['ecs:DeleteTaskDefinitions'], resources: [TASK_DEFINITIONS_ARN], conditions: resourceTaggedByUs() },
];

/** deleteOurCluster. */
export const DELETE_CLUSTER_PERMISSIONS: StepPermissions = [
  { sid: 'FindEcsCluster', actions: ['ecs:DescribeClusters'], resources: [ECS_CLUSTERS_ARN] },
  { sid: 'DeleteOurEcsCluster', actions: ['ecs:DeleteCluster'], resources: [ECS_CLUSTERS_ARN], conditions: resourceTaggedByUs() },
];

export type ServiceFinding = { status: 'absent' } | { status: 'foreign'; ownership: Ownership; service: Service } | { status: 'ACTIVE' | 'DRAINING'; service: Service };

/** The workload's service as teardown sees it: absent (none, or INACTIVE), not this workload's, or ACTIVE/DRAINING and ours. */
export async function findService(cluster: string, serviceName: string, owner: Owner): Promise<ServiceFinding> {
  let svc: Service | undefined;
  try {
    svc = await describeService(cluster, serviceName);
  } catch (e) {
    // DescribeServices on a cluster that no longer exists.
    if (isAwsError(e, 'ClusterNotFoundException')) return { status: 'absent' };
    throw e;
  }
  if (!svc || svc.status === 'INACTIVE') return { status: 'absent' };
  const ownership = ownershipOf(svc.tags, owner);
  if (ownership.owner !== 'ours') return { status: 'foreign', ownership, service: svc };
  return { status: svc.status === 'DRAINING' ? 'DRAINING' : 'ACTIVE', service: svc };
}

/**
 * The workload's services in the cluster: the ones `named` (the request's, the ledger's) as
 * findService sees them, plus every ACTIVE or DRAINING service of the cluster tagged as this
 * workload's (one an earlier request named differently). Each once, by name.
 */
export async function workloadServices(cluster: string, named: readonly string[], owner: Owner): Promise<Map<string, ServiceFinding>> {
  const out = new Map<string, ServiceFinding>();
  for (const n of new Set(named)) out.set(n, await findService(cluster, n, owner));
  const arns: string[] = [];
  try {
    for await (const page of paginateListServices({ client: ecs() }, { cluster })) arns.push(...(page.serviceArns ?? []));
  } catch (e) {
    if (isAwsError(e, 'ClusterNotFoundException')) return out;
    throw e;
  }
  const unnamed = arns.filter((a) => !out.has(a.slice(a.lastIndexOf('/') + 1)));
  for (let i = 0; i < unnamed.length; i += 10) {
    const { services } = await ecs().send(new DescribeServicesCommand({ cluster, services: unnamed.slice(i, i + 10), include: ['TAGS'] }));
    for (const svc of services ?? []) {
      if (!svc.serviceName || svc.status === 'INACTIVE' || ownershipOf(svc.tags, owner).owner !== 'ours') continue;
      out.set(svc.serviceName, { status: svc.status === 'DRAINING' ? 'DRAINING' : 'ACTIVE', service: svc });
    }
  }
  return out;
}

/** The service names a recorded ledger names (`ecs-service` entries hold the service ARN). */
export function serviceNamesOf(ids: readonly string[]): string[] {
  return ids.map((id) => id.slice(id.lastIndexOf('/') + 1));
}

/** Why a resource with our deterministic name is left alone. */
export function foreignReason(o: Ownership): string {
  return o.owner === 'other-workload' ? `it belongs to workload ${o.workload}` : 'it does not carry this tool\'s managed-by tag';
}

/** Sets the service's desired count to 0 (ECS then stops its tasks); a no-op when it already is. */
export async function scaleServiceToZero(cluster: string, svc: Service): Promise<boolean> {
  if (svc.desiredCount === 0) return false;
  await ecs().send(new UpdateServiceCommand({ cluster, service: svc.serviceName!, desiredCount: 0 }));
  return true;
}

/**
 * Deletes the service with `force` (the desired count is 0 already; force also covers a count a
 * person raised meanwhile). ECS moves it to DRAINING, then INACTIVE once its tasks stopped
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html).
 */
export async function deleteOurService(cluster: string, serviceName: string): Promise<'deleted' | 'not-found'> {
  try {
    await ecs().send(new DeleteServiceCommand({ cluster, service: serviceName, force: true }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'ServiceNotFoundException', 'ServiceNotActiveException', 'ClusterNotFoundException')) return 'not-found';
    throw e;
  }
}

const familyOfArn = (arn: string) => arn.slice(arn.lastIndexOf('/') + 1).split(':')[0]!;

async function revisions(family: string, status: TaskDefinitionStatus): Promise<string[]> {
  const out: string[] = [];
  for await (const page of paginateListTaskDefinitions({ client: ecs() }, { familyPrefix: family, status })) {
    // familyPrefix is a prefix on AWS: keep the family itself only.
    out.push(...(page.taskDefinitionArns ?? []).filter((a) => familyOfArn(a) === family));
  }
  return out;
}

async function revisionOwnership(arn: string, owner: Owner): Promise<Ownership | undefined> {
  try {
    const out = await ecs().send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }));
    return ownershipOf(out.tags ?? [], owner);
  } catch (e) {
    if (isAwsError(e, 'ClientException')) return undefined;
    throw e;
  }
}

/**
 * Deregisters every ACTIVE revision of `family` tagged as this workload's, then deletes the
 * INACTIVE ones tagged so (DeleteTaskDefinitions, at most 10 per call; ECS deletes a revision
 * once no task or service uses it: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html).
 * Revisions without our tags are kept and reported.
 */
export async function deleteTaskDefinitions(family: string, owner: Owner): Promise<{ deleted: string[]; kept: { arn: string; reason: string }[] }> {
  const deleted: string[] = [];
  const kept: { arn: string; reason: string }[] = [];
  const inactive: string[] = [];
  for (const arn of await revisions(family, 'ACTIVE')) {
    const o = await revisionOwnership(arn, owner);
    if (!o) continue;
    if (o.owner !== 'ours') {
      kept.push({ arn, reason: foreignReason(o) });
      continue;
    }
    try {
      await ecs().send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
    } catch (e) {
      if (!isAwsError(e, 'ClientException')) throw e;
    }
    inactive.push(arn);
  }
  for (const arn of await revisions(family, 'INACTIVE')) {
    if (inactive.includes(arn)) continue;
    const o = await revisionOwnership(arn, owner);
    if (o?.owner === 'ours') inactive.push(arn);
  }
  for (let i = 0; i < inactive.length; i += 10) {
    const chunk = inactive.slice(i, i + 10);
    const out = await ecs().send(new DeleteTaskDefinitionsCommand({ taskDefinitions: chunk }));
    const failed = new Map((out.failures ?? []).map((f) => [f.arn ?? '', f.reason ?? 'no reason given']));
    for (const arn of chunk) {
      const why = failed.get(arn);
      // A revision ECS already deletes (DELETE_IN_PROGRESS) or forgot is gone for our purpose.
      if (why && !/does not exist|DELETE_IN_PROGRESS/i.test(why)) kept.push({ arn, reason: `DeleteTaskDefinitions: ${why} (it stays INACTIVE: no new task can use it)` });
      else deleted.push(arn);
    }
  }
  return { deleted, kept };
}

/**
 * Deletes the cluster when it exists, is ACTIVE and carries our tag. ECS refuses while services
 * (ACTIVE or DRAINING) remain: ClusterContainsServicesException
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html); `ownServiceDraining`
 * tells whether that is this workload's service finishing (then wait: ResourceDrainingError)
 * or someone else's (then the cluster is kept).
 */
export async function deleteOurCluster(name: string, ownServiceDraining: () => Promise<boolean>): Promise<{ outcome: 'deleted' | 'not-found' | 'kept'; reason?: string }> {
  const { clusters } = await ecs().send(new DescribeClustersCommand({ clusters: [name], include: ['TAGS'] }));
  const c = clusters?.find((x) => x.clusterName === name && x.status !== 'INACTIVE');
  if (!c) return { outcome: 'not-found' };
  if (!isManagedByUs(c.tags)) return { outcome: 'kept', reason: 'it was not made by this tool (no managed-by tag)' };
  try {
    await ecs().send(new DeleteClusterCommand({ cluster: name }));
    return { outcome: 'deleted' };
  } catch (e) {
    if (isAwsError(e, 'ClusterNotFoundException')) return { outcome: 'not-found' };
    if (isAwsError(e, 'ClusterContainsServicesException')) {
      if (await ownServiceDraining()) throw new ResourceDrainingError(`ECS cluster "${name}" still holds this workload's service, which is DRAINING until its tasks stop`, { cause: e });
      return { outcome: 'kept', reason: 'it still holds services this tool does not know (ClusterContainsServicesException)' };
    }
    if (isAwsError(e, 'ClusterContainsTasksException')) return { outcome: 'kept', reason: 'it still runs tasks this tool did not start (ClusterContainsTasksException)' };
    throw e;
  }
}
