import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { iam, sts } from '../clients.ts';
import { IamPropagationError, isAwsError, ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { requestTaggedByUs, resourceTaggedByUs, type Permission, type StepPermissions } from '../permissions.ts';
import { conflictOf, type FieldChange, type Found } from '../plan.ts';
import type { OnboardingRequest } from '../request.ts';
import { ROLE_PATH } from '../settings.ts';
import { assertOwnedByWorkload, type Tag } from '../tags.ts';
import type { AwsContext } from '../workflow.ts';

/** The roles this tool makes (all under ROLE_PATH), as a policy resource. */
export const OUR_ROLES_ARN = `arn:\${Partition}:iam::\${Account}:role${ROLE_PATH}*`;

/**
 * ensureRole. GetRole is granted on every role of the account: a role of our name outside our
 * path (someone else's, or one an earlier version made at `/`) must be reported as a name
 * collision (ResourceConflictError naming it), not as AccessDenied. Everything that changes a
 * role is limited to our path and our managed-by tag. CreateRole with Tags is authorized as
 * iam:TagRole too (https://github.com/openshift/installer/issues/1073: "not authorized to
 * perform: iam:TagRole" from CreateRole with tags), both with the tag in the request
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
 * STS GetCallerIdentity (resolveAwsContext without a preflight) needs no permission.
 */
export const ENSURE_ROLE_PERMISSIONS: StepPermissions = [
  { sid: 'FindRoleByName', actions: ['iam:GetRole'], resources: ['arn:${Partition}:iam::${Account}:role/*'] },
  { sid: 'CreateOurRole', actions: ['iam:CreateRole', 'iam:TagRole'], resources: [OUR_ROLES_ARN], conditions: requestTaggedByUs() },
  { sid: 'RepairTrustPolicy', actions: ['iam:UpdateAssumeRolePolicy'], resources: [OUR_ROLES_ARN], conditions: resourceTaggedByUs() },
];

/** putInlinePolicy. */
export const PUT_INLINE_POLICY_PERMISSIONS: StepPermissions = [
  { sid: 'ReadInlinePolicy', actions: ['iam:GetRolePolicy'], resources: [OUR_ROLES_ARN] },
  { sid: 'WriteInlinePolicy', actions: ['iam:PutRolePolicy'], resources: [OUR_ROLES_ARN], conditions: resourceTaggedByUs() },
];

/** deleteInlinePolicy (same statement as PutRolePolicy when a step does both). */
export const DELETE_INLINE_POLICY_PERMISSIONS: StepPermissions = [
  { sid: 'WriteInlinePolicy', actions: ['iam:DeleteRolePolicy'], resources: [OUR_ROLES_ARN], conditions: resourceTaggedByUs() },
];

/** attachManagedPolicy, for the one managed policy `policyArn` (a template: `iam:PolicyARN` limits the attach to it). */
export function attachManagedPolicyPermissions(policyArn: string): StepPermissions {
  const attach: Permission = {
    sid: 'AttachManagedPolicy',
    actions: ['iam:AttachRolePolicy'],
    resources: [OUR_ROLES_ARN],
    conditions: { StringEquals: { ...resourceTaggedByUs().StringEquals, 'iam:PolicyARN': policyArn } },
  };
  return [{ sid: 'ListAttachedPolicies', actions: ['iam:ListAttachedRolePolicies'], resources: [OUR_ROLES_ARN] }, attach];
}

/** An IAM policy document, kept loose: we only write our own and compare parsed JSON. */
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Record<string, unknown>[];
}

export interface RoleSpec {
  name: string;
  trust: PolicyDocument;
  tags: Tag[];
  description: string;
  /** The workload the role belongs to (a task role is its mesh identity): an existing role must carry its tag. */
  owner: Pick<OnboardingRequest, 'workloadGroup'>;
}

export interface EnsuredRole {
  roleName: string;
  roleArn: string;
  created: boolean;
  /** True when an existing role's trust policy had drifted and was rewritten. */
  trustUpdated: boolean;
}

