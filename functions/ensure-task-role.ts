import {
  DELETE_INLINE_POLICY_PERMISSIONS,
  deleteInlinePolicy,
  ecsTasksTrustPolicy,
  ENSURE_ROLE_PERMISSIONS,
  ensureRole,
  PUT_INLINE_POLICY_PERMISSIONS,
  putInlinePolicy,
  resolveAwsContext,
  type PolicyDocument,
} from '#lib/aws/iam-role.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
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

/** Ensure task role: the workload's identity in the mesh (one role per workload). */
export async function ensureTaskRole(state: WorkflowState): Promise<RoleResult> {
  const { request } = state;
  const { account } = await resolveAwsContext(state.preflight);
  const role = await ensureRole({
    name: names.taskRole(request),
    trust: ecsTasksTrustPolicy(account),
    tags: workloadTags(request),
    description: `ECS task role (mesh identity) of workload ${workloadKey(request)}`,
    owner: request,
  });
  const ledger: LedgerEntry[] = [{ kind: 'iam-role', id: role.roleName, arn: role.roleArn, created: role.created }];
  if (request.ecs.enableExecuteCommand) {
    const outcome = await putInlinePolicy(role.roleName, EXEC_POLICY_NAME, EXEC_POLICY);
    ledger.push({ kind: 'iam-role-policy', id: `${role.roleName}/${EXEC_POLICY_NAME}`, created: outcome === 'created', ...(outcome === 'updated' ? { updated: true } : {}) });
  } else if (await deleteInlinePolicy(role.roleName, EXEC_POLICY_NAME)) {
    // Converged: a policy left from a run with ECS Exec on must not outlive the setting; removing it changed the role.
    if (!role.created) ledger[0] = { ...ledger[0]!, updated: true };
  }
  return { roleName: role.roleName, roleArn: role.roleArn, ledger };
}

export const permissions: StepPermissions = composePermissions(ENSURE_ROLE_PERMISSIONS, PUT_INLINE_POLICY_PERMISSIONS, DELETE_INLINE_POLICY_PERMISSIONS);

export const handler = wrap('Ensure task role', ensureTaskRole);
