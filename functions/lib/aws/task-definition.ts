import {
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type ContainerDefinition,
  type RegisterTaskDefinitionCommandInput,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { ecs } from '../clients.ts';
import { isAwsError, ResourceConflictError } from '../errors.ts';
import type { FieldChange } from '../plan.ts';
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

/** Only the fields we set, canonical (sorted lists, AWS's defaults filled in): what the comparison and the fingerprint read. */
function canonicalContent(td: TaskDefinitionContent) {
  return {
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
}

const withoutNulls = (_k: string, v: unknown) => (v === null ? undefined : v);

/**
 * A canonical JSON of only the fields we set (sorted lists, no undefined or null), so a
 * task definition read back from AWS compares equal to the one we would register.
 */
export function taskDefinitionFingerprint(td: TaskDefinitionContent): string {
  return JSON.stringify(canonicalContent(td), withoutNulls);
}

/** Lists whose items a leaf path names by a key (`[ratings]`, `.ONBOARDING_CONFIG`), not by position, with the item's value when it has one. */
const KEYED_LISTS: Record<string, { key: string; value?: string }> = {
  containerDefinitions: { key: 'name' },
  environment: { key: 'name', value: 'value' },
  secrets: { key: 'name', value: 'valueFrom' },
  portMappings: { key: 'containerPort' },
};

/**
 * Adds the canonical content's leaves to `out`, by readable path: `cpu`,
 * `containerDefinitions[ratings].image`, `containerDefinitions[onboarding-agent].environment.ONBOARDING_CONFIG`,
 * `containerDefinitions[onboarding-agent].secrets.ONBOARDING_AGENT_ROOT_CERTS` (its valueFrom ARN:
 * a task definition holds no secret value), `containerDefinitions[ratings].portMappings[9080].protocol`.
 * Other lists (requiresCompatibilities) are one leaf.
 */
function leaves(value: unknown, path: string, out: Map<string, unknown>, items: Map<string, unknown>): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'object') {
    out.set(path, value);
    return;
  }
  if (Array.isArray(value)) {
    const keyed = KEYED_LISTS[path.slice(path.lastIndexOf('.') + 1)];
    if (!keyed) {
      out.set(path, value);
      return;
    }
    for (const item of value as Record<string, unknown>[]) {
      const { [keyed.key]: k, ...rest } = item;
      if (keyed.value) {
        leaves(item[keyed.value], `${path}.${String(k)}`, out, items);
      } else {
        items.set(`${path}[${String(k)}]`, rest);
        leaves(rest, `${path}[${String(k)}]`, out, items);
      }
    }
    return;
  }
  for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out, items);
}

/**
 * The fields of the task definition we set that differ between `current` (the family's latest
 * revision as AWS returns it) and `wanted` (what we would register): one entry per leaf, empty
 * when they are the same content. The one comparison Register task definition decides by, on
 * apply (empty: reuse the revision) and in a dry run (the plan's `changes`).
 */
export function taskDefinitionChanges(current: TaskDefinitionContent, wanted: TaskDefinitionContent, opts: { ignore?: (field: string) => boolean } = {}): FieldChange[] {
  const flat = (td: TaskDefinitionContent) => {
    const out = new Map<string, unknown>();
    const items = new Map<string, unknown>();
    leaves(canonicalContent(td), '', out, items);
    return { out, items };
  };
  const before = flat(current);
  const after = flat(wanted);
  // A container or port mapping on one side only is one change (the whole item), not one per field.
  for (const [side, other] of [
    [before, after],
    [after, before],
  ] as const) {
    const lone: string[] = [];
    for (const [item, v] of side.items) {
      if (other.items.has(item) || lone.some((l) => item.startsWith(`${l}.`))) continue;
      lone.push(item);
      for (const leaf of [...side.out.keys()]) if (leaf.startsWith(`${item}.`)) side.out.delete(leaf);
      side.out.set(item, v);
    }
  }
  const changes: FieldChange[] = [];
  for (const field of new Set([...before.out.keys(), ...after.out.keys()])) {
    if (opts.ignore?.(field)) continue;
    const [was, will] = [before.out.get(field), after.out.get(field)];
    if (JSON.stringify(was) !== JSON.stringify(will)) changes.push({ field, ...(was === undefined ? {} : { current: was }), ...(will === undefined ? {} : { wanted: will }) });
  }
  return changes;
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

/** An existing revision, as the decision names it. */
export interface ExistingRevision {
  taskDefinitionArn: string;
  revision: number;
}

/**
 * What Register task definition does with the family: `reuse` its latest revision (same
 * content), `register` a new one (the family has none, or `changes` lists what differs from the
 * latest), or `conflict` (the latest revision is not this workload's: `error` is what the apply
 * throws). Only DescribeTaskDefinition: the apply and the dry run both decide by it.
 */
export type TaskDefinitionDecision =
  | { action: 'reuse'; latest: ExistingRevision }
  | { action: 'register'; latest?: ExistingRevision; changes: FieldChange[]; revision: number }
  | { action: 'conflict'; latest: ExistingRevision; error: ResourceConflictError };

/**
 * Decides for `wanted` against the family's latest ACTIVE revision. `ignore` leaves fields out of
 * the comparison (a dry run that does not know the agent image yet).
 */
export async function decideTaskDefinition(
  wanted: TaskDefinitionContent & { family: string },
  owner: Pick<OnboardingRequest, 'workloadGroup'>,
  opts: { ignore?: (field: string) => boolean } = {},
): Promise<TaskDefinitionDecision> {
  const found = await latestRevision(wanted.family);
  if (!found) return { action: 'register', changes: [], revision: 1 };
  const { td, tags } = found;
  if (!td.taskDefinitionArn || td.revision === undefined) throw new Error(`DescribeTaskDefinition returned no ARN or revision for ${wanted.family}`);
  const latest: ExistingRevision = { taskDefinitionArn: td.taskDefinitionArn, revision: td.revision };
  try {
    assertOwnedByWorkload(tags, owner, `ECS task definition family "${wanted.family}" (revision ${td.revision})`, 'choose another ecs.family');
  } catch (e) {
    if (e instanceof ResourceConflictError) return { action: 'conflict', latest, error: e };
    throw e;
  }
  const changes = taskDefinitionChanges(td, wanted, opts);
  return changes.length === 0 ? { action: 'reuse', latest } : { action: 'register', latest, changes, revision: td.revision + 1 };
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
  const decision = await decideTaskDefinition(input, owner);
  if (decision.action === 'conflict') throw decision.error;
  if (decision.action === 'reuse') return { ...decision.latest, family: input.family, created: false };
  const made = await ecs().send(new RegisterTaskDefinitionCommand(input));
  const td = made.taskDefinition;
  if (!td?.taskDefinitionArn || td.revision === undefined) throw new Error(`RegisterTaskDefinition returned no ARN for ${input.family}`);
  return { taskDefinitionArn: td.taskDefinitionArn, family: input.family, revision: td.revision, created: true };
}
