/**
 * Read-only lookups of the VPC the workload joins (EKS cluster, CIDRs, subnets, gateways,
 * route tables) and the tag helpers every VPC resource module shares.
 *
 * Two kinds of resources: shared by every workload of a VPC or ECS cluster (NAT gateway, its
 * Elastic IP, the NAT and task subnets and their route tables), tagged with `sharedTags` and
 * found with `pickOurs`; and per-workload (the task security group and its rules), tagged with
 * `workloadTags` and checked with `assertOwnedByWorkload`. A shared resource never carries a
 * workload tag: it would make two workloads' create requests differ, and EC2 rejects a repeated
 * ClientToken whose parameters (tags included) differ with IdempotentParameterMismatch.
 */
import { createHash } from 'node:crypto';
import {
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeVpcsCommand,
  paginateDescribeInternetGateways,
  paginateDescribeNatGateways,
  paginateDescribeRouteTables,
  paginateDescribeSubnets,
  type Filter,
  type NatGateway,
  type NatGatewayState,
  type ResourceType,
  type Route,
  type RouteTable,
  type Subnet,
  type Tag,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { ec2, eks } from '../clients.ts';
import { parseBlock } from '../cidr.ts';
import { isAwsError, NetworkConfigurationError, ResourceConflictError } from '../errors.ts';
import { arnTemplate, composePermissions, type Permission, type StepPermissions } from '../permissions.ts';
import { TAG_MANAGED_BY, TAG_ROLE, TOOL_NAME } from '../settings.ts';
import { isManagedByUs, tagValue } from '../tags.ts';
import type { SubnetInfo, VpcSnapshot } from '../workflow.ts';

// ---- IAM -------------------------------------------------------------------

/** Any EC2 resource of `type` in the account and region (ids are not known before a run). */
export function ec2Arn(type: string): string {
  return arnTemplate('ec2', `${type}/*`);
}

/**
 * ec2:Describe* have no resource-level permissions: `*` is their only valid Resource
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html lists
 * no resource type for them). One statement per step: the reads it sends.
 */
export function ec2Describe(action: string): Permission {
  return { sid: 'DescribeVpcNetwork', actions: [action], resources: ['*'] };
}

/** What each read of this module sends; a step composes the ones it calls. */
export const NETWORK_READS = {
  eksClusterNetwork: { sid: 'DescribeEksCluster', actions: ['eks:DescribeCluster'], resources: [arnTemplate('eks', 'cluster/${EksClusterName}')] },
  vpcCidrs: ec2Describe('ec2:DescribeVpcs'),
  /** describeSubnets and vpcSubnets. */
  describeSubnets: ec2Describe('ec2:DescribeSubnets'),
  attachedInternetGatewayId: ec2Describe('ec2:DescribeInternetGateways'),
  vpcNatGateways: ec2Describe('ec2:DescribeNatGateways'),
  effectiveRouteTable: ec2Describe('ec2:DescribeRouteTables'),
  regionZones: ec2Describe('ec2:DescribeAvailabilityZones'),
} satisfies Record<string, Permission>;

/** checkGivenPrivateSubnet. */
export const CHECK_GIVEN_SUBNET_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.describeSubnets, NETWORK_READS.effectiveRouteTable);

// ---- tags ------------------------------------------------------------------

/** EC2 filters matching resources this tool made, optionally with a given role and Name tag. */
export function ourFilters(opts: { role?: string; name?: string; vpcId?: string } = {}): Filter[] {
  const f: Filter[] = [{ Name: `tag:${TAG_MANAGED_BY}`, Values: [TOOL_NAME] }];
  if (opts.role) f.push({ Name: `tag:${TAG_ROLE}`, Values: [opts.role] });
  if (opts.name) f.push({ Name: 'tag:Name', Values: [opts.name] });
  if (opts.vpcId) f.push({ Name: 'vpc-id', Values: [opts.vpcId] });
  return f;
}

