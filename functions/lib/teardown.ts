/**
 * The teardown (offboarding) workflow's data and the registry reads and writes only it makes.
 * Its state carries `request` (the registry's copy of the workload's validated request),
 * `execution` and `target` (set by Start teardown), then one key per step, each with a
 * `ledger` of what the step deleted, kept or did not find. Every step looks up what is still
 * there (by the record's ledger and by this tool's tags), so a run interrupted anywhere and
 * started again finishes the job: NotFound is "done".
 */
import * as z from 'zod';
import { documents, DeleteCommand, ScanCommand } from './clients/dynamodb.ts';
import { InvalidRequestError, isAwsError, WorkloadBusyError, type Problem } from './errors.ts';
import type { StepPermissions } from './permissions.ts';
import { getWorkload, REGISTRY_KEY, type WorkloadRecord } from './registry.ts';
import type { WorkloadRequest } from './request.ts';
import { ENV } from './settings.ts';
import type { LedgerEntry, ResourceKind } from './workflow.ts';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
const WORKLOAD = new RegExp(`^${DNS1123_LABEL}/${DNS1123_LABEL}$`);

/**
 * The teardown's input: which workload, and whether its log group stays. Marked pure so the
 * teardown steps that never parse it (all but Start teardown) bundle no zod.
 */
export const TeardownInputSchema = /* @__PURE__ */ z.strictObject({
  workload: /* @__PURE__ */ z.string().regex(WORKLOAD, 'must be "<namespace>/<name>", both DNS-1123 labels (the WorkloadGroup of the onboarding)'),
  retainLogs: /* @__PURE__ */ z.boolean().default(false),
});
export type TeardownInput = z.infer<typeof TeardownInputSchema>;

/** Parses the teardown input or throws InvalidRequestError naming every problem with its path. */
export function parseTeardownInput(input: unknown): TeardownInput {
  const r = TeardownInputSchema.safeParse(input);
  if (r.success) return r.data;
  const problems: Problem[] = r.error.issues.map((i) => ({
    path: `$${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`,
    message: i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message,
  }));
  throw new InvalidRequestError(problems);
}

/** What happened to one resource. `retained`: kept on purpose (retainLogs); `kept`: not ours to delete, or still used. */
export type TeardownOutcome = 'deleted' | 'kept' | 'not-found' | 'retained';

export interface TeardownEntry {
  kind: ResourceKind;
  id: string;
  outcome: TeardownOutcome;
  /** Why it was kept (shared and still used, not made by this tool, ...). */
  reason?: string;
  shared?: boolean;
}

export interface TeardownStepResult {
  ledger: TeardownEntry[];
}

/** Set by Start teardown: the workload and what its registry record says was made or reused. */
export interface TeardownTarget {
  workload: string;
  retainLogs: boolean;
  /** The registry record's ledger (the latest onboarding's). */
  recorded: LedgerEntry[];
  /** The workload's VPC, when it could be told (request, EKS cluster, or the recorded resources). */
  vpcId?: string;
  eksClusterSecurityGroupId?: string;
}

export interface DrainResult {
  /** True once no task of the service is running any more (or there is no service of ours). */
  stopped: boolean;
  running: number;
  status: string;
  poll?: import('./poll.ts').Poll;
}

export interface NatDeletionResult extends TeardownStepResult {
  /** True once every NAT gateway this step deletes is `deleted` (or none was to be deleted). */
  done: boolean;
  /** The NAT gateways being deleted. */
  deleting: string[];
  poll?: import('./poll.ts').Poll;
}

/** The teardown workflow's state as it grows. */
export interface TeardownState {
  request: WorkloadRequest;
  execution: { id: string };
  target: TeardownTarget;
  /** `status`: `ours` (services scaled down), `foreign` (only others' of the name), `absent`; `services`: ours, by name. */
  scaleDown?: TeardownStepResult & { status: string; services?: string[] };
  drain?: DrainResult;
  service?: TeardownStepResult;
  taskDefinitions?: TeardownStepResult;
  roles?: TeardownStepResult;
  caSecret?: TeardownStepResult;
  logGroup?: TeardownStepResult;
  eksIngress?: TeardownStepResult;
  securityGroup?: TeardownStepResult;
  taskSubnets?: TeardownStepResult;
  natGateway?: NatDeletionResult;
  natNetwork?: TeardownStepResult;
  cluster?: TeardownStepResult;
}

