import { DESCRIBE_NAT_GATEWAY_PERMISSIONS, describeNatGateway, natGatewayFailed } from '#lib/aws/vpc-nat.ts';
import { ResourceNotReadyError, WaitDeadlineExceededError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { nextPoll, pastDeadline } from '#lib/poll.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { READINESS } from '#lib/settings.ts';
import { effectiveTimeouts } from '#lib/request-defaults.ts';
import { need } from '#lib/state.ts';
import type { NatGatewayResult, WorkflowState, ZonalNatGateway } from '#lib/workflow.ts';

/** How long after the first check a NAT gateway this run made may still be missing from DescribeNatGateways. */
export const NOT_FOUND_GRACE_SECONDS = 120;

/** True when this run made the NAT gateway and the first checks are still within the grace period. */
function justCreated(natGateway: NatGatewayResult, now = Date.now()): boolean {
  const ours = natGateway.ledger.some((e) => e.kind === 'nat-gateway' && e.id === natGateway.natGatewayId && e.created);
  return ours && (!natGateway.poll || now - Date.parse(natGateway.poll.startedAt) < NOT_FOUND_GRACE_SECONDS * 1000);
}

/**
 * Check NAT gateway: one turn of the wait loop. Returns the NAT gateway result (ledger
 * kept) with state `available`, or `pending` with the next poll; throws when it failed
 * or the deadline (timeouts.natGatewaySeconds) has passed. A NAT gateway made moments ago
 * that AWS does not list yet is ResourceNotReadyError (eventual consistency), not deleted.
 */
export async function checkNatGateway(state: WorkflowState): Promise<NatGatewayResult> {
  const { request, natGateway } = need(state, 'natGateway');
  if (natGateway.zonal) return checkZonal(request, natGateway, natGateway.zonal);
  const nat = await describeNatGateway(natGateway.natGatewayId);
  if (!nat && justCreated(natGateway)) {
    throw new ResourceNotReadyError(`NAT gateway ${natGateway.natGatewayId} was just created and DescribeNatGateways does not show it yet`);
  }
  if (nat?.State === 'available') return { ...natGateway, state: 'available' };
  if (nat?.State !== 'pending') throw natGatewayFailed(nat, natGateway.natGatewayId);
  if (natGateway.poll && pastDeadline(natGateway.poll)) {
    throw new WaitDeadlineExceededError(
      `NAT gateway ${natGateway.natGatewayId} is still ${nat.State} after ${effectiveTimeouts(request).natGatewaySeconds} s (deadline ${natGateway.poll.deadline}, ${natGateway.poll.attempt} checks); ` +
        'look at it in the VPC console, or raise timeouts.natGatewaySeconds and run again',
    );
  }
  return { ...natGateway, state: 'pending', poll: nextPoll(natGateway.poll, effectiveTimeouts(request).natGatewaySeconds, new Date(), READINESS.natGateway) };
}

/** Per-zone NAT gateways: `available` once every one is; a failed one fails the run; the same deadline for all. */
async function checkZonal(request: WorkflowState['request'], natGateway: NatGatewayResult, zonal: ZonalNatGateway[]): Promise<NatGatewayResult> {
  const now: ZonalNatGateway[] = [];
  for (const z of zonal) {
    const nat = await describeNatGateway(z.natGatewayId);
    if (!nat && justCreated({ ...natGateway, natGatewayId: z.natGatewayId })) {
      throw new ResourceNotReadyError(`NAT gateway ${z.natGatewayId} (${z.zone}) was just created and DescribeNatGateways does not show it yet`);
    }
    if (nat?.State !== 'available' && nat?.State !== 'pending') throw natGatewayFailed(nat, z.natGatewayId);
    now.push({ ...z, state: nat.State });
  }
  if (now.every((z) => z.state === 'available')) return { ...natGateway, state: 'available', zonal: now };
  const waiting = now.filter((z) => z.state !== 'available').map((z) => `${z.natGatewayId} (${z.zone})`);
  if (natGateway.poll && pastDeadline(natGateway.poll)) {
    throw new WaitDeadlineExceededError(
      `NAT gateway(s) ${waiting.join(', ')} still pending after ${effectiveTimeouts(request).natGatewaySeconds} s (deadline ${natGateway.poll.deadline}); look at them in the VPC console, or raise timeouts.natGatewaySeconds and run again`,
    );
  }
  return { ...natGateway, state: 'pending', zonal: now, poll: nextPoll(natGateway.poll, effectiveTimeouts(request).natGatewaySeconds, new Date(), READINESS.natGateway) };
}

export const permissions: StepPermissions = DESCRIBE_NAT_GATEWAY_PERMISSIONS;

export const handler = wrap('Check NAT gateway', checkNatGateway);
