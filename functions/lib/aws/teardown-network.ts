/**
 * Deleting what onboarding made in the VPC: this workload's rule on the EKS cluster security
 * group, its task security group, and (only when no other registered workload uses them) the
 * ECS cluster's task subnets and route tables and the VPC's NAT gateway, Elastic IP, public
 * subnet and route table. Resources are found from the registry's ledger AND by this tool's
 * tags (so what a failed or interrupted run made is found too), and lists are handled, not
 * single ids (a cluster may have a task subnet per availability zone). Nothing without this
 * tool's managed-by tag is touched; a resource already gone is "not found", never an error.
 */
import {
  DeleteNatGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DescribeAddressesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DisassociateRouteTableCommand,
  paginateDescribeSecurityGroupRules,
  ReleaseAddressCommand,
  RevokeSecurityGroupIngressCommand,
  type Address,
  type Filter,
  type NatGateway,
  type RouteTable,
  type SecurityGroup,
  type SecurityGroupRule,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, ResourceDrainingError, ResourceNotReadyError } from '../errors.ts';
import { composePermissions, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import type { OnboardingRequest } from '../request.ts';
import { TAG_MANAGED_BY, TAG_ROLE, TOOL_NAME } from '../settings.ts';
import { entry, type TeardownEntry } from '../teardown.ts';
import { isManagedByUs, ownershipOf, tagValue } from '../tags.ts';
import { ec2Arn, ec2Describe, ourFilters, vpcNatGateways } from './network.ts';
import { EKS_CLUSTER_SG_TAG, SG_ROLES } from './vpc-security-group.ts';

type Owner = Pick<OnboardingRequest, 'workloadGroup'>;

// ---- IAM -------------------------------------------------------------------

/** revokeEksIngress: only on an EKS cluster security group the construct names; which rules are ours is decided by their tags. */
export const REVOKE_EKS_INGRESS_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeSecurityGroupRules'), [
  {
    sid: 'RevokeOnEksClusterSecurityGroup',
    actions: ['ec2:RevokeSecurityGroupIngress'],
    resources: [ec2Arn('security-group')],
    conditions: { StringEquals: { [`aws:ResourceTag/${EKS_CLUSTER_SG_TAG}`]: ['${EksClusterName}'] } },
  },
]);

/** deleteTaskSecurityGroups. */
export const DELETE_SECURITY_GROUP_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeSecurityGroups'), [
  { sid: 'DeleteOurSecurityGroup', actions: ['ec2:DeleteSecurityGroup'], resources: [ec2Arn('security-group')], conditions: resourceTaggedByUs() },
]);

/** deleteSubnetsAndRouteTables: DisassociateRouteTable is authorized on the route table and the subnet, both ours. */
export const DELETE_SUBNETS_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeSubnets'), ec2Describe('ec2:DescribeRouteTables'), [
  { sid: 'DeleteOurSubnet', actions: ['ec2:DeleteSubnet'], resources: [ec2Arn('subnet')], conditions: resourceTaggedByUs() },
  { sid: 'DeleteOurRouteTable', actions: ['ec2:DeleteRouteTable'], resources: [ec2Arn('route-table')], conditions: resourceTaggedByUs() },
  { sid: 'DisassociateOurRouteTable', actions: ['ec2:DisassociateRouteTable'], resources: [ec2Arn('route-table'), ec2Arn('subnet')], conditions: resourceTaggedByUs() },
]);

/** findOurNatGateways + natGatewayRoutedByOthers + deleteNatGateways. */
export const DELETE_NAT_GATEWAY_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeNatGateways'), ec2Describe('ec2:DescribeRouteTables'), [
  { sid: 'DeleteOurNatGateway', actions: ['ec2:DeleteNatGateway'], resources: [ec2Arn('natgateway')], conditions: resourceTaggedByUs() },
]);

/** releaseNatEips. */
export const RELEASE_NAT_EIP_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeAddresses'), ec2Describe('ec2:DescribeNatGateways'), [
  { sid: 'ReleaseOurElasticIp', actions: ['ec2:ReleaseAddress'], resources: [ec2Arn('elastic-ip')], conditions: resourceTaggedByUs() },
]);

// ---- EKS cluster security group ----------------------------------------------------

/**
 * Revokes the rules this workload added to the EKS cluster security group: tagged with our
 * managed-by tag, the eks-cluster-ingress role and this workload (or, with our tags, referring
 * to `taskGroupIds`). RevokeSecurityGroupIngress by rule id revokes exactly those rules.
 */
