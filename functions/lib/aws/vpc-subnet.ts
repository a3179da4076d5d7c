/**
 * Subnets and route tables this tool makes, found again by their Name tag (and our
 * managed-by tag) before anything is created, so an interrupted run resumes without leaks.
 * All of them are shared: the NAT subnet by every workload of the VPC, the task subnet
 * (`<cluster>-ecs-subnet`) by every workload of the ECS cluster. So they carry `sharedTags`,
 * never a workload tag, and any of our runs may adopt one another made.
 */
import {
  AssociateRouteTableCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  DescribeRouteTablesCommand,
  ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand,
  type Route,
  type RouteTable,
  type Subnet,
} from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, NetworkConfigurationError, ResourceNotReadyError } from '../errors.ts';
import { composePermissions, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { sharedTags } from '../tags.ts';
import type { SubnetInfo } from '../workflow.ts';
import { clientToken, defaultRoute, describeSubnets, ec2Arn, hasIpv4Block, NETWORK_READS, pickOurs, subnetInfo, tagSpec, vpcSubnets } from './network.ts';

/**
 * ensureTaggedSubnet. A new subnet must carry our tag (aws:RequestTag on the `subnet`
 * resource); the VPC is the user's (the EKS cluster's), so it cannot be narrowed by tag;
 * TagSpecifications are authorized as ec2:CreateTags, narrowed by `ec2:CreateAction`
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html;
 * resource types per action: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
 */
export const TAGGED_SUBNET_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.describeSubnets, [
  { sid: 'CreateOurSubnet', actions: ['ec2:CreateSubnet'], resources: [ec2Arn('subnet')], conditions: requestTaggedByUs() },
  { sid: 'CreateSubnetInVpc', actions: ['ec2:CreateSubnet'], resources: [ec2Arn('vpc')] },
  { sid: 'TagSubnetOnCreate', actions: ['ec2:CreateTags'], resources: [ec2Arn('subnet')], conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSubnet' } } },
]);

/**
 * ensureRouteTable: a new route table must carry our tag; routes and associations change only
 * tables (and subnets) carrying it. CreateRoute/ReplaceRoute are authorized on the route table
 * alone (the reference lists no target resource for them).
 */
export const ROUTE_TABLE_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.effectiveRouteTable, [
  { sid: 'CreateOurRouteTable', actions: ['ec2:CreateRouteTable'], resources: [ec2Arn('route-table')], conditions: requestTaggedByUs() },
  { sid: 'CreateRouteTableInVpc', actions: ['ec2:CreateRouteTable'], resources: [ec2Arn('vpc')] },
  { sid: 'TagRouteTableOnCreate', actions: ['ec2:CreateTags'], resources: [ec2Arn('route-table')], conditions: { StringEquals: { 'ec2:CreateAction': 'CreateRouteTable' } } },
  { sid: 'RouteInOurRouteTable', actions: ['ec2:CreateRoute', 'ec2:ReplaceRoute'], resources: [ec2Arn('route-table')], conditions: resourceTaggedByUs() },
  {
    sid: 'AssociateOurRouteTable',
    actions: ['ec2:AssociateRouteTable', 'ec2:ReplaceRouteTableAssociation'],
    resources: [ec2Arn('route-table'), ec2Arn('subnet')],
    conditions: resourceTaggedByUs(),
  },
]);

export interface TaggedSubnetSpec {
  vpcId: string;
  /** The Name tag that identifies the subnet (deterministic). */
  name: string;
  /** TAG_ROLE value, e.g. 'nat-subnet'. */
  role: string;
  /** Chooses the CIDR block when the subnet has to be made, from the VPC's current subnets. */
  chooseCidr: (existing: SubnetInfo[]) => string;
  /** Chooses the AZ when the subnet has to be made; undefined lets AWS pick. */
  chooseAz?: (existing: SubnetInfo[]) => string | undefined;
}

/**
 * Finds our subnet named `spec.name` in the VPC or creates it. The block is chosen from the
 * subnets listed on each call, so a retry after a concurrent run took it chooses anew.
 */
