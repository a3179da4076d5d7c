import { vpcNatGateways } from '#lib/aws/network.ts';
import { deleteSharedSubnets, DELETE_SUBNETS_PERMISSIONS, findOurEips, findSharedSubnets, releaseEip, RELEASE_NAT_EIP_PERMISSIONS } from '#lib/aws/teardown-network.ts';
import { NAT_ROLES } from '#lib/aws/vpc-nat.ts';
import { ResourceNotReadyError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { REGISTRY_LIST_PERMISSIONS } from '#lib/registry.ts';
import { isManagedByUs } from '#lib/tags.ts';
import { entry, otherWorkloads, recordedIds, teardownState, vpcUsers, type TeardownEntry, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/**
 * Delete NAT network: once the NAT gateway is gone, its Elastic IP, public subnet and route
 * table (this tool's, found by tags and the ledger). Kept, with the same reason, when Delete NAT
 * gateway kept the NAT gateway, or while a NAT gateway of ours still lives in the VPC.
 */
export async function deleteNatNetwork(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target, natGateway } = teardownState(state);
  const vpcId = target.vpcId;
  if (!vpcId) return { ledger: [] };
  const eips = await findOurEips(names.natEip(vpcId), recordedIds(target, 'elastic-ip'));
  const found = await findSharedSubnets({
    vpcId,
    subnet: { role: NAT_ROLES.subnet, name: names.natSubnet(vpcId) },
    routeTable: { role: NAT_ROLES.routeTable, name: names.natRouteTable(vpcId) },
    recordedSubnetIds: recordedIds(target, 'vpc-subnet'),
    recordedRouteTableIds: recordedIds(target, 'route-table'),
  });
  const ids = [...eips.map((a) => a.AllocationId!), ...found.subnets.map((x) => x.SubnetId!), ...found.routeTables.map((t) => t.RouteTableId!)];
  // Also when no NAT gateway of ours is left: another workload's onboarding may be about to make one in this subnet.
  const users = ids.length > 0 ? vpcUsers(await otherWorkloads(target.workload), { vpcId, eksClusterName: request.network.eksClusterName, ids }) : [];
  const kept = natGateway?.ledger.find((e) => e.kind === 'nat-gateway' && e.outcome === 'kept') ?? (users.length > 0 ? { reason: `VPC ${vpcId} is still used by ${users.join(', ')}` } : undefined);
  const ourNats = (await vpcNatGateways(vpcId, ['pending', 'available', 'deleting', 'failed', 'deleted'])).filter((n) => isManagedByUs(n.Tags));
  const alive = ourNats.filter((n) => n.State !== 'deleted');
  // Elastic IPs our NAT gateways held: AWS disassociates them once the NAT gateway is deleted (moto keeps the association).
  const natAllocations = new Set(ourNats.flatMap((n) => (n.NatGatewayAddresses ?? []).map((a) => a.AllocationId ?? '')));
  if (kept || alive.some((n) => n.State !== 'deleting')) {
    const reason = kept?.reason ?? `NAT gateway(s) ${alive.map((n) => n.NatGatewayId).join(', ')} of this tool still use them`;
    return {
      ledger: [
        ...eips.map((a) => entry('elastic-ip', a.AllocationId!, 'kept', { reason, shared: true })),
        ...found.subnets.map((s) => entry('vpc-subnet', s.SubnetId!, 'kept', { reason, shared: true })),
        ...found.routeTables.map((t) => entry('route-table', t.RouteTableId!, 'kept', { reason, shared: true })),
      ],
    };
  }
  if (alive.length > 0) throw new ResourceNotReadyError(`NAT gateway(s) ${alive.map((n) => n.NatGatewayId).join(', ')} still deleting: their Elastic IP and subnet are freed once they are deleted`);
  const ledger: TeardownEntry[] = [];
  for (const a of eips) {
    if (a.AssociationId && !natAllocations.has(a.AllocationId!)) ledger.push(entry('elastic-ip', a.AllocationId!, 'kept', { reason: `it is associated (${a.AssociationId}) with something that is not this tool's NAT gateway`, shared: true }));
    else ledger.push(entry('elastic-ip', a.AllocationId!, await releaseEip(a.AllocationId!), { shared: true }));
  }
  ledger.push(...(await deleteSharedSubnets(found)));
  return { ledger };
}

export const permissions: StepPermissions = composePermissions(RELEASE_NAT_EIP_PERMISSIONS, DELETE_SUBNETS_PERMISSIONS, REGISTRY_LIST_PERMISSIONS);

export const handler = wrap('Delete NAT network', deleteNatNetwork);
