/**
 * OnboardingPolicy matching, as the onboarding plane decides whether a workload may join a
 * WorkloadGroup (see ../shared/notes/mesh-onboarding.md and mesh-facts.ts). Pure: the pre-flight
 * uses it to predict the plane's decision, the local simulated plane uses it to make that decision.
 *
 * The semantics (CONFIRMED/INFERRED as marked in mesh-facts.ts):
 * - A policy allows when ANY `spec.allow[]` rule allows; a rule allows when ANY of its
 *   `workloads[]` matches the workload AND ANY of its `onboardTo[]` selects the WorkloadGroup.
 * - `workloads[]` is a oneof `aws` | `jwt`; a `jwt` matcher never matches an ECS task.
 * - `aws.accounts` is REQUIRED (at least one 12-digit account): a matcher without it, or with an
 *   item that is not 12 digits, is invalid and matches nothing (docs.tetrate.io
 *   refs/onboarding/config/authorization/aws/v1alpha1/aws).
 * - An empty or absent `partitions`, `regions`, `zones`, `ecs.clusters`, `ecs.iamRoleNames`
 *   matches any value; `ecs: {}` matches any ECS task.
 * - INFERRED: an absent `aws.ecs` does not match ECS tasks; an empty/absent `workloads` or
 *   `onboardTo`, or an absent `workloadGroupSelector`, matches nothing (they are required and
 *   authorization denies by default).
 * - The zone is unknown before a task runs: with `zone` undefined, a non-empty `zones` list
 *   is accepted with a warning ("must match at verify time") instead of failing.
 */
import { AWS_ACCOUNT_PATTERN, POLICY_ABSENT_ECS_MATCHES_ECS } from './mesh-facts.ts';
import type { AwsWorkloadMatcher, LabelSelector, OnboardingPolicy, WorkloadIdentityMatcher } from './kube/resources.ts';

/** The identity of an ECS task as the onboarding plane sees it. */
export interface EcsWorkloadIdentity {
  partition: string;
  account: string;
  region: string;
  /** Unknown before the task runs (pre-flight). */
  zone?: string;
  ecs: { cluster: string; iamRoleName: string };
}

export interface PolicyDecision {
  allowed: boolean;
  /** `<namespace>/<name> allow[i]` of the first rule that allowed. */
  rule?: string;
  /** Why each rule did not allow (empty when allowed). */
  mismatches: string[];
  /** Conditions that can only be checked later (the zone). */
  warnings: string[];
}

/** Kubernetes LabelSelector semantics: `{}` matches everything; NotIn/DoesNotExist match a missing key. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, r.key);
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !values.includes(l[r.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[r.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function listAllows(list: string[] | undefined, value: string): boolean {
  return !list || list.length === 0 || list.includes(value);
}

/** Why an `aws` matcher does not match the task (undefined when it matches), plus zone warnings. */
function awsMismatch(w: WorkloadIdentityMatcher, id: EcsWorkloadIdentity, at: string, warnings: string[]): string | undefined {
  const m = w.aws;
  if (!m) return `${at}: no "aws" matcher${w.jwt ? ' ("jwt" matches OIDC ID tokens, not ECS tasks)' : ''}`;
  // The reference page marks accounts REQUIRED (min 1 item, each ^[0-9]{12}$): an invalid matcher matches nothing.
  if (!m.accounts || m.accounts.length === 0) {
    return `${at}.aws.accounts is empty or absent: it is required (at least one 12-digit AWS account), so this matcher is invalid and matches nothing`;
  }
  const bad = m.accounts.filter((a) => !AWS_ACCOUNT_PATTERN.test(String(a)));
  if (bad.length > 0) return `${at}.aws.accounts ${JSON.stringify(bad)} is not a 12-digit AWS account (quote it in YAML), so this matcher is invalid and matches nothing`;
  const fields: [keyof AwsWorkloadMatcher & string, string[] | undefined, string][] = [
    ['partitions', m.partitions, id.partition],
    ['accounts', m.accounts, id.account],
    ['regions', m.regions, id.region],
  ];
  for (const [name, list, value] of fields) {
    if (!listAllows(list, value)) return `${at}.aws.${name} ${JSON.stringify(list)} does not include "${value}"`;
  }
  if (m.zones && m.zones.length > 0) {
    if (id.zone === undefined) warnings.push(`${at}.aws.zones ${JSON.stringify(m.zones)}: the task's availability zone must be one of these (checked when the task runs)`);
    else if (!m.zones.includes(id.zone)) return `${at}.aws.zones ${JSON.stringify(m.zones)} does not include "${id.zone}"`;
  }
  if (!m.ecs) return POLICY_ABSENT_ECS_MATCHES_ECS ? undefined : `${at}.aws.ecs is absent, so ECS tasks are not allowed (use "ecs: {}" for any task)`;
  if (!listAllows(m.ecs.clusters, id.ecs.cluster)) return `${at}.aws.ecs.clusters ${JSON.stringify(m.ecs.clusters)} does not include "${id.ecs.cluster}"`;
  if (!listAllows(m.ecs.iamRoleNames, id.ecs.iamRoleName)) return `${at}.aws.ecs.iamRoleNames ${JSON.stringify(m.ecs.iamRoleNames)} does not include the task role "${id.ecs.iamRoleName}"`;
  return undefined;
}

