import { TAG_MANAGED_BY, TAG_ROLE, TAG_WORKLOAD, TOOL_NAME } from './settings.ts';
import type { OnboardingRequest } from './request.ts';

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
