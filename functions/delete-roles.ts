import { DELETE_ROLE_PERMISSIONS, deleteOurRole } from '#lib/aws/iam-role.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, recordedIds, teardownState, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Delete roles: the workload's task and execution roles (under /mesh-onboarding/), their inline and attached policies first. */
export async function deleteRoles(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const roles = new Set([names.taskRole(request), names.executionRole(request), ...recordedIds(target, 'iam-role')]);
  const ledger: TeardownEntry[] = [];
  for (const role of roles) {
    const r = await deleteOurRole(role, request);
    ledger.push(entry('iam-role', role, r.outcome, r.outcome === 'kept' ? { reason: r.reason } : {}));
    ledger.push(...r.policies.map((p) => entry('iam-role-policy', p, 'deleted')));
  }
  return { ledger };
}

export const permissions: StepPermissions = DELETE_ROLE_PERMISSIONS;

export const handler = wrap('Delete roles', deleteRoles);
