import {
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { isAwsError } from '../errors.ts';
import { arnTemplate, requestTaggedByUs, type StepPermissions } from '../permissions.ts';
import type { OnboardingRequest } from '../request.ts';
import { assertOwnedByWorkload } from '../tags.ts';
import { OUR_ROLES_ARN } from './iam-role.ts';

/** Families come from requests: any task definition of the account and region. */
const TASK_DEFINITIONS_ARN = arnTemplate('ecs', 'task-definition/*:*');

/**
 * ensureTaskDefinition. DescribeTaskDefinition has no resource type (`*`, see
 * WILDCARD_RESOURCE_ACTIONS). Registering with tags is also ecs:TagResource
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html),
 * and naming a task role and an execution role is iam:PassRole on each: only on this tool's
 * roles, and only to ECS tasks (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html,
 * condition key iam:PassedToService in
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
 */
export const TASK_DEFINITION_PERMISSIONS: StepPermissions = [
  { sid: 'ReadTaskDefinition', actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] },
  { sid: 'RegisterTaskDefinition', actions: ['ecs:RegisterTaskDefinition'], resources: [TASK_DEFINITIONS_ARN], conditions: requestTaggedByUs() },
  { sid: 'TagTaskDefinitionOnCreate', actions: ['ecs:TagResource'], resources: [TASK_DEFINITIONS_ARN], conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } } },
  { sid: 'PassTaskRoles', actions: ['iam:PassRole'], resources: [OUR_ROLES_ARN], conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } },
];

/** The fields of a task definition this tool sets; both the request we send and AWS's answer fit it. */
type TaskDefinitionContent = Pick<
  TaskDefinition,
  'family' | 'networkMode' | 'requiresCompatibilities' | 'cpu' | 'memory' | 'runtimePlatform' | 'taskRoleArn' | 'executionRoleArn' | 'containerDefinitions'
>;

const byName = <T extends { name?: string }>(xs: T[] | undefined): T[] => [...(xs ?? [])].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
const sortedObject = (o: Record<string, string> | undefined) => (o ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) : undefined);

function containerContent(c: ContainerDefinition) {
  return {
    name: c.name,
    image: c.image,
    user: c.user,
    // AWS reports the default (true) when it was not sent.
    essential: c.essential ?? true,
    memory: c.memory,
    memoryReservation: c.memoryReservation,
    environment: byName(c.environment).map((e) => ({ name: e.name, value: e.value })),
    secrets: byName(c.secrets).map((s) => ({ name: s.name, valueFrom: s.valueFrom })),
    // AWS adds hostPort (= containerPort in awsvpc mode) and defaults protocol to tcp.
    portMappings: [...(c.portMappings ?? [])]
      .map((p) => ({ containerPort: p.containerPort, protocol: p.protocol ?? 'tcp' }))
      .sort((a, b) => (a.containerPort ?? 0) - (b.containerPort ?? 0)),
    logConfiguration: c.logConfiguration ? { logDriver: c.logConfiguration.logDriver, options: sortedObject(c.logConfiguration.options) } : undefined,
  };
}

/**
 * A canonical JSON of only the fields we set (sorted lists, no undefined or null), so a
 * task definition read back from AWS compares equal to the one we would register.
 */
export function taskDefinitionFingerprint(td: TaskDefinitionContent): string {
  const content = {
    family: td.family,
    networkMode: td.networkMode,
    requiresCompatibilities: [...(td.requiresCompatibilities ?? [])].sort(),
    cpu: td.cpu,
    memory: td.memory,
    runtimePlatform: td.runtimePlatform ? { cpuArchitecture: td.runtimePlatform.cpuArchitecture, operatingSystemFamily: td.runtimePlatform.operatingSystemFamily } : undefined,
    taskRoleArn: td.taskRoleArn,
    executionRoleArn: td.executionRoleArn,
    containerDefinitions: byName(td.containerDefinitions).map(containerContent),
  };
  return JSON.stringify(content, (_k, v: unknown) => (v === null ? undefined : v));
}

/** The family's latest ACTIVE revision with its tags, or undefined when the family has none. */
async function latestRevision(family: string): Promise<{ td: TaskDefinition; tags: { key?: string; value?: string }[] } | undefined> {
  try {
    const out = await ecs().send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] }));
    if (!out.taskDefinition || out.taskDefinition.status === 'INACTIVE') return undefined;
    return { td: out.taskDefinition, tags: out.tags ?? [] };
  } catch (e) {
    // ECS answers ClientException "Unable to describe task definition" for an unknown family.
    if (isAwsError(e, 'ClientException')) return undefined;
    throw e;
  }
}

/**
 * Registers `input` as a new revision only when it differs from the family's latest ACTIVE
 * revision; otherwise returns that revision. A family whose latest revision is not tagged as
 * `owner`'s belongs to someone else (another tool, or another workload whose ecs.family is the
 * same): ResourceConflictError naming it.
 */
export async function ensureTaskDefinition(
  input: RegisterTaskDefinitionCommandInput & { family: string },
  owner: Pick<OnboardingRequest, 'workloadGroup'>,
): Promise<{ taskDefinitionArn: string; family: string; revision: number; created: boolean }> {
  const latest = await latestRevision(input.family);
  if (latest) {
    const { td, tags } = latest;
    assertOwnedByWorkload(tags, owner, `ECS task definition family "${input.family}" (revision ${td.revision})`, 'choose another ecs.family');
    if (td.taskDefinitionArn && td.revision !== undefined && taskDefinitionFingerprint(td) === taskDefinitionFingerprint(input)) {
      return { taskDefinitionArn: td.taskDefinitionArn, family: input.family, revision: td.revision, created: false };
    }
  }
  const made = await ecs().send(new RegisterTaskDefinitionCommand(input));
  const td = made.taskDefinition;
  if (!td?.taskDefinitionArn || td.revision === undefined) throw new Error(`RegisterTaskDefinition returned no ARN for ${input.family}`);
  return { taskDefinitionArn: td.taskDefinitionArn, family: input.family, revision: td.revision, created: true };
}
