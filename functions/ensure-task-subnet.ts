import { CHECK_GIVEN_SUBNET_PERMISSIONS, checkGivenPrivateSubnet, hasIpv4Block, subnetInfo, VpcView } from '#lib/aws/network.ts';
import {
  ensureRouteTable,
  ensureTaggedSubnet,
  findTaggedSubnet,
  plannedSubnets,
  planRouteTable,
  planTaggedSubnet,
  ROUTE_TABLE_PERMISSIONS,
  routeTableInPlace,
  TAGGED_SUBNET_PERMISSIONS,
  type RouteTableSpec,
  type TaggedSubnetSpec,
} from '#lib/aws/vpc-subnet.ts';
import { checkSubnetBlock, firstFreeSubnet } from '#lib/cidr.ts';
import { NetworkConfigurationError, ResourceConflictError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { NETWORK_LEASE_PERMISSIONS, withNetworkLease } from '#lib/network-lease.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { plannedId, type PlanEntry, type PlanProblem } from '#lib/plan.ts';
import { effectiveZones } from '#lib/request-defaults.ts';
import { DEFAULTS } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import type { LedgerEntry, SubnetInfo, TaskSubnet, TaskSubnetResult, WorkflowState } from '#lib/workflow.ts';

export const TASK_SUBNET_ROLE = 'task-subnet';
export const TASK_ROUTE_TABLE_ROLE = 'task-route-table';

type Request = WorkflowState['request'];

interface ZonePlan {
  zone: string;
  cidr?: string;
  field: string;
}

/** The zones that get a task subnet (Resolve network chose them), with the block the request gives each, and why there are too few. */
function zoneList(request: Request, zones: readonly string[]): { plan: ZonePlan[]; problem?: string } {
  const wanted = zones.slice(0, effectiveZones(request));
  const plan = wanted.map((zone, i) => ({ zone, field: `network.subnetCidrs[${i}]`, ...(request.network.subnetCidrs?.[i] ? { cidr: request.network.subnetCidrs[i] } : {}) }));
  if (wanted.length >= effectiveZones(request)) return { plan };
  return { plan, problem: `${effectiveZones(request)} zones were asked for (network.zones), but only ${wanted.length} are available (${wanted.join(', ') || 'none'})` };
}

function zonePlan(request: Request, zones: readonly string[]): ZonePlan[] {
  const { plan, problem } = zoneList(request, zones);
  if (problem) throw new NetworkConfigurationError(problem);
  return plan;
}

/**
 * Ensure task subnet: the private subnets the tasks run in, one per zone (default two, so the
 * service survives the loss of a zone), each routing 0.0.0.0/0 through the NAT gateway (its zone's own with
 * network.natGateways per-zone). Reuses
 * network.subnetIds after checking each; else the ECS cluster's subnet of each zone; else makes
 * it (network.subnetCidrs[i] or the first free /24) with its route table.
 */
export async function ensureTaskSubnet(state: WorkflowState): Promise<TaskSubnetResult> {
  const { request, network } = need(state, 'network');
  const vpcId = network.vpcId;

  if (request.network.subnetIds) {
    const subnets: TaskSubnet[] = [];
    for (const [i, id] of request.network.subnetIds.entries()) {
      const given = await checkGivenPrivateSubnet(vpcId, id, `network.subnetIds[${i}]`);
      subnets.push({ ...given.subnet, routeTableId: given.routeTableId });
    }
    return { subnets: subnets.map(({ subnetId, cidr, availabilityZone, routeTableId }) => ({ subnetId, cidr, availabilityZone, routeTableId })), ledger: subnets.map((s) => ({ kind: 'vpc-subnet', id: s.subnetId, created: false, shared: true })) };
  }

  const { natGateway } = need(state, 'natGateway');
  const plan = zonePlan(request, network.zones);
  // Each zone's own NAT gateway (per-zone), else the shared one.
  const natFor = (zone: string) => natGateway.zonal?.find((z) => z.zone === zone)?.natGatewayId ?? natGateway.natGatewayId;
  // Decided from what Resolve network read (one DescribeSubnets and one DescribeRouteTables for all zones when there is none); read again under the lease before anything is made.
  const view = new VpcView(vpcId, network.seen);
  // Made at most once per ECS cluster and zone: only the run holding the VPC's network lease makes the subnets and their routes.
  return withNetworkLease(
    { vpcId, holder: state.execution?.id, what: `The task subnets of ECS cluster "${request.ecs.cluster}"` },
    async (fresh) => {
      if (fresh) view.refresh();
      const found: TaskSubnet[] = [];
      for (const p of plan) {
        const s = await existingTaskSubnet(request, view, p, natFor(p.zone));
        if (!s) return undefined;
        found.push(s);
      }
      return result(found.map((s) => ({ subnet: s, created: false, routeTableCreated: false })));
    },
    async () => {
      const made: ZoneSubnet[] = [];
      // One zone after another: each chooses its block from the subnets listed, with the ones made before it noted in; the VPC's CIDRs as Resolve network read them (they only grow).
      for (const p of plan) made.push(await makeTaskSubnet(request, view, network.vpcCidrs, p, natFor(p.zone)));
      return result(made);
    },
  );
}

interface ZoneSubnet {
  subnet: TaskSubnet;
  created: boolean;
  routeTableCreated: boolean;
  routeTableUpdated?: boolean;
}

function result(subnets: ZoneSubnet[]): TaskSubnetResult {
  const ledger: LedgerEntry[] = subnets.flatMap(({ subnet, created, routeTableCreated, routeTableUpdated }) => [
    { kind: 'vpc-subnet', id: subnet.subnetId, created, shared: true },
    { kind: 'route-table', id: subnet.routeTableId, created: routeTableCreated, ...(routeTableUpdated ? { updated: true } : {}), shared: true },
  ]);
  return { subnets: subnets.map((s) => s.subnet), ledger };
}

/**
 * The names of the zone's subnet and route table: `<cluster>-ecs-subnet-<zone>`, or the single
 * `<cluster>-ecs-subnet` an earlier version made, when it lies in this zone (adopted, not remade).
 */
async function namesFor(request: Request, view: VpcView, zone: string): Promise<{ subnet: string; routeTable: string }> {
  const zoned = { subnet: names.taskSubnet(request, zone), routeTable: names.taskRouteTable(request, zone) };
  if (await findTaggedSubnet(view, zoned.subnet)) return zoned;
  const legacy = await findTaggedSubnet(view, names.legacyTaskSubnet(request));
  return legacy?.AvailabilityZone === zone ? { subnet: names.legacyTaskSubnet(request), routeTable: names.legacyTaskRouteTable(request) } : zoned;
}

/** The zone's subnet: its block from the request (checked) or the first free /24 of the VPC's CIDRs. Named per ECS cluster and zone, shared by the cluster's workloads, so no workload tag (sharedTags). */
function taskSubnetSpec(vpcId: string, name: string, p: ZonePlan, cidrs: readonly string[]): TaggedSubnetSpec {
  return {
    vpcId,
    name,
    role: TASK_SUBNET_ROLE,
    chooseCidr: (existing) => {
      if (!p.cidr) return firstFreeSubnet(cidrs, existing.map((s) => s.cidr), DEFAULTS.autoSubnetPrefixLength);
      checkSubnetBlock(p.field, p.cidr, cidrs, existing);
      return p.cidr;
    },
    chooseAz: () => p.zone,
  };
}

const taskRouteTableSpec = (vpcId: string, name: string, subnetId: string, natGatewayId: string): RouteTableSpec => ({
  vpcId,
  name,
  role: TASK_ROUTE_TABLE_ROLE,
  subnetId,
  target: { natGatewayId },
});

/** Why an existing task subnet cannot serve: its block differs from the one the request gives (a subnet's block cannot change). */
function blockMismatch(name: string, subnet: SubnetInfo, p: ZonePlan): string | undefined {
  if (!p.cidr || p.cidr === subnet.cidr) return undefined;
  return `task subnet "${name}" (${subnet.subnetId}) already exists with ${subnet.cidr}, but ${p.field} asks for ${p.cidr}; a subnet's block cannot change: leave network.subnetCidrs out or set it to ${subnet.cidr}`;
}

/** Read-only: the zone's task subnet with its route table through the NAT gateway, when all is in place. */
async function existingTaskSubnet(request: Request, view: VpcView, p: ZonePlan, natGatewayId: string): Promise<TaskSubnet | undefined> {
  const vpcId = view.vpcId;
  const n = await namesFor(request, view, p.zone);
  const found = await findTaggedSubnet(view, n.subnet);
  if (!found || !hasIpv4Block(found)) return undefined;
  const subnet = subnetInfo(found);
  // A block that differs from the request's is reported by the create path.
  if (blockMismatch(n.subnet, subnet, p)) return undefined;
  const routeTableId = await routeTableInPlace(taskRouteTableSpec(vpcId, n.routeTable, subnet.subnetId, natGatewayId), view);
  if (!routeTableId) return undefined;
  return { subnetId: subnet.subnetId, cidr: subnet.cidr, availabilityZone: subnet.availabilityZone, routeTableId };
}

/** Finds or makes the zone's subnet (its block from the request, or the first free /24) and its route table. */
async function makeTaskSubnet(request: Request, view: VpcView, cidrs: readonly string[], p: ZonePlan, natGatewayId: string): Promise<ZoneSubnet> {
  const vpcId = view.vpcId;
  const n = await namesFor(request, view, p.zone);
  const { subnet, created } = await ensureTaggedSubnet(taskSubnetSpec(vpcId, n.subnet, p, cidrs), view);
  const mismatch = created ? undefined : blockMismatch(n.subnet, subnet, p);
  if (mismatch) throw new NetworkConfigurationError(mismatch);
  const rt = await ensureRouteTable(taskRouteTableSpec(vpcId, n.routeTable, subnet.subnetId, natGatewayId), view);
  return {
    subnet: { subnetId: subnet.subnetId, cidr: subnet.cidr, availabilityZone: subnet.availabilityZone, routeTableId: rt.routeTableId },
    created,
    routeTableCreated: rt.created,
    routeTableUpdated: rt.updated,
  };
}

// ---- dry run ----------------------------------------------------------------

/**
 * Dry run of Ensure task subnet (functions/lib/plan.ts): per zone, the subnet and route table the
 * apply would find, make, change or fail on, with the same look-ups and decisions and no lease.
 * A block to choose sees the blocks this plan makes before it (the NAT subnet Ensure NAT gateway
 * planned, the earlier zones' subnets) as taken, as the apply will. The given subnets
 * (network.subnetIds) are checked as the apply checks them; one that fails is a conflict.
 */
export async function planTaskSubnet(state: WorkflowState): Promise<TaskSubnetResult> {
  const { request, network } = need(state, 'network');
  const vpcId = network.vpcId;
  const plan: PlanEntry[] = [];
  const problems: PlanProblem[] = [];
  const subnets: TaskSubnet[] = [];

  if (request.network.subnetIds) {
    for (const [i, id] of request.network.subnetIds.entries()) {
      try {
        const given = await checkGivenPrivateSubnet(vpcId, id, `network.subnetIds[${i}]`);
        const { subnetId, cidr, availabilityZone } = given.subnet;
        subnets.push({ subnetId, cidr, availabilityZone, routeTableId: given.routeTableId });
        plan.push({ kind: 'vpc-subnet', name: given.subnet.name ?? id, id, action: 'reuse', shared: true });
      } catch (e) {
        if (!(e instanceof NetworkConfigurationError)) throw e;
        // Resolve network reports it among its problems too; here it is the resource the apply would stop at.
        plan.push({ kind: 'vpc-subnet', name: id, id, action: 'conflict', detail: e.message, shared: true });
      }
    }
    return { subnets, ledger: [], plan };
  }

  const { natGateway } = need(state, 'natGateway');
  const natFor = (zone: string) => natGateway.zonal?.find((z) => z.zone === zone)?.natGatewayId ?? natGateway.natGatewayId;
  const zones = zoneList(request, network.zones);
  if (zones.problem && !(network.problems ?? []).some((p) => p.path === '$.network.zones' || p.message.includes('availability zones'))) {
    problems.push({ step: STEP, path: '$.network.zones', message: zones.problem });
  }
  // The NAT subnets Ensure NAT gateway plans to make take their blocks before the task subnets choose theirs.
  const planned = plannedSubnets(natGateway.plan);
  const cidrs = network.vpcCidrs;
  // The same snapshot as the apply's first look; never refreshed: a dry run takes no lease.
  const view = new VpcView(vpcId, network.seen);
  for (const p of zones.plan) {
    // A foreign subnet under the zone's name: planTaggedSubnet reports it as the conflict the apply would stop at.
    const n = await namesFor(request, view, p.zone).catch((e: unknown) => {
      if (e instanceof ResourceConflictError) return { subnet: names.taskSubnet(request, p.zone), routeTable: names.taskRouteTable(request, p.zone) };
      throw e;
    });
    const sub = await planTaggedSubnet(taskSubnetSpec(vpcId, n.subnet, p, cidrs), view, planned);
    const mismatch = sub.entry.action === 'reuse' && sub.subnet ? blockMismatch(n.subnet, sub.subnet, p) : undefined;
    plan.push(mismatch ? { ...sub.entry, action: 'conflict', detail: mismatch } : sub.entry);
    if (sub.subnet && sub.entry.action === 'create') planned.push(sub.subnet);
    const subnetId = sub.subnet?.subnetId ?? plannedId('vpc-subnet', n.subnet);
    const rt = await planRouteTable(taskRouteTableSpec(vpcId, n.routeTable, subnetId, natFor(p.zone)), view);
    plan.push(rt);
    subnets.push({ subnetId, cidr: sub.subnet?.cidr ?? p.cidr ?? '', availabilityZone: p.zone, routeTableId: rt.id ?? plannedId('route-table', n.routeTable) });
  }
  return { subnets, ledger: [], plan, ...(problems.length > 0 ? { problems } : {}) };
}

export const permissions: StepPermissions = composePermissions(CHECK_GIVEN_SUBNET_PERMISSIONS, TAGGED_SUBNET_PERMISSIONS, ROUTE_TABLE_PERMISSIONS, NETWORK_LEASE_PERMISSIONS);

const STEP = 'Ensure task subnet';

export const handler = wrap(STEP, ensureTaskSubnet, { plan: planTaskSubnet });