/**
 * The TagSpecifications for a new EC2 resource: `tags` (`sharedTags(role)` for a resource
 * every workload of the VPC uses, `workloadTags(request, role)` for a per-workload one) and a Name.
 */
export function tagSpec(type: ResourceType, tags: readonly Tag[], name?: string): TagSpecification[] {
  return [{ ResourceType: type, Tags: [...tags, ...(name ? [{ Key: 'Name', Value: name }] : [])] }];
}

/**
 * Of the SHARED resources found under one deterministic Name, the one this tool made (any
 * workload's run may have made it); when only resources we did not make carry the name, a
 * ResourceConflictError naming the first. Per-workload resources use `assertOwnedByWorkload`.
 */
export function pickOurs<T extends { Tags?: Tag[] }>(found: readonly T[], what: (t: T) => string): T | undefined {
  const ours = found.find((t) => isManagedByUs(t.Tags));
  if (ours) return ours;
  const foreign = found[0];
  if (foreign) {
    throw new ResourceConflictError(`${what(foreign)} exists but was not made by this tool (no ${TAG_MANAGED_BY}=${TOOL_NAME} tag); rename or tag it, or choose other names`);
  }
  return undefined;
}

/**
 * A deterministic EC2 ClientToken (at most 64 ASCII characters) from `parts`: two runs asking
 * for the same thing send the same token, so EC2 makes it once and answers the repeat with the
 * first result. A repeat whose parameters differ fails with IdempotentParameterMismatch
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html), so callers put
 * every parameter that can change into `parts` or renew the token on that error.
 */
export function clientToken(parts: readonly string[]): string {
  return `mesh-onboarding-${createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 32)}`;
}

// ---- EKS -------------------------------------------------------------------

/** The VPC and cluster security group of an EKS cluster, from DescribeCluster. */
export async function eksClusterNetwork(name: string): Promise<{ vpcId?: string; clusterSecurityGroupId?: string }> {
  try {
    const { cluster } = await eks().send(new DescribeClusterCommand({ name }));
    return { vpcId: cluster?.resourcesVpcConfig?.vpcId, clusterSecurityGroupId: cluster?.resourcesVpcConfig?.clusterSecurityGroupId };
  } catch (e) {
    if (isAwsError(e, 'ResourceNotFoundException')) {
      throw new NetworkConfigurationError(`EKS cluster "${name}" (network.eksClusterName) was not found in this account and region`, { cause: e });
    }
    throw e;
  }
}

// ---- VPC -------------------------------------------------------------------

/** The VPC's IPv4 CIDR blocks: primary first, then associated secondary blocks. */
export async function vpcCidrs(vpcId: string): Promise<string[]> {
  try {
    const { Vpcs } = await ec2().send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
    const vpc = Vpcs?.[0];
    if (!vpc) throw new NetworkConfigurationError(`VPC ${vpcId} was not found in this account and region`);
    const cidrs = vpc.CidrBlock ? [vpc.CidrBlock] : [];
    for (const a of vpc.CidrBlockAssociationSet ?? []) {
      if (a.CidrBlock && a.CidrBlockState?.State === 'associated' && !cidrs.includes(a.CidrBlock)) cidrs.push(a.CidrBlock);
    }
    return cidrs;
  } catch (e) {
    if (isAwsError(e, 'InvalidVpcID.NotFound', 'InvalidVpcID.Malformed')) {
      throw new NetworkConfigurationError(`VPC ${vpcId} was not found in this account and region`, { cause: e });
    }
    throw e;
  }
}

/**
 * True for a subnet with an IPv4 block. An IPv6-only subnet (`Ipv6Native`) has no `CidrBlock`
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html): it takes no IPv4
 * address space, so it plays no part in choosing a block, and the tasks cannot use it.
 */
export function hasIpv4Block(s: Subnet): s is Subnet & { CidrBlock: string } {
  return typeof s.CidrBlock === 'string' && s.CidrBlock !== '';
}

