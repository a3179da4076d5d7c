import {
  DELETE_INLINE_POLICY_PERMISSIONS,
  deleteInlinePolicy,
  diffInlinePolicy,
  ecsTasksTrustPolicy,
  ENSURE_ROLE_PERMISSIONS,
  ensureRole,
  inspectRole,
  parsePolicyDocument,
  PUT_INLINE_POLICY_PERMISSIONS,
  putInlinePolicy,
  readInlinePolicy,
  resolveAwsContext,
  roleArnOf,
  type PolicyDocument,
  type RoleSpec,
} from '#lib/aws/iam-role.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { planEntry, type PlanEntry } from '#lib/plan.ts';
import type { OnboardingRequest } from '#lib/request.ts';
import { workloadKey, workloadTags } from '#lib/tags.ts';
import type { LedgerEntry, RoleResult, WorkflowState } from '#lib/workflow.ts';

/** Inline policy that lets `aws ecs execute-command` reach the task; only with ecs.enableExecuteCommand. */
export const EXEC_POLICY_NAME = 'ecs-exec-ssmmessages';

// ssmmessages has no resource-level permissions: "*" is the only valid Resource; the actions stay explicit.
const EXEC_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'EcsExecSsmMessages',
      Effect: 'Allow',
      Action: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
      Resource: '*',
    },
  ],
};

/** The task role as the apply makes it and the plan compares it. */
function taskRoleSpec(request: OnboardingRequest, account: string): RoleSpec {
  return {
    name: names.taskRole(request),
    trust: ecsTasksTrustPolicy(account),
    tags: workloadTags(request),
    description: `ECS task role (mesh identity) of workload ${workloadKey(request)}`,
    owner: request,
  };
}

/** Ensure task role: the workload's identity in the mesh (one role per workload). */
export async function ensureTaskRole(state: WorkflowState): Promise<RoleResult> {
  const { request } = state;
  const { account } = await resolveAwsContext(state.preflight);
  const role = await ensureRole(taskRoleSpec(request, account));
  // A rewritten trust policy changed the role in place.
  const ledger: LedgerEntry[] = [{ kind: 'iam-role', id: role.roleName, arn: role.roleArn, created: role.created, ...(role.trustUpdated ? { updated: true } : {}) }];
  if (request.ecs.enableExecuteCommand) {
    const outcome = await putInlinePolicy(role.roleName, EXEC_POLICY_NAME, EXEC_POLICY);
    ledger.push({ kind: 'iam-role-policy', id: `${role.roleName}/${EXEC_POLICY_NAME}`, created: outcome === 'created', ...(outcome === 'updated' ? { updated: true } : {}) });
  } else if (await deleteInlinePolicy(role.roleName, EXEC_POLICY_NAME)) {
    // Converged: a policy left from a run with ECS Exec on must not outlive the setting; removing it changed the role.
    if (!role.created) ledger[0] = { ...ledger[0]!, updated: true };
  }
  return { roleName: role.roleName, roleArn: role.roleArn, ledger };
}

/**
 * The dry run of Ensure task role: the role (create; conflict when another owner's or outside our
 * path; update for a drifted `assumeRolePolicyDocument` or, with ECS Exec off, a left-over
 * `inlinePolicies.ecs-exec-ssmmessages` to remove, `wanted: null`; else reuse) and, with ECS Exec
 * on, its inline policy (create, update of `policyDocument`, reuse).
 */
export async function planTaskRole(state: WorkflowState): Promise<RoleResult> {
  const { request } = state;
  const ctx = await resolveAwsContext(state.preflight);
  const spec = taskRoleSpec(request, ctx.account);
  const found = await inspectRole(spec);
  const result = { roleName: spec.name, roleArn: found?.roleArn ?? roleArnOf(ctx, spec.name), ledger: [] };
  // The apply stops at the role: nothing after it happens.
  if (found?.conflict !== undefined) return { ...result, plan: [planEntry('iam-role', spec.name, found)] };
  const stored = found ? await readInlinePolicy(spec.name, EXEC_POLICY_NAME) : undefined;
  const exec = request.ecs.enableExecuteCommand;
  const role = found && !exec && stored !== undefined ? { ...found, changes: [...found.changes, { field: `inlinePolicies.${EXEC_POLICY_NAME}`, current: parsePolicyDocument(stored), wanted: null }] } : found;
  const plan: PlanEntry[] = [planEntry('iam-role', spec.name, role)];
  if (exec) {
    const id = `${spec.name}/${EXEC_POLICY_NAME}`;
    plan.push(planEntry('iam-role-policy', id, stored === undefined ? undefined : { id, changes: diffInlinePolicy(stored, EXEC_POLICY) }));
  }
  return { ...result, plan };
}

export const permissions: StepPermissions = composePermissions(ENSURE_ROLE_PERMISSIONS, PUT_INLINE_POLICY_PERMISSIONS, DELETE_INLINE_POLICY_PERMISSIONS);

export const handler = wrap('Ensure task role', ensureTaskRole, { plan: planTaskRole });
