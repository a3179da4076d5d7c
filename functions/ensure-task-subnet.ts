import { CHECK_GIVEN_SUBNET_PERMISSIONS, checkGivenPrivateSubnet, hasIpv4Block, NETWORK_READS, subnetInfo, vpcCidrs } from '#lib/aws/network.ts';
import { ensureRouteTable, ensureTaggedSubnet, findTaggedSubnet, ROUTE_TABLE_PERMISSIONS, routeTableInPlace, TAGGED_SUBNET_PERMISSIONS } from '#lib/aws/vpc-subnet.ts';
import { checkSubnetBlock, firstFreeSubnet } from '#lib/cidr.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { DEFAULTS } from '#lib/settings.ts';
import { NETWORK_LEASE_PERMISSIONS, withNetworkLease } from '#lib/network-lease.ts';
import { need } from '#lib/state.ts';
import type { NatGatewayResult, TaskSubnetResult, WorkflowState } from '#lib/workflow.ts';

export const TASK_SUBNET_ROLE = 'task-subnet';
export const TASK_ROUTE_TABLE_ROLE = 'task-route-table';

/**
 * Ensure task subnet: the private subnet the tasks run in, routing 0.0.0.0/0 through the
 * NAT gateway. Reuses network.subnetId after checking it, else our subnet for the ECS
 * cluster, else makes one (network.subnetCidr or the first free /24) with its route table.
 */
export async function ensureTaskSubnet(state: WorkflowState): Promise<TaskSubnetResult> {
  const { request, network } = need(state, 'network');
  const vpcId = network.vpcId;

  if (request.network.subnetId) {
    const given = await checkGivenPrivateSubnet(vpcId, request.network.subnetId);
    const { subnetId, cidr, availabilityZone } = given.subnet;
    return { subnetId, cidr, availabilityZone, routeTableId: given.routeTableId, ledger: [{ kind: 'vpc-subnet', id: subnetId, created: false, shared: true }] };
  }

  const { natGateway } = need(state, 'natGateway');
  // Made at most once per ECS cluster: only the run holding the VPC's network lease makes the subnet and its routes.
  return withNetworkLease(
    { vpcId, holder: state.execution?.id, what: `The task subnet of ECS cluster "${request.ecs.cluster}"` },
    () => existingTaskSubnet(request, vpcId, natGateway.natGatewayId),
    () => makeTaskSubnet(request, vpcId, natGateway),
  );
}

/** Read-only: our task subnet of the ECS cluster with its route table through the NAT gateway, when all is in place. */
async function existingTaskSubnet(request: WorkflowState['request'], vpcId: string, natGatewayId: string): Promise<TaskSubnetResult | undefined> {
  const subnet = await findTaggedSubnet(vpcId, names.taskSubnet(request));
  // A block that differs from the request's is reported by the create path.
  if (!subnet || !hasIpv4Block(subnet) || (request.network.subnetCidr && request.network.subnetCidr !== subnet.CidrBlock)) return undefined;
  const routeTableId = await routeTableInPlace({ vpcId, name: names.taskRouteTable(request), role: TASK_ROUTE_TABLE_ROLE, subnetId: subnet.SubnetId!, target: { natGatewayId } });
  if (!routeTableId) return undefined;
  const { subnetId, cidr, availabilityZone } = subnetInfo(subnet);
  return {
    subnetId,
    cidr,
    availabilityZone,
    routeTableId,
    ledger: [
      { kind: 'vpc-subnet', id: subnetId, created: false, shared: true },
      { kind: 'route-table', id: routeTableId, created: false, shared: true },
    ],
  };
}

/** Finds or makes the subnet (network.subnetCidr or the first free /24) and its route table. */
async function makeTaskSubnet(request: WorkflowState['request'], vpcId: string, natGateway: NatGatewayResult): Promise<TaskSubnetResult> {
  const cidrs = await vpcCidrs(vpcId);
  const name = names.taskSubnet(request);
  // Named per ECS cluster: shared by the cluster's workloads, so no workload tag (sharedTags).
  const { subnet, created } = await ensureTaggedSubnet({
    vpcId,
    name,
    role: TASK_SUBNET_ROLE,
    chooseCidr: (existing) => {
      if (!request.network.subnetCidr) return firstFreeSubnet(cidrs, existing.map((s) => s.cidr), DEFAULTS.autoSubnetPrefixLength);
      checkSubnetBlock('network.subnetCidr', request.network.subnetCidr, cidrs, existing);
      return request.network.subnetCidr;
    },
    // Same AZ as the NAT gateway: no cross-AZ data charges, no dependency on another AZ.
    chooseAz: (existing) => existing.find((s) => s.subnetId === natGateway.subnetId)?.availabilityZone,
  });
  if (!created && request.network.subnetCidr && request.network.subnetCidr !== subnet.cidr) {
    throw new NetworkConfigurationError(
      `task subnet "${name}" (${subnet.subnetId}) already exists with ${subnet.cidr}, but network.subnetCidr asks for ${request.network.subnetCidr}; a subnet's block cannot change: leave network.subnetCidr out or set it to ${subnet.cidr}`,
    );
  }
  const rt = await ensureRouteTable({
    vpcId,
    name: names.taskRouteTable(request),
    role: TASK_ROUTE_TABLE_ROLE,
    subnetId: subnet.subnetId,
    target: { natGatewayId: natGateway.natGatewayId },
  });
  return {
    subnetId: subnet.subnetId,
    cidr: subnet.cidr,
    availabilityZone: subnet.availabilityZone,
    routeTableId: rt.routeTableId,
    ledger: [
      { kind: 'vpc-subnet', id: subnet.subnetId, created, shared: true },
      { kind: 'route-table', id: rt.routeTableId, created: rt.created, shared: true },
    ],
  };
}

export const permissions: StepPermissions = composePermissions(CHECK_GIVEN_SUBNET_PERMISSIONS, NETWORK_READS.vpcCidrs, TAGGED_SUBNET_PERMISSIONS, ROUTE_TABLE_PERMISSIONS, NETWORK_LEASE_PERMISSIONS);

export const handler = wrap('Ensure task subnet', ensureTaskSubnet);
