import type { NatGateway } from '@aws-sdk/client-ec2';
import { attachedInternetGatewayId, CHECK_GIVEN_SUBNET_PERMISSIONS, checkGivenPrivateSubnet, NETWORK_READS, ourFilters, vpcCidrs, vpcNatGateways } from '#lib/aws/network.ts';
import {
  CREATE_NAT_GATEWAY_PERMISSIONS,
  createNatGateway,
  DEAD_NAT_STATES,
  DESCRIBE_NAT_GATEWAY_PERMISSIONS,
  describeNatGateway,
  ensureNatElasticIp,
  NAT_ELASTIC_IP_PERMISSIONS,
  NAT_ROLES,
  natGatewayFailed,
  usableNatGateway,
  USABLE_NAT_GATEWAY_PERMISSIONS,
} from '#lib/aws/vpc-nat.ts';
import { ensureRouteTable, ensureTaggedSubnet, ROUTE_TABLE_PERMISSIONS, TAGGED_SUBNET_PERMISSIONS } from '#lib/aws/vpc-subnet.ts';
import { checkSubnetBlock, firstFreeSubnet } from '#lib/cidr.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { DEFAULTS } from '#lib/settings.ts';
import { NETWORK_LEASE_PERMISSIONS, withNetworkLease } from '#lib/network-lease.ts';
import { need } from '#lib/state.ts';
import type { LedgerEntry, NatGatewayResult, WorkflowState } from '#lib/workflow.ts';

/** Every resource this step finds or makes serves every workload of the VPC: the ledger says so (teardown of one workload keeps them). */
function result(nat: NatGateway, ledger: Omit<LedgerEntry, 'shared'>[]): NatGatewayResult {
  if (nat.State === 'failed' || nat.State === 'deleting' || nat.State === 'deleted') throw natGatewayFailed(nat, nat.NatGatewayId!);
  return { natGatewayId: nat.NatGatewayId!, state: nat.State === 'available' ? 'available' : 'pending', subnetId: nat.SubnetId!, ledger: ledger.map((e) => ({ ...e, shared: true })) };
}

/**
 * Ensure NAT gateway: one NAT gateway the task subnet can route through. Reuses an
 * available public one in the VPC (ours first), or our pending one; otherwise makes a public
 * subnet, its route table to the internet gateway, an Elastic IP and the NAT gateway.
 * With network.subnetIds, returns the NAT gateway the first of them already routes through.
 */
export async function ensureNatGateway(state: WorkflowState): Promise<NatGatewayResult> {
  const { request, network } = need(state, 'network');
  const vpcId = network.vpcId;

  // The given subnets are checked one by one by Resolve network and Ensure task subnet; the loop waits for the first one's NAT gateway.
  const firstGiven = request.network.subnetIds?.[0];
  if (firstGiven) {
    const given = await checkGivenPrivateSubnet(vpcId, firstGiven, 'network.subnetIds[0]');
    const nat = await describeNatGateway(given.natGatewayId);
    if (!nat) throw natGatewayFailed(undefined, given.natGatewayId);
    return result(nat, [{ kind: 'nat-gateway', id: given.natGatewayId, created: false }]);
  }

  if (request.network.natGateways === 'per-zone') return perZone(state.execution?.id, request, vpcId, network.zones);

  // Made at most once per VPC: only the run holding the VPC's network lease makes it; the others wait for it, then reuse it.
  return withNetworkLease(
    { vpcId, holder: state.execution?.id, what: 'The NAT gateway' },
    () => existingNatGateway(vpcId),
    () => makeNatGateway(request, vpcId, network.zones[0]),
  );
}

/** One NAT gateway of ours in each task zone (network.natGateways per-zone), each made under the VPC's network lease. */
async function perZone(holder: string | undefined, request: WorkflowState['request'], vpcId: string, zones: readonly string[]): Promise<NatGatewayResult> {
  const each: NatGatewayResult[] = [];
  for (const zone of zones) {
    each.push(
      await withNetworkLease(
        { vpcId, holder, what: `The NAT gateway of ${zone}` },
        () => existingNatGateway(vpcId, zone),
        () => makeNatGateway(request, vpcId, zone, true),
      ),
    );
  }
  const [first] = each;
  if (!first) throw new NetworkConfigurationError(`no zone was chosen for the task subnets of ${vpcId}, so no NAT gateway can be placed`);
  return {
    natGatewayId: first.natGatewayId,
    subnetId: first.subnetId,
    state: each.every((r) => r.state === 'available') ? 'available' : 'pending',
    zonal: each.map((r, i) => ({ zone: zones[i]!, natGatewayId: r.natGatewayId, subnetId: r.subnetId, state: r.state })),
    ledger: each.flatMap((r) => r.ledger),
  };
}

/** Our pending NAT gateways and dead ones (failed, deleting, deleted): the VPC's, or with `zone` that zone's own. */
const ourNatGateways = (vpcId: string, zone?: string) =>
  vpcNatGateways(vpcId, ['pending', ...DEAD_NAT_STATES], ourFilters({ role: NAT_ROLES.natGateway, ...(zone ? { name: names.natGateway(vpcId, zone) } : {}) }));

