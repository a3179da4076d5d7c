import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type Role,
} from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { iam, sts } from '../clients.ts';
import { IamPropagationError, isAwsError, ResourceConflictError } from '../errors.ts';
import { isManagedByUs, type Tag } from '../tags.ts';
import type { AwsContext } from '../workflow.ts';

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

/** Runs an IAM call, turning the "just made, not visible yet" symptoms into IamPropagationError. */
async function iamCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // A principal made seconds ago is rejected as "Invalid principal" until IAM propagates it.
    if (isAwsError(err, 'MalformedPolicyDocument', 'MalformedPolicyDocumentException') && /invalid principal/i.test((err as Error).message)) {
      throw new IamPropagationError(`${what}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

async function getRole(name: string): Promise<Role | undefined> {
  try {
    return (await iam().send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException')) return undefined;
    throw err;
  }
}

/**
 * Finds the role by name or creates it. An existing role must carry our managed-by tag
 * (else ResourceConflictError); its trust policy is rewritten when it drifted.
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
  if (!created && !isManagedByUs(role.Tags)) {
    throw new ResourceConflictError(`IAM role "${spec.name}" exists but was not made by this tool (no managed-by tag); delete or rename it, or choose another workload name`);
  }
  let trustUpdated = false;
  if (!created && !samePolicy(role.AssumeRolePolicyDocument, spec.trust)) {
    await iamCall(`UpdateAssumeRolePolicy ${spec.name}`, () =>
      iam().send(new UpdateAssumeRolePolicyCommand({ RoleName: spec.name, PolicyDocument: JSON.stringify(spec.trust) })),
    );
    trustUpdated = true;
  }
  return { roleName: spec.name, roleArn: role.Arn, created, trustUpdated };
}

/** Writes an inline policy only when missing or different. Returns what happened. */
export async function putInlinePolicy(roleName: string, policyName: string, doc: PolicyDocument): Promise<'created' | 'updated' | 'unchanged'> {
  let stored: string | undefined;
  try {
    stored = (await iam().send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }))).PolicyDocument;
  } catch (err) {
    if (!isAwsError(err, 'NoSuchEntity', 'NoSuchEntityException')) throw err;
  }
  if (stored !== undefined && samePolicy(stored, doc)) return 'unchanged';
  await iamCall(`PutRolePolicy ${roleName}/${policyName}`, () =>
    iam().send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(doc) })),
  );
  return stored === undefined ? 'created' : 'updated';
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

/** Attaches a managed policy unless already attached. Returns true when this call attached it. */
export async function attachManagedPolicy(roleName: string, policyArn: string): Promise<boolean> {
  let marker: string | undefined;
  do {
    const page = await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    if (page.AttachedPolicies?.some((p) => p.PolicyArn === policyArn)) return false;
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  await iam().send(new AttachRolePolicyCommand({ RoleName: roleName, PolicyArn: policyArn }));
  return true;
}
