/**
 * Subnets and route tables this tool makes, found again by their Name tag (and our
 * managed-by tag) before anything is created, so an interrupted run resumes without leaks.
 */
import {
  AssociateRouteTableCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  DescribeRouteTablesCommand,
  ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, NetworkConfigurationError, ResourceNotReadyError } from '../errors.ts';
import type { OnboardingRequest } from '../request.ts';
import type { SubnetInfo } from '../workflow.ts';
import { defaultRoute, describeSubnets, pickOurs, subnetInfo, tagSpec, vpcSubnets } from './network.ts';

type Req = Pick<OnboardingRequest, 'workloadGroup'>;

export interface TaggedSubnetSpec {
  request: Req;
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
  const named = await describeSubnets([
    { Name: 'vpc-id', Values: [spec.vpcId] },
    { Name: 'tag:Name', Values: [spec.name] },
  ]);
  const ours = pickOurs(named, (s) => `Subnet "${spec.name}" (${s.SubnetId}) in ${spec.vpcId}`);
  if (ours) return { subnet: subnetInfo(ours), created: false };

  const existing = await vpcSubnets(spec.vpcId);
  const cidr = spec.chooseCidr(existing);
  const az = spec.chooseAz?.(existing);
  try {
    const made = await ec2().send(
      new CreateSubnetCommand({
        VpcId: spec.vpcId,
        CidrBlock: cidr,
        ...(az ? { AvailabilityZone: az } : {}),
        TagSpecifications: tagSpec('subnet', spec.request, spec.role, spec.name),
      }),
    );
    return { subnet: subnetInfo(made.Subnet!), created: true };
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

export type RouteTarget = { natGatewayId: string } | { gatewayId: string };

export interface RouteTableSpec {
  request: Req;
  vpcId: string;
  name: string;
  role: string;
  /** The subnet the table is associated with. */
  subnetId: string;
  /** Where 0.0.0.0/0 goes. */
  target: RouteTarget;
}

/**
 * Finds or makes our route table `spec.name`, makes its 0.0.0.0/0 route point at
 * `spec.target` (replacing a different target) and associates it with the subnet.
 */
export async function ensureRouteTable(spec: RouteTableSpec): Promise<{ routeTableId: string; created: boolean }> {
  const { RouteTables } = await ec2().send(
    new DescribeRouteTablesCommand({
      Filters: [
        { Name: 'vpc-id', Values: [spec.vpcId] },
        { Name: 'tag:Name', Values: [spec.name] },
      ],
    }),
  );
  let table = pickOurs(RouteTables ?? [], (t) => `Route table "${spec.name}" (${t.RouteTableId}) in ${spec.vpcId}`);
  const created = !table;
  if (!table) {
    const made = await ec2().send(new CreateRouteTableCommand({ VpcId: spec.vpcId, TagSpecifications: tagSpec('route-table', spec.request, spec.role, spec.name) }));
    table = made.RouteTable!;
  }
  const routeTableId = table.RouteTableId!;
  await ensureDefaultRoute(table, spec.target);
  await ensureAssociation(table, spec.subnetId);
  return { routeTableId, created };
}

async function ensureDefaultRoute(table: RouteTable, target: RouteTarget): Promise<void> {
  // NatGatewayId, never GatewayId: nat-... — AWS wants the NAT field (moto stores no target otherwise).
  const fields = 'natGatewayId' in target ? { NatGatewayId: target.natGatewayId } : { GatewayId: target.gatewayId };
  const current = defaultRoute(table);
  const input = { RouteTableId: table.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', ...fields };
  if (!current) {
    await ec2().send(new CreateRouteCommand(input));
    return;
  }
  const same = 'natGatewayId' in target ? current.NatGatewayId === target.natGatewayId : current.GatewayId === target.gatewayId;
  if (!same || current.State === 'blackhole') await ec2().send(new ReplaceRouteCommand(input));
}

async function ensureAssociation(table: RouteTable, subnetId: string): Promise<void> {
  if (table.Associations?.some((a) => a.SubnetId === subnetId)) return;
  // The subnet is ours: if an earlier run (or a person) tied it to another table, move it.
  const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
  const other = RouteTables?.flatMap((t) => t.Associations ?? []).find((a) => a.SubnetId === subnetId);
  if (other?.RouteTableAssociationId) {
    await ec2().send(new ReplaceRouteTableAssociationCommand({ AssociationId: other.RouteTableAssociationId, RouteTableId: table.RouteTableId! }));
  } else {
    await ec2().send(new AssociateRouteTableCommand({ RouteTableId: table.RouteTableId!, SubnetId: subnetId }));
  }
}