/** Maps an EC2 subnet with an IPv4 block (see hasIpv4Block) to the workflow's SubnetInfo. */
export function subnetInfo(s: Subnet & { CidrBlock: string }): SubnetInfo {
  const name = tagValue(s.Tags, 'Name');
  return { subnetId: s.SubnetId!, cidr: s.CidrBlock, availabilityZone: s.AvailabilityZone!, ...(name !== undefined ? { name } : {}) };
}

/** EC2 subnets matching `filters` (all pages). */
export async function describeSubnets(filters: Filter[]): Promise<Subnet[]> {
  const out: Subnet[] = [];
  for await (const page of paginateDescribeSubnets({ client: ec2() }, { Filters: filters })) out.push(...(page.Subnets ?? []));
  return out;
}

/** Every subnet of the VPC with an IPv4 block (IPv6-only ones skipped), sorted by address. */
export async function vpcSubnets(vpcId: string): Promise<SubnetInfo[]> {
  return ipv4Subnets(await describeSubnets([{ Name: 'vpc-id', Values: [vpcId] }]));
}

/** The subnets with an IPv4 block (IPv6-only ones skipped) as SubnetInfo, sorted by address. */
export function ipv4Subnets(subnets: readonly Subnet[]): SubnetInfo[] {
  return subnets
    .filter(hasIpv4Block)
    .map(subnetInfo)
    .sort((a, b) => parseBlock(a.cidr).start - parseBlock(b.cidr).start);
}

/** EC2 route tables matching `filters` (all pages). */
export async function describeRouteTables(filters: Filter[]): Promise<RouteTable[]> {
  const out: RouteTable[] = [];
  for await (const page of paginateDescribeRouteTables({ client: ec2() }, { Filters: filters })) out.push(...(page?.RouteTables ?? []));
  return out;
}

// ---- one read of the VPC, shared by a step's decisions ------------------------

const KEPT_TAGS = new Set(['Name', TAG_MANAGED_BY, TAG_ROLE]);
const keptTags = (tags: readonly Tag[] | undefined): Tag[] | undefined => (tags ? tags.filter((t) => KEPT_TAGS.has(t.Key ?? '')).map(({ Key, Value }) => ({ Key, Value })) : undefined);
/** Drops undefined fields, so a snapshot is plain JSON of what was read. */
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/**
 * What the network steps decide from, trimmed from what AWS answered (no dates, only our three
 * tags), and of the route tables only those a step can ask about, so a VPC with many tables
 * keeps the workflow state small: ours, the main one, those named `routeTableNames` (another
 * owner's table under one of our names is a conflict), and those associated with our subnets or
 * with a NAT gateway's subnet (where a subnet's traffic goes). A table left out is at worst
 * found again on the create path, which reads AWS.
 */
function trimSnapshot(s: VpcSnapshot, routeTableNames: readonly string[]): VpcSnapshot {
  const subnetsAsked = new Set([...s.subnets.filter((x) => isManagedByUs(x.Tags)).map((x) => x.SubnetId), ...s.natGateways.map((n) => n.SubnetId)]);
  const asked = (t: RouteTable) =>
    isManagedByUs(t.Tags) ||
    routeTableNames.includes(tagValue(t.Tags, 'Name') ?? '') ||
    (t.Associations ?? []).some((a) => a.Main === true || subnetsAsked.has(a.SubnetId));
  return {
    subnets: s.subnets.map((x) => defined({ SubnetId: x.SubnetId, VpcId: x.VpcId, CidrBlock: x.CidrBlock, AvailabilityZone: x.AvailabilityZone, Ipv6Native: x.Ipv6Native, Tags: keptTags(x.Tags) })),
    routeTables: s.routeTables.filter(asked).map((t) =>
      defined({
        RouteTableId: t.RouteTableId,
        VpcId: t.VpcId,
        Tags: keptTags(t.Tags),
        Associations: t.Associations?.map((a) => defined({ RouteTableAssociationId: a.RouteTableAssociationId, RouteTableId: a.RouteTableId, SubnetId: a.SubnetId, Main: a.Main })),
        Routes: t.Routes?.filter((r) => r.DestinationCidrBlock === '0.0.0.0/0'),
      }),
    ),
    natGateways: s.natGateways.map((n) =>
      defined({
        NatGatewayId: n.NatGatewayId,
        VpcId: n.VpcId,
        SubnetId: n.SubnetId,
        State: n.State,
        ConnectivityType: n.ConnectivityType,
        NatGatewayAddresses: n.NatGatewayAddresses?.map((a) => defined({ AllocationId: a.AllocationId, PublicIp: a.PublicIp })),
        FailureCode: n.FailureCode,
        FailureMessage: n.FailureMessage,
        Tags: keptTags(n.Tags),
      }),
    ),
  };
}

