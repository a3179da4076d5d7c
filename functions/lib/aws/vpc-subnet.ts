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
import { isAwsError, NetworkConfigurationError, ResourceConflictError, ResourceNotReadyError } from '../errors.ts';
import { composePermissions, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { isPlanned, plannedId, type FieldChange, type PlanEntry } from '../plan.ts';
import { sharedTags, tagValue } from '../tags.ts';
import type { SubnetInfo } from '../workflow.ts';
import { clientToken, defaultRoute, ec2Arn, hasIpv4Block, ipv4Subnets, NETWORK_READS, pickOurs, routeTarget, subnetInfo, taggedSubnetIn, tagSpec, type VpcView } from './network.ts';

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

/** What ensureTaggedSubnet finds, or the block and zone it would make the subnet with. */
export type TaggedSubnetFinding = { found: SubnetInfo } | { cidr: string; az?: string };

/**
 * Read-only, the decision of ensureTaggedSubnet (its dry run calls it too): our subnet named
 * `spec.name`, or the block and zone a new one would get, chosen from the VPC's subnets plus
 * `planned` (subnets the same dry run plans to make before this one: they count as taken, as
 * they will be when the apply lists the subnets). Throws what the apply would: ResourceConflictError
 * (only someone else's subnet carries the name), NetworkConfigurationError (IPv6-only, a block
 * that does not fit).
 */
export async function inspectTaggedSubnet(spec: TaggedSubnetSpec, view: VpcView, planned: readonly SubnetInfo[] = []): Promise<TaggedSubnetFinding> {
  const ours = await findTaggedSubnet(view, spec.name);
  if (ours) {
    if (!hasIpv4Block(ours)) throw new NetworkConfigurationError(`subnet "${spec.name}" (${ours.SubnetId}) in ${spec.vpcId} is IPv6-only; delete it so an IPv4 one is made`);
    return { found: subnetInfo(ours) };
  }
  const existing = [...ipv4Subnets(await view.subnets()), ...planned];
  const cidr = spec.chooseCidr(existing);
  const az = spec.chooseAz?.(existing);
  return { cidr, ...(az ? { az } : {}) };
}

/**
 * Finds our subnet named `spec.name` in the VPC or creates it. The block is chosen from the
 * subnets `view` lists (the caller refreshes it under the network lease), so a retry after a
 * concurrent run took it chooses anew; the new subnet is noted in `view`.
 */
export async function ensureTaggedSubnet(spec: TaggedSubnetSpec, view: VpcView): Promise<{ subnet: SubnetInfo; created: boolean }> {
  const finding = await inspectTaggedSubnet(spec, view);
  if ('found' in finding) return { subnet: finding.found, created: false };
  const { cidr, az } = finding;
  try {
    const made = await ec2().send(
      new CreateSubnetCommand({
        VpcId: spec.vpcId,
        CidrBlock: cidr,
        ...(az ? { AvailabilityZone: az } : {}),
        TagSpecifications: tagSpec('subnet', sharedTags(spec.role), spec.name),
      }),
    );
    const subnet = { ...made.Subnet!, VpcId: spec.vpcId, CidrBlock: made.Subnet?.CidrBlock ?? cidr, Tags: tagSpec('subnet', sharedTags(spec.role), spec.name)[0]!.Tags };
    await view.noteSubnet(subnet);
    return { subnet: subnetInfo(subnet), created: true };
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

/**
 * A dry run's view of a tagged subnet: its plan entry (create with its block and zone, reuse),
 * the subnet the later plan works with (a placeholder id for one to make), or, where the apply
 * would fail (a name another owner uses, a block that does not fit), a conflict entry and no subnet.
 */
export async function planTaggedSubnet(spec: TaggedSubnetSpec, view: VpcView, planned: readonly SubnetInfo[] = []): Promise<{ entry: PlanEntry; subnet?: SubnetInfo }> {
  const base = { kind: 'vpc-subnet' as const, name: spec.name, shared: true };
  let finding: TaggedSubnetFinding;
  try {
    finding = await inspectTaggedSubnet(spec, view, planned);
  } catch (e) {
    if (!(e instanceof ResourceConflictError || e instanceof NetworkConfigurationError)) throw e;
    return { entry: { ...base, action: 'conflict', detail: e.message } };
  }
  if ('found' in finding) return { entry: { ...base, id: finding.found.subnetId, action: 'reuse' }, subnet: finding.found };
  const subnet: SubnetInfo = { subnetId: plannedId('vpc-subnet', spec.name), cidr: finding.cidr, availabilityZone: finding.az ?? '', name: spec.name };
  return { entry: { ...base, action: 'create', detail: `${finding.cidr} in ${finding.az ?? 'a zone AWS picks'}` }, subnet };
}

const PLANNED_SUBNET_DETAIL = /^(\S+\/\d+) in (\S+)/;

/**
 * The subnets a dry run's plan entries (of planTaggedSubnet) would make, as the next step's plan
 * counts them: taken blocks, as the apply will find them made when it lists the subnets.
 */
export function plannedSubnets(entries: readonly PlanEntry[] = []): SubnetInfo[] {
  return entries.flatMap((e) => {
    const m = e.kind === 'vpc-subnet' && e.action === 'create' ? PLANNED_SUBNET_DETAIL.exec(e.detail ?? '') : null;
    return m ? [{ subnetId: plannedId('vpc-subnet', e.name), cidr: m[1]!, availabilityZone: m[2]!, name: e.name }] : [];
  });
}

/** Our subnet named `name` in the VPC (ResourceConflictError when only someone else's carries the name), from `view`. */
export async function findTaggedSubnet(view: VpcView, name: string): Promise<Subnet | undefined> {
  return taggedSubnetIn(await view.subnets(), view.vpcId, name);
}

/**
 * Read-only: the id of our route table `spec.name` when it is already as ensureRouteTable
 * would leave it (0.0.0.0/0 to `spec.target`, associated with `spec.subnetId`), else undefined.
 */
export async function routeTableInPlace(spec: RouteTableSpec, view: VpcView): Promise<string | undefined> {
  // Not associated per the table is enough to say "not in place": the apply's create path looks the subnet's association up.
  const { table, changes } = await inspectRouteTable(spec, view, false);
  return table?.RouteTableId && changes.length === 0 ? table.RouteTableId : undefined;
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

async function findRouteTable(spec: RouteTableSpec, view: VpcView): Promise<RouteTable | undefined> {
  const named = (await view.routeTables()).filter((t) => tagValue(t.Tags, 'Name') === spec.name);
  return pickOurs(named, (t) => `Route table "${spec.name}" (${t.RouteTableId}) in ${spec.vpcId}`);
}

/** The FieldChange names of a route table: its default route and its association with the subnet. */
export const ROUTE_FIELD = 'routes[0.0.0.0/0]';
const associationField = (subnetId: string) => `associations[${subnetId}]`;

const targetId = (t: RouteTarget) => ('natGatewayId' in t ? t.natGatewayId : t.gatewayId);

/** What ensureRouteTable finds: our table (absent: to be made) and what it would change on it. */
export interface RouteTableFinding {
  table?: RouteTable;
  /** The default route to point at the target, the subnet to associate; empty when the table is as wanted. */
  changes: FieldChange[];
  /** The subnet's explicit association with another table, which ensureRouteTable moves to ours. */
  otherAssociation?: { RouteTableId?: string; RouteTableAssociationId?: string };
}

/**
 * Read-only, the decision of ensureRouteTable (its dry run calls it too): what differs on the
 * table from `spec`. The target and subnet may be a dry run's placeholders (functions/lib/plan.ts):
 * nothing is looked up by them, and a route to (or association with) one is always a change.
 * `lookUpAssociation` false: a subnet the table does not list is a change without looking up
 * which table it is associated with now.
 */
async function routeTableChanges(table: RouteTable, spec: RouteTableSpec, view: VpcView, lookUpAssociation = true): Promise<Omit<RouteTableFinding, 'table'>> {
  const changes: FieldChange[] = [];
  const route = defaultRoute(table);
  if (!route || !routeGoesTo(route, spec.target)) {
    const current = route ? `${route.NatGatewayId ?? route.GatewayId ?? routeTarget(route)}${route.State === 'blackhole' ? ' (blackhole)' : ''}` : undefined;
    changes.push({ field: ROUTE_FIELD, ...(current ? { current } : {}), wanted: targetId(spec.target) });
  }
  if (table.Associations?.some((a) => a.SubnetId === spec.subnetId)) return { changes };
  const other = isPlanned(spec.subnetId) || !lookUpAssociation ? undefined : associationIn(await view.routeTables(), spec.subnetId);
  if (other?.RouteTableId === table.RouteTableId) return { changes };
  changes.push({ field: associationField(spec.subnetId), current: other?.RouteTableId ?? 'the VPC main route table', wanted: table.RouteTableId });
  return { changes, ...(other ? { otherAssociation: other } : {}) };
}

/** Read-only: our route table `spec.name` (ResourceConflictError when only someone else's carries the name) and what ensureRouteTable would change on it. */
export async function inspectRouteTable(spec: RouteTableSpec, view: VpcView, lookUpAssociation = true): Promise<RouteTableFinding> {
  const table = await findRouteTable(spec, view);
  if (!table) return { changes: [] };
  return { table, ...(await routeTableChanges(table, spec, view, lookUpAssociation)) };
}

/** A dry run's plan entry for our route table `spec.name`: create, update (route, association), reuse, or conflict (another owner's table under the name). */
export async function planRouteTable(spec: RouteTableSpec, view: VpcView): Promise<PlanEntry> {
  const base = { kind: 'route-table' as const, name: spec.name, shared: true };
  let finding: RouteTableFinding;
  try {
    finding = await inspectRouteTable(spec, view);
  } catch (e) {
    if (!(e instanceof ResourceConflictError)) throw e;
    return { ...base, action: 'conflict', detail: e.message };
  }
  const { table, changes } = finding;
  if (!table?.RouteTableId) return { ...base, action: 'create', detail: `0.0.0.0/0 to ${targetId(spec.target)}, associated with ${spec.subnetId}` };
  return changes.length > 0 ? { ...base, id: table.RouteTableId, action: 'update', changes } : { ...base, id: table.RouteTableId, action: 'reuse' };
}

/**
 * CreateRouteTable with a ClientToken per VPC, name and subnet (a re-made subnet gets a new
 * table): two concurrent runs that both found no table get one table, not two. A token whose
 * first use had other parameters (an older version's tags) fails with
 * IdempotentParameterMismatch: then a table a concurrent run made meanwhile is used, else a
 * renewed token (the same in every run) makes a new one.
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
 */
async function createRouteTable(spec: RouteTableSpec, view: VpcView): Promise<{ table: RouteTable; created: boolean }> {
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
      const table = { ...made.RouteTable, Tags: made.RouteTable.Tags?.length ? made.RouteTable.Tags : tagSpec('route-table', sharedTags(spec.role), spec.name)[0]!.Tags };
      await view.noteRouteTable(table);
      return { table, created: true };
    } catch (e) {
      if (!isAwsError(e, 'IdempotentParameterMismatch')) throw e;
      view.forgetRouteTables();
      const raced = await findRouteTable(spec, view);
      if (raced) return { table: raced, created: false };
    }
  }
  throw new ResourceNotReadyError(`CreateRouteTable for "${spec.name}" in ${spec.vpcId} kept answering IdempotentParameterMismatch`);
}

/**
 * Finds or makes our route table `spec.name`, makes its 0.0.0.0/0 route point at
 * `spec.target` (replacing a different target) and associates it with the subnet: what
 * inspectRouteTable found different. `updated`: an existing table was changed.
 */
export async function ensureRouteTable(spec: RouteTableSpec, view: VpcView): Promise<{ routeTableId: string; created: boolean; updated: boolean }> {
  const found = await inspectRouteTable(spec, view);
  const made = found.table ? undefined : await createRouteTable(spec, view);
  const table = found.table ?? made!.table;
  const { changes, otherAssociation } = made ? await routeTableChanges(table, spec, view) : found;
  const routeTableId = table.RouteTableId!;
  if (changes.some((c) => c.field === ROUTE_FIELD)) await ensureDefaultRoute(table, spec.target, view);
  if (changes.some((c) => c.field === associationField(spec.subnetId))) await ensureAssociation(table, spec.subnetId, otherAssociation, view);
  const created = made?.created ?? false;
  return { routeTableId, created, updated: !created && changes.length > 0 };
}

function routeGoesTo(r: Route, target: RouteTarget): boolean {
  const same = 'natGatewayId' in target ? r.NatGatewayId === target.natGatewayId : r.GatewayId === target.gatewayId;
  return same && r.State !== 'blackhole';
}

async function describeRouteTable(routeTableId: string): Promise<RouteTable | undefined> {
  const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ RouteTableIds: [routeTableId] }));
  return RouteTables?.find((t) => t.RouteTableId === routeTableId);
}

