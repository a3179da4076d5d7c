import { CreateLogGroupCommand, DeleteLogGroupCommand, DescribeLogGroupsCommand, ListTagsForResourceCommand, PutRetentionPolicyCommand, type LogGroup } from '@aws-sdk/client-cloudwatch-logs';
import { logs } from '../clients.ts';
import { isAwsError, ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { LOG_GROUP_PREFIX } from '../naming.ts';
import { arnTemplate, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { conflictOf, type FieldChange, type Found } from '../plan.ts';
import type { OnboardingRequest } from '../request.ts';
import { assertOwnedByWorkload } from '../tags.ts';

/** The log groups this tool makes and reads (`/ecs/<family>`; the pattern also covers their streams). */
export const LOG_GROUPS_ARN = arnTemplate('logs', `log-group:${LOG_GROUP_PREFIX}*`);

/**
 * ensureLogGroup. DescribeLogGroups has no resource type (`*`). Creating with tags needs
 * logs:TagResource (or the deprecated logs:TagLogGroup,
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html,
 * the `tags` parameter); the retention is set only on groups carrying our tag.
 */
export const LOG_GROUP_PERMISSIONS: StepPermissions = [
  { sid: 'FindLogGroup', actions: ['logs:DescribeLogGroups'], resources: ['*'] },
  { sid: 'ReadLogGroupTags', actions: ['logs:ListTagsForResource'], resources: [LOG_GROUPS_ARN] },
  { sid: 'CreateLogGroup', actions: ['logs:CreateLogGroup', 'logs:TagResource'], resources: [LOG_GROUPS_ARN], conditions: requestTaggedByUs() },
  { sid: 'SetLogRetention', actions: ['logs:PutRetentionPolicy'], resources: [LOG_GROUPS_ARN], conditions: resourceTaggedByUs() },
];

export interface LogGroupSpec {
  name: string;
  retentionDays: number;
  tags: Record<string, string>;
  /** The workload the group belongs to: an existing group must carry its tag. */
  owner: Pick<OnboardingRequest, 'workloadGroup'>;
}

export interface EnsuredLogGroup {
  logGroupName: string;
  /** ARN without the `:*` suffix DescribeLogGroups puts on `arn`. */
  logGroupArn: string;
  retentionDays: number;
  created: boolean;
  /** The group existed and its retention was changed to the spec's. */
  updated: boolean;
}

/** DescribeLogGroups matches by prefix: page until the exact name shows up. */
async function find(name: string): Promise<LogGroup | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await logs().send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, nextToken }));
    const hit = page.logGroups?.find((g) => g.logGroupName === name);
    if (hit) return hit;
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

function arnOf(g: LogGroup): string {
  const arn = g.logGroupArn ?? g.arn?.replace(/:\*$/, '');
  if (!arn) throw new Error(`DescribeLogGroups returned no ARN for ${g.logGroupName ?? '?'}`);
  return arn;
}

/**
 * Finds the log group by exact name or creates it with our tags, then sets the retention
 * when it differs. An existing group must carry this workload's tags (two workloads with the
 * same ecs.family would share `/ecs/<family>`): ResourceConflictError naming the owner otherwise.
 */
export async function ensureLogGroup(spec: LogGroupSpec): Promise<EnsuredLogGroup> {
  let group = await find(spec.name);
  let created = false;
  if (!group) {
    try {
      await logs().send(new CreateLogGroupCommand({ logGroupName: spec.name, tags: spec.tags }));
      created = true;
    } catch (err) {
      // Another run created it between our lookup and CreateLogGroup: check it like any existing group.
      if (!isAwsError(err, 'ResourceAlreadyExistsException')) throw err;
    }
    group = await find(spec.name);
    // Read-after-write lag: the next attempt finds it (and checks its tags like any existing group).
    if (!group) throw new ResourceNotReadyError(`CloudWatch Logs group "${spec.name}" not listed yet right after CreateLogGroup`);
  }
  const arn = arnOf(group);
  if (!created) {
    const conflict = await logGroupConflict(group, spec);
    if (conflict !== undefined) throw new ResourceConflictError(conflict);
  }
  const retentionChanged = retentionChanges(group, spec).length > 0;
  if (retentionChanged) {
    await logs().send(new PutRetentionPolicyCommand({ logGroupName: spec.name, retentionInDays: spec.retentionDays }));
  }
  return { logGroupName: spec.name, logGroupArn: arn, retentionDays: spec.retentionDays, created, updated: !created && retentionChanged };
}

/** Why ensureLogGroup refuses an existing group (its tags say it is not this workload's), or undefined. */
async function logGroupConflict(group: LogGroup, spec: LogGroupSpec): Promise<string | undefined> {
  const { tags } = await logs().send(new ListTagsForResourceCommand({ resourceArn: arnOf(group) }));
  return conflictOf(() => assertOwnedByWorkload(tags ?? {}, spec.owner, `CloudWatch Logs group "${spec.name}"`, 'delete it or choose another ecs.family'));
}

/** What ensureLogGroup changes on the group, for the apply and the plan: `retentionInDays` (null: never expires) when it differs. */
function retentionChanges(group: LogGroup, spec: LogGroupSpec): FieldChange[] {
  return group.retentionInDays === spec.retentionDays ? [] : [{ field: 'retentionInDays', current: group.retentionInDays ?? null, wanted: spec.retentionDays }];
}

/** The dry run of ensureLogGroup: the group found (a conflict, or the fields the apply would change), or undefined when the apply would create it. */
export async function inspectLogGroup(spec: LogGroupSpec): Promise<Found | undefined> {
  const group = await find(spec.name);
  if (!group) return undefined;
  const conflict = await logGroupConflict(group, spec);
  return { id: spec.name, changes: conflict === undefined ? retentionChanges(group, spec) : [], ...(conflict !== undefined ? { conflict } : {}) };
}

/** deleteOurLogGroup. */
export const LOG_GROUP_DELETE_PERMISSIONS: StepPermissions = [
  { sid: 'FindLogGroup', actions: ['logs:DescribeLogGroups'], resources: ['*'] },
  { sid: 'ReadLogGroupTags', actions: ['logs:ListTagsForResource'], resources: [LOG_GROUPS_ARN] },
  { sid: 'DeleteOurLogGroup', actions: ['logs:DeleteLogGroup'], resources: [LOG_GROUPS_ARN], conditions: resourceTaggedByUs() },
];

/** Deletes the log group (and its streams) when it is this workload's; kept with why otherwise. */
export async function deleteOurLogGroup(name: string, owner: Pick<OnboardingRequest, 'workloadGroup'>): Promise<{ outcome: 'deleted' | 'not-found' } | { outcome: 'kept'; reason: string }> {
  const group = await find(name);
  if (!group) return { outcome: 'not-found' };
  const { tags } = await logs().send(new ListTagsForResourceCommand({ resourceArn: arnOf(group) }));
  try {
    assertOwnedByWorkload(tags ?? {}, owner, `CloudWatch Logs group "${name}"`);
  } catch (e) {
    return { outcome: 'kept', reason: (e as Error).message };
  }
  try {
    await logs().send(new DeleteLogGroupCommand({ logGroupName: name }));
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { outcome: 'not-found' };
    throw err;
  }
  return { outcome: 'deleted' };
}