export async function ensureTaggedSubnet(spec: TaggedSubnetSpec): Promise<{ subnet: SubnetInfo; created: boolean }> {
  const ours = await findTaggedSubnet(spec.vpcId, spec.name);
  if (ours) {
    if (!hasIpv4Block(ours)) throw new NetworkConfigurationError(`subnet "${spec.name}" (${ours.SubnetId}) in ${spec.vpcId} is IPv6-only; delete it so an IPv4 one is made`);
    return { subnet: subnetInfo(ours), created: false };
  }

  const existing = await vpcSubnets(spec.vpcId);
  const cidr = spec.chooseCidr(existing);
  const az = spec.chooseAz?.(existing);
  try {
    const made = await ec2().send(
      new CreateSubnetCommand({
        VpcId: spec.vpcId,
        CidrBlock: cidr,
        ...(az ? { AvailabilityZone: az } : {}),
        TagSpecifications: tagSpec('subnet', sharedTags(spec.role), spec.name),
      }),
    );
    return { subnet: subnetInfo({ ...made.Subnet!, CidrBlock: made.Subnet?.CidrBlock ?? cidr }), created: true };
  } catch (e) {
    // A concurrent run took the block after we listed the subnets: the next attempt lists them and chooses again.
    if (isAwsError(e, 'InvalidSubnet.Conflict')) {
      throw new ResourceNotReadyError(`subnet block ${cidr} for "${spec.name}" in ${spec.vpcId} was taken meanwhile: ${(e as Error).message}`, { cause: e });
    }
    if (isAwsError(e, 'InvalidSubnet.Range')) {
      throw new NetworkConfigurationError(`cannot create subnet "${spec.name}" with ${cidr} in ${spec.vpcId}: ${(e as Error).message}`, { cause: e });
    }
    throw e;
  }
}

/** Our subnet named `name` in the VPC (ResourceConflictError when only someone else's carries the name). */
export async function findTaggedSubnet(vpcId: string, name: string): Promise<Subnet | undefined> {
  const named = await describeSubnets([
    { Name: 'vpc-id', Values: [vpcId] },
    { Name: 'tag:Name', Values: [name] },
  ]);
  return pickOurs(named, (s) => `Subnet "${name}" (${s.SubnetId}) in ${vpcId}`);
}

/**
 * Read-only: the id of our route table `spec.name` when it is already as ensureRouteTable
 * would leave it (0.0.0.0/0 to `spec.target`, associated with `spec.subnetId`), else undefined.
 */
export async function routeTableInPlace(spec: RouteTableSpec): Promise<string | undefined> {
  const table = await findRouteTable(spec);
  const route = defaultRoute(table);
  if (!table?.RouteTableId || !route || !routeGoesTo(route, spec.target)) return undefined;
  return table.Associations?.some((a) => a.SubnetId === spec.subnetId) ? table.RouteTableId : undefined;
}

export type RouteTarget = { natGatewayId: string } | { gatewayId: string };

export interface RouteTableSpec {
  vpcId: string;
  name: string;
  role: string;
  /** The subnet the table is associated with. */
  subnetId: string;
  /** Where 0.0.0.0/0 goes. */
  target: RouteTarget;
}

async function findRouteTable(spec: RouteTableSpec): Promise<RouteTable | undefined> {
  const { RouteTables } = await ec2().send(
    new DescribeRouteTablesCommand({
      Filters: [
        { Name: 'vpc-id', Values: [spec.vpcId] },
        { Name: 'tag:Name', Values: [spec.name] },
      ],
    }),
  );
  return pickOurs(RouteTables ?? [], (t) => `Route table "${spec.name}" (${t.RouteTableId}) in ${spec.vpcId}`);
}

/**
 * CreateRouteTable with a ClientToken per VPC, name and subnet (a re-made subnet gets a new
 * table): two concurrent runs that both found no table get one table, not two. A token whose
 * first use had other parameters (an older version's tags) fails with
 * IdempotentParameterMismatch: then a table a concurrent run made meanwhile is used, else a
 * renewed token (the same in every run) makes a new one.
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
 */
async function createRouteTable(spec: RouteTableSpec): Promise<{ table: RouteTable; created: boolean }> {
  for (let renewal = 0; renewal < 3; renewal++) {
    try {
      const made = await ec2().send(
        new CreateRouteTableCommand({
          VpcId: spec.vpcId,
          ClientToken: clientToken(['route-table', spec.vpcId, spec.name, spec.subnetId, ...(renewal > 0 ? [`renewal-${renewal}`] : [])]),
          TagSpecifications: tagSpec('route-table', sharedTags(spec.role), spec.name),
        }),
      );
      if (!made.RouteTable?.RouteTableId) throw new Error(`CreateRouteTable returned no id for "${spec.name}" in ${spec.vpcId}`);
      return { table: made.RouteTable, created: true };
    } catch (e) {
      if (!isAwsError(e, 'IdempotentParameterMismatch')) throw e;
      const raced = await findRouteTable(spec);
      if (raced) return { table: raced, created: false };
    }
  }
  throw new ResourceNotReadyError(`CreateRouteTable for "${spec.name}" in ${spec.vpcId} kept answering IdempotentParameterMismatch`);
}

/**
 * Finds or makes our route table `spec.name`, makes its 0.0.0.0/0 route point at
 * `spec.target` (replacing a different target) and associates it with the subnet.
 */