export async function revokeEksIngress(owner: Owner, eksGroupId: string, taskGroupIds: readonly string[]): Promise<string[]> {
  const rules: SecurityGroupRule[] = [];
  try {
    for await (const page of paginateDescribeSecurityGroupRules({ client: ec2() }, { Filters: [{ Name: 'group-id', Values: [eksGroupId] }] })) {
      rules.push(...(page.SecurityGroupRules ?? []).filter((r) => !r.IsEgress && r.GroupId === eksGroupId));
    }
  } catch (e) {
    if (isAwsError(e, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return [];
    throw e;
  }
  const ours = rules.filter(
    (r) =>
      tagValue(r.Tags, TAG_ROLE) === SG_ROLES.eksIngress &&
      (ownershipOf(r.Tags, owner).owner === 'ours' || (isManagedByUs(r.Tags) && taskGroupIds.includes(r.ReferencedGroupInfo?.GroupId ?? ''))),
  );
  if (ours.length === 0) return [];
  const ids = ours.map((r) => r.SecurityGroupRuleId!);
  try {
    await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: eksGroupId, SecurityGroupRuleIds: ids }));
  } catch (e) {
    // A concurrent run revoked them first.
    if (!isAwsError(e, 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound')) throw e;
  }
  return ids;
}

// ---- task security group -------------------------------------------------------------

async function describeGroups(input: { GroupIds?: string[]; Filters?: Filter[] }): Promise<SecurityGroup[]> {
  try {
    return (await ec2().send(new DescribeSecurityGroupsCommand(input))).SecurityGroups ?? [];
  } catch (e) {
    if (isAwsError(e, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return [];
    throw e;
  }
}

/** The workload's security groups: by name (in the VPC when known) and the recorded ids, each once. */
export async function findTaskSecurityGroups(name: string, vpcId: string | undefined, recordedIds: readonly string[]): Promise<SecurityGroup[]> {
  const byName = await describeGroups({ Filters: [{ Name: 'group-name', Values: [name] }, ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : [])] });
  const byId = [];
  for (const id of recordedIds) byId.push(...(await describeGroups({ GroupIds: [id] })));
  const seen = new Map<string, SecurityGroup>();
  for (const g of [...byName, ...byId]) if (g.GroupId) seen.set(g.GroupId, g);
  return [...seen.values()];
}

/**
 * Deletes a security group. A network interface still using it (a Fargate task's ENI is released
 * some time after the task stops) makes AWS answer DependencyViolation "resource sg-... has a
 * dependent object": ResourceDrainingError, retried on the slow schedule.
 */
export async function deleteSecurityGroup(groupId: string): Promise<'deleted' | 'not-found'> {
  try {
    await ec2().send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'InvalidGroup.NotFound', 'InvalidGroupId.NotFound')) return 'not-found';
    if (isAwsError(e, 'DependencyViolation')) throw new ResourceDrainingError(`security group ${groupId} is still in use (network interfaces of stopped tasks are released some minutes later): ${(e as Error).message}`, { cause: e });
    throw e;
  }
}

// ---- subnets and route tables ----------------------------------------------------------

/** Our resources of `role` named `name` or `name-*` (one per availability zone), in the VPC when known. */
function namedOurs(role: string, name: string, vpcId: string | undefined): Filter[] {
  return [
    { Name: `tag:${TAG_MANAGED_BY}`, Values: [TOOL_NAME] },
    { Name: `tag:${TAG_ROLE}`, Values: [role] },
    { Name: 'tag:Name', Values: [name, `${name}-*`] },
    ...(vpcId ? [{ Name: 'vpc-id', Values: [vpcId] }] : []),
  ];
}

async function subnetsBy(input: { SubnetIds?: string[]; Filters?: Filter[] }): Promise<Subnet[]> {
  try {
    return (await ec2().send(new DescribeSubnetsCommand(input))).Subnets ?? [];
  } catch (e) {
    if (isAwsError(e, 'InvalidSubnetID.NotFound')) return [];
    throw e;
  }
}

async function routeTablesBy(input: { RouteTableIds?: string[]; Filters?: Filter[] }): Promise<RouteTable[]> {
  try {
    return (await ec2().send(new DescribeRouteTablesCommand(input))).RouteTables ?? [];
  } catch (e) {
    if (isAwsError(e, 'InvalidRouteTableID.NotFound')) return [];
    throw e;
  }
}

