/**
 * Resources shared by the workloads of one VPC or ECS cluster (NAT gateway, its Elastic IP,
 * the NAT and task subnets and their route tables), against AWS behaviour moto does not show:
 * it ignores ClientToken, lists a resource the moment it exists and never answers
 * RouteAlreadyExists / Resource.AlreadyAssociated to a race. The fake in
 * test/support/fake-ec2.ts answers with AWS's codes and messages (sources there).
 */
import {
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand,
  AssociateRouteTableCommand,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler as ensureNatGatewayHandler, ensureNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { ensureTaskSubnet, handler as ensureTaskSubnetHandler, TASK_ROUTE_TABLE_ROLE, TASK_SUBNET_ROLE } from '../../functions/ensure-task-subnet.ts';
import { TAG_WORKLOAD } from '../../functions/lib/settings.ts';
import { sharedTags } from '../../functions/lib/tags.ts';
import type { NatGatewayResult, NetworkResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { awsError, FakeEc2 } from '../support/fake-ec2.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';
import { parseRequest } from '../../functions/lib/request.ts';

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());

const VPC = 'vpc-0a1b2c3d4e5f60718';
const IGW = 'igw-0a1b2c3d4e5f60718';
const network: NetworkResult = { vpcId: VPC, vpcCidrs: ['10.0.0.0/16'], subnets: [], internetGatewayId: IGW, availableNatGatewayIds: [], zones: ['us-east-1a'] };
const ctx = {} as Context;

/** Workload A (bookinfo/ratings) and workload B (bookinfo/reviews): same VPC, same ECS cluster `bookinfo`. */
// One zone, and the single task subnet an earlier version named `<cluster>-ecs-subnet` (adopted as that zone's).
const workloadA = () => bookinfoRequest({ network: { eksClusterName: 'mesh-eks', zones: 1 } });
const workloadB = () => {
  const base = bookinfoInput();
  return parseRequest({ ...base, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...base.ecs, service: 'reviews', family: 'bookinfo_reviews' }, app: { ...base.app, name: 'reviews' }, network: { ...base.network, zones: 1 } });
};
const natCalls = () => ec2Mock.commandCalls(CreateNatGatewayCommand).map((c) => c.args[0].input);

describe('NAT gateway shared by the workloads of one VPC (ClientToken)', () => {
  it('onboards A then B into one VPC: B gets A\'s NAT gateway for the repeated ClientToken, not IdempotentParameterMismatch', async () => {
    const fake = new FakeEc2(ec2Mock, { vpcId: VPC, internetGatewayId: IGW });
    const a = await ensureNatGateway({ request: workloadA(), network });
    // B runs moments later: DescribeNatGateways does not list A's NAT gateway yet (eventual
    // consistency), so B asks CreateNatGateway with the same token, as a concurrent run would.
    fake.lagListings('nats');

    const b = await ensureNatGatewayHandler({ request: workloadB(), network }, ctx);

    expect(b.natGatewayId).toBe(a.natGatewayId);
    expect(fake.nats).toHaveLength(1);
    const [first, second] = natCalls();
    expect(second?.ClientToken).toBe(first?.ClientToken);
    // Identical requests: no workload tag on the shared NAT gateway.
    expect(second?.TagSpecifications).toEqual(first?.TagSpecifications);
    expect(first?.TagSpecifications?.[0]?.Tags?.some((t) => t.Key === TAG_WORKLOAD)).toBe(false);
    // Every shared resource B found or got is marked so in the ledger.
    expect(b.ledger.every((e) => e.shared === true)).toBe(true);
    for (const r of [...fake.subnets, ...fake.tables, ...fake.eips, ...fake.nats]) expect(r.Tags?.map((t) => t.Key)).not.toContain(TAG_WORKLOAD);
  });

  it('treats IdempotentParameterMismatch as a new generation: renews the token and makes the NAT gateway', async () => {
    const fake = new FakeEc2(ec2Mock, { vpcId: VPC, internetGatewayId: IGW });
    const old = await ensureNatGateway({ request: workloadA(), network });
    // The NAT gateway is gone (deleted long enough ago that AWS no longer lists it), and its
    // token was first used with other parameters (an older version's per-workload tags).
    fake.forgetNat(old.natGatewayId);
    fake.tokensFirstUsedWithOtherParameters();
    ec2Mock.resetHistory();

    const r = await ensureNatGatewayHandler({ request: workloadB(), network }, ctx);

    expect(r.natGatewayId).not.toBe(old.natGatewayId);
    expect(r.ledger).toContainEqual({ kind: 'nat-gateway', id: r.natGatewayId, created: true, shared: true });
    const [mismatched, renewed] = natCalls();
    expect(renewed?.ClientToken).toMatch(/^mesh-onboarding-[0-9a-f]{32}$/);
    expect(renewed?.ClientToken).not.toBe(mismatched?.ClientToken);
    expect(fake.nats.map((n) => n.NatGatewayId)).toEqual([r.natGatewayId]);
  });
  it('on IdempotentParameterMismatch, uses the NAT gateway a concurrent run made meanwhile instead of making a second', async () => {
    const fake = new FakeEc2(ec2Mock, { vpcId: VPC, internetGatewayId: IGW });
    const a = await ensureNatGateway({ request: workloadA(), network });
    // A was an older version (its token's first use had other tags); B does not see A's NAT
    // gateway at first, and it shows by the time CreateNatGateway answers the mismatch.
    fake.tokensFirstUsedWithOtherParameters();
    fake.lagListings('nats');
    fake.before('CreateNatGateway', () => fake.settle());
    ec2Mock.resetHistory();

    const b = await ensureNatGatewayHandler({ request: workloadB(), network }, ctx);

    expect(b.natGatewayId).toBe(a.natGatewayId);
    expect(b.ledger).toContainEqual({ kind: 'nat-gateway', id: a.natGatewayId, created: false, shared: true });
    expect(fake.nats).toHaveLength(1);
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateNatGatewayCommand, 1);
  });
});

