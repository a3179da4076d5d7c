/**
 * Execution ended: not a Task state but the target of an EventBridge rule on "Step Functions
 * Execution Status Change" events (FAILED, TIMED_OUT, ABORTED) of the onboarding (and
 * teardown) state machines. However a run ended, the workload's lock must not outlive it, and
 * a record still ONBOARDING for it must say it failed: a run that timed out, was aborted, failed
 * outside a Catch, or whose Record failure failed too, never reached its last state. The local
 * engine calls `executionEnded` with the same event when a run ends (local/engine/run-workflow.ts).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { sfn } from '#lib/clients.ts';
import { unwrapFailure } from '#lib/failure.ts';
import { logger, wrap } from '#lib/middleware.ts';
import { arnTemplate, type StepPermissions } from '#lib/permissions.ts';
import { eksClusterNetwork, NETWORK_READS } from '#lib/aws/network.ts';
import { NETWORK_LEASE_RELEASE_PERMISSIONS, releaseNetworkLeaseOf } from '#lib/network-lease.ts';
import { recordExecutionEnded, registryTable, releaseWorkloadLock, REGISTRY_WRITE_PERMISSIONS, type EndedOutcome } from '#lib/registry.ts';

export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';

/** The statuses the EventBridge rule forwards: every end but success (Record result frees the lock then). */
export const ENDED_WITHOUT_SUCCESS = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * The event's detail (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html).
 * `input` is left out (null, `inputDetails.included` false) when the escaped input and output
 * together exceed 248 KiB (EventBridge's event size); DescribeExecution then has it. `error` and
 * `cause` may be absent or null: a timed-out or aborted run has neither.
 */
export interface ExecutionStatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  startDate?: number;
  stopDate?: number | null;
  input?: string | null;
  inputDetails?: { included?: boolean } | null;
  output?: string | null;
  error?: string | null;
  cause?: string | null;
}

export type ExecutionStatusChangeEvent = EventBridgeEvent<typeof EXECUTION_STATUS_CHANGE, ExecutionStatusChangeDetail>;

export interface ExecutionEndedResult extends EndedOutcome {
  workload?: string;
  /** True when the ended execution still held its VPC's network lease and it was freed. */
  leaseReleased?: boolean;
}

/** `namespace/name` from an execution input: the API's request, `{request}` or a console user's plain request. */
export function workloadOfInput(input: string | null | undefined): string | undefined {
  if (!input) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(input);
  } catch {
    return undefined;
  }
  type Wg = { workloadGroup?: { namespace?: unknown; name?: unknown } };
  const o = (v ?? {}) as Wg & { request?: Wg; workload?: unknown };
  // A teardown's input names the workload as `namespace/name` (functions/lib/teardown.ts).
  if (typeof o.workload === 'string' && /^[a-z0-9-]+\/[a-z0-9-]+$/.test(o.workload)) return o.workload;
  const wg = o.workloadGroup ?? o.request?.workloadGroup;
  return typeof wg?.namespace === 'string' && typeof wg.name === 'string' ? `${wg.namespace}/${wg.name}` : undefined;
}

/** True for a dry run's input (`dryRun: true` in the request, plain or as `{request}`): it wrote nothing to repair. */
export function isDryRunInput(input: string | null | undefined): boolean {
  try {
    const v = JSON.parse(input ?? 'null') as { dryRun?: unknown; request?: { dryRun?: unknown } } | null;
    return v?.dryRun === true || v?.request?.dryRun === true;
  } catch {
    return false;
  }
}

/** The failure the registry records for a run that ended without recording it. */
export function failureOfEnded(d: ExecutionStatusChangeDetail): { step: string; error: string; cause: string } {
  const error = d.error || (d.status === 'TIMED_OUT' ? 'States.Timeout' : d.status === 'ABORTED' ? 'ExecutionAborted' : 'States.Runtime');
  // A Lambda error's cause carries its stack, an old branch failure its failure state: the user sees the step's message.
  const u = d.cause ? unwrapFailure({ step: '', error, cause: d.cause }) : undefined;
  const what = `the execution ${d.name} ended ${d.status} before recording its result`;
  return { step: u?.step || `Execution ${d.status.toLowerCase().replace('_', ' ')}`, error: u?.error ?? error, cause: u ? `${what}: ${u.cause}` : what };
}

