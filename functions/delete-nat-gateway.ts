import { DELETE_NAT_GATEWAY_PERMISSIONS, deleteNatGateway as deleteNat, findOurNatGateways, natGatewayRoutedByOthers } from '#lib/aws/teardown-network.ts';
import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { REGISTRY_LIST_PERMISSIONS } from '#lib/registry.ts';
import { entry, otherWorkloads, recordedIds, teardownState, vpcUsers, type NatDeletionResult, type TeardownState } from '#lib/teardown.ts';

/**
 * Delete NAT gateway: the VPC's NAT gateway(s) this tool made, shared by every workload of the
 * VPC. Deleted only when no other registered workload uses the VPC and no route table this tool
 * did not make routes through it; a NAT gateway this tool did not make (reused) is never
 * touched. Returns the ones being deleted: Check NAT gateway deleted waits for them.
 */
export async function deleteNatGateway(state: Partial<TeardownState>): Promise<NatDeletionResult> {
  const { request, target } = teardownState(state);
  if (!target.vpcId) return { done: true, deleting: [], ledger: [] };
  const nats = await findOurNatGateways(target.vpcId, recordedIds(target, 'nat-gateway'));
  if (nats.length === 0) return { done: true, deleting: [], ledger: [entry('nat-gateway', target.vpcId, 'not-found', { shared: true })] };
  const ids = nats.map((n) => n.NatGatewayId!);
  const users = vpcUsers(await otherWorkloads(target.workload), { vpcId: target.vpcId, eksClusterName: request.network.eksClusterName, ids });
  const routed = await natGatewayRoutedByOthers(ids);
  if (users.length > 0 || routed.length > 0) {
    const reason = users.length > 0 ? `VPC ${target.vpcId} is still used by ${users.join(', ')}` : `route table(s) ${routed.map((t) => t.RouteTableId).join(', ')}, not this tool's, route through it`;
    return { done: true, deleting: [], ledger: ids.map((id) => entry('nat-gateway', id, 'kept', { reason, shared: true })) };
  }
  const deleting: string[] = [];
  const ledger = [];
  for (const n of nats) {
    // A NAT gateway already deleting is waited for like one this call deletes.
    const outcome = n.State === 'deleting' ? 'deleted' : await deleteNat(n.NatGatewayId!);
    if (outcome === 'deleted') deleting.push(n.NatGatewayId!);
    ledger.push(entry('nat-gateway', n.NatGatewayId!, outcome, { shared: true }));
  }
  return { done: deleting.length === 0, deleting, ledger };
}

export const permissions: StepPermissions = composePermissions(DELETE_NAT_GATEWAY_PERMISSIONS, REGISTRY_LIST_PERMISSIONS);

export const handler = wrap('Delete NAT gateway', deleteNatGateway);
