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
import { ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { isManagedByUs } from '../tags.ts';

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
}

/** The service by name (with its tags), or undefined when ECS does not know it. */
export async function describeService(cluster: string, serviceName: string): Promise<Service | undefined> {
  const out = await ecs().send(new DescribeServicesCommand({ cluster, services: [serviceName], include: ['TAGS'] }));
  return out.services?.find((s) => s.serviceName === serviceName);
}

const sorted = (xs: string[] | undefined) => [...(xs ?? [])].sort();
const sameList = (a: string[] | undefined, b: string[] | undefined) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));

/**
 * The fields of `existing` that differ from `wanted`, as an UpdateService input (empty when
 * nothing differs), plus `forceNewDeployment` when the primary deployment FAILED.
 */
export function serviceChanges(existing: Service, wanted: WantedService): Partial<UpdateServiceCommandInput> {
  const changes: Partial<UpdateServiceCommandInput> = {};
  if (existing.taskDefinition !== wanted.taskDefinitionArn) changes.taskDefinition = wanted.taskDefinitionArn;
  if (existing.desiredCount !== wanted.desiredCount) changes.desiredCount = wanted.desiredCount;
  const net = existing.networkConfiguration?.awsvpcConfiguration;
  if (!sameList(net?.subnets, wanted.subnets) || !sameList(net?.securityGroups, wanted.securityGroups) || (net?.assignPublicIp ?? 'DISABLED') !== 'DISABLED') {
    changes.networkConfiguration = networkConfiguration(wanted);
  }
  // null/undefined means ECS (or moto) did not say: not a reason to update on its own.
  if (existing.enableExecuteCommand != null && existing.enableExecuteCommand !== wanted.enableExecuteCommand) {
    changes.enableExecuteCommand = wanted.enableExecuteCommand;
    // Running tasks keep the old setting until replaced.
    if (changes.taskDefinition === undefined && changes.networkConfiguration === undefined) changes.forceNewDeployment = true;
  }
  // A first deployment the circuit breaker FAILED has nothing to roll back to: only a forced one retries it after a fix elsewhere.
  if (existing.deployments?.find((d) => d.status === 'PRIMARY')?.rolloutState === 'FAILED') changes.forceNewDeployment = true;
  return changes;
}

function networkConfiguration(w: WantedService): NonNullable<CreateServiceCommandInput['networkConfiguration']> {
  return { awsvpcConfiguration: { subnets: w.subnets, securityGroups: w.securityGroups, assignPublicIp: 'DISABLED' } };
}

/** CreateService input; the client token is a hash of the rest, so a retried create is idempotent on AWS. */
export function createServiceInput(w: WantedService): CreateServiceCommandInput {
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
  return { ...input, clientToken: createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 32) };
}

/**
 * Creates the service when missing (or INACTIVE), updates it only when something we set
 * differs (or its primary deployment FAILED), and never makes a second one. An ACTIVE service with the name that is not
 * tagged as ours is a ResourceConflictError; a DRAINING one must finish deleting first.
 */
export async function ensureEcsService(w: WantedService): Promise<{ serviceArn: string; created: boolean; updated: boolean }> {
  const existing = await describeService(w.cluster, w.serviceName);
  if (existing?.status === 'DRAINING') {
    throw new ResourceNotReadyError(`ECS service "${w.serviceName}" in cluster "${w.cluster}" is DRAINING (being deleted); it can be created again once it is INACTIVE`);
  }
  if (existing && existing.status !== 'INACTIVE') {
    if (!isManagedByUs(existing.tags)) {
      throw new ResourceConflictError(`ECS service "${w.serviceName}" exists in cluster "${w.cluster}" and was not made by this tool; delete it or choose another ecs.service`);
    }
    if (!existing.serviceArn) throw new Error(`DescribeServices returned no ARN for ${w.serviceName}`);
    const changes = serviceChanges(existing, w);
    if (Object.keys(changes).length === 0) return { serviceArn: existing.serviceArn, created: false, updated: false };
    await ecs().send(new UpdateServiceCommand({ cluster: w.cluster, service: w.serviceName, ...changes }));
    return { serviceArn: existing.serviceArn, created: false, updated: true };
  }
  const made = await ecs().send(new CreateServiceCommand(createServiceInput(w)));
  if (!made.service?.serviceArn) throw new Error(`CreateService returned no ARN for ${w.serviceName}`);
  return { serviceArn: made.service.serviceArn, created: true, updated: false };
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