/** Account, region and partition: from preflight when it ran, else from STS and the client's region. */
export async function resolveAwsContext(preflight: AwsContext | undefined): Promise<AwsContext> {
  if (preflight) return { account: preflight.account, region: preflight.region, partition: preflight.partition };
  const id = await sts().send(new GetCallerIdentityCommand({}));
  if (!id.Account) throw new Error('STS GetCallerIdentity returned no account');
  return { account: id.Account, region: await sts().config.region(), partition: id.Arn?.split(':')[1] || 'aws' };
}

/** Trust policy letting ECS tasks of this account (only) assume the role (confused-deputy guard). */
export function ecsTasksTrustPolicy(account: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'ecs-tasks.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': account } },
      },
    ],
  };
}

/** Parses a policy document as IAM returns it (URL-encoded JSON) or as written (plain JSON). */
export function parsePolicyDocument(doc: string): unknown {
  const trimmed = doc.trim();
  return JSON.parse(trimmed.startsWith('{') ? trimmed : decodeURIComponent(trimmed));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** True when two policy documents are the same JSON, ignoring key order and whitespace. */
export function samePolicy(stored: string | undefined, wanted: PolicyDocument): boolean {
  if (stored === undefined) return false;
  return JSON.stringify(canonical(parsePolicyDocument(stored))) === JSON.stringify(canonical(wanted));
}

/**
 * IAM's NoSuchEntity for a role ("The role with name X cannot be found."), as opposed to a
 * missing policy ("Policy arn:... does not exist or is not attachable.", which recurs).
 */
const ROLE_NOT_FOUND = /role with name .* cannot be found/i;

/**
 * Runs an IAM call, turning the "just made, not visible yet" symptoms into IamPropagationError.
 * IAM is eventually consistent: a role CreateRole just returned can be NoSuchEntity to the next
 * PutRolePolicy or AttachRolePolicy
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
 * Calls on a role are only made after GetRole or CreateRole found or made it, so its absence is
 * propagation (or a deletion a moment ago, which the retry's GetRole sees and repairs).
 */
async function iamCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const message = (err as Error).message;
    // A principal made seconds ago is rejected as "Invalid principal" until IAM propagates it.
    if (isAwsError(err, 'MalformedPolicyDocument', 'MalformedPolicyDocumentException') && /invalid principal/i.test(message)) {
      throw new IamPropagationError(`${what}: ${message}`, { cause: err });
    }
    if (isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException') && ROLE_NOT_FOUND.test(message)) {
      throw new IamPropagationError(`${what}: ${message} (IAM has not propagated the role yet)`, { cause: err });
    }
    throw err;
  }
}

/** The role `name` as GetRole finds it, or undefined when there is none. */
export async function getRole(name: string): Promise<Role | undefined> {
  try {
    return (await iam().send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
    throw err;
  }
}

/**
 * Finds the role by name or creates it. An existing role must carry this workload's tags
 * (else ResourceConflictError naming its owner: two workloads must never share a task role,
 * their mesh identity); its trust policy is rewritten when it drifted.
 */
export async function ensureRole(spec: RoleSpec): Promise<EnsuredRole> {
  let role = await getRole(spec.name);
  let created = false;
  if (!role) {
    try {
      const made = await iamCall(`CreateRole ${spec.name}`, () =>
        iam().send(
          new CreateRoleCommand({
            RoleName: spec.name,
            Path: ROLE_PATH,
            AssumeRolePolicyDocument: JSON.stringify(spec.trust),
            Description: spec.description,
            Tags: spec.tags,
          }),
        ),
      );
      role = made.Role;
      created = true;
    } catch (err) {
      // Another run created it between our GetRole and CreateRole: check it like any existing role.
      if (!isAwsError(err, 'EntityAlreadyExists', 'EntityAlreadyExistsException')) throw err;
      role = await getRole(spec.name);
    }
  }
  if (!role?.Arn) throw new IamPropagationError(`IAM role "${spec.name}" is not visible yet after CreateRole`);
  let trustUpdated = false;
  if (!created) {
    const found = diffRole(role, spec);
    if (found.conflict !== undefined) throw new ResourceConflictError(found.conflict);
    if (found.changes.length > 0) {
      await iamCall(`UpdateAssumeRolePolicy ${spec.name}`, () =>
        iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: spec.name, PolicyDocument: JSON.stringify(spec.trust) })),
      );
      trustUpdated = true;
    }
  }
  return { roleName: spec.name, roleArn: role.Arn, created, trustUpdated };
}

