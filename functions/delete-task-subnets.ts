import { deleteSharedSubnets, DELETE_SUBNETS_PERMISSIONS, findSharedSubnets } from '#lib/aws/teardown-network.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { REGISTRY_LIST_PERMISSIONS } from '#lib/registry.ts';
import { clusterUsers, entry, otherWorkloads, recordedIds, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** The roles Ensure task subnet tags the cluster's subnets and route tables with (functions/ensure-task-subnet.ts). */
export const TASK_SUBNET_ROLES = { subnet: 'task-subnet', routeTable: 'task-route-table' } as const;

/**
 * Delete task subnets: the ECS cluster's task subnets and their route tables, shared by every
 * workload of the cluster. Deleted only when this tool made them (tags) and no other registered
 * workload names the cluster; a subnet that still holds network interfaces makes AWS answer
 * DependencyViolation (ResourceDrainingError, retried); a route table that another subnet is
 * associated with is kept.
 */
export async function deleteTaskSubnets(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request, target } = teardownState(state);
  const found = await findSharedSubnets({
    vpcId: target.vpcId,
    subnet: { role: TASK_SUBNET_ROLES.subnet, name: names.legacyTaskSubnet(request) },
    routeTable: { role: TASK_SUBNET_ROLES.routeTable, name: names.legacyTaskRouteTable(request) },
    recordedSubnetIds: recordedIds(target, 'vpc-subnet'),
    recordedRouteTableIds: recordedIds(target, 'route-table'),
  });
  if (found.subnets.length === 0 && found.routeTables.length === 0) return { ledger: [entry('vpc-subnet', names.legacyTaskSubnet(request), 'not-found', { shared: true })] };
  const users = clusterUsers(await otherWorkloads(target.workload), request.ecs.cluster);
  if (users.length > 0) {
    const reason = `ECS cluster "${request.ecs.cluster}" is still used by ${users.join(', ')}`;
    return {
      ledger: [
        ...found.subnets.map((s) => entry('vpc-subnet', s.SubnetId!, 'kept', { reason, shared: true })),
        ...found.routeTables.map((t) => entry('route-table', t.RouteTableId!, 'kept', { reason, shared: true })),
      ],
    };
  }
  return { ledger: await deleteSharedSubnets(found) };
}

export const permissions: StepPermissions = composePermissions(DELETE_SUBNETS_PERMISSIONS, REGISTRY_LIST_PERMISSIONS);

export const handler = wrap('Delete task subnets', deleteTaskSubnets);
