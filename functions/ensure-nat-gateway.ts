import type { NatGateway } from '@aws-sdk/client-ec2';
import { CHECK_GIVEN_SUBNET_PERMISSIONS, checkGivenPrivateSubnet, VpcView } from '#lib/aws/network.ts';
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
  planNatElasticIp,
  usableNatGateway,
  USABLE_NAT_GATEWAY_PERMISSIONS,
} from '#lib/aws/vpc-nat.ts';
import {
  ensureRouteTable,
  ensureTaggedSubnet,
  planRouteTable,
  planTaggedSubnet,
  ROUTE_TABLE_PERMISSIONS,
  TAGGED_SUBNET_PERMISSIONS,
  type RouteTableSpec,
  type TaggedSubnetSpec,
} from '#lib/aws/vpc-subnet.ts';
import { checkSubnetBlock, firstFreeSubnet } from '#lib/cidr.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { DEFAULTS, TAG_ROLE } from '#lib/settings.ts';
import { NETWORK_LEASE_PERMISSIONS, withNetworkLease } from '#lib/network-lease.ts';
import { plannedId, type PlanEntry, type PlanProblem } from '#lib/plan.ts';
import { need } from '#lib/state.ts';
import { isManagedByUs, tagValue } from '#lib/tags.ts';
import type { LedgerEntry, NatGatewayResult, NetworkResult, SubnetInfo, WorkflowState } from '#lib/workflow.ts';

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

  // Decided from what Resolve network read; read again (refresh) under the lease before anything is made.
  const view = new VpcView(vpcId, network.seen);
  const look = (zone?: string) => (fresh: boolean) => {
    if (fresh) view.refresh();
    return existingNatGateway(view, zone);
  };
  if (request.network.natGateways === 'per-zone') return perZone(state.execution?.id, request, network, view, look);

  // Made at most once per VPC: only the run holding the VPC's network lease makes it; the others wait for it, then reuse it.
  return withNetworkLease({ vpcId, holder: state.execution?.id, what: 'The NAT gateway' }, look(), () => makeNatGateway(request, network, view, network.zones[0]));
}

