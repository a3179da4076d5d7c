import { sha256Of } from '../plan.ts';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type DescribeSecretResponse,
} from '@aws-sdk/client-secrets-manager';
import { secrets } from '../clients.ts';
import { isAwsError, ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { CA_SECRET_PREFIX, names } from '../naming.ts';
import { arnTemplate, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { conflictOf, plannedId, type FieldChange, type PlanEntry } from '../plan.ts';
import type { CaSecretRef, OnboardingRequest } from '../request.ts';
import { assertOwnedByWorkload, workloadKey, workloadTags, type Tag } from '../tags.ts';

const CA_SECRETS_ARN = arnTemplate('secretsmanager', `secret:${CA_SECRET_PREFIX}*`);

/**
 * ensureCaSecret. Any secret of ours by name may be described (to report one that is not this
 * workload's); creating with tags needs secretsmanager:TagResource too
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html,
 * "Required permissions"); reading, writing and restoring only secrets carrying our tag. The
 * default key (aws/secretsmanager) needs no kms:Decrypt.
 */
/** Storing the bundle (ensureCaSecret): what Ensure CA secret and the API's POST both send. */
export const CA_SECRET_WRITE_PERMISSIONS: StepPermissions = [
  { sid: 'FindCaSecret', actions: ['secretsmanager:DescribeSecret'], resources: [CA_SECRETS_ARN] },
  { sid: 'CreateCaSecret', actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'], resources: [CA_SECRETS_ARN], conditions: requestTaggedByUs() },
  {
    sid: 'UpdateOurCaSecret',
    actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:RestoreSecret'],
    resources: [CA_SECRETS_ARN],
    conditions: resourceTaggedByUs(),
  },
];

/** Ensure CA secret: storing it, or checking the version the API stored (checkCaSecretVersion). */
export const CA_SECRET_PERMISSIONS: StepPermissions = [
  ...CA_SECRET_WRITE_PERMISSIONS,
  { sid: 'CheckCaSecretVersion', actions: ['secretsmanager:ListSecretVersionIds'], resources: [CA_SECRETS_ARN], conditions: resourceTaggedByUs() },
];

export interface CaSecretSpec {
  name: string;
  /** The PEM bundle. Never put it in a message, log line or result. */
  value: string;
  tags: Tag[];
  description: string;
  /** The workload the secret belongs to: an existing secret must carry its tag. */
  owner: Pick<OnboardingRequest, 'workloadGroup'>;
}

export interface EnsuredSecret {
  secretName: string;
  secretArn: string;
  /** The AWSCURRENT version, which holds `value` (from CreateSecret, PutSecretValue or GetSecretValue). */
  versionId: string;
  created: boolean;
  /** True when an existing secret's value was replaced. */
  updated: boolean;
  /** True when the secret was scheduled for deletion and this call restored it. */
  restored: boolean;
}

async function describe(name: string): Promise<DescribeSecretResponse | undefined> {
  try {
    return await secrets().send(new DescribeSecretCommand({ SecretId: name }));
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

/**
 * Finds the secret by name or creates it holding `value`. An existing secret must carry this
 * workload's tags (ResourceConflictError naming the owner otherwise); one scheduled for deletion
 * is restored; the value is rewritten only when it differs. Returns the version that holds
 * `value`, so the task definition can pin it.
 */
export async function ensureCaSecret(spec: CaSecretSpec): Promise<EnsuredSecret> {
  let found = await describe(spec.name);
  if (!found) {
    try {
      const made = await secrets().send(new CreateSecretCommand({ Name: spec.name, SecretString: spec.value, Description: spec.description, Tags: spec.tags }));
      if (!made.ARN || !made.VersionId) throw new Error(`CreateSecret returned no ARN or VersionId for ${spec.name}`);
      return { secretName: spec.name, secretArn: made.ARN, versionId: made.VersionId, created: true, updated: false, restored: false };
    } catch (err) {
      // Another run created it between our DescribeSecret and CreateSecret: check it like any existing secret.
      if (!isAwsError(err, 'ResourceExistsException')) throw err;
      found = await describe(spec.name);
      // The other run's secret is not readable yet (eventual consistency): the next attempt finds it.
      if (!found) throw new ResourceNotReadyError(`Secrets Manager secret "${spec.name}" already exists but DescribeSecret does not find it yet`, { cause: err });
    }
  }
  if (!found.ARN) throw new Error(`DescribeSecret returned no ARN for ${spec.name}`);
  const conflict = secretConflict(found, spec);
  if (conflict !== undefined) throw new ResourceConflictError(conflict);
  const arn = found.ARN;
  const restored = found.DeletedDate !== undefined;
  // A secret pending deletion cannot be read or written until it is restored.
  if (restored) await secrets().send(new RestoreSecretCommand({ SecretId: arn }));
  const current = await currentVersion(found);
  if (current.versionId && valueChanges(current, sha256Of(spec.value)).length === 0) return { secretName: spec.name, secretArn: arn, versionId: current.versionId, created: false, updated: false, restored };
  const put = await secrets().send(new PutSecretValueCommand({ SecretId: arn, SecretString: spec.value }));
  if (!put.VersionId) throw new Error(`PutSecretValue returned no VersionId for ${spec.name}`);
  return { secretName: spec.name, secretArn: arn, versionId: put.VersionId, created: false, updated: true, restored };
}

/** The version id DescribeSecret lists with the AWSCURRENT label. */
function awsCurrentOf(d: DescribeSecretResponse): string | undefined {
  return Object.entries(d.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
}

/** The stored value's SHA-256 (undefined when there is no string value) and the version holding it. */
interface StoredValue {
  sha256?: string;
  versionId?: string;
}

/** GetSecretValue of the AWSCURRENT version: only on a secret found ours (the grant needs our tag), never pending deletion. */
async function currentVersion(found: DescribeSecretResponse): Promise<StoredValue> {
  try {
    const out = await secrets().send(new GetSecretValueCommand({ SecretId: found.ARN }));
    // GetSecretValue's VersionId is the very version compared; DescribeSecret's AWSCURRENT is the fallback.
    return { sha256: out.SecretString === undefined ? undefined : sha256Of(out.SecretString), versionId: out.VersionId ?? awsCurrentOf(found) };
  } catch (err) {
    // A secret made without a value (e.g. by a failed earlier create) has no AWSCURRENT version.
    if (isAwsError(err, 'ResourceNotFoundException')) return {};
    throw err;
  }
}

export { sha256Of };

/** How a plan shows a CA bundle: a short fingerprint, never the PEM. */
export function fingerprint(sha256: string): string {
  return `sha256:${sha256.slice(0, 12)}`;
}

/** Why ensureCaSecret refuses the secret it found (not this workload's), or undefined. */
function secretConflict(found: DescribeSecretResponse, spec: Pick<CaSecretSpec, 'name' | 'owner'>): string | undefined {
  return conflictOf(() => assertOwnedByWorkload(found.Tags, spec.owner, `Secrets Manager secret "${spec.name}"`, 'delete it or choose another workload name'));
}

/**
 * Whether ensureCaSecret writes a new value, for the apply and the plan alike: the stored value's
 * SHA-256 against the wanted one (equal hashes: equal strings), shown as `value` fingerprints.
 */
function valueChanges(stored: StoredValue, wantedSha256: string): FieldChange[] {
  if (stored.sha256 === wantedSha256) return [];
  return [{ field: 'value', current: stored.sha256 === undefined ? null : fingerprint(stored.sha256), wanted: fingerprint(wantedSha256) }];
}

/** What a plan reports of the CA secret, and the result fields it stands in for. */
export interface PlannedSecret {
  entry: PlanEntry;
  secretArn: string;
  versionId?: string;
  /** The stored value would be replaced (or, pending deletion, may be: it cannot be read until restored). */
  updated: boolean;
}

/**
 * The dry run of ensureCaSecret for a PEM whose SHA-256 is `wantedSha256`: create (ARN and
 * version planned: their suffixes are random); conflict when the secret is not this workload's;
 * update of `value` (fingerprints) when the stored bundle differs, and of `deletedDate` (to null)
 * for a secret pending deletion, which the apply restores (its value is unreadable until then, so
 * its version is planned too); else reuse of the current version. Reads the value only of a
 * secret carrying our tag, as the apply does.
 */
export async function planCaSecretValue(spec: Pick<CaSecretSpec, 'name' | 'owner'>, wantedSha256: string): Promise<PlannedSecret> {
  const planned = plannedId('secret', spec.name);
  const newVersion = plannedId('secret', `${spec.name}:new-version`);
  const found = await describe(spec.name);
  if (!found?.ARN) return { entry: { kind: 'secret', name: spec.name, action: 'create', detail: `holding ${fingerprint(wantedSha256)}` }, secretArn: planned, versionId: newVersion, updated: false };
  const id = spec.name;
  const conflict = secretConflict(found, spec);
  if (conflict !== undefined) return { entry: { kind: 'secret', name: spec.name, id, action: 'conflict', detail: conflict }, secretArn: found.ARN, updated: false };
  if (found.DeletedDate !== undefined) {
    const changes: FieldChange[] = [{ field: 'deletedDate', current: found.DeletedDate.toISOString(), wanted: null }];
    const detail = 'scheduled for deletion: the apply restores it, then replaces its value if it differs (unreadable until restored)';
    return { entry: { kind: 'secret', name: spec.name, id, action: 'update', changes, detail }, secretArn: found.ARN, versionId: newVersion, updated: true };
  }
  const current = await currentVersion(found);
  const changes = current.versionId ? valueChanges(current, wantedSha256) : valueChanges({}, wantedSha256);
  if (changes.length === 0) return { entry: { kind: 'secret', name: spec.name, id, action: 'reuse' }, secretArn: found.ARN, versionId: current.versionId, updated: false };
  return { entry: { kind: 'secret', name: spec.name, id, action: 'update', changes }, secretArn: found.ARN, versionId: newVersion, updated: true };
}

/** The workload's CA secret holding `pem`: one spec for Ensure CA secret and for the API, which stores it before starting. */
export function caSecretSpec(request: Pick<OnboardingRequest, 'workloadGroup' | 'ecs'>, pem: string): CaSecretSpec {
  return {
    name: names.caSecret(request),
    value: pem,
    tags: workloadTags(request),
    description: `Root CA of the mesh onboarding endpoint for workload ${workloadKey(request)}`,
    owner: request,
  };
}

/**
 * Checks the secret version the API stored the CA bundle in (`ref`): the secret exists, has this
 * workload's name and tags, is not scheduled for deletion, and still has that version (AWSCURRENT
 * or not: a later request may have stored a newer bundle since). Reads no secret value.
 * Not found yet → ResourceNotReadyError (read-after-write lag right after the API made it);
 * anything else wrong → ResourceConflictError saying what to do.
 */
export async function checkCaSecretVersion(ref: CaSecretRef, request: Pick<OnboardingRequest, 'workloadGroup' | 'ecs'>): Promise<EnsuredSecret> {
  const name = names.caSecret(request);
  const found = await describe(ref.arn);
  if (!found?.ARN) throw new ResourceNotReadyError(`Secrets Manager secret ${ref.arn} (where the API stored the CA bundle) is not found (yet)`);
  if (found.Name !== name) throw new ResourceConflictError(`Secrets Manager secret ${ref.arn} is "${found.Name}", not this workload's CA secret "${name}": submit the request through the API again`);
  assertOwnedByWorkload(found.Tags, request, `Secrets Manager secret "${name}"`, 'delete it or choose another workload name');
  if (found.DeletedDate !== undefined) {
    throw new ResourceConflictError(`Secrets Manager secret "${name}" is scheduled for deletion since the API stored the CA bundle in it: submit the request again (the API restores it)`);
  }
  if (!(await hasVersion(found, ref.versionId))) {
    throw new ResourceConflictError(`Secrets Manager secret "${name}" no longer has version ${ref.versionId}, where the API stored the CA bundle: submit the request again`);
  }
  // What the API's write did, as it reported it in the reference: the run's ledger says the secret was made or changed by this apply.
  return { secretName: name, secretArn: found.ARN, versionId: ref.versionId, created: ref.stored === 'created', updated: ref.stored === 'updated', restored: false };
}

/** DescribeSecret lists only versions with a staging label; a version that lost its label is found with IncludeDeprecated. */
async function hasVersion(found: DescribeSecretResponse, versionId: string): Promise<boolean> {
  if (found.VersionIdsToStages?.[versionId] !== undefined) return true;
  let NextToken: string | undefined;
  do {
    const page = await secrets().send(new ListSecretVersionIdsCommand({ SecretId: found.ARN, IncludeDeprecated: true, NextToken }));
    if (page.Versions?.some((v) => v.VersionId === versionId)) return true;
    NextToken = page.NextToken;
  } while (NextToken);
  return false;
}

/** deleteCaSecret: described by name like any of ours; deleted only when it carries our tag. */
export const CA_SECRET_DELETE_PERMISSIONS: StepPermissions = [
  { sid: 'FindCaSecret', actions: ['secretsmanager:DescribeSecret'], resources: [CA_SECRETS_ARN] },
  { sid: 'DeleteOurCaSecret', actions: ['secretsmanager:DeleteSecret'], resources: [CA_SECRETS_ARN], conditions: resourceTaggedByUs() },
];

/**
 * Deletes the workload's CA secret without a recovery window when it is this workload's. The
 * value is the onboarding endpoint's CA *certificate* (public material the user still holds in
 * the request), so a 7-30 day window would only keep the name taken; deleting it at once is what
 * "the teardown removed everything" means. Secrets Manager deletes asynchronously, and a repeat
 * of a forced delete does not fail
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html).
 */
export async function deleteCaSecret(name: string, owner: Pick<OnboardingRequest, 'workloadGroup'>): Promise<{ outcome: 'deleted' | 'not-found' } | { outcome: 'kept'; reason: string }> {
  const found = await describe(name);
  if (!found?.ARN) return { outcome: 'not-found' };
  try {
    assertOwnedByWorkload(found.Tags, owner, `Secrets Manager secret "${name}"`);
  } catch (e) {
    return { outcome: 'kept', reason: (e as Error).message };
  }
  try {
    await secrets().send(new DeleteSecretCommand({ SecretId: found.ARN, ForceDeleteWithoutRecovery: true }));
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return { outcome: 'not-found' };
    throw err;
  }
  return { outcome: 'deleted' };
}