/**
 * A usable NAT gateway, or ours still coming up; throws when ours failed (it needs a person);
 * undefined when one must be made. With `zone`, only that zone's own NAT gateway counts.
 */
async function existingNatGateway(vpcId: string, zone?: string): Promise<NatGatewayResult | undefined> {
  if (zone) {
    const [own] = await vpcNatGateways(vpcId, ['available'], ourFilters({ role: NAT_ROLES.natGateway, name: names.natGateway(vpcId, zone) }));
    if (own) return result(own, [{ kind: 'nat-gateway', id: own.NatGatewayId!, created: false }]);
  } else {
    const reuse = await usableNatGateway(vpcId);
    if (reuse) return result(reuse, [{ kind: 'nat-gateway', id: reuse.NatGatewayId!, created: false }]);
  }
  // Never make a second one while ours is still coming up (or has failed and needs a person).
  const ours = await ourNatGateways(vpcId, zone);
  const pending = ours.find((n) => n.State === 'pending');
  if (pending) return result(pending, [{ kind: 'nat-gateway', id: pending.NatGatewayId!, created: false }]);
  const failed = ours.find((n) => n.State === 'failed');
  if (failed) throw natGatewayFailed(failed, failed.NatGatewayId!);
  return undefined;
}

/** The public subnet, its route table to the internet gateway, the Elastic IP and the NAT gateway, each found first. */
async function makeNatGateway(request: WorkflowState['request'], vpcId: string, zone: string | undefined, zonal = false): Promise<NatGatewayResult> {
  // The zone's own names (per-zone), or the VPC's (shared).
  const own = zonal ? zone : undefined;
  // Deleted ones (the user followed our failure message) give the new attempt a new ClientToken.
  const deadIds = (await ourNatGateways(vpcId, own)).filter((n) => n.State !== 'pending').map((n) => n.NatGatewayId!);

  const internetGatewayId = await attachedInternetGatewayId(vpcId);
  if (!internetGatewayId) {
    throw new NetworkConfigurationError(
      `VPC ${vpcId} has no internet gateway, and a NAT gateway needs one to reach the internet. ` +
        'Attach an internet gateway to the VPC, or give network.subnetIds of a private subnet that already routes 0.0.0.0/0 through a NAT gateway',
    );
  }

  const cidrs = await vpcCidrs(vpcId);
  const { subnet, created: subnetCreated } = await ensureTaggedSubnet({
    vpcId,
    name: names.natSubnet(vpcId, own),
    role: NAT_ROLES.subnet,
    chooseCidr: (existing) => {
      if (request.network.natSubnetCidr && !zonal) {
        checkSubnetBlock('network.natSubnetCidr', request.network.natSubnetCidr, cidrs, existing);
        return request.network.natSubnetCidr;
      }
      // Keep the blocks the user asked for the task subnets free.
      const used = [...existing.map((s) => s.cidr), ...(request.network.subnetCidrs ?? [])];
      return firstFreeSubnet(cidrs, used, DEFAULTS.autoSubnetPrefixLength);
    },
    // Per zone: its own zone; shared: the first task zone (the other zones' traffic crosses to it); AWS picks when there is none.
    chooseAz: (existing) => zone ?? existing[0]?.availabilityZone,
  });
  const rt = await ensureRouteTable({
    vpcId,
    name: names.natRouteTable(vpcId, own),
    role: NAT_ROLES.routeTable,
    subnetId: subnet.subnetId,
    target: { gatewayId: internetGatewayId },
  });
  const eip = await ensureNatElasticIp(vpcId, own);
  const { nat, created } = await createNatGateway(vpcId, subnet.subnetId, eip.allocationId, deadIds, own);
  return result(nat, [
    { kind: 'vpc-subnet', id: subnet.subnetId, created: subnetCreated },
    { kind: 'route-table', id: rt.routeTableId, created: rt.created },
    { kind: 'elastic-ip', id: eip.allocationId, created: eip.created },
    { kind: 'nat-gateway', id: nat.NatGatewayId!, created },
  ]);
}

export const permissions: StepPermissions = composePermissions(
  CHECK_GIVEN_SUBNET_PERMISSIONS,
  DESCRIBE_NAT_GATEWAY_PERMISSIONS,
  USABLE_NAT_GATEWAY_PERMISSIONS,
  NETWORK_READS.attachedInternetGatewayId,
  NETWORK_READS.vpcCidrs,
  TAGGED_SUBNET_PERMISSIONS,
  ROUTE_TABLE_PERMISSIONS,
  NAT_ELASTIC_IP_PERMISSIONS,
  CREATE_NAT_GATEWAY_PERMISSIONS,
  NETWORK_LEASE_PERMISSIONS,
);

export const handler = wrap('Ensure NAT gateway', ensureNatGateway);
