/**
 * A short lease on the shared network of one VPC (the NAT subnet, its route table, Elastic IP
 * and NAT gateway; the ECS clusters' task subnets and route tables), so that of many runs that
 * all find a piece missing, one makes it and the others use it. Without it, runs racing into one
 * VPC each make a NAT gateway (EC2 answers a repeated ClientToken with the first result only
 * once the first call is known everywhere, and moto ignores tokens) and trip over each other's
 * routes and associations.
 *
 * The lease is an item of the registry table keyed `lease#network#<vpcId>` (no `status`, so the
 * registry's list skips it), taken with a conditional write: free, expired, or already this
 * execution's (a retried step). Only the create path takes it, after its look-ups found
 * something missing; it looks again once it holds the lease (the previous holder may have made
 * it), and releases it at the end. A run that finds the lease held waits a little in-process
 * for the holder (its work takes seconds), looks again, and past its wait throws
 * ResourceNotReadyError naming the holder, which the state machine retries. The expiry (twice
 * a Task's timeout) frees a lease whose holder crashed. Without a registry table (unit tests,
 * steps run by hand) there is no lease.
 */
import { randomUUID } from 'node:crypto';
import { documents, DeleteCommand, GetCommand, PutCommand } from './clients/dynamodb.ts';
import { isAwsError, ResourceNotReadyError } from './errors.ts';
import type { StepPermissions } from './permissions.ts';
import { REGISTRY_KEY, registryTable } from './registry.ts';

/** Twice the Task states' TimeoutSeconds (60, statemachine/onboard-workload.ts): a crashed holder's lease frees itself. */
export const NETWORK_LEASE_SECONDS = 120;
/** How long a run waits in-process for another run's lease before it throws ResourceNotReadyError (well inside a step's Lambda timeout). */
export const NETWORK_LEASE_WAIT_MS = 15_000;

/** The lease's registry item key. */
export function networkLeaseKey(vpcId: string): string {
  return `lease#network#${vpcId}`;
}

/** Take, read (to name the holder) and release the lease item, on the registry table only. */
export const NETWORK_LEASE_PERMISSIONS: StepPermissions = [
  { sid: 'NetworkLease', actions: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem'], resources: ['${RegistryTableArn}'] },
];

interface LeaseItem {
  holder: string;
  acquiredAt: string;
  expiresAtMs: number;
}

export interface LeaseOptions {
  vpcId: string;
  /** The execution id (the same execution re-takes its own lease); a random id when the step runs outside one. */
  holder?: string;
  /** What the lease protects, for the message of a run that waits ("the NAT gateway"). */
  what: string;
  waitMs?: number;
  pollMs?: number;
  now?: () => number;
}

/** Takes the lease; returns undefined when taken, else the current holder. */
async function tryTake(table: string, key: string, holder: string, now: number): Promise<LeaseItem | undefined> {
  const item = { [REGISTRY_KEY]: key, holder, acquiredAt: new Date(now).toISOString(), expiresAtMs: now + NETWORK_LEASE_SECONDS * 1000 };
  try {
    await documents().send(
      new PutCommand({
        TableName: table,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#k) OR #h = :me OR #exp < :now',
        ExpressionAttributeNames: { '#k': REGISTRY_KEY, '#h': 'holder', '#exp': 'expiresAtMs' },
        ExpressionAttributeValues: { ':me': holder, ':now': now },
      }),
    );
    return undefined;
  } catch (e) {
    if (!isAwsError(e, 'ConditionalCheckFailedException')) throw e;
    const { Item } = await documents().send(new GetCommand({ TableName: table, Key: { [REGISTRY_KEY]: key }, ConsistentRead: true }));
    // Released between the two calls: report a holder-less lease, the caller simply tries again.
    return (Item as LeaseItem | undefined) ?? { holder: '(released)', acquiredAt: '', expiresAtMs: 0 };
  }
}

/** Deletes the lease if `holder` holds it; returns whether it did. */
async function release(table: string, key: string, holder: string): Promise<boolean> {
  try {
    await documents().send(
      new DeleteCommand({ TableName: table, Key: { [REGISTRY_KEY]: key }, ConditionExpression: '#h = :me', ExpressionAttributeNames: { '#h': 'holder' }, ExpressionAttributeValues: { ':me': holder } }),
    );
    return true;
  } catch (e) {
    // Expired and taken by another run meanwhile: it is theirs now.
    if (!isAwsError(e, 'ConditionalCheckFailedException')) throw e;
    return false;
  }
}

/**
 * Frees `vpcId`'s network lease if the execution `holder` (its ARN, as the steps pass it) still
 * holds it: called when an execution ended without its last state. A step killed while holding
 * the lease (a Lambda timed out or crashed, a local run aborted) never reaches its `finally`, and
 * the next run would otherwise wait out the expiry. Returns whether it freed one.
 */
export async function releaseNetworkLeaseOf(vpcId: string, holder: string): Promise<boolean> {
  const table = registryTable();
  return table ? release(table, networkLeaseKey(vpcId), holder) : false;
}

/** What releaseNetworkLeaseOf needs: the conditional delete of the lease item. */
export const NETWORK_LEASE_RELEASE_PERMISSIONS: StepPermissions = [{ sid: 'ReleaseNetworkLease', actions: ['dynamodb:DeleteItem'], resources: ['${RegistryTableArn}'] }];

/**
 * Runs `existing(false)` (read-only: the resources when they are all in place, else undefined;
 * it may answer from what Resolve network read); when something is missing, takes the VPC's
 * network lease, runs `existing(true)` (which must read AWS again: another run may have made it
 * since), and only if still missing runs `create`, then releases the lease. While another run
 * holds the lease, waits up to `waitMs` looking again (fresh), then throws ResourceNotReadyError
 * naming the holder. Without a registry table there is no lease, but still the fresh look.
 */
export async function withNetworkLease<T>(opts: LeaseOptions, existing: (fresh: boolean) => Promise<T | undefined>, create: () => Promise<T>): Promise<T> {
  const found = await existing(false);
  if (found !== undefined) return found;
  const table = registryTable();
  if (!table) return (await existing(true)) ?? (await create());

  const now = opts.now ?? Date.now;
  const holder = opts.holder ?? `run-${randomUUID()}`;
  const key = networkLeaseKey(opts.vpcId);
  const pollMs = opts.pollMs ?? 250;
  const deadline = now() + (opts.waitMs ?? NETWORK_LEASE_WAIT_MS);
  for (;;) {
    const other = await tryTake(table, key, holder, now());
    if (!other) {
      try {
        return (await existing(true)) ?? (await create());
      } finally {
        await release(table, key, holder);
      }
    }
    if (now() >= deadline) {
      throw new ResourceNotReadyError(
        `${opts.what} of ${opts.vpcId} is being made by execution ${other.holder} (network lease taken ${other.acquiredAt || 'just now'}, expiring ${other.expiresAtMs ? new Date(other.expiresAtMs).toISOString() : 'now'}); trying again`,
      );
    }
    // Jittered, so the runs that waited do not all look again at once.
    await new Promise((r) => setTimeout(r, pollMs / 2 + Math.random() * pollMs));
    const made = await existing(true);
    if (made !== undefined) return made;
  }
}
