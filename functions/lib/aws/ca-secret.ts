import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type DescribeSecretResponse,
} from '@aws-sdk/client-secrets-manager';
import { secrets } from '../clients.ts';
import { isAwsError, ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { isManagedByUs, type Tag } from '../tags.ts';

export interface CaSecretSpec {
  name: string;
  /** The PEM bundle. Never put it in a message, log line or result. */
  value: string;
  tags: Tag[];
  description: string;
}

export interface EnsuredSecret {
  secretName: string;
  secretArn: string;
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
 * Finds the secret by name or creates it holding `value`. An existing secret must carry
 * our managed-by tag; one scheduled for deletion is restored; the value is rewritten
 * only when it differs.
 */
export async function ensureCaSecret(spec: CaSecretSpec): Promise<EnsuredSecret> {
  let found = await describe(spec.name);
  if (!found) {
    try {
      const made = await secrets().send(new CreateSecretCommand({ Name: spec.name, SecretString: spec.value, Description: spec.description, Tags: spec.tags }));
      if (!made.ARN) throw new Error(`CreateSecret returned no ARN for ${spec.name}`);
      return { secretName: spec.name, secretArn: made.ARN, created: true, updated: false, restored: false };
    } catch (err) {
      // Another run created it between our DescribeSecret and CreateSecret: check it like any existing secret.
      if (!isAwsError(err, 'ResourceExistsException')) throw err;
      found = await describe(spec.name);
      // The other run's secret is not readable yet (eventual consistency): the next attempt finds it.
      if (!found) throw new ResourceNotReadyError(`Secrets Manager secret "${spec.name}" already exists but DescribeSecret does not find it yet`, { cause: err });
    }
  }
  if (!found.ARN) throw new Error(`DescribeSecret returned no ARN for ${spec.name}`);
  if (!isManagedByUs(found.Tags)) {
    throw new ResourceConflictError(`Secrets Manager secret "${spec.name}" exists but was not made by this tool (no managed-by tag); delete it or choose another workload name`);
  }
  const arn = found.ARN;
  const restored = found.DeletedDate !== undefined;
  // A secret pending deletion cannot be read or written until it is restored.
  if (restored) await secrets().send(new RestoreSecretCommand({ SecretId: arn }));
  const current = await currentValue(arn);
  if (current === spec.value) return { secretName: spec.name, secretArn: arn, created: false, updated: false, restored };
  await secrets().send(new PutSecretValueCommand({ SecretId: arn, SecretString: spec.value }));
  return { secretName: spec.name, secretArn: arn, created: false, updated: true, restored };
}

async function currentValue(arn: string): Promise<string | undefined> {
  try {
    return (await secrets().send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } catch (err) {
    // A secret made without a value (e.g. by a failed earlier create) has no AWSCURRENT version.
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}