/**
 * The VPC's subnets, route tables and NAT gateways, each read at most once (one paginated
 * Describe per kind, filtered on the VPC) and answered locally after that. Seeded with Resolve
 * network's snapshot, a step's read-only path sends no call at all; `refresh()` forgets it, so
 * the create path (under the network lease) decides from AWS as it is now. What the step makes
 * is noted in (`noteSubnet`, `noteRouteTable`), so its later decisions see it without a read.
 */
export class VpcView {
  #subnets?: Promise<Subnet[]>;
  #routeTables?: Promise<RouteTable[]>;
  #natGateways?: Promise<NatGateway[]>;

  constructor(
    readonly vpcId: string,
    seen?: VpcSnapshot,
  ) {
    if (seen) {
      this.#subnets = Promise.resolve([...seen.subnets]);
      this.#routeTables = Promise.resolve([...seen.routeTables]);
      this.#natGateways = Promise.resolve([...seen.natGateways]);
    }
  }

  /** Forgets what was read (or seeded): the next question reads AWS again. */
  refresh(): void {
    this.#subnets = this.#routeTables = this.#natGateways = undefined;
  }

  subnets(): Promise<Subnet[]> {
    return (this.#subnets ??= retryable(describeSubnets([{ Name: 'vpc-id', Values: [this.vpcId] }]), () => (this.#subnets = undefined)));
  }

  routeTables(): Promise<RouteTable[]> {
    return (this.#routeTables ??= retryable(describeRouteTables([{ Name: 'vpc-id', Values: [this.vpcId] }]), () => (this.#routeTables = undefined)));
  }

  /** Every NAT gateway of the VPC, in any state (the dead ones tell the create a new ClientToken generation). */
  natGateways(): Promise<NatGateway[]> {
    return (this.#natGateways ??= retryable(vpcNatGateways(this.vpcId, ['pending', 'available', 'failed', 'deleting', 'deleted']), () => (this.#natGateways = undefined)));
  }

  /** A subnet this step made. */
  async noteSubnet(s: Subnet): Promise<void> {
    const list = await this.subnets();
    if (!list.some((x) => x.SubnetId === s.SubnetId)) list.push(s);
  }

  /** A route table this step made or changed (replaces the one with its id). */
  async noteRouteTable(t: RouteTable): Promise<void> {
    const list = await this.routeTables();
    const i = list.findIndex((x) => x.RouteTableId === t.RouteTableId);
    if (i >= 0) list[i] = t;
    else list.push(t);
  }

  /** Forgets the route tables only (after a race answer such as RouteAlreadyExists). */
  forgetRouteTables(): void {
    this.#routeTables = undefined;
  }

  /** What was read, trimmed (see trimSnapshot), for Resolve network's result (every part is read if it was not yet). */
  async snapshot(routeTableNames: readonly string[] = []): Promise<VpcSnapshot> {
    const [subnets, routeTables, natGateways] = await Promise.all([this.subnets(), this.routeTables(), this.natGateways()]);
    return trimSnapshot({ subnets, routeTables, natGateways }, routeTableNames);
  }
}

/** A cached read that is forgotten when it fails, so the next question tries again. */
function retryable<T>(p: Promise<T>, forget: () => void): Promise<T> {
  return p.catch((e: unknown) => {
    forget();
    throw e;
  });
}

/** Of the subnets, ours named `name` (ResourceConflictError when only someone else's carries the name). */
export function taggedSubnetIn(subnets: readonly Subnet[], vpcId: string, name: string): Subnet | undefined {
  const named = subnets.filter((s) => tagValue(s.Tags, 'Name') === name);
  return pickOurs(named, (s) => `Subnet "${name}" (${s.SubnetId}) in ${vpcId}`);
}

/** Of the VPC's route tables, the one that decides the subnet's traffic: its own, else the main one. */
export function effectiveRouteTableIn(tables: readonly RouteTable[], subnetId: string): { table?: RouteTable; main: boolean } {
  const own = tables.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId));
  if (own) return { table: own, main: false };
  return { table: tables.find((t) => t.Associations?.some((a) => a.Main === true)), main: true };
}

/**
 * The region's availability zones that are available, sorted by name. Local Zones and
 * Wavelength Zones (`ZoneType` other than `availability-zone`) are left out: NAT gateways and
 * Fargate are not offered in all of them.
 */
export async function regionZones(): Promise<string[]> {
  const { AvailabilityZones } = await ec2().send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }));
  return (AvailabilityZones ?? [])
    .filter((z) => z.ZoneName && (z.ZoneType ?? 'availability-zone') === 'availability-zone')
    .map((z) => z.ZoneName!)
    .sort();
}

