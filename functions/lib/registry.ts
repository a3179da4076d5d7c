/**
 * The workload registry: one DynamoDB item per onboarded workload (`namespace/name`), holding
 * the request without its CA bundle, the latest execution and its status, the ledger of what
 * was made or reused, and the last re-verification. The record steps and the re-verification
 * write it; the API lists onboardings from it. The same code runs on AWS and against the
 * emulator's DynamoDB in the local sandbox.
 */
import { documents, GetCommand, PutCommand, ScanCommand, UpdateCommand } from './clients/dynamodb.ts';
import { isAwsError, WorkloadBusyError } from './errors.ts';
import type { WorkloadRequest } from './request.ts';
import type { StepPermissions } from './permissions.ts';
import { ENV } from './settings.ts';
import { workloadKey } from './tags.ts';
import type { LedgerEntry } from './workflow.ts';

/** The table's partition key (a string): the CDK table and the local one use this name. */
export const REGISTRY_KEY = 'workload';

export type WorkloadStatus = 'ONBOARDING' | 'ONBOARDED' | 'FAILED';

/** One finding of a re-verification: what no longer holds. */
export interface DriftFinding {
  /** A DriftKind of drift.ts: `service-missing`, `service-inactive`, `service-scaled-to-zero`, `tasks-below-desired`, `war-missing`, `agent-disconnected`. */
  kind: string;
  message: string;
  taskId?: string;
}

export interface Verification {
  at: string;
  ok: boolean;
  drift: DriftFinding[];
  executionId?: string;
  /** What is worth knowing but is not drift: no traffic in the window, a new task still registering. */
  notes?: string[];
  /** Requests the agent logged in the traffic window, when tasks run. */
  traffic?: { trafficSeen: boolean; inbound: number; outbound: number };
}

export interface WorkloadRecord {
  workload: string;
  /** The validated request without `rootCaPem`. */
  request: WorkloadRequest;
  status: WorkloadStatus;
  /** The latest onboarding execution (ARN on AWS, name locally). */
  executionId: string;
  updatedAt: string;
  /** What the latest execution made or reused. */
  ledger: LedgerEntry[];
  failure?: { step: string; error: string; cause: string };
  verification?: Verification;
  /** Present while an execution (onboarding or teardown) runs for the workload: one at a time. */
  lock?: WorkloadLock;
}

/**
 * The workload's lock: which execution may change the workload now. Taken with a conditional
 * write (by the API before it starts an execution, and again by the execution's first state,
 * which makes a console start safe too); released by the execution's last state or, however
 * else it ends (timed out, aborted, crashed), by the end-of-execution handler.
 */
/** The state machines whose executions hold a workload's lock (one run per workload). */
export const LOCK_MACHINES = ['onboard-workload', 'offboard-workload'] as const;

export interface WorkloadLock {
  /** The execution's name (the API's execution id). */
  executionId: string;
  machine: (typeof LOCK_MACHINES)[number];
  acquiredAt: string;
}

/** The table name, or undefined when this process has no registry (unit tests; the CDK construct always sets it). */
export function registryTable(): string | undefined {
  return process.env[ENV.registryTable] || undefined;
}

function table(): string {
  const name = registryTable();
  if (!name) throw new Error(`${ENV.registryTable} is not set: the registry table is unknown`);
  return name;
}

/** Drops a `rootCaPem` that might have come along, so the registry never holds the CA bundle. */
function withoutCa(request: WorkloadRequest): WorkloadRequest {
  const { rootCaPem: _drop, ...rest } = request as WorkloadRequest & { rootCaPem?: string };
  return rest;
}

/**
 * How a record write treats the workload's lock. `take`: the write also takes the lock (free,
 * already this execution's, or `takeOverFrom`'s), as Validate request's start does. `release`:
 * the write happens only while execution `release` (a name) holds the lock, and frees it in the
 * same write, as Record result and Record failure do; otherwise it throws WorkloadBusyError and
 * writes nothing, so a run that lost the lock never overwrites its holder's record. Neither: an
 * unconditional write (tests, sandbox seeding).
 */
export type LockUse = { take: WorkloadLock; takeOverFrom?: string } | { release: string } | Record<string, never>;

/** Writes the workload's record for an execution that started (keeps its last verification). */
export async function recordStarted(request: WorkloadRequest, executionId: string, now = new Date(), lock: LockUse = {}): Promise<void> {
  await upsert(request, { status: 'ONBOARDING', executionId, updatedAt: now.toISOString(), ledger: [] }, true, lock);
}

export async function recordOnboarded(request: WorkloadRequest, executionId: string, ledger: LedgerEntry[], now = new Date(), lock: LockUse = {}): Promise<void> {
  await upsert(request, { status: 'ONBOARDED', executionId, updatedAt: now.toISOString(), ledger }, true, lock);
}