export interface SharedSubnets {
  subnets: Subnet[];
  routeTables: RouteTable[];
}

/**
 * Our subnets and route tables of the given roles: by Name (`name`, `name-*`) and the recorded
 * ids, keeping only those that carry our managed-by tag and the role (a user's subnet the ledger
 * names, e.g. network.subnetId, is never one of them).
 */
export async function findSharedSubnets(spec: {
  vpcId?: string;
  subnet: { role: string; name: string };
  routeTable: { role: string; name: string };
  recordedSubnetIds: readonly string[];
  recordedRouteTableIds: readonly string[];
}): Promise<SharedSubnets> {
  const subnets = new Map<string, Subnet>();
  for (const s of await subnetsBy({ Filters: namedOurs(spec.subnet.role, spec.subnet.name, spec.vpcId) })) subnets.set(s.SubnetId!, s);
  for (const id of spec.recordedSubnetIds) for (const s of await subnetsBy({ SubnetIds: [id] })) subnets.set(s.SubnetId!, s);
  const tables = new Map<string, RouteTable>();
  for (const t of await routeTablesBy({ Filters: namedOurs(spec.routeTable.role, spec.routeTable.name, spec.vpcId) })) tables.set(t.RouteTableId!, t);
  for (const id of spec.recordedRouteTableIds) for (const t of await routeTablesBy({ RouteTableIds: [id] })) tables.set(t.RouteTableId!, t);
  const ours = <T extends { Tags?: { Key?: string; Value?: string }[] }>(x: T, role: string) => isManagedByUs(x.Tags) && tagValue(x.Tags, TAG_ROLE) === role;
  return {
    subnets: [...subnets.values()].filter((s) => ours(s, spec.subnet.role)),
    routeTables: [...tables.values()].filter((t) => ours(t, spec.routeTable.role)),
  };
}

/**
 * Deletes shared subnets and their route tables, route tables first (disassociated from our
 * subnets, then deleted) so a subnet still held by ENIs never blocks them; a route table another
 * subnet, not this tool's, is associated with is kept. The ledger of what happened to each.
 */
export async function deleteSharedSubnets(found: SharedSubnets): Promise<TeardownEntry[]> {
  const ledger: TeardownEntry[] = [];
  const subnetIds = found.subnets.map((s) => s.SubnetId!);
  const foreign = foreignAssociations(found.routeTables, subnetIds);
  for (const t of found.routeTables) {
    const others = foreign.filter((f) => f.routeTableId === t.RouteTableId).map((f) => f.subnetId);
    if (others.length > 0) ledger.push(entry('route-table', t.RouteTableId!, 'kept', { reason: `subnet(s) ${others.join(', ')}, not this tool's, are associated with it`, shared: true }));
    else ledger.push(entry('route-table', t.RouteTableId!, await deleteRouteTable(t), { shared: true }));
  }
  for (const id of subnetIds) ledger.push(entry('vpc-subnet', id, await deleteSubnet(id), { shared: true }));
  return ledger;
}

/**
 * Deletes a subnet. ENIs left in it (a task's, being released) make AWS answer DependencyViolation
 * "The subnet 'subnet-...' has dependencies and cannot be deleted.": ResourceDrainingError.
 */
export async function deleteSubnet(subnetId: string): Promise<'deleted' | 'not-found'> {
  try {
    await ec2().send(new DeleteSubnetCommand({ SubnetId: subnetId }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'InvalidSubnetID.NotFound')) return 'not-found';
    if (isAwsError(e, 'DependencyViolation')) throw new ResourceDrainingError(`subnet ${subnetId} still holds network interfaces: ${(e as Error).message}`, { cause: e });
    throw e;
  }
}

/** Removes the table's subnet associations (the subnets are ours and being deleted), then the table. */
export async function deleteRouteTable(table: RouteTable): Promise<'deleted' | 'not-found'> {
  // Read again: deleting a subnet removes its association, so the table found earlier may list gone ones.
  const [now] = await routeTablesBy({ RouteTableIds: [table.RouteTableId!] });
  if (!now) return 'not-found';
  for (const a of now.Associations ?? []) {
    if (a.Main || !a.RouteTableAssociationId) continue;
    try {
      await ec2().send(new DisassociateRouteTableCommand({ AssociationId: a.RouteTableAssociationId }));
    } catch (e) {
      if (!isAwsError(e, 'InvalidAssociationID.NotFound')) throw e;
    }
  }
  try {
    await ec2().send(new DeleteRouteTableCommand({ RouteTableId: table.RouteTableId! }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'InvalidRouteTableID.NotFound')) return 'not-found';
    if (isAwsError(e, 'DependencyViolation')) throw new ResourceNotReadyError(`route table ${table.RouteTableId} still has associations: ${(e as Error).message}`, { cause: e });
    throw e;
  }
}