/**
 * Frees the ended execution's lock on its workload, if it still holds it, and marks that
 * execution's record FAILED if it still says ONBOARDING. A success only frees a lock left
 * behind (the local engine reports every end; the rule on AWS forwards no success).
 */
export async function executionEnded(event: Pick<ExecutionStatusChangeEvent, 'detail'>): Promise<ExecutionEndedResult> {
  const d = event.detail;
  if (!registryTable() || d.status === 'RUNNING' || d.status === 'PENDING_REDRIVE') return { released: false, markedFailed: false };
  let input = d.input;
  if (!input && d.inputDetails?.included === false) input = (await sfn().send(new DescribeExecutionCommand({ executionArn: d.executionArn }))).input;
  const workload = workloadOfInput(input);
  // No workload: the input was no request, so Validate request failed before taking any lock. A dry run takes no lock, lease nor record.
  if (!workload || isDryRunInput(input)) return { released: false, markedFailed: false };
  const failure = d.status === 'SUCCEEDED' ? undefined : failureOfEnded(d);
  const outcome = failure ? await recordExecutionEnded(workload, { arn: d.executionArn, name: d.name }, failure) : { released: await releaseWorkloadLock(workload, d.name), markedFailed: false };
  const leaseReleased = failure ? await releaseLeaseOf(input, d.executionArn) : false;
  if (outcome.released || outcome.markedFailed || leaseReleased) logger.info('execution ended without its last state: registry repaired', { workload, executionId: d.executionArn, status: d.status, ...outcome, leaseReleased });
  return { workload, ...outcome, ...(leaseReleased ? { leaseReleased } : {}) };
}

/**
 * Frees the VPC's network lease (functions/lib/network-lease.ts) if the ended onboarding still
 * holds it: killed inside Ensure NAT gateway or Ensure task subnet, it never released it, and every
 * other run of the VPC would wait out its expiry. The VPC is the request's vpcId, else its EKS
 * cluster's; a teardown (input `{workload}`) takes no lease. Best effort: the expiry remains.
 */
async function releaseLeaseOf(input: string | null | undefined, executionArn: string): Promise<boolean> {
  type Net = { network?: { vpcId?: unknown; eksClusterName?: unknown } };
  let v: (Net & { request?: Net }) | null;
  try {
    v = JSON.parse(input ?? 'null') as (Net & { request?: Net }) | null;
  } catch {
    return false;
  }
  const network = v?.network ?? v?.request?.network;
  if (!network) return false;
  try {
    const vpcId = typeof network.vpcId === 'string' ? network.vpcId : typeof network.eksClusterName === 'string' ? (await eksClusterNetwork(network.eksClusterName)).vpcId : undefined;
    return vpcId ? await releaseNetworkLeaseOf(vpcId, executionArn) : false;
  } catch (err) {
    logger.warn('could not free the network lease of an ended execution: it expires by itself', { executionId: executionArn, error: (err as Error).message });
    return false;
  }
}

/**
 * The registry write (the lock and the ONBOARDING → FAILED record) and, when the event left the
 * input out, DescribeExecution of the onboarding machine's executions.
 */
export const permissions: StepPermissions = [
  ...REGISTRY_WRITE_PERMISSIONS,
  // The network lease an ended onboarding may still hold, found from its request's VPC (or its EKS cluster's).
  ...NETWORK_LEASE_RELEASE_PERMISSIONS,
  NETWORK_READS.eksClusterNetwork,
  // A teardown's input is a few bytes: EventBridge always includes it, so only onboarding executions are ever described.
  { sid: 'ReadEndedExecutionInput', actions: ['states:DescribeExecution'], resources: [arnTemplate('states', 'execution:${OnboardStateMachineName}:*')] },
];

export const handler = wrap('Execution ended', executionEnded);
