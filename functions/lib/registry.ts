/**
 * The workload registry: one DynamoDB item per onboarded workload (`namespace/name`), holding
 * the request without its CA bundle, the latest execution and its status, the ledger of what
 * was made or reused, and the last re-verification. The record steps and the re-verification
 * write it; the API lists onboardings from it. The same code runs on AWS and against the
 * emulator's DynamoDB in the local sandbox.
 */
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { documents } from './clients.ts';
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
export interface WorkloadLock {
  /** The execution's name (the API's execution id). */
  executionId: string;
  machine: 'onboard-workload' | 'offboard-workload';
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

/** Writes the workload's record for an execution that started (keeps its last verification). */
export async function recordStarted(request: WorkloadRequest, executionId: string, now = new Date()): Promise<void> {
  await upsert(request, { status: 'ONBOARDING', executionId, updatedAt: now.toISOString(), ledger: [] }, true);
}

export async function recordOnboarded(request: WorkloadRequest, executionId: string, ledger: LedgerEntry[], now = new Date()): Promise<void> {
  await upsert(request, { status: 'ONBOARDED', executionId, updatedAt: now.toISOString(), ledger }, true);
}

export async function recordFailed(request: WorkloadRequest, executionId: string, failure: NonNullable<WorkloadRecord['failure']>, ledger: LedgerEntry[], now = new Date()): Promise<void> {
  await upsert(request, { status: 'FAILED', executionId, updatedAt: now.toISOString(), ledger, failure }, false);
}

/** Sets every field given and keeps the rest (the verification survives a new onboarding); `clearFailure` removes an old failure. */
async function upsert(request: WorkloadRequest, fields: Omit<WorkloadRecord, 'workload' | 'request' | 'verification'>, clearFailure: boolean): Promise<void> {
  const values: Record<string, unknown> = { ...fields, request: withoutCa(request) };
  const names = Object.keys(values);
  await documents().send(
    new UpdateCommand({
      TableName: table(),
      Key: { [REGISTRY_KEY]: workloadKey(request) },
      UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}${clearFailure ? ' REMOVE #failure' : ''}`,
      ExpressionAttributeNames: Object.fromEntries([...names, ...(clearFailure ? ['failure'] : [])].map((n) => [`#${n}`, n])),
      ExpressionAttributeValues: Object.fromEntries(names.map((n) => [`:${n}`, values[n]])),
    }),
  );
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
    const holder = (await getWorkload(workload))?.lock;
    throw new WorkloadBusyError(
      `workload ${workload} is being changed by execution ${holder?.executionId ?? '(unknown)'}${holder ? ` (${holder.machine}, since ${holder.acquiredAt})` : ''}: one run per workload; wait for it to end, or stop it, then try again`,
      holder?.executionId,
    );
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
/** What a step that lists the registry needs. */
export const REGISTRY_LIST_PERMISSIONS: StepPermissions = [{ sid: 'ListWorkloadRegistry', actions: ['dynamodb:Scan'], resources: ['${RegistryTableArn}'] }];