export async function ensureRouteTable(spec: RouteTableSpec): Promise<{ routeTableId: string; created: boolean }> {
  const found = await findRouteTable(spec);
  const { table, created } = found ? { table: found, created: false } : await createRouteTable(spec);
  const routeTableId = table.RouteTableId!;
  await ensureDefaultRoute(table, spec.target);
  await ensureAssociation(table, spec.subnetId);
  return { routeTableId, created };
}

function routeGoesTo(r: Route, target: RouteTarget): boolean {
  const same = 'natGatewayId' in target ? r.NatGatewayId === target.natGatewayId : r.GatewayId === target.gatewayId;
  return same && r.State !== 'blackhole';
}

async function describeRouteTable(routeTableId: string): Promise<RouteTable | undefined> {
  const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ RouteTableIds: [routeTableId] }));
  return RouteTables?.find((t) => t.RouteTableId === routeTableId);
}

async function ensureDefaultRoute(table: RouteTable, target: RouteTarget): Promise<void> {
  // NatGatewayId, never GatewayId: nat-... — AWS wants the NAT field (moto stores no target otherwise).
  const fields = 'natGatewayId' in target ? { NatGatewayId: target.natGatewayId } : { GatewayId: target.gatewayId };
  const input = { RouteTableId: table.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', ...fields };
  const current = defaultRoute(table);
  if (current) {
    if (!routeGoesTo(current, target)) await ec2().send(new ReplaceRouteCommand(input));
    return;
  }
  try {
    await ec2().send(new CreateRouteCommand(input));
  } catch (e) {
    // A concurrent run added 0.0.0.0/0 after our read ("The route identified by 0.0.0.0/0
    // already exists."): converge on what is there now instead of failing.
    if (!isAwsError(e, 'RouteAlreadyExists')) throw e;
    const now = defaultRoute(await describeRouteTable(table.RouteTableId!));
    if (!now) throw new ResourceNotReadyError(`route table ${table.RouteTableId} has a 0.0.0.0/0 route that DescribeRouteTables does not show yet: ${(e as Error).message}`, { cause: e });
    if (!routeGoesTo(now, target)) await ec2().send(new ReplaceRouteCommand(input));
  }
}

/** The subnet's explicit route table association, if any (the main table's is implicit). */
async function subnetAssociation(subnetId: string) {
  const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
  return RouteTables?.flatMap((t) => (t.Associations ?? []).map((a) => ({ ...a, RouteTableId: a.RouteTableId ?? t.RouteTableId }))).find((a) => a.SubnetId === subnetId);
}

async function ensureAssociation(table: RouteTable, subnetId: string): Promise<void> {
  if (table.Associations?.some((a) => a.SubnetId === subnetId)) return;
  // The subnet is ours: if an earlier run (or a person) tied it to another table, move it.
  const other = await subnetAssociation(subnetId);
  if (other?.RouteTableId === table.RouteTableId) return;
  if (other?.RouteTableAssociationId) {
    await moveAssociation(other.RouteTableAssociationId, table.RouteTableId!, subnetId);
    return;
  }
  try {
    await ec2().send(new AssociateRouteTableCommand({ RouteTableId: table.RouteTableId!, SubnetId: subnetId }));
  } catch (e) {
    // A concurrent run associated the subnet after our read ("the specified association for
    // route table rtb-... conflicts with an existing association"): fine when it is our
    // table, else move it to ours.
    if (!isAwsError(e, 'Resource.AlreadyAssociated')) throw e;
    const now = await subnetAssociation(subnetId);
    if (now?.RouteTableId === table.RouteTableId) return;
    if (!now?.RouteTableAssociationId) {
      throw new ResourceNotReadyError(`subnet ${subnetId} is associated with a route table that DescribeRouteTables does not show yet: ${(e as Error).message}`, { cause: e });
    }
    await moveAssociation(now.RouteTableAssociationId, table.RouteTableId!, subnetId);
  }
}

/**
 * Moves the subnet's association to our table. A concurrent run may have moved it first: its
 * old association id is then gone (InvalidAssociationID.NotFound), which is success when the
 * subnet is now ours, else "not ready" (the retry reads the association again).
 */
async function moveAssociation(associationId: string, routeTableId: string, subnetId: string): Promise<void> {
  try {
    await ec2().send(new ReplaceRouteTableAssociationCommand({ AssociationId: associationId, RouteTableId: routeTableId }));
  } catch (e) {
    if (!isAwsError(e, 'InvalidAssociationID.NotFound')) throw e;
    if ((await subnetAssociation(subnetId))?.RouteTableId === routeTableId) return;
    throw new ResourceNotReadyError(`the route table association of subnet ${subnetId} changed while it was being moved to ${routeTableId}: ${(e as Error).message}`, { cause: e });
  }
}
