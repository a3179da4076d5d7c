import { TAG_MANAGED_BY, TAG_ROLE, TAG_WORKLOAD, TOOL_NAME } from './settings.ts';
import type { OnboardingRequest } from './request.ts';
import { ResourceConflictError } from './errors.ts';

export interface Tag {
  Key: string;
  Value: string;
}

/** `<namespace>/<name>` of the WorkloadGroup: the key that ties every resource to one workload. */
export function workloadKey(request: Pick<OnboardingRequest, 'workloadGroup'>): string {
  return `${request.workloadGroup.namespace}/${request.workloadGroup.name}`;
}

/** The tags every resource of this workload carries (EC2/IAM/Secrets Manager shape). */
export function workloadTags(request: Pick<OnboardingRequest, 'workloadGroup'>, role?: string): Tag[] {
  const tags: Tag[] = [
    { Key: TAG_WORKLOAD, Value: workloadKey(request) },
    { Key: TAG_MANAGED_BY, Value: TOOL_NAME },
  ];
  if (role) tags.push({ Key: TAG_ROLE, Value: role });
  return tags;
}

/** Same tags in ECS's lower-case shape. */
export function ecsTags(request: Pick<OnboardingRequest, 'workloadGroup'>): { key: string; value: string }[] {
  return workloadTags(request).map((t) => ({ key: t.Key, value: t.Value }));
}

/** Same tags as a map (CloudWatch Logs shape). */
export function tagMap(request: Pick<OnboardingRequest, 'workloadGroup'>): Record<string, string> {
  return Object.fromEntries(workloadTags(request).map((t) => [t.Key, t.Value]));
}

/** True when a tag list (any of the AWS shapes) says this tool manages the resource. */
export function isManagedByUs(tags: readonly { Key?: string; Value?: string; key?: string; value?: string }[] | Record<string, string> | undefined): boolean {
  if (!tags) return false;
  if (!Array.isArray(tags)) return (tags as Record<string, string>)[TAG_MANAGED_BY] === TOOL_NAME;
  return tags.some((t) => (t.Key ?? t.key) === TAG_MANAGED_BY && (t.Value ?? t.value) === TOOL_NAME);
}

/** The value of one tag in an EC2/IAM-shaped or ECS-shaped tag list. */
export function tagValue(tags: readonly { Key?: string; Value?: string; key?: string; value?: string }[] | undefined, key: string): string | undefined {
  const t = tags?.find((x) => (x.Key ?? x.key) === key);
  return t ? (t.Value ?? t.value) : undefined;
}

/**
 * Who a per-workload resource belongs to, from its tags: `ours` (this tool, this workload),
 * `other-workload` (this tool, another workload: the name collided), `foreign` (not this tool).
 */
export type Ownership = { owner: 'ours' } | { owner: 'other-workload'; workload: string } | { owner: 'foreign' };

export function ownershipOf(
  tags: readonly { Key?: string; Value?: string; key?: string; value?: string }[] | Record<string, string> | undefined,
  request: Pick<OnboardingRequest, 'workloadGroup'>,
): Ownership {
  if (!isManagedByUs(tags)) return { owner: 'foreign' };
  const workload = Array.isArray(tags) ? tagValue(tags, TAG_WORKLOAD) : (tags as Record<string, string> | undefined)?.[TAG_WORKLOAD];
  return workload === workloadKey(request) ? { owner: 'ours' } : { owner: 'other-workload', workload: workload ?? '(none)' };
}

/**
 * Throws ResourceConflictError unless a per-workload resource is this workload's: `what`
 * names the resource ("IAM role \"x\""), `fix` says what the user can do.
 */
export function assertOwnedByWorkload(
  tags: Parameters<typeof ownershipOf>[0],
  request: Pick<OnboardingRequest, 'workloadGroup'>,
  what: string,
  fix = 'delete or rename it, or choose another name',
): void {
  const o = ownershipOf(tags, request);
  if (o.owner === 'ours') return;
  if (o.owner === 'other-workload') {
    throw new ResourceConflictError(`${what} belongs to workload ${o.workload} (tag ${TAG_WORKLOAD}), not ${workloadKey(request)}; two workloads must not share it: ${fix}`);
  }
  throw new ResourceConflictError(`${what} exists but was not made by this tool (no ${TAG_MANAGED_BY}=${TOOL_NAME} tag): ${fix}`);
}

/** The tags of a resource shared by every workload of a VPC or cluster: no workload tag (the ledger records its users). */
export function sharedTags(role?: string): Tag[] {
  const tags: Tag[] = [{ Key: TAG_MANAGED_BY, Value: TOOL_NAME }];
  if (role) tags.push({ Key: TAG_ROLE, Value: role });
  return tags;
}
