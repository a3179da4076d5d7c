import {
  attachedPolicies,
  attachManagedPolicy,
  attachManagedPolicyPermissions,
  diffAttachedPolicy,
  diffInlinePolicy,
  ecsTasksTrustPolicy,
  ENSURE_ROLE_PERMISSIONS,
  ensureRole,
  inspectRole,
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
import { planEntry } from '#lib/plan.ts';
import type { OnboardingRequest } from '#lib/request.ts';
import { workloadKey, workloadTags } from '#lib/tags.ts';
import type { AwsContext, RoleResult, WorkflowState } from '#lib/workflow.ts';

/** Inline policy letting ECS read this workload's CA secret into the agent container. */
export const CA_SECRET_POLICY_NAME = 'read-root-ca-secret';

/** The AWS managed policy ECS needs to pull images and write logs for the task. */
export function executionManagedPolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy`;
}

/**
 * Grants GetSecretValue on this workload's CA secret only. The secret's ARN is not known
 * yet (it is made in a parallel branch), so it is matched by name plus the 6 random
 * characters Secrets Manager appends. The task definition pins a version
 * (`<arn>:::<version-id>`), but the resource ECS reads is still the secret's ARN: the version
 * is a GetSecretValue parameter (condition key secretsmanager:VersionId), so this still matches
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html).
 */
export function caSecretPolicy(ctx: AwsContext, secretName: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ReadRootCaSecret',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: `arn:${ctx.partition}:secretsmanager:${ctx.region}:${ctx.account}:secret:${secretName}-??????`,
      },
    ],
  };
}

/** The execution role as the apply makes it and the plan compares it. */
function executionRoleSpec(request: OnboardingRequest, account: string): RoleSpec {
  return {
    name: names.executionRole(request),
    trust: ecsTasksTrustPolicy(account),
    tags: workloadTags(request),
    description: `ECS task execution role of workload ${workloadKey(request)}`,
    owner: request,
  };
}

/** Ensure execution role: the role ECS itself uses to start the task (pull, logs, secrets). */
export async function ensureExecutionRole(state: WorkflowState): Promise<RoleResult> {
  const { request } = state;
  const ctx = await resolveAwsContext(state.preflight);
  const role = await ensureRole(executionRoleSpec(request, ctx.account));
  const attached = await attachManagedPolicy(role.roleName, executionManagedPolicyArn(ctx.partition));
  const outcome = await putInlinePolicy(role.roleName, CA_SECRET_POLICY_NAME, caSecretPolicy(ctx, names.caSecret(request)));
  return {
    roleName: role.roleName,
    roleArn: role.roleArn,
    ledger: [
      // An existing role that had lost its managed policy got it back, or had its trust policy rewritten: the role was changed.
      { kind: 'iam-role', id: role.roleName, arn: role.roleArn, created: role.created, ...(!role.created && (attached || role.trustUpdated) ? { updated: true } : {}) },
      { kind: 'iam-role-policy', id: `${role.roleName}/${CA_SECRET_POLICY_NAME}`, created: outcome === 'created', ...(outcome === 'updated' ? { updated: true } : {}) },
    ],
  };
}

/**
 * The dry run of Ensure execution role: the role (create; conflict when another owner's or outside
 * our path; update for a drifted `assumeRolePolicyDocument` or a missing managed policy,
 * `attachedPolicies`; else reuse) and its CA-secret inline policy (create, update of
 * `policyDocument`, reuse).
 */
export async function planExecutionRole(state: WorkflowState): Promise<RoleResult> {
  const { request } = state;
  const ctx = await resolveAwsContext(state.preflight);
  const spec = executionRoleSpec(request, ctx.account);
  const found = await inspectRole(spec);
  const result = { roleName: spec.name, roleArn: found?.roleArn ?? roleArnOf(ctx, spec.name), ledger: [] };
  // The apply stops at the role: nothing after it happens.
  if (found?.conflict !== undefined) return { ...result, plan: [planEntry('iam-role', spec.name, found)] };
  const role = found && { ...found, changes: [...found.changes, ...diffAttachedPolicy(await attachedPolicies(spec.name), executionManagedPolicyArn(ctx.partition))] };
  const stored = found ? await readInlinePolicy(spec.name, CA_SECRET_POLICY_NAME) : undefined;
  const id = `${spec.name}/${CA_SECRET_POLICY_NAME}`;
  return {
    ...result,
    plan: [
      planEntry('iam-role', spec.name, role),
      planEntry('iam-role-policy', id, stored === undefined ? undefined : { id, changes: diffInlinePolicy(stored, caSecretPolicy(ctx, names.caSecret(request))) }),
    ],
  };
}

/** Attaching is limited to the one managed policy (iam:PolicyARN), rendered for the stack's partition. */
export const permissions: StepPermissions = composePermissions(
  ENSURE_ROLE_PERMISSIONS,
  attachManagedPolicyPermissions(executionManagedPolicyArn('${Partition}')),
  PUT_INLINE_POLICY_PERMISSIONS,
);

export const handler = wrap('Ensure execution role', ensureExecutionRole, { plan: planExecutionRole });
