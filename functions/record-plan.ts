import { wrap } from '#lib/middleware.ts';
import { PLANNED_KEYS, type OnboardingPlan, type PlanAction, type PlanEntry, type PlanProblem } from '#lib/plan.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { workloadKey } from '#lib/tags.ts';
import type { WorkflowState } from '#lib/workflow.ts';

/**
 * Record plan: a dry run's output (functions/lib/plan.ts). Every resource each provisioning step
 * planned (create, update with the differing fields, reuse, conflict) and every problem Pre-flight
 * mesh, Resolve network and the steps found. `ready` when the apply could go ahead as planned.
 * Writes nothing: no registry record, no lock.
 */
export async function recordPlan(state: WorkflowState): Promise<OnboardingPlan> {
  const resources: (PlanEntry & { step: string })[] = [];
  const problems: PlanProblem[] = [];
  for (const [key, step] of PLANNED_KEYS) {
    const r = state[key] as { plan?: PlanEntry[]; problems?: PlanProblem[] } | undefined;
    for (const e of r?.plan ?? []) resources.push({ ...e, step });
    problems.push(...(r?.problems ?? []));
  }
  const summary: Record<PlanAction, number> = { create: 0, update: 0, reuse: 0, conflict: 0 };
  for (const e of resources) summary[e.action] += 1;
  return {
    workload: workloadKey(state.request),
    dryRun: true,
    status: problems.length === 0 && summary.conflict === 0 ? 'ready' : 'blocked',
    summary,
    resources,
    problems,
  };
}

/** Reads only the workflow state: no AWS call. */
export const permissions: StepPermissions = [];

export const handler = wrap('Record plan', recordPlan);
