import { CHECK_GIVEN_SUBNET_PERMISSIONS, checkGivenPrivateSubnet, hasIpv4Block, NETWORK_READS, subnetInfo, vpcCidrs } from '#lib/aws/network.ts';
import { ensureRouteTable, ensureTaggedSubnet, findTaggedSubnet, ROUTE_TABLE_PERMISSIONS, routeTableInPlace, TAGGED_SUBNET_PERMISSIONS } from '#lib/aws/vpc-subnet.ts';
import { checkSubnetBlock, firstFreeSubnet } from '#lib/cidr.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { NETWORK_LEASE_PERMISSIONS, withNetworkLease } from '#lib/network-lease.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { effectiveZones } from '#lib/request-defaults.ts';
import { DEFAULTS } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import type { LedgerEntry, TaskSubnet, TaskSubnetResult, WorkflowState } from '#lib/workflow.ts';

export const TASK_SUBNET_ROLE = 'task-subnet';
export const TASK_ROUTE_TABLE_ROLE = 'task-route-table';

type Request = WorkflowState['request'];

/** The zones that get a task subnet (Resolve network chose them), with the block the request gives each. */
function zonePlan(request: Request, zones: readonly string[]): { zone: string; cidr?: string; field: string }[] {
  const wanted = zones.slice(0, effectiveZones(request));
  if (wanted.length < effectiveZones(request)) {
    throw new NetworkConfigurationError(`${effectiveZones(request)} zones were asked for (network.zones), but only ${wanted.length} are available (${wanted.join(', ') || 'none'})`);
  }
  return wanted.map((zone, i) => ({ zone, field: `network.subnetCidrs[${i}]`, ...(request.network.subnetCidrs?.[i] ? { cidr: request.network.subnetCidrs[i] } : {}) }));
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
  // Made at most once per ECS cluster and zone: only the run holding the VPC's network lease makes the subnets and their routes.
  return withNetworkLease(
    { vpcId, holder: state.execution?.id, what: `The task subnets of ECS cluster "${request.ecs.cluster}"` },
    async () => {
      const found: TaskSubnet[] = [];
      for (const p of plan) {
        const s = await existingTaskSubnet(request, vpcId, p.zone, p.cidr, natFor(p.zone));
        if (!s) return undefined;
        found.push(s);
      }
      return result(found.map((s) => ({ subnet: s, created: false, routeTableCreated: false })));
    },
    async () => {
      const made: { subnet: TaskSubnet; created: boolean; routeTableCreated: boolean }[] = [];
      // One zone after another: each chooses its block from the subnets listed after the previous one was made.
      for (const p of plan) made.push(await makeTaskSubnet(request, vpcId, p, natFor(p.zone)));
      return result(made);
    },
  );
}

function result(subnets: { subnet: TaskSubnet; created: boolean; routeTableCreated: boolean }[]): TaskSubnetResult {
  const ledger: LedgerEntry[] = subnets.flatMap(({ subnet, created, routeTableCreated }) => [
    { kind: 'vpc-subnet', id: subnet.subnetId, created, shared: true },
    { kind: 'route-table', id: subnet.routeTableId, created: routeTableCreated, shared: true },
  ]);
  return { subnets: subnets.map((s) => s.subnet), ledger };
}

/**
 * The names of the zone's subnet and route table: `<cluster>-ecs-subnet-<zone>`, or the single
 * `<cluster>-ecs-subnet` an earlier version made, when it lies in this zone (adopted, not remade).
 */
async function namesFor(request: Request, vpcId: string, zone: string): Promise<{ subnet: string; routeTable: string }> {
  const zoned = { subnet: names.taskSubnet(request, zone), routeTable: names.taskRouteTable(request, zone) };
  if (await findTaggedSubnet(vpcId, zoned.subnet)) return zoned;
  const legacy = await findTaggedSubnet(vpcId, names.legacyTaskSubnet(request));
  return legacy?.AvailabilityZone === zone ? { subnet: names.legacyTaskSubnet(request), routeTable: names.legacyTaskRouteTable(request) } : zoned;
}

/** Read-only: the zone's task subnet with its route table through the NAT gateway, when all is in place. */
async function existingTaskSubnet(request: Request, vpcId: string, zone: string, cidr: string | undefined, natGatewayId: string): Promise<TaskSubnet | undefined> {
  const n = await namesFor(request, vpcId, zone);
  const subnet = await findTaggedSubnet(vpcId, n.subnet);
  // A block that differs from the request's is reported by the create path.
  if (!subnet || !hasIpv4Block(subnet) || (cidr && cidr !== subnet.CidrBlock)) return undefined;
  const routeTableId = await routeTableInPlace({ vpcId, name: n.routeTable, role: TASK_ROUTE_TABLE_ROLE, subnetId: subnet.SubnetId!, target: { natGatewayId } });
  if (!routeTableId) return undefined;
  const { subnetId, cidr: block, availabilityZone } = subnetInfo(subnet);
  return { subnetId, cidr: block, availabilityZone, routeTableId };
}

/** Finds or makes the zone's subnet (its block from the request, or the first free /24) and its route table. */
async function makeTaskSubnet(
  request: Request,
  vpcId: string,
  p: { zone: string; cidr?: string; field: string },
  natGatewayId: string,
): Promise<{ subnet: TaskSubnet; created: boolean; routeTableCreated: boolean }> {
  const cidrs = await vpcCidrs(vpcId);
  const n = await namesFor(request, vpcId, p.zone);
  // Named per ECS cluster and zone: shared by the cluster's workloads, so no workload tag (sharedTags).
  const { subnet, created } = await ensureTaggedSubnet({
    vpcId,
    name: n.subnet,
    role: TASK_SUBNET_ROLE,
    chooseCidr: (existing) => {
      if (!p.cidr) return firstFreeSubnet(cidrs, existing.map((s) => s.cidr), DEFAULTS.autoSubnetPrefixLength);
      checkSubnetBlock(p.field, p.cidr, cidrs, existing);
      return p.cidr;
    },
    chooseAz: () => p.zone,
  });
  if (!created && p.cidr && p.cidr !== subnet.cidr) {
    throw new NetworkConfigurationError(
      `task subnet "${n.subnet}" (${subnet.subnetId}) already exists with ${subnet.cidr}, but ${p.field} asks for ${p.cidr}; a subnet's block cannot change: leave network.subnetCidrs out or set it to ${subnet.cidr}`,
    );
  }
  const rt = await ensureRouteTable({ vpcId, name: n.routeTable, role: TASK_ROUTE_TABLE_ROLE, subnetId: subnet.subnetId, target: { natGatewayId } });
  return { subnet: { subnetId: subnet.subnetId, cidr: subnet.cidr, availabilityZone: subnet.availabilityZone, routeTableId: rt.routeTableId }, created, routeTableCreated: rt.created };
}

export const permissions: StepPermissions = composePermissions(CHECK_GIVEN_SUBNET_PERMISSIONS, NETWORK_READS.vpcCidrs, TAGGED_SUBNET_PERMISSIONS, ROUTE_TABLE_PERMISSIONS, NETWORK_LEASE_PERMISSIONS);

export const handler = wrap('Ensure task subnet', ensureTaskSubnet);