/**
 * The `count` zones that get a task subnet: the zones of the VPC's subnets in address order
 * (the EKS cluster's, usually), then the region's other zones by name; the same answer every run.
 */
export function chooseZones(subnets: readonly SubnetInfo[], available: readonly string[], count: number): string[] {
  const ordered = [...new Set([...subnets.map((s) => s.availabilityZone).filter((z) => available.includes(z)), ...available])];
  return ordered.slice(0, count);
}

/** The internet gateway attached to the VPC, if any. */
export async function attachedInternetGatewayId(vpcId: string): Promise<string | undefined> {
  for await (const page of paginateDescribeInternetGateways({ client: ec2() }, { Filters: [{ Name: 'attachment.vpc-id', Values: [vpcId] }] })) {
    // AWS reports an attached internet gateway as `available` (not in the SDK's AttachmentStatus type).
    const igw = page.InternetGateways?.find((g) => g.Attachments?.some((a) => a.VpcId === vpcId && ['available', 'attached'].includes(String(a.State))));
    if (igw?.InternetGatewayId) return igw.InternetGatewayId;
  }
  return undefined;
}

/** NAT gateways of the VPC in the given states, optionally only ours (all pages). */
export async function vpcNatGateways(vpcId: string, states: NatGatewayState[], extra: Filter[] = []): Promise<NatGateway[]> {
  const out: NatGateway[] = [];
  const Filter: Filter[] = [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'state', Values: states }, ...extra];
  for await (const page of paginateDescribeNatGateways({ client: ec2() }, { Filter })) out.push(...(page.NatGateways ?? []));
  // The tag filters again on the answer: AWS applies them, moto 5.2.1 ignores them for NAT gateways (a zone's own NAT gateway is told apart by its Name).
  const tagFilters = extra.filter((f) => f.Name?.startsWith('tag:'));
  return out.filter((n) => tagFilters.every((f) => f.Values?.includes(tagValue(n.Tags, f.Name!.slice(4)) ?? '')));
}

// ---- routes ----------------------------------------------------------------

/**
 * The route table that decides a subnet's traffic: the one explicitly associated with it,
 * else the VPC's main route table.
 */