/**
 * What ensureRole decides about an existing role, for the apply and the plan alike: a conflict
 * when it is not this workload's or lives outside ROLE_PATH, else the trust policy to rewrite
 * when it drifted (field `assumeRolePolicyDocument`).
 */
export function diffRole(role: Role, spec: RoleSpec): Found {
  const id = spec.name;
  const conflict =
    conflictOf(() => assertOwnedByWorkload(role.Tags, spec.owner, `IAM role "${spec.name}"`, 'delete or rename it, or choose another workload name')) ??
    // IAM cannot move a role to another path, and the orchestrator may change only roles under ours.
    (role.Path !== undefined && role.Path !== ROLE_PATH
      ? `IAM role "${spec.name}" is this workload's but lives at path ${role.Path} (made by an earlier version), and this tool manages only roles under ${ROLE_PATH}: ` +
        'delete it (its inline policies and attachments first) and run again; it is made again with the same name, so the mesh identity stays the same'
      : undefined);
  if (conflict !== undefined) return { id, conflict, changes: [] };
  if (samePolicy(role.AssumeRolePolicyDocument, spec.trust)) return { id, changes: [] };
  const current = role.AssumeRolePolicyDocument === undefined ? null : parsePolicyDocument(role.AssumeRolePolicyDocument);
  return { id, changes: [{ field: 'assumeRolePolicyDocument', current, wanted: spec.trust }] };
}

/** The ARN CreateRole gives the role `name` (under ROLE_PATH): what a plan names a role it would create. */
export function roleArnOf(ctx: AwsContext, name: string): string {
  return `arn:${ctx.partition}:iam::${ctx.account}:role${ROLE_PATH}${name}`;
}

/** The dry run of ensureRole: the role found (its ARN and what the apply would decide about it), or undefined when the apply would create it. */
export async function inspectRole(spec: RoleSpec): Promise<(Found & { roleArn: string }) | undefined> {
  const role = await getRole(spec.name);
  if (!role?.Arn) return undefined;
  return { ...diffRole(role, spec), roleArn: role.Arn };
}

/** Writes an inline policy only when missing or different. Returns what happened. */
export async function putInlinePolicy(roleName: string, policyName: string, doc: PolicyDocument): Promise<'created' | 'updated' | 'unchanged'> {
  const stored = await readInlinePolicy(roleName, policyName);
  if (stored !== undefined && diffInlinePolicy(stored, doc).length === 0) return 'unchanged';
  // GetRolePolicy's NoSuchEntity does not tell a missing policy from a role not visible yet: PutRolePolicy does.
  await iamCall(`PutRolePolicy ${roleName}/${policyName}`, () =>
    iam().send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) })),
  );
  return stored === undefined ? 'created' : 'updated';
}

/** The inline policy document as stored (URL-encoded), or undefined when the role has none of that name. */
export async function readInlinePolicy(roleName: string, policyName: string): Promise<string | undefined> {
  try {
    return (await iam().send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }))).PolicyDocument;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
    throw err;
  }
}

/** What putInlinePolicy rewrites on a stored inline policy, for the apply and the plan: `policyDocument` when it differs. */
export function diffInlinePolicy(stored: string, doc: PolicyDocument): FieldChange[] {
  return samePolicy(stored, doc) ? [] : [{ field: 'policyDocument', current: parsePolicyDocument(stored), wanted: doc }];
}

/** Removes an inline policy if present. Returns true when it was there. */
export async function deleteInlinePolicy(roleName: string, policyName: string): Promise<boolean> {
  try {
    await iam().send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
    return true;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException')) return false;
    throw err;
  }
}

/** The ARNs of the managed policies attached to the role. */
export async function attachedPolicies(roleName: string): Promise<string[]> {
  const arns: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iamCall(`ListAttachedRolePolicies ${roleName}`, () => iam().send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker })));
    for (const p of page.AttachedPolicies ?? []) if (p.PolicyArn) arns.push(p.PolicyArn);
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return arns;
}