/** `table` as it is after its 0.0.0.0/0 route was pointed at `target` (noted in the step's view without a read). */
function withDefaultRoute(table: RouteTable, target: RouteTarget): RouteTable {
  const route: Route = { DestinationCidrBlock: '0.0.0.0/0', State: 'active', ...('natGatewayId' in target ? { NatGatewayId: target.natGatewayId } : { GatewayId: target.gatewayId }) };
  return { ...table, Routes: [...(table.Routes ?? []).filter((r) => r.DestinationCidrBlock !== '0.0.0.0/0'), route] };
}

async function ensureDefaultRoute(table: RouteTable, target: RouteTarget, view: VpcView): Promise<void> {
  // NatGatewayId, never GatewayId: nat-... — AWS wants the NAT field (moto stores no target otherwise).
  const fields = 'natGatewayId' in target ? { NatGatewayId: target.natGatewayId } : { GatewayId: target.gatewayId };
  const input = { RouteTableId: table.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', ...fields };
  const current = defaultRoute(table);
  if (current) {
    if (!routeGoesTo(current, target)) await ec2().send(new ReplaceRouteCommand(input));
    await view.noteRouteTable(withDefaultRoute(table, target));
    return;
  }
  try {
    await ec2().send(new CreateRouteCommand(input));
    await view.noteRouteTable(withDefaultRoute(table, target));
  } catch (e) {
    // A concurrent run added 0.0.0.0/0 after our read ("The route identified by 0.0.0.0/0
    // already exists."): converge on what is there now instead of failing.
    if (!isAwsError(e, 'RouteAlreadyExists')) throw e;
    view.forgetRouteTables();
    const now = defaultRoute(await describeRouteTable(table.RouteTableId!));
    if (!now) throw new ResourceNotReadyError(`route table ${table.RouteTableId} has a 0.0.0.0/0 route that DescribeRouteTables does not show yet: ${(e as Error).message}`, { cause: e });
    if (!routeGoesTo(now, target)) await ec2().send(new ReplaceRouteCommand(input));
  }
}

/** Of the route tables, the subnet's explicit association, if any (the main table's is implicit). */
function associationIn(tables: readonly RouteTable[], subnetId: string) {
  return tables.flatMap((t) => (t.Associations ?? []).map((a) => ({ ...a, RouteTableId: a.RouteTableId ?? t.RouteTableId }))).find((a) => a.SubnetId === subnetId);
}

/** The subnet's explicit route table association as AWS has it now (after a race answer). */
async function subnetAssociation(subnetId: string) {
  const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
  return associationIn(RouteTables ?? [], subnetId);
}

/** Associates the subnet with our table; `other`: its association with another table (routeTableChanges looked it up), which is moved. The tables change: `view` forgets them unless the plain association went through. */
async function ensureAssociation(table: RouteTable, subnetId: string, other: RouteTableFinding['otherAssociation'], view: VpcView): Promise<void> {
  // The subnet is ours: if an earlier run (or a person) tied it to another table, move it.
  if (other?.RouteTableAssociationId) {
    view.forgetRouteTables();
    await moveAssociation(other.RouteTableAssociationId, table.RouteTableId!, subnetId);
    return;
  }
  try {
    const associated = await ec2().send(new AssociateRouteTableCommand({ RouteTableId: table.RouteTableId!, SubnetId: subnetId }));
    const AssociationId = associated?.AssociationId;
    const now = (await view.routeTables()).find((t) => t.RouteTableId === table.RouteTableId) ?? table;
    await view.noteRouteTable({ ...now, Associations: [...(now.Associations ?? []), { RouteTableAssociationId: AssociationId, RouteTableId: table.RouteTableId, SubnetId: subnetId, Main: false }] });
  } catch (e) {
    view.forgetRouteTables();
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
