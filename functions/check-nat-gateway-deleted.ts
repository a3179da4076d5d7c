import { DESCRIBE_NAT_GATEWAY_PERMISSIONS, describeNatGateway } from '#lib/aws/vpc-nat.ts';
import { WaitDeadlineExceededError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import { effectiveTimeouts } from '#lib/request-defaults.ts';
import { teardownState, type NatDeletionResult, type TeardownState } from '#lib/teardown.ts';

/**
 * Check NAT gateway deleted: one turn of the wait for the NAT gateways being deleted to reach
 * `deleted` (AWS frees their Elastic IPs only then). Bounded by timeouts.natGatewaySeconds of
 * the workload's request (default 10 minutes).
 */
export async function checkNatGatewayDeleted(state: Partial<TeardownState>): Promise<NatDeletionResult> {
  const s = teardownState(state);
  const nat = s.natGateway ?? { done: true, deleting: [], ledger: [] };
  const left: string[] = [];
  for (const id of nat.deleting) {
    const n = await describeNatGateway(id);
    if (n && n.State !== 'deleted') left.push(`${id} (${n.State})`);
  }
  if (left.length === 0) return { ...nat, done: true };
  const seconds = effectiveTimeouts(s.request).natGatewaySeconds;
  if (nat.poll && pastDeadline(nat.poll)) {
    throw new WaitDeadlineExceededError(`NAT gateway(s) ${left.join(', ')} not deleted after ${seconds} s; look at them in the VPC console and run the teardown again`);
  }
  return { ...nat, done: false, poll: nextPoll(nat.poll, seconds) };
}

export const permissions: StepPermissions = DESCRIBE_NAT_GATEWAY_PERMISSIONS;

export const handler = wrap('Check NAT gateway deleted', checkNatGatewayDeleted);