/** The state keys whose results carry a ledger, in workflow order (Finish teardown reads them all). */
export const TEARDOWN_LEDGER_KEYS = ['scaleDown', 'service', 'taskDefinitions', 'roles', 'caSecret', 'logGroup', 'eksIngress', 'securityGroup', 'taskSubnets', 'natGateway', 'natNetwork', 'cluster'] as const;

/** The execution's name: the last `:` segment of `$$.Execution.Id` (the API's execution id). */
export function executionNameOfId(id: string): string {
  return id.slice(id.lastIndexOf(':') + 1);
}

/** The workflow state with its start keys checked (a step started by hand with a partial input gets a clear error). */
export function teardownState(state: Partial<TeardownState>): TeardownState {
  const missing = (['request', 'execution', 'target'] as const).filter((k) => state[k] === undefined);
  if (missing.length > 0) throw new InvalidRequestError(missing.map((k) => ({ path: `$.${k}`, message: 'is required: Start teardown sets it' })));
  return state as TeardownState;
}

// ---- the registry ------------------------------------------------------------

function table(): string {
  const name = process.env[ENV.registryTable];
  if (!name) throw new Error(`${ENV.registryTable} is not set: the registry table is unknown`);
  return name;
}

/** Every other workload's record that has a request (the ones that may share a cluster or VPC). */
export async function otherWorkloads(workload: string): Promise<WorkloadRecord[]> {
  const out: WorkloadRecord[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents().send(new ScanCommand({ TableName: table(), ExclusiveStartKey: start, ConsistentRead: true }));
    for (const item of (page.Items ?? []) as WorkloadRecord[]) if (item.workload !== workload && item.request) out.push(item);
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

/** The workloads of `others` that use the ECS cluster `cluster`. */
export function clusterUsers(others: readonly WorkloadRecord[], cluster: string): string[] {
  return others.filter((r) => r.request.ecs.cluster === cluster).map((r) => r.workload);
}

/**
 * The workloads of `others` that use the VPC: their request names it (or the same EKS cluster,
 * whose VPC it is), or their ledger names one of `ids` (the shared resources found).
 */
export function vpcUsers(others: readonly WorkloadRecord[], vpc: { vpcId?: string; eksClusterName?: string; ids: readonly string[] }): string[] {
  return others
    .filter((r) => {
      const n = r.request.network;
      if (vpc.vpcId && n.vpcId === vpc.vpcId) return true;
      if (vpc.eksClusterName && n.eksClusterName === vpc.eksClusterName) return true;
      return (r.ledger ?? []).some((e) => vpc.ids.includes(e.id));
    })
    .map((r) => r.workload);
}

/**
 * Deletes the workload's record while `executionId` holds its lock: afterwards the workload is
 * unknown. Returns false when it was already gone (a retried last state).
 */
export async function deleteWorkloadRecord(workload: string, executionId: string): Promise<boolean> {
  try {
    await documents().send(
      new DeleteCommand({
        TableName: table(),
        Key: { [REGISTRY_KEY]: workload },
        ConditionExpression: '#lock.#id = :id',
        ExpressionAttributeNames: { '#lock': 'lock', '#id': 'executionId' },
        ExpressionAttributeValues: { ':id': executionId },
      }),
    );
    return true;
  } catch (err) {
    if (!isAwsError(err, 'ConditionalCheckFailedException')) throw err;
    const now = await getWorkload(workload);
    if (!now) return false;
    throw new WorkloadBusyError(
      `workload ${workload}'s record is locked by ${now.lock ? `execution ${now.lock.executionId} (${now.lock.machine})` : 'no execution'}, not this teardown (${executionId}): its record is left as it is; run the teardown again once that execution ended`,
      now.lock?.executionId,
    );
  }
}

export const REGISTRY_READ_PERMISSIONS: StepPermissions = [{ sid: 'ReadWorkloadRecord', actions: ['dynamodb:GetItem'], resources: ['${RegistryTableArn}'] }];
export const REGISTRY_DELETE_PERMISSIONS: StepPermissions = [{ sid: 'DeleteWorkloadRecord', actions: ['dynamodb:DeleteItem'], resources: ['${RegistryTableArn}'] }];

/** One entry. */
export function entry(kind: ResourceKind, id: string, outcome: TeardownOutcome, extra: { reason?: string; shared?: boolean } = {}): TeardownEntry {
  return { kind, id, outcome, ...(extra.reason ? { reason: extra.reason } : {}), ...(extra.shared ? { shared: true } : {}) };
}

/** The ids of the recorded ledger's entries of `kind`. */
export function recordedIds(target: TeardownTarget, kind: ResourceKind): string[] {
  return [...new Set(target.recorded.filter((e) => e.kind === kind).map((e) => e.id))];
}