/** What attachManagedPolicy changes, for the apply and the plan: `attachedPolicies` when `policyArn` is not among them. */
export function diffAttachedPolicy(attached: string[], policyArn: string): FieldChange[] {
  return attached.includes(policyArn) ? [] : [{ field: 'attachedPolicies', current: attached, wanted: [...attached, policyArn] }];
}

/** Attaches a managed policy unless already attached. Returns true when this call attached it. */
export async function attachManagedPolicy(roleName: string, policyArn: string): Promise<boolean> {
  if (diffAttachedPolicy(await attachedPolicies(roleName), policyArn).length === 0) return false;
  await iamCall(`AttachRolePolicy ${roleName} ${policyArn}`, () => iam().send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn })));
  return true;
}

/**
 * deleteOurRole. GetRole on any role (a same-named role that is not ours must be reported, not
 * hidden behind AccessDenied); listing and every change only on roles under our path, changes
 * only on roles carrying our tag.
 */
export const DELETE_ROLE_PERMISSIONS: StepPermissions = [
  { sid: 'FindRoleByName', actions: ['iam:GetRole'], resources: ['arn:${Partition}:iam::${Account}:role/*'] },
  { sid: 'ListRolePolicies', actions: ['iam:ListAttachedRolePolicies', 'iam:ListRolePolicies'], resources: [OUR_ROLES_ARN] },
  { sid: 'DeleteOurRole', actions: ['iam:DeleteRole', 'iam:DeleteRolePolicy', 'iam:DetachRolePolicy'], resources: [OUR_ROLES_ARN], conditions: resourceTaggedByUs() },
];

/** What deleteOurRole did: deleted, not found, or kept (not this workload's, or outside our path) with why. */
export type RoleDeletion = { outcome: 'deleted' | 'not-found'; policies: string[] } | { outcome: 'kept'; reason: string; policies: [] };

/**
 * Deletes the role `name` when it is this workload's and under ROLE_PATH: its inline policies and
 * attached managed policies first (IAM refuses DeleteRole while any remain: DeleteConflict,
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html). This tool makes no
 * instance profiles. NoSuchEntity at any point means a concurrent or earlier run went further.
 */
export async function deleteOurRole(name: string, owner: Pick<OnboardingRequest, 'workloadGroup'>): Promise<RoleDeletion> {
  const role = await getRole(name);
  if (!role) return { outcome: 'not-found', policies: [] };
  try {
    assertOwnedByWorkload(role.Tags, owner, `IAM role "${name}"`);
  } catch (e) {
    return { outcome: 'kept', reason: (e as Error).message, policies: [] };
  }
  if (role.Path !== undefined && role.Path !== ROLE_PATH) return { outcome: 'kept', reason: `it lives at path ${role.Path}, and this tool changes only roles under ${ROLE_PATH}`, policies: [] };
  const gone = (err: unknown) => isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException');
  const policies: string[] = [];
  try {
    let marker: string | undefined;
    do {
      const page = await iam().send(new ListRolePoliciesCommand({ RoleName: name, Marker: marker }));
      for (const p of page.PolicyNames ?? []) {
        await iam().send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: p })).catch((err: unknown) => {
          if (!gone(err)) throw err;
        });
        policies.push(`${name}/${p}`);
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: name, Marker: marker }));
      for (const p of page.AttachedPolicies ?? []) {
        await iam().send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.PolicyArn })).catch((err: unknown) => {
          if (!gone(err)) throw err;
        });
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    await iam().send(new DeleteRoleCommand({ RoleName: name }));
  } catch (err) {
    if (gone(err)) return { outcome: 'not-found', policies };
    // A policy attached between our listing and DeleteRole: the retry lists again.
    if (isAwsError(err, 'DeleteConflict', 'DeleteConflictException')) throw new ResourceNotReadyError(`IAM role "${name}": ${(err as Error).message}`, { cause: err });
    throw err;
  }
  return { outcome: 'deleted', policies };
}