/**
 * Decides whether `policy` lets the ECS task `id` onboard to a WorkloadGroup whose
 * metadata.labels are `workloadGroupLabels`. Mismatch texts name the field that failed.
 */
export function evaluatePolicy(policy: OnboardingPolicy, id: EcsWorkloadIdentity, workloadGroupLabels: Record<string, string> | undefined): PolicyDecision {
  const name = `${policy.metadata.namespace ?? ''}/${policy.metadata.name}`;
  const mismatches: string[] = [];
  const rules = policy.spec?.allow ?? [];
  if (rules.length === 0) return { allowed: false, mismatches: [`${name}: spec.allow is empty`], warnings: [] };
  for (const [i, rule] of rules.entries()) {
    const at = `${name} allow[${i}]`;
    const workloads = rule.workloads ?? [];
    const warnings: string[] = [];
    const workloadMisses = workloads.map((w, j) => awsMismatch(w, id, `${at}.workloads[${j}]`, warnings));
    const workloadOk = workloadMisses.some((m) => m === undefined);
    if (workloads.length === 0) mismatches.push(`${at}.workloads is empty`);
    else if (!workloadOk) mismatches.push(...(workloadMisses as string[]));
    const targets = rule.onboardTo ?? [];
    const targetOk = targets.some((t) => selectorMatches(t.workloadGroupSelector, workloadGroupLabels));
    if (!targetOk) {
      mismatches.push(
        targets.length === 0
          ? `${at}.onboardTo is empty`
          : `${at}.onboardTo[].workloadGroupSelector ${JSON.stringify(targets.map((t) => t.workloadGroupSelector ?? null))} does not select a WorkloadGroup with labels ${JSON.stringify(workloadGroupLabels ?? {})}`,
      );
    }
    if (workloadOk && targetOk) return { allowed: true, rule: `${name} allow[${i}]`, mismatches: [], warnings };
  }
  return { allowed: false, mismatches, warnings: [] };
}

/** The first policy (by name) that allows the task, or every policy's reasons for not allowing. */
export function findAllowingPolicy(
  policies: OnboardingPolicy[],
  id: EcsWorkloadIdentity,
  workloadGroupLabels: Record<string, string> | undefined,
): { policy?: OnboardingPolicy; decision?: PolicyDecision; mismatches: string[] } {
  const mismatches: string[] = [];
  for (const p of [...policies].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const d = evaluatePolicy(p, id, workloadGroupLabels);
    if (d.allowed) return { policy: p, decision: d, mismatches: [] };
    mismatches.push(...d.mismatches);
  }
  return { mismatches };
}