export async function recordFailed(request: WorkloadRequest, executionId: string, failure: NonNullable<WorkloadRecord['failure']>, ledger: LedgerEntry[], now = new Date(), lock: LockUse = {}): Promise<void> {
  await upsert(request, { status: 'FAILED', executionId, updatedAt: now.toISOString(), ledger, failure }, false, lock);
}

/** Sets every field given and keeps the rest (the verification survives a new onboarding); `clearFailure` removes an old failure; `lock` makes it conditional on the lock. */
async function upsert(request: WorkloadRequest, fields: Omit<WorkloadRecord, 'workload' | 'request' | 'verification' | 'lock'>, clearFailure: boolean, lock: LockUse): Promise<void> {
  const values: Record<string, unknown> = { ...fields, request: withoutCa(request), ...('take' in lock ? { lock: lock.take } : {}) };
  const names = Object.keys(values);
  const removed = [...(clearFailure ? ['failure'] : []), ...('release' in lock ? ['lock'] : [])];
  const holder = 'take' in lock ? lock.take.executionId : 'release' in lock ? lock.release : undefined;
  const condition =
    'take' in lock
      ? `attribute_not_exists(#lock) OR #lock.#executionId = :holder${lock.takeOverFrom ? ' OR #lock.#executionId = :stale' : ''}`
      : 'release' in lock
        ? '#lock.#executionId = :holder'
        : undefined;
  const workload = workloadKey(request);
  try {
    await documents().send(
      new UpdateCommand({
        TableName: table(),
        Key: { [REGISTRY_KEY]: workload },
        UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}${removed.length > 0 ? ` REMOVE ${removed.map((n) => `#${n}`).join(', ')}` : ''}`,
        ...(condition ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: Object.fromEntries([...new Set([...names, ...removed, ...(condition ? ['lock'] : [])])].map((n) => [`#${n}`, n])),
        ExpressionAttributeValues: {
          ...Object.fromEntries(names.map((n) => [`:${n}`, values[n]])),
          ...(holder !== undefined ? { ':holder': holder } : {}),
          ...('take' in lock && lock.takeOverFrom ? { ':stale': lock.takeOverFrom } : {}),
        },
      }),
    );
  } catch (err) {
    if (condition && isAwsError(err, 'ConditionalCheckFailedException')) throw await busy(workload, 'release' in lock ? lock.release : undefined);
    throw err;
  }
}

/**
 * WorkloadBusyError naming the lock's holder as the registry has it now; for `lost` (an
 * execution whose end-of-run write found the lock gone or another's), without a read.
 */
async function busy(workload: string, lost?: string): Promise<WorkloadBusyError> {
  if (lost) return new WorkloadBusyError(`execution ${lost} no longer holds the lock of workload ${workload}: the record is left as the lock's holder wrote it`);
  const holder = (await getWorkload(workload))?.lock;
  const by = holder ? `execution ${holder.executionId} (${holder.machine}, since ${holder.acquiredAt})` : 'another execution';
  return new WorkloadBusyError(`workload ${workload} is being changed by ${by}: one run per workload; wait for it to end, or stop it, then try again`, holder?.executionId);
}

/** The execution's name (what a lock holds) from its ARN (`$$.Execution.Id`); a bare name is returned as it is. */
export function executionNameOf(idOrArn: string): string {
  return idOrArn.startsWith('arn:') ? idOrArn.slice(idOrArn.lastIndexOf(':') + 1) : idOrArn;
}

/**
 * Takes the workload's lock for `lock.executionId`: succeeds when the lock is free or already
 * held by that execution (a retried first state, the API then the execution itself), or held by
 * `takeOverFrom` (an execution the caller has seen end without releasing it). Otherwise throws
 * WorkloadBusyError naming the holder. Creates the record's key when the workload is new.
 */
export async function acquireWorkloadLock(workload: string, lock: WorkloadLock, opts: { takeOverFrom?: string } = {}): Promise<void> {
  try {
    await documents().send(
      new UpdateCommand({
        TableName: table(),
        Key: { [REGISTRY_KEY]: workload },
        UpdateExpression: 'SET #lock = :lock',
        ConditionExpression: `attribute_not_exists(#lock) OR #lock.#id = :id${opts.takeOverFrom ? ' OR #lock.#id = :stale' : ''}`,
        ExpressionAttributeNames: { '#lock': 'lock', '#id': 'executionId' },
        ExpressionAttributeValues: { ':lock': lock, ':id': lock.executionId, ...(opts.takeOverFrom ? { ':stale': opts.takeOverFrom } : {}) },
      }),
    );
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    throw await busy(workload);
  }
}

/** Releases the lock if `executionId` holds it; returns whether it did (false: free, or another execution's). */
export async function releaseWorkloadLock(workload: string, executionId: string): Promise<boolean> {
  try {
    await documents().send(
      new UpdateCommand({
        TableName: table(),
        Key: { [REGISTRY_KEY]: workload },
        UpdateExpression: 'REMOVE #lock',
        ConditionExpression: '#lock.#id = :id',
        ExpressionAttributeNames: { '#lock': 'lock', '#id': 'executionId' },
        ExpressionAttributeValues: { ':id': executionId },
      }),
    );
    return true;
  } catch (err) {
    if (isAwsError(err, 'ConditionalCheckFailedException')) return false;
    throw err;
  }
}

/** What recordExecutionEnded did: freed the execution's lock, and/or turned its ONBOARDING record into FAILED. */
export interface EndedOutcome {
  released: boolean;
  markedFailed: boolean;
}

/**
 * After an execution ended without its last state (timed out, aborted, failed outside a Catch,
 * or Record failure failed too): in one conditional write, the record of that execution still
 * ONBOARDING becomes FAILED with `failure` and its lock (if it still holds it) is freed;
 * otherwise only the lock is freed, if that execution holds it. A record another execution
 * wrote, or a lock another holds, is never touched.
 */
export async function recordExecutionEnded(
  workload: string,
  execution: { arn: string; name: string },
  failure: NonNullable<WorkloadRecord['failure']>,
  now = new Date(),
): Promise<EndedOutcome> {
  try {
    const out = await documents().send(
      new UpdateCommand({
        TableName: table(),
        Key: { [REGISTRY_KEY]: workload },
        UpdateExpression: 'SET #status = :failed, #failure = :failure, #updatedAt = :now REMOVE #lock',
        ConditionExpression: '#status = :onboarding AND #executionId = :arn AND (attribute_not_exists(#lock) OR #lock.#executionId = :name)',
        ExpressionAttributeNames: { '#status': 'status', '#failure': 'failure', '#updatedAt': 'updatedAt', '#lock': 'lock', '#executionId': 'executionId' },
        ExpressionAttributeValues: { ':failed': 'FAILED', ':onboarding': 'ONBOARDING', ':failure': failure, ':now': now.toISOString(), ':arn': execution.arn, ':name': execution.name },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return { released: (out.Attributes as Partial<WorkloadRecord> | undefined)?.lock !== undefined, markedFailed: true };
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
  }
  return { released: await releaseWorkloadLock(workload, execution.name), markedFailed: false };
}

/** Stores a re-verification's result on an existing record (never creates one). */
export async function recordVerification(workload: string, verification: Verification): Promise<void> {
  await documents().send(
    new UpdateCommand({
      TableName: table(),
      Key: { [REGISTRY_KEY]: workload },
      UpdateExpression: 'SET #v = :v',
      ConditionExpression: 'attribute_exists(#k)',
      ExpressionAttributeNames: { '#v': 'verification', '#k': REGISTRY_KEY },
      ExpressionAttributeValues: { ':v': verification },
    }),
  );
}

export async function getWorkload(workload: string): Promise<WorkloadRecord | undefined> {
  const out = await documents().send(new GetCommand({ TableName: table(), Key: { [REGISTRY_KEY]: workload }, ConsistentRead: true }));
  return out.Item as WorkloadRecord | undefined;
}

/**
 * One page of workloads. A Scan: the registry holds one item per workload (thousands at
 * most), read by the API's list and the hourly re-verification; `nextToken` is opaque.
 */
export async function listWorkloads(opts: { limit?: number; nextToken?: string } = {}): Promise<{ items: WorkloadRecord[]; nextToken?: string }> {
  const start = opts.nextToken ? (JSON.parse(Buffer.from(opts.nextToken, 'base64url').toString('utf8')) as Record<string, unknown>) : undefined;
  const out = await documents().send(new ScanCommand({ TableName: table(), Limit: opts.limit ?? 100, ExclusiveStartKey: start }));
  // A workload whose first execution holds the lock but has not recorded its start yet has no status: not listed until it does.
  const items = ((out.Items ?? []) as WorkloadRecord[]).filter((i) => i.status !== undefined);
  return { items, ...(out.LastEvaluatedKey ? { nextToken: Buffer.from(JSON.stringify(out.LastEvaluatedKey)).toString('base64url') } : {}) };
}

/** Test and sandbox helper: writes a whole record as given. */
export async function putWorkloadRecord(record: WorkloadRecord): Promise<void> {
  await documents().send(new PutCommand({ TableName: table(), Item: record }));
}

/** What a step that writes the registry needs. */
export const REGISTRY_WRITE_PERMISSIONS: StepPermissions = [{ sid: 'WriteWorkloadRegistry', actions: ['dynamodb:UpdateItem'], resources: ['${RegistryTableArn}'] }];
/** What a step that reads one record needs (a lock's holder, when the lock is refused). */
export const REGISTRY_READ_PERMISSIONS: StepPermissions = [{ sid: 'ReadWorkloadRecord', actions: ['dynamodb:GetItem'], resources: ['${RegistryTableArn}'] }];
/** What a step that lists the registry needs. */
export const REGISTRY_LIST_PERMISSIONS: StepPermissions = [{ sid: 'ListWorkloadRegistry', actions: ['dynamodb:Scan'], resources: ['${RegistryTableArn}'] }];