/** Subnets not in `subnetIds` that one of `tables` is associated with (someone else's subnet routed through our table). */
export function foreignAssociations(tables: readonly RouteTable[], subnetIds: readonly string[]): { routeTableId: string; subnetId: string }[] {
  return tables.flatMap((t) =>
    (t.Associations ?? []).filter((a) => a.SubnetId && !subnetIds.includes(a.SubnetId)).map((a) => ({ routeTableId: t.RouteTableId!, subnetId: a.SubnetId! })),
  );
}

// ---- NAT gateway and its Elastic IP ----------------------------------------------------

/** Our NAT gateways of the VPC not yet deleted (any state but `deleted`), plus the recorded ones that carry our tag. */
export async function findOurNatGateways(vpcId: string, recordedIds: readonly string[]): Promise<NatGateway[]> {
  const live = await vpcNatGateways(vpcId, ['pending', 'available', 'deleting', 'failed'], ourFilters({ role: 'nat-gateway' }));
  const all = await vpcNatGateways(vpcId, ['pending', 'available', 'deleting', 'failed']);
  const recorded = all.filter((n) => recordedIds.includes(n.NatGatewayId ?? '') && isManagedByUs(n.Tags));
  const byId = new Map<string, NatGateway>();
  for (const n of [...live, ...recorded]) byId.set(n.NatGatewayId!, n);
  return [...byId.values()];
}

/** Route tables this tool did not make that send traffic through one of the NAT gateways: their subnets still use it. */
export async function natGatewayRoutedByOthers(natGatewayIds: readonly string[]): Promise<RouteTable[]> {
  if (natGatewayIds.length === 0) return [];
  const tables = await routeTablesBy({ Filters: [{ Name: 'route.nat-gateway-id', Values: [...natGatewayIds] }] });
  return tables.filter((t) => !isManagedByUs(t.Tags));
}

/**
 * Deletes a NAT gateway. AWS moves it to `deleting`, then `deleted` after some minutes, and
 * only then frees its Elastic IP (disassociated, not released:
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNatGateway.html).
 */
export async function deleteNatGateway(natGatewayId: string): Promise<'deleted' | 'not-found'> {
  try {
    await ec2().send(new DeleteNatGatewayCommand({ NatGatewayId: natGatewayId }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'NatGatewayNotFound', 'InvalidNatGatewayID.NotFound')) return 'not-found';
    throw e;
  }
}

/** Our Elastic IPs named `name`, plus the recorded allocation ids that carry our tag. */
export async function findOurEips(name: string, recordedIds: readonly string[]): Promise<Address[]> {
  const byName = (await ec2().send(new DescribeAddressesCommand({ Filters: ourFilters({ role: 'nat-eip', name }) }))).Addresses ?? [];
  const byId: Address[] = [];
  for (const id of recordedIds) {
    try {
      byId.push(...((await ec2().send(new DescribeAddressesCommand({ AllocationIds: [id] }))).Addresses ?? []).filter((a) => isManagedByUs(a.Tags)));
    } catch (e) {
      if (!isAwsError(e, 'InvalidAllocationID.NotFound')) throw e;
    }
  }
  const m = new Map<string, Address>();
  for (const a of [...byName, ...byId]) if (a.AllocationId) m.set(a.AllocationId, a);
  return [...m.values()];
}

/**
 * Releases an Elastic IP. While a NAT gateway being deleted still holds it AWS answers
 * InvalidIPAddress.InUse ("Address ... is in use.", moto does not): ResourceNotReadyError, so
 * the step is retried once the NAT gateway is gone.
 */
export async function releaseEip(allocationId: string): Promise<'deleted' | 'not-found'> {
  try {
    await ec2().send(new ReleaseAddressCommand({ AllocationId: allocationId }));
    return 'deleted';
  } catch (e) {
    if (isAwsError(e, 'InvalidAllocationID.NotFound')) return 'not-found';
    if (isAwsError(e, 'InvalidIPAddress.InUse', 'AuthFailure') && /in use|associated/i.test((e as Error).message)) {
      throw new ResourceNotReadyError(`Elastic IP ${allocationId} is still in use (its NAT gateway is being deleted): ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}
