/**
 * OnboardingPolicy matching, as the onboarding plane decides whether a workload may join a
 * WorkloadGroup (see ../shared/notes/mesh-onboarding.md). Pure: the pre-flight uses it to
 * predict the plane's decision, the local simulated plane uses it to make that decision.
 *
 * Our reading of the semantics:
 * - A policy allows when ANY `spec.allow[]` rule allows; a rule allows when ANY of its
 *   `workloads[]` matches the workload AND ANY of its `onboardTo[]` selects the WorkloadGroup.
 * - In `workloads[].aws`, an empty or absent list (partitions, accounts, regions, zones,
 *   ecs.clusters, ecs.iamRoleNames) matches any value; `ecs: {}` matches any ECS task.
 * - INFERRED (see mesh-facts.ts): an absent `aws.ecs` does not match ECS tasks, and an
 *   empty/absent `workloads` or `onboardTo`, or an absent `workloadGroupSelector`, matches
 *   nothing (authorization denies by default; the CRD marks them required).
 * - The zone is unknown before a task runs: with `zone` undefined, a non-empty `zones` list
 *   is accepted with a warning ("must match at verify time") instead of failing.
 */
import { POLICY_ABSENT_ECS_MATCHES_ECS } from './mesh-facts.ts';
import type { AwsWorkloadMatcher, LabelSelector, OnboardingPolicy } from './kube/resources.ts';

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
function awsMismatch(m: AwsWorkloadMatcher | undefined, id: EcsWorkloadIdentity, at: string, warnings: string[]): string | undefined {
  if (!m) return `${at}: no "aws" matcher (it matches other kinds of workloads)`;
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
    const workloadMisses = workloads.map((w, j) => awsMismatch(w.aws, id, `${at}.workloads[${j}]`, warnings));
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
