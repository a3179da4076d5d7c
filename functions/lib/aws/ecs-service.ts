import { createHash } from 'node:crypto';
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  paginateListTasks,
  UpdateServiceCommand,
  type CreateServiceCommandInput,
  type DesiredStatus,
  type Service,
  type Task,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { isAwsError, ResourceConflictError, ResourceDrainingError } from '../errors.ts';
import type { FieldChange } from '../plan.ts';
import { arnTemplate, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import type { OnboardingRequest } from '../request.ts';
import { assertOwnedByWorkload } from '../tags.ts';
import { ECS_CLUSTERS_ARN } from './ecs-cluster.ts';

/** Cluster and service names come from requests: any service of the account and region. */
const ECS_SERVICES_ARN = arnTemplate('ecs', 'service/*/*');

/** describeService (reads any service of the name, to report one that is not this workload's). */
export const DESCRIBE_SERVICE_PERMISSIONS: StepPermissions = [{ sid: 'ReadEcsService', actions: ['ecs:DescribeServices'], resources: [ECS_SERVICES_ARN] }];

/**
 * ensureEcsService: creates with our tags (also ecs:TagResource,
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html)
 * and updates only services carrying them. No iam:PassRole: the service names no role (the
 * task definition does, and Register task definition passes them).
 */
export const ENSURE_SERVICE_PERMISSIONS: StepPermissions = [
  ...DESCRIBE_SERVICE_PERMISSIONS,
  { sid: 'CreateEcsService', actions: ['ecs:CreateService'], resources: [ECS_SERVICES_ARN], conditions: requestTaggedByUs() },
  { sid: 'TagEcsServiceOnCreate', actions: ['ecs:TagResource'], resources: [ECS_SERVICES_ARN], conditions: { StringEquals: { 'ecs:CreateAction': 'CreateService' } } },
  { sid: 'UpdateOurEcsService', actions: ['ecs:UpdateService'], resources: [ECS_SERVICES_ARN], conditions: resourceTaggedByUs() },
];

/** listServiceTasks. ListTasks: `*` narrowed by `ecs:cluster` (see WILDCARD_RESOURCE_ACTIONS). */
export const SERVICE_TASKS_PERMISSIONS: StepPermissions = [
  { sid: 'ListServiceTasks', actions: ['ecs:ListTasks'], resources: ['*'], conditions: { ArnLike: { 'ecs:cluster': ECS_CLUSTERS_ARN } } },
  { sid: 'ReadServiceTasks', actions: ['ecs:DescribeTasks'], resources: [arnTemplate('ecs', 'task/*/*')] },
];

/** What the service should look like. */
export interface WantedService {
  cluster: string;
  serviceName: string;
  taskDefinitionArn: string;
  desiredCount: number;
  subnets: string[];
  securityGroups: string[];
  enableExecuteCommand: boolean;
  tags: { key: string; value: string }[];
  /** The workload the service belongs to: an existing service must carry its tag. */
  owner: Pick<OnboardingRequest, 'workloadGroup'>;
}

/** The service by name (with its tags), or undefined when ECS does not know it. */
export async function describeService(cluster: string, serviceName: string): Promise<Service | undefined> {
  const out = await ecs().send(new DescribeServicesCommand({ cluster, services: [serviceName], include: ['TAGS'] }));
  return out.services?.find((s) => s.serviceName === serviceName);
}

const sorted = (xs: string[] | undefined) => [...(xs ?? [])].sort();
const sameList = (a: string[] | undefined, b: string[] | undefined) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

/** What Ensure service would change on an existing service: the UpdateService input, and the same as readable field changes. */
export interface ServiceUpdate {
  /** The UpdateService fields (empty when nothing differs). */
  update: Partial<UpdateServiceCommandInput>;
  /** One entry per differing field, for a dry run's plan. */
  changes: FieldChange[];
}

/**
 * The fields of `existing` that differ from `wanted`, as an UpdateService input (empty when
 * nothing differs), plus `forceNewDeployment` when the primary deployment FAILED; and each as a
 * FieldChange. The one comparison Ensure service decides by, on apply and in a dry run.
 */
export function serviceUpdate(existing: Service, wanted: WantedService): ServiceUpdate {
  const update: Partial<UpdateServiceCommandInput> = {};
  const changes: FieldChange[] = [];
  if (existing.taskDefinition !== wanted.taskDefinitionArn) {
    update.taskDefinition = wanted.taskDefinitionArn;
    changes.push({ field: 'taskDefinition', current: existing.taskDefinition, wanted: wanted.taskDefinitionArn });
  }
  if (existing.desiredCount !== wanted.desiredCount) {
    update.desiredCount = wanted.desiredCount;
    changes.push({ field: 'desiredCount', current: existing.desiredCount, wanted: wanted.desiredCount });
  }
  const net = existing.networkConfiguration?.awsvpcConfiguration;
  const netChanges: FieldChange[] = [];
  if (!sameList(net?.subnets, wanted.subnets)) netChanges.push({ field: 'networkConfiguration.subnets', current: sorted(net?.subnets), wanted: sorted(wanted.subnets) });
  if (!sameList(net?.securityGroups, wanted.securityGroups)) netChanges.push({ field: 'networkConfiguration.securityGroups', current: sorted(net?.securityGroups), wanted: sorted(wanted.securityGroups) });
  if ((net?.assignPublicIp ?? 'DISABLED') !== 'DISABLED') netChanges.push({ field: 'networkConfiguration.assignPublicIp', current: net?.assignPublicIp, wanted: 'DISABLED' });
  if (netChanges.length > 0) {
    update.networkConfiguration = networkConfiguration(wanted);
    changes.push(...netChanges);
  }
  // null/undefined means ECS (or moto) did not say: not a reason to update on its own.
  if (existing.enableExecuteCommand != null && existing.enableExecuteCommand !== wanted.enableExecuteCommand) {
    update.enableExecuteCommand = wanted.enableExecuteCommand;
    changes.push({ field: 'enableExecuteCommand', current: existing.enableExecuteCommand, wanted: wanted.enableExecuteCommand });
    // Running tasks keep the old setting until replaced.
    if (update.taskDefinition === undefined && update.networkConfiguration === undefined) update.forceNewDeployment = true;
  }
  // A first deployment the circuit breaker FAILED has nothing to roll back to: only a forced one retries it after a fix elsewhere.
  if (existing.deployments?.find((d) => d.status === 'PRIMARY')?.rolloutState === 'FAILED') {
    update.forceNewDeployment = true;
    changes.push({ field: 'forceNewDeployment', current: 'primary deployment FAILED', wanted: true });
  }
  return { update, changes };
}

function networkConfiguration(w: WantedService): NonNullable<CreateServiceCommandInput['networkConfiguration']> {
  return { awsvpcConfiguration: { subnets: w.subnets, securityGroups: w.securityGroups, assignPublicIp: 'DISABLED' } };
}

/**
 * An earlier service of the same name (DRAINING or INACTIVE): its ARN and creation time tell
 * one incarnation of the name from the next (the ARN alone does not: a re-created service gets
 * the same `service/<cluster>/<name>` ARN).
 */
export type ServiceGeneration = Pick<Service, 'serviceArn' | 'createdAt'>;

function generationKey(g: ServiceGeneration | undefined): string {
  return g ? `${g.serviceArn ?? '?'}@${g.createdAt?.toISOString() ?? '?'}` : 'first';
}

/**
 * CreateService input. The client token hashes the input plus the generation: ECS answers a
 * retried create with the same token with the service it made the first time
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/ECS_Idempotency.html), so a bare
 * hash of the input would, after the service was deleted and is created again with the same
 * settings, name the deleted one. With the last incarnation seen in the token, each new
 * incarnation has a token of its own, while a retry of the same create (SDK retry, or the step
 * re-run before DescribeServices shows the new service) keeps it. ECS allows 36 characters.
 */
export function createServiceInput(w: WantedService, previous?: ServiceGeneration): CreateServiceCommandInput {
  const input: CreateServiceCommandInput = {
    cluster: w.cluster,
    serviceName: w.serviceName,
    taskDefinition: w.taskDefinitionArn,
    desiredCount: w.desiredCount,
    launchType: 'FARGATE',
    platformVersion: 'LATEST',
    networkConfiguration: networkConfiguration(w),
    deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    enableExecuteCommand: w.enableExecuteCommand,
    propagateTags: 'TASK_DEFINITION',
    tags: w.tags,
  };
  const token = createHash('sha256').update(JSON.stringify(input)).update(generationKey(previous)).digest('hex').slice(0, 32);
  return { ...input, clientToken: token };
}

/**
 * ECS refuses to create a service while one of the same name is DRAINING
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteService.html: "If you
 * attempt to create a new service with the same name as an existing service in either ACTIVE or
 * DRAINING status, you receive an error"). It words it InvalidParameterException "Creation of
 * service was not idempotent." or "Unable to Start a service that is still Draining."
 */
const DRAINING_ON_CREATE = /Creation of service was not idempotent|still Draining/i;

const UNTIL_INACTIVE = 'a service of that name is still being deleted (DRAINING until its tasks stop) and can be created again once it is INACTIVE';

function draining(w: WantedService, why: string, cause?: unknown): ResourceDrainingError {
  return new ResourceDrainingError(`ECS service "${w.serviceName}" in cluster "${w.cluster}": ${why}`, cause === undefined ? undefined : { cause });
}

/** Incarnations CreateService may hand back for reused tokens before the step gives up. */
const MAX_STALE_HANDBACKS = 3;

/**
 * CreateService, checking that what comes back is a live service: for a token it has seen, ECS
 * returns the service of the first call even when that one was deleted since. A handed-back
 * DRAINING or INACTIVE service is itself an earlier incarnation: the next try puts it in the token.
 */
async function createService(w: WantedService, previous: ServiceGeneration | undefined): Promise<Service & { serviceArn: string }> {
  let generation = previous;
  for (let attempt = 0; attempt <= MAX_STALE_HANDBACKS; attempt++) {
    let made: Service | undefined;
    try {
      made = (await ecs().send(new CreateServiceCommand(createServiceInput(w, generation)))).service;
    } catch (err) {
      if (isAwsError(err, 'InvalidParameterException') && DRAINING_ON_CREATE.test((err as Error).message)) {
        // Also the answer when another run created it a moment ago with other settings: the next attempt describes it again.
        throw draining(w, `CreateService answered InvalidParameterException "${(err as Error).message}": ${UNTIL_INACTIVE}, or another run has just created it`, err);
      }
      throw err;
    }
    if (!made?.serviceArn) throw new Error(`CreateService returned no ARN for ${w.serviceName}`);
    if (made.status === undefined || made.status === 'ACTIVE') return { ...made, serviceArn: made.serviceArn };
    if (made.status === 'DRAINING') throw draining(w, `CreateService handed back the earlier service, which is DRAINING: ${UNTIL_INACTIVE}`);
    generation = { serviceArn: made.serviceArn, createdAt: made.createdAt };
  }
  throw new Error(`CreateService for ECS service "${w.serviceName}" in cluster "${w.cluster}" kept handing back deleted services (${MAX_STALE_HANDBACKS + 1} tries); not reporting one of them as created`);
}

/**
 * What Ensure service does with the name: `create` it (missing, or INACTIVE: `previous` is that
 * earlier incarnation), `wait` for a DRAINING one to finish deleting (the apply throws `error`,
 * retried on a slow schedule, and creates it once INACTIVE), `conflict` (a live service of the
 * name that is not this workload's: the apply throws `error`), `reuse` or `update` (with the
 * fields that differ). Only DescribeServices: the apply and the dry run both decide by it.
 */
export type ServiceDecision =
  | { action: 'create'; previous?: ServiceGeneration }
  | { action: 'wait'; serviceArn?: string; error: ResourceDrainingError }
  | { action: 'conflict'; serviceArn?: string; error: ResourceConflictError }
  | { action: 'reuse'; serviceArn: string }
  | ({ action: 'update'; serviceArn: string } & ServiceUpdate);

/** Decides for `w` by the service of its name. A cluster ECS does not know holds no service: create (a dry run plans the cluster too). */
export async function decideService(w: WantedService): Promise<ServiceDecision> {
  let existing: Service | undefined;
  try {
    existing = await describeService(w.cluster, w.serviceName);
  } catch (e) {
    if (!isAwsError(e, 'ClusterNotFoundException')) throw e;
  }
  if (existing?.status === 'DRAINING') return { action: 'wait', serviceArn: existing.serviceArn, error: draining(w, `DescribeServices reports it DRAINING: ${UNTIL_INACTIVE}`) };
  if (!existing || existing.status === 'INACTIVE') return { action: 'create', ...(existing ? { previous: existing } : {}) };
  try {
    assertOwnedByWorkload(existing.tags, w.owner, `ECS service "${w.serviceName}" in cluster "${w.cluster}"`, 'delete it or choose another ecs.service');
  } catch (e) {
    if (e instanceof ResourceConflictError) return { action: 'conflict', serviceArn: existing.serviceArn, error: e };
    throw e;
  }
  if (!existing.serviceArn) throw new Error(`DescribeServices returned no ARN for ${w.serviceName}`);
  const diff = serviceUpdate(existing, w);
  return diff.changes.length === 0 ? { action: 'reuse', serviceArn: existing.serviceArn } : { action: 'update', serviceArn: existing.serviceArn, ...diff };
}

/**
 * Creates the service when missing (or INACTIVE), updates it only when something we set
 * differs (or its primary deployment FAILED), and never makes a second one. A live service
 * with the name must be this workload's (ResourceConflictError naming the owner otherwise); a
 * DRAINING one must finish deleting first (ResourceDrainingError, retried on a slow schedule).
 */
export async function ensureEcsService(w: WantedService): Promise<{ serviceArn: string; created: boolean; updated: boolean }> {
  const decision = await decideService(w);
  switch (decision.action) {
    case 'wait':
    case 'conflict':
      throw decision.error;
    case 'reuse':
      return { serviceArn: decision.serviceArn, created: false, updated: false };
    case 'update':
      await ecs().send(new UpdateServiceCommand({ cluster: w.cluster, service: w.serviceName, ...decision.update }));
      return { serviceArn: decision.serviceArn, created: false, updated: true };
    case 'create': {
      const made = await createService(w, decision.previous);
      return { serviceArn: made.serviceArn, created: true, updated: false };
    }
  }
}

/**
 * The service's tasks: those meant to run plus the recently stopped ones. ListTasks'
 * serviceName filter is applied again on `group` (moto ignores the filter).
 */
export async function listServiceTasks(cluster: string, serviceName: string): Promise<Task[]> {
  const arns = new Set<string>();
  for (const desiredStatus of ['RUNNING', 'STOPPED'] satisfies DesiredStatus[]) {
    for await (const page of paginateListTasks({ client: ecs() }, { cluster, serviceName, desiredStatus })) {
      for (const a of page.taskArns ?? []) arns.add(a);
    }
  }
  const all = [...arns];
  const tasks: Task[] = [];
  for (let i = 0; i < all.length; i += 100) {
    const out = await ecs().send(new DescribeTasksCommand({ cluster, tasks: all.slice(i, i + 100) }));
    tasks.push(...(out.tasks ?? []));
  }
  return tasks.filter((t) => t.group === `service:${serviceName}`);
}