export async function effectiveRouteTable(vpcId: string, subnetId: string): Promise<{ table?: RouteTable; main: boolean }> {
  const explicit = await ec2().send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
  const own = explicit.RouteTables?.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId));
  if (own) return { table: own, main: false };
  const main = await ec2().send(
    new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'association.main', Values: ['true'] }] }),
  );
  return { table: main.RouteTables?.find((t) => t.Associations?.some((a) => a.Main === true)), main: true };
}

/** The table's IPv4 default route (0.0.0.0/0), if any. */
export function defaultRoute(table: RouteTable | undefined): Route | undefined {
  return table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0');
}

/** What a route sends traffic to, for messages ("NAT gateway nat-1", "igw-2", "no target"). */
export function routeTarget(r: Route): string {
  return (
    (r.NatGatewayId && `NAT gateway ${r.NatGatewayId}`) ||
    r.GatewayId ||
    r.TransitGatewayId ||
    r.NetworkInterfaceId ||
    r.InstanceId ||
    r.VpcPeeringConnectionId ||
    r.EgressOnlyInternetGatewayId ||
    'no target'
  );
}

/**
 * Checks a subnet the user gave (network.subnetIds): it is in the VPC and its route table
 * sends 0.0.0.0/0 to a NAT gateway. Throws NetworkConfigurationError saying what is wrong.
 */
export async function checkGivenPrivateSubnet(vpcId: string, subnetId: string, field = 'network.subnetIds'): Promise<{ subnet: SubnetInfo; routeTableId: string; natGatewayId: string }> {
  let found: Subnet[];
  try {
    found = await describeSubnets([{ Name: 'subnet-id', Values: [subnetId] }]);
  } catch (e) {
    if (!isAwsError(e, 'InvalidSubnetID.NotFound', 'InvalidSubnetID.Malformed')) throw e;
    found = [];
  }
  const s = found.find((x) => x.SubnetId === subnetId);
  if (!s) throw new NetworkConfigurationError(`${field} ${subnetId} was not found in this account and region`);
  if (s.VpcId !== vpcId) throw new NetworkConfigurationError(`${field} ${subnetId} is in ${s.VpcId}, not in the workload's VPC ${vpcId}`);
  if (!hasIpv4Block(s)) {
    throw new NetworkConfigurationError(
      `${field} ${subnetId} is IPv6-only (no IPv4 CIDR block), and this tool sends the tasks' outbound traffic (0.0.0.0/0) through a NAT gateway, which needs IPv4: give an IPv4 or dual-stack subnet, or leave network.subnetIds out so one is made`,
    );
  }
  const { table, main } = await effectiveRouteTable(vpcId, subnetId);
  if (!table?.RouteTableId) throw new NetworkConfigurationError(`${field} ${subnetId} has no route table of its own and ${vpcId} has no main route table`);
  const where = main ? `the VPC's main route table ${table.RouteTableId} (the subnet has no route table of its own)` : `its route table ${table.RouteTableId}`;
  const fix = 'route 0.0.0.0/0 to a NAT gateway (the tasks need outbound access to the onboarding endpoint and image registries), or leave network.subnetIds out so a subnet behind a NAT gateway is made';
  const r = defaultRoute(table);
  if (!r) throw new NetworkConfigurationError(`${field} ${subnetId}: ${where} has no 0.0.0.0/0 route; ${fix}`);
  if (!r.NatGatewayId) throw new NetworkConfigurationError(`${field} ${subnetId}: ${where} sends 0.0.0.0/0 to ${routeTarget(r)}, not to a NAT gateway; ${fix}`);
  if (r.State === 'blackhole') throw new NetworkConfigurationError(`${field} ${subnetId}: ${where} sends 0.0.0.0/0 to NAT gateway ${r.NatGatewayId}, which no longer exists (blackhole); ${fix}`);
  return { subnet: subnetInfo(s), routeTableId: table.RouteTableId, natGatewayId: r.NatGatewayId };
}