describe('Task route table shared by the workloads of one ECS cluster (concurrent runs)', () => {
  const natGateway: NatGatewayResult = { natGatewayId: 'nat-0000000000000000a', state: 'available', subnetId: 'subnet-0000000000000000a', ledger: [] };

  it('two runs that both found no route table get one (CreateRouteTable ClientToken) and converge on RouteAlreadyExists / Resource.AlreadyAssociated', async () => {
    const fake = new FakeEc2(ec2Mock, { vpcId: VPC, internetGatewayId: IGW });
    // An interrupted run made the cluster's task subnet; A and B now race on its route table.
    const subnet = fake.addSubnet({ CidrBlock: '10.0.3.0/24', Tags: [...sharedTags(TASK_SUBNET_ROLE), { Key: 'Name', Value: 'bookinfo-ecs-subnet' }] });
    fake.gate('CreateRouteTable', 2);
    fake.gate('CreateRoute', 2);
    fake.gate('AssociateRouteTable', 2);
    const stateOf = (request: WorkflowState['request']): WorkflowState => ({ request, network, natGateway });

    const [a, b] = await Promise.all([ensureTaskSubnetHandler(stateOf(workloadA()), ctx), ensureTaskSubnetHandler(stateOf(workloadB()), ctx)]);

    expect(b.subnets[0]!.routeTableId).toBe(a.subnets[0]!.routeTableId);
    const tables = fake.tables.filter((t) => t.Tags?.some((g) => g.Key === 'Name' && g.Value === 'bookinfo-ecs-subnet-rt'));
    expect(tables.map((t) => t.RouteTableId)).toEqual([a.subnets[0]!.routeTableId]);
    expect(tables[0]?.Routes?.filter((r) => r.DestinationCidrBlock === '0.0.0.0/0')).toEqual([expect.objectContaining({ NatGatewayId: natGateway.natGatewayId })]);
    expect(tables[0]?.Associations?.map((x) => x.SubnetId)).toEqual([subnet.SubnetId]);
    expect(tables[0]?.Tags).toEqual([...sharedTags(TASK_ROUTE_TABLE_ROLE), { Key: 'Name', Value: 'bookinfo-ecs-subnet-rt' }]);
    const tokens = ec2Mock.commandCalls(CreateRouteTableCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[1]).toBe(tokens[0]);
    // The loser converged: it neither replaced the route nor moved the association.
    expect(ec2Mock).not.toHaveReceivedCommand(ReplaceRouteCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(ReplaceRouteTableAssociationCommand);
    expect(a.ledger).toEqual([
      { kind: 'vpc-subnet', id: subnet.SubnetId, created: false, shared: true },
      { kind: 'route-table', id: a.subnets[0]!.routeTableId, created: true, shared: true },
    ]);
  });

  it('renews the route table ClientToken after IdempotentParameterMismatch', async () => {
    const fake = new FakeEc2(ec2Mock, { vpcId: VPC, internetGatewayId: IGW });
    fake.addSubnet({ CidrBlock: '10.0.3.0/24', Tags: [...sharedTags(TASK_SUBNET_ROLE), { Key: 'Name', Value: 'bookinfo-ecs-subnet' }] });
    const first = await ensureTaskSubnet({ request: workloadA(), network, natGateway });
    // The table is gone (a person deleted it) and its token was first used with other tags.
    fake.tables.splice(fake.tables.findIndex((t) => t.RouteTableId === first.subnets[0]!.routeTableId), 1);
    fake.tokensFirstUsedWithOtherParameters();
    ec2Mock.resetHistory();

    const again = await ensureTaskSubnet({ request: workloadA(), network, natGateway });

    expect(again.subnets[0]!.routeTableId).not.toBe(first.subnets[0]!.routeTableId);
    const [mismatched, renewed] = ec2Mock.commandCalls(CreateRouteTableCommand).map((c) => c.args[0].input.ClientToken);
    expect(renewed).toBeDefined();
    expect(renewed).not.toBe(mismatched);
  });
});

describe('Route table races, answered with AWS\'s codes (contract)', () => {
  const RTB = 'rtb-0000000000000000b';
  const SUBNET = 'subnet-0000000000000000b';
  const NAT = 'nat-0000000000000000b';
  const natGateway: NatGatewayResult = { natGatewayId: NAT, state: 'available', subnetId: 'subnet-0000000000000000a', ledger: [] };
  const ourTable = (extra: Partial<RouteTable> = {}): RouteTable => ({
    RouteTableId: RTB,
    VpcId: VPC,
    Tags: [...sharedTags(TASK_ROUTE_TABLE_ROLE), { Key: 'Name', Value: 'bookinfo-ecs-subnet-rt' }],
    Routes: [],
    Associations: [],
    ...extra,
  });

  function existingSubnetAndTable() {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [{ SubnetId: SUBNET, VpcId: VPC, CidrBlock: '10.0.3.0/24', AvailabilityZone: 'us-east-1a', Tags: [...sharedTags(TASK_SUBNET_ROLE), { Key: 'Name', Value: 'bookinfo-ecs-subnet' }] }],
    });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [ourTable()] });
    ec2Mock.on(DescribeRouteTablesCommand, { Filters: [{ Name: 'association.subnet-id', Values: [SUBNET] }] }).resolves({ RouteTables: [] });
  }

  it('RouteAlreadyExists: re-reads the table and replaces a concurrent 0.0.0.0/0 route that targets something else', async () => {
    existingSubnetAndTable();
    ec2Mock.on(CreateRouteCommand).rejects(awsError('RouteAlreadyExists', 'The route identified by 0.0.0.0/0 already exists.'));
    ec2Mock.on(DescribeRouteTablesCommand, { RouteTableIds: [RTB] }).resolves({
      RouteTables: [ourTable({ Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0000000000000000c', State: 'active' }] })],
    });

    const r = await ensureTaskSubnet({ request: workloadA(), network, natGateway });

    expect(r.subnets[0]!.routeTableId).toBe(RTB);
    expect(ec2Mock).toHaveReceivedCommandWith(ReplaceRouteCommand, { RouteTableId: RTB, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: NAT });
  });

  it('RouteAlreadyExists: leaves a concurrent route that already targets our NAT gateway', async () => {
    existingSubnetAndTable();
    ec2Mock.on(CreateRouteCommand).rejects(awsError('RouteAlreadyExists', 'The route identified by 0.0.0.0/0 already exists.'));
    ec2Mock.on(DescribeRouteTablesCommand, { RouteTableIds: [RTB] }).resolves({ RouteTables: [ourTable({ Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: NAT, State: 'active' }] })] });

    await ensureTaskSubnet({ request: workloadA(), network, natGateway });

    expect(ec2Mock).not.toHaveReceivedCommand(ReplaceRouteCommand);
  });

  it.each([
    { owner: 'our table', associatedTo: RTB, replaced: false },
    { owner: 'another table', associatedTo: 'rtb-0000000000000000d', replaced: true },
  ])('Resource.AlreadyAssociated: re-reads the association; $owner → replaced: $replaced', async ({ associatedTo, replaced }) => {
    existingSubnetAndTable();
    ec2Mock.on(CreateRouteCommand).resolves({ Return: true });
    ec2Mock.on(AssociateRouteTableCommand).rejects(awsError('Resource.AlreadyAssociated', `the specified association for route table ${RTB} conflicts with an existing association`));
    // The step's own look-up lists the VPC's tables (no association yet); this re-read answers the race.
    ec2Mock
      .on(DescribeRouteTablesCommand, { Filters: [{ Name: 'association.subnet-id', Values: [SUBNET] }] })
      .resolves({ RouteTables: [{ RouteTableId: associatedTo, Associations: [{ RouteTableAssociationId: 'rtbassoc-0000000000000000e', RouteTableId: associatedTo, SubnetId: SUBNET }] }] });
    ec2Mock.on(ReplaceRouteTableAssociationCommand).resolves({ NewAssociationId: 'rtbassoc-0000000000000000f' });

    const r = await ensureTaskSubnet({ request: workloadA(), network, natGateway });

    expect(r.subnets[0]!.routeTableId).toBe(RTB);
    if (replaced) expect(ec2Mock).toHaveReceivedCommandWith(ReplaceRouteTableAssociationCommand, { AssociationId: 'rtbassoc-0000000000000000e', RouteTableId: RTB });
    else expect(ec2Mock).not.toHaveReceivedCommand(ReplaceRouteTableAssociationCommand);
  });
});