/** One NAT gateway of ours in each task zone (network.natGateways per-zone), each made under the VPC's network lease. */
async function perZone(
  holder: string | undefined,
  request: WorkflowState['request'],
  network: NetworkResult,
  view: VpcView,
  look: (zone?: string) => (fresh: boolean) => Promise<NatGatewayResult | undefined>,
): Promise<NatGatewayResult> {
  const { vpcId, zones } = network;
  const each: NatGatewayResult[] = [];
  for (const zone of zones) {
    each.push(await withNetworkLease({ vpcId, holder, what: `The NAT gateway of ${zone}` }, look(zone), () => makeNatGateway(request, network, view, zone, true)));
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

/** Our NAT gateways in `states`: the VPC's, or with `zone` that zone's own (told apart by its Name). */
async function ourNatGateways(view: VpcView, states: readonly string[], zone?: string): Promise<NatGateway[]> {
  return (await view.natGateways()).filter(
    (n) =>
      states.includes(n.State ?? '') &&
      isManagedByUs(n.Tags) &&
      tagValue(n.Tags, TAG_ROLE) === NAT_ROLES.natGateway &&
      (!zone || tagValue(n.Tags, 'Name') === names.natGateway(view.vpcId, zone)),
  );
}

/**
 * Read-only, the decision of both the apply and the dry run: a usable NAT gateway, or ours
 * still coming up (`nat`); ours that failed (`failed`: it needs a person); neither when one must
 * be made. With `zone`, only that zone's own NAT gateway counts.
 */
async function foundNatGateway(view: VpcView, zone?: string): Promise<{ nat?: NatGateway; failed?: NatGateway }> {
  if (zone) {
    const [own] = await ourNatGateways(view, ['available'], zone);
    if (own) return { nat: own };
  } else {
    const reuse = await usableNatGateway(view);
    if (reuse) return { nat: reuse };
  }
  // Never make a second one while ours is still coming up (or has failed and needs a person).
  const ours = await ourNatGateways(view, ['pending', 'failed'], zone);
  const pending = ours.find((n) => n.State === 'pending');
  if (pending) return { nat: pending };
  const failed = ours.find((n) => n.State === 'failed');
  return failed ? { failed } : {};
}

/** A usable NAT gateway, or ours still coming up; throws when ours failed; undefined when one must be made. */
async function existingNatGateway(view: VpcView, zone?: string): Promise<NatGatewayResult | undefined> {
  const { nat, failed } = await foundNatGateway(view, zone);
  if (failed) throw natGatewayFailed(failed, failed.NatGatewayId!);
  return nat ? result(nat, [{ kind: 'nat-gateway', id: nat.NatGatewayId!, created: false }]) : undefined;
}

function noInternetGateway(vpcId: string): NetworkConfigurationError {
  return new NetworkConfigurationError(
    `VPC ${vpcId} has no internet gateway, and a NAT gateway needs one to reach the internet. ` +
      'Attach an internet gateway to the VPC, or give network.subnetIds of a private subnet that already routes 0.0.0.0/0 through a NAT gateway',
  );
}

/** The NAT subnet: the zone's own names (per-zone) or the VPC's (shared), its block from network.natSubnetCidr or the first free /24. */
function natSubnetSpec(request: WorkflowState['request'], vpcId: string, cidrs: readonly string[], zone: string | undefined, zonal: boolean): TaggedSubnetSpec {
  return {
    vpcId,
    name: names.natSubnet(vpcId, zonal ? zone : undefined),
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
  };
}

const natRouteTableSpec = (vpcId: string, own: string | undefined, subnetId: string, internetGatewayId: string): RouteTableSpec => ({
  vpcId,
  name: names.natRouteTable(vpcId, own),
  role: NAT_ROLES.routeTable,
  subnetId,
  target: { gatewayId: internetGatewayId },
});

/** The public subnet, its route table to the internet gateway, the Elastic IP and the NAT gateway, each found first. */
/**
 * The internet gateway and CIDRs as Resolve network read them moments ago: a VPC's blocks only
 * grow (a block added since is merely not chosen), and a route to a gateway detached since fails
 * on CreateRoute without making anything else.
 */
function gatewayAndCidrs(network: NetworkResult): { internetGatewayId?: string; cidrs: string[] } {
  return { ...(network.internetGatewayId ? { internetGatewayId: network.internetGatewayId } : {}), cidrs: network.vpcCidrs };
}

/** Under the lease, `view` just refreshed: the public subnet, its route table, the Elastic IP and the NAT gateway, each found first. */
async function makeNatGateway(request: WorkflowState['request'], network: NetworkResult, view: VpcView, zone: string | undefined, zonal = false): Promise<NatGatewayResult> {
  const vpcId = network.vpcId;
  // The zone's own names (per-zone), or the VPC's (shared).
  const own = zonal ? zone : undefined;
  // Deleted ones (the user followed our failure message) give the new attempt a new ClientToken.
  const deadIds = (await ourNatGateways(view, DEAD_NAT_STATES, own)).map((n) => n.NatGatewayId!);

  const { internetGatewayId, cidrs } = gatewayAndCidrs(network);
  if (!internetGatewayId) throw noInternetGateway(vpcId);

  const { subnet, created: subnetCreated } = await ensureTaggedSubnet(natSubnetSpec(request, vpcId, cidrs, zone, zonal), view);
  const rt = await ensureRouteTable(natRouteTableSpec(vpcId, own, subnet.subnetId, internetGatewayId), view);
  const eip = await ensureNatElasticIp(vpcId, own);
  const { nat, created } = await createNatGateway(vpcId, subnet.subnetId, eip.allocationId, deadIds, own);
  return result(nat, [
    { kind: 'vpc-subnet', id: subnet.subnetId, created: subnetCreated },
    { kind: 'route-table', id: rt.routeTableId, created: rt.created, ...(rt.updated ? { updated: true } : {}) },
    { kind: 'elastic-ip', id: eip.allocationId, created: eip.created },
    { kind: 'nat-gateway', id: nat.NatGatewayId!, created },
  ]);
}

// ---- dry run ----------------------------------------------------------------

/** A plan problem, unless Resolve network already reported the same one (it checks the request's network first). */
function addProblem(problems: PlanProblem[], network: NetworkResult, problem: Omit<PlanProblem, 'step'>): void {
  // By message, or by a field's own path: `$.network` alone names no field and many problems.
  const known = (network.problems ?? []).some((p) => p.message === problem.message || (problem.path !== undefined && problem.path !== '$.network' && p.path === problem.path));
  if (!known) problems.push({ step: STEP, ...problem });
}

interface PlannedNat {
  natGatewayId: string;
  subnetId: string;
  state: NatGatewayResult['state'];
  plan: PlanEntry[];
}

/**
 * The dry run of one NAT gateway (the VPC's, or with `zonal` the zone's own): the same look-ups
 * and decisions as existingNatGateway and makeNatGateway, no lease and no write. `planned`: the
 * NAT subnets planned before this one (per-zone), which take their blocks.
 */
async function planOneNatGateway(
  request: WorkflowState['request'],
  network: NetworkResult,
  zone: string | undefined,
  zonal: boolean,
  planned: SubnetInfo[],
  problems: PlanProblem[],
  view: VpcView,
): Promise<PlannedNat> {
  const vpcId = network.vpcId;
  const own = zonal ? zone : undefined;
  const natName = names.natGateway(vpcId, own);
  const { nat, failed } = await foundNatGateway(view, own);
  if (nat) {
    return {
      natGatewayId: nat.NatGatewayId!,
      subnetId: nat.SubnetId!,
      state: nat.State === 'available' ? 'available' : 'pending',
      plan: [{ kind: 'nat-gateway', name: tagValue(nat.Tags, 'Name') ?? nat.NatGatewayId!, id: nat.NatGatewayId!, action: 'reuse', shared: true }],
    };
  }
  if (failed) {
    const id = failed.NatGatewayId!;
    return { natGatewayId: id, subnetId: failed.SubnetId ?? '', state: 'pending', plan: [{ kind: 'nat-gateway', name: natName, id, action: 'conflict', detail: natGatewayFailed(failed, id).message, shared: true }] };
  }

  const { internetGatewayId, cidrs } = gatewayAndCidrs(network);
  if (!internetGatewayId) addProblem(problems, network, { path: '$.network', message: noInternetGateway(vpcId).message });
  const subnet = await planTaggedSubnet(natSubnetSpec(request, vpcId, cidrs, zone, zonal), view, planned);
  // A block the request gives that does not fit is also the request's problem; another owner's subnet under our name is the conflict entry alone.
  if (subnet.entry.action === 'conflict' && request.network.natSubnetCidr && !zonal && subnet.entry.detail?.startsWith('network.natSubnetCidr')) {
    addProblem(problems, network, { path: '$.network.natSubnetCidr', message: subnet.entry.detail });
  }
  if (subnet.subnet && subnet.entry.action === 'create') planned.push(subnet.subnet);
  const subnetId = subnet.subnet?.subnetId ?? plannedId('vpc-subnet', subnet.entry.name);
  const routeTable = internetGatewayId
    ? await planRouteTable(natRouteTableSpec(vpcId, own, subnetId, internetGatewayId), view)
    : { kind: 'route-table' as const, name: names.natRouteTable(vpcId, own), action: 'conflict' as const, detail: `no internet gateway is attached to ${vpcId} for 0.0.0.0/0`, shared: true };
  const eip = await planNatElasticIp(vpcId, own);
  const natGatewayId = plannedId('nat-gateway', natName);
  return {
    natGatewayId,
    subnetId,
    state: 'pending',
    plan: [subnet.entry, routeTable, eip.entry, { kind: 'nat-gateway', name: natName, action: 'create', detail: `public, in ${subnet.entry.name}${zone ? ` (${zone})` : ''}`, shared: true }],
  };
}

/**
 * Dry run of Ensure NAT gateway: what the apply would find, make or fail on (functions/lib/plan.ts),
 * with no mutating call and without the network lease. A NAT gateway to make has a placeholder id
 * and state `pending`.
 */
export async function planNatGateway(state: WorkflowState): Promise<NatGatewayResult> {
  const { request, network } = need(state, 'network');
  const vpcId = network.vpcId;
  const problems: PlanProblem[] = [];
  const done = (r: Omit<NatGatewayResult, 'ledger' | 'problems'>): NatGatewayResult => ({ ...r, ledger: [], ...(problems.length > 0 ? { problems } : {}) });

  const firstGiven = request.network.subnetIds?.[0];
  if (firstGiven) {
    try {
      const given = await checkGivenPrivateSubnet(vpcId, firstGiven, 'network.subnetIds[0]');
      const nat = await describeNatGateway(given.natGatewayId);
      const usable = nat && !DEAD_NAT_STATES.includes(nat.State as (typeof DEAD_NAT_STATES)[number]);
      const entry: PlanEntry = usable
        ? { kind: 'nat-gateway', name: tagValue(nat.Tags, 'Name') ?? given.natGatewayId, id: given.natGatewayId, action: 'reuse', shared: true }
        : { kind: 'nat-gateway', name: given.natGatewayId, id: given.natGatewayId, action: 'conflict', detail: natGatewayFailed(nat, given.natGatewayId).message, shared: true };
      return done({ natGatewayId: given.natGatewayId, state: nat?.State === 'available' ? 'available' : 'pending', subnetId: nat?.SubnetId ?? '', plan: [entry] });
    } catch (e) {
      if (!(e instanceof NetworkConfigurationError)) throw e;
      addProblem(problems, network, { path: '$.network.subnetIds[0]', message: e.message });
      return done({ natGatewayId: plannedId('nat-gateway', `behind ${firstGiven}`), state: 'pending', subnetId: '', plan: [] });
    }
  }

  const perZone = request.network.natGateways === 'per-zone';
  const planned: SubnetInfo[] = [];
  const each: PlannedNat[] = [];
  // The same snapshot as the apply's first look; never refreshed: a dry run takes no lease.
  const view = new VpcView(vpcId, network.seen);
  for (const zone of perZone ? network.zones : [network.zones[0]]) each.push(await planOneNatGateway(request, network, zone, perZone, planned, problems, view));
  const [first] = each;
  if (!first) {
    addProblem(problems, network, { path: '$.network', message: `no zone was chosen for the task subnets of ${vpcId}, so no NAT gateway can be placed` });
    return done({ natGatewayId: plannedId('nat-gateway', names.natGateway(vpcId)), state: 'pending', subnetId: '', plan: [] });
  }
  return done({
    natGatewayId: first.natGatewayId,
    subnetId: first.subnetId,
    state: each.every((r) => r.state === 'available') ? 'available' : 'pending',
    ...(perZone ? { zonal: each.map((r, i) => ({ zone: network.zones[i]!, natGatewayId: r.natGatewayId, subnetId: r.subnetId, state: r.state })) } : {}),
    plan: each.flatMap((r) => r.plan),
  });
}

export const permissions: StepPermissions = composePermissions(
  CHECK_GIVEN_SUBNET_PERMISSIONS,
  DESCRIBE_NAT_GATEWAY_PERMISSIONS,
  USABLE_NAT_GATEWAY_PERMISSIONS,
  TAGGED_SUBNET_PERMISSIONS,
  ROUTE_TABLE_PERMISSIONS,
  NAT_ELASTIC_IP_PERMISSIONS,
  CREATE_NAT_GATEWAY_PERMISSIONS,
  NETWORK_LEASE_PERMISSIONS,
);

const STEP = 'Ensure NAT gateway';

export const handler = wrap(STEP, ensureNatGateway, { plan: planNatGateway });
