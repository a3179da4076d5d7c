/**
 * NAT gateway behaviour moto cannot show: its NAT gateways are available at once and never
 * fail, it ignores ClientToken, has no eventual consistency and never throttles; races
 * between two runs cannot be timed against it. Everything else is in test/emulator/network-steps.test.ts.
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  CreateSubnetCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ReleaseAddressCommand,
  type DescribeNatGatewaysCommandInput,
  type NatGateway,
} from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNatGateway, handler as checkNatGatewayHandler, NOT_FOUND_GRACE_SECONDS } from '../../functions/check-nat-gateway.ts';
import { ensureNatGateway, handler as ensureNatGatewayHandler } from '../../functions/ensure-nat-gateway.ts';
import { AwsThrottledError, NatGatewayFailedError, ResourceConflictError, ResourceNotReadyError, WaitDeadlineExceededError } from '../../functions/lib/errors.ts';
import { names } from '../../functions/lib/naming.ts';
import { READINESS, TAG_MANAGED_BY, TAG_ROLE, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { NatGatewayResult, NetworkResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());

const VPC = 'vpc-0a1b2c3d4e5f60718';
const NAT = 'nat-0a1b2c3d4e5f60718';
const network: NetworkResult = { vpcId: VPC, vpcCidrs: ['10.0.0.0/16'], subnets: [], internetGatewayId: 'igw-0a1b2c3d4e5f60718', availableNatGatewayIds: [], zones: ['us-east-1a'] };
const ourTags = [
  { Key: TAG_MANAGED_BY, Value: TOOL_NAME },
  { Key: TAG_ROLE, Value: 'nat-gateway' },
];
const natGateway: NatGatewayResult = {
  natGatewayId: NAT,
  state: 'pending',
  subnetId: 'subnet-0a1b2c3d4e5f60718',
  ledger: [{ kind: 'nat-gateway', id: NAT, created: true }],
};
const nat = (State: NatGateway['State'], extra: Partial<NatGateway> = {}): NatGateway => ({ NatGatewayId: NAT, VpcId: VPC, SubnetId: natGateway.subnetId, State, ...extra });
const stateFilter = (input: DescribeNatGatewaysCommandInput) => input.Filter?.find((f) => f.Name === 'state')?.Values ?? [];
const notFound = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

const RTB = 'rtb-0a1b2c3d4e5f60718';
const EIP = 'eipalloc-0a1b2c3d4e5f60718';
const igwAttached = { InternetGateways: [{ InternetGatewayId: network.internetGatewayId, Attachments: [{ VpcId: VPC, State: 'available' as never }] }] };

/** Mocks where our NAT subnet, its route table and Elastic IP exist (an earlier run was interrupted) and no NAT gateway does. */
function interruptedRun() {
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
  ec2Mock.on(DescribeInternetGatewaysCommand).resolves(igwAttached);
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
  // Named as the step names them: it finds them by Name among the VPC's subnets and route tables.
  ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: natGateway.subnetId, VpcId: VPC, CidrBlock: '10.0.2.0/24', AvailabilityZone: 'us-east-1a', Tags: [...ourTags, { Key: 'Name', Value: names.natSubnet(VPC) }] }] });
  ec2Mock.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [{ RouteTableId: RTB, Tags: [...ourTags, { Key: 'Name', Value: names.natRouteTable(VPC) }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: network.internetGatewayId }], Associations: [{ SubnetId: natGateway.subnetId }] }],
  });
  ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: EIP, Tags: ourTags }] });
}
const tokens = () => ec2Mock.commandCalls(CreateNatGatewayCommand).map((c) => c.args[0].input.ClientToken);

describe('Check NAT gateway (wait loop)', () => {
  it('stays pending with short polls around the typical readiness, then growing ones, then reports available with the ledger kept', async () => {
    ec2Mock
      .on(DescribeNatGatewaysCommand, { NatGatewayIds: [NAT] })
      .resolvesOnce({ NatGateways: [nat('pending')] })
      .resolvesOnce({ NatGateways: [nat('pending')] })
      .resolvesOnce({ NatGateways: [nat('pending')] })
      .resolves({ NatGateways: [nat('available')] });
    const state: WorkflowState = { request: bookinfoRequest(), natGateway };

    const polls = [];
    for (let i = 0; i < 3; i++) {
      state.natGateway = await checkNatGateway(state);
      expect(state.natGateway.state).toBe('pending');
      polls.push(state.natGateway.poll);
    }
    const done = await checkNatGateway(state);

    const short = READINESS.natGateway.pollSeconds;
    expect(polls.map((p) => [p?.attempt, p?.nextWaitSeconds])).toEqual([
      [1, short],
      [2, short],
      [3, short],
    ]);
    // Deadline = first check + timeouts.natGatewaySeconds (default 600 s), fixed across checks.
    expect(Date.parse(polls[0]!.deadline) - Date.parse(polls[0]!.startedAt)).toBe(600_000);
    expect(new Set(polls.map((p) => p?.deadline)).size).toBe(1);
    // Past the short phase the interval grows again, so a slow NAT gateway costs few transitions.
    ec2Mock.on(DescribeNatGatewaysCommand, { NatGatewayIds: [NAT] }).resolves({ NatGateways: [nat('pending')] });
    const startedLongAgo = { ...polls[2]!, startedAt: new Date(Date.now() - (READINESS.natGateway.shortForSeconds + 1) * 1000).toISOString() };
    const grown = await checkNatGateway({ ...state, natGateway: { ...natGateway, state: 'pending', poll: startedLongAgo } });
    expect(grown.poll?.nextWaitSeconds).toBe(Math.ceil(short * 1.5));
    expect(done).toMatchObject({ natGatewayId: NAT, state: 'available', subnetId: natGateway.subnetId, ledger: natGateway.ledger });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeNatGatewaysCommand, 5);
  });

  it('throws NatGatewayFailedError with AWS failure code and message when it failed', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [nat('failed', { FailureCode: 'InsufficientFreeAddressesInSubnet', FailureMessage: 'Subnet has insufficient free addresses to create this NAT gateway' })],
    });
    const err = await checkNatGateway({ request: bookinfoRequest(), natGateway }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatGatewayFailedError);
    expect((err as Error).name).toBe('NatGatewayFailedError');
    expect((err as Error).message).toMatch(
      new RegExp(`NAT gateway ${NAT} is failed \\(InsufficientFreeAddressesInSubnet: Subnet has insufficient free addresses to create this NAT gateway\\)`),
    );
  });

  it('throws NatGatewayFailedError when the NAT gateway is deleted, even on the first check', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [nat('deleted')] });
    const err = await checkNatGateway({ request: bookinfoRequest(), natGateway }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatGatewayFailedError);
    expect((err as Error).message).toMatch(new RegExp(`NAT gateway ${NAT} is deleted`));
  });

  it('reports a NAT gateway this run just made that AWS does not list yet as ResourceNotReadyError', async () => {
    ec2Mock
      .on(DescribeNatGatewaysCommand)
      .rejectsOnce(notFound('NatGatewayNotFound', `NAT gateway ${NAT} was not found`))
      .resolvesOnce({ NatGateways: [] })
      .resolves({ NatGateways: [nat('pending')] });
    const state = { request: bookinfoRequest(), natGateway };

    const first = await checkNatGatewayHandler(state, {} as Context).catch((e: unknown) => e);
    const second = await checkNatGateway(state).catch((e: unknown) => e);
    const third = await checkNatGateway(state);

    expect(first).toBeInstanceOf(ResourceNotReadyError);
    expect((first as Error).name).toBe('ResourceNotReadyError');
    expect((first as Error).message).toMatch(new RegExp(`NAT gateway ${NAT} was just created`));
    expect(second).toBeInstanceOf(ResourceNotReadyError);
    expect(third.state).toBe('pending');
  });

  it('reports a NAT gateway gone after the grace period, or one it did not make, as deleted', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).rejects(notFound('NatGatewayNotFound', `NAT gateway ${NAT} was not found`));
    const longAgo = new Date(Date.now() - (NOT_FOUND_GRACE_SECONDS + 1) * 1000).toISOString();
    const late = { ...natGateway, poll: { attempt: 6, startedAt: longAgo, deadline: new Date(Date.now() + 300_000).toISOString(), nextWaitSeconds: 30 } };
    const reused: NatGatewayResult = { ...natGateway, ledger: [{ kind: 'nat-gateway', id: NAT, created: false }] };

    await expect(checkNatGateway({ request: bookinfoRequest(), natGateway: late })).rejects.toThrow(new RegExp(`NAT gateway ${NAT} is deleted`));
    await expect(checkNatGateway({ request: bookinfoRequest(), natGateway: reused })).rejects.toThrow(NatGatewayFailedError);
  });

  it('throws WaitDeadlineExceededError naming the NAT gateway and its state once the deadline passed', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [nat('pending')] });
    const past = { attempt: 9, startedAt: new Date(Date.now() - 700_000).toISOString(), deadline: new Date(Date.now() - 100_000).toISOString(), nextWaitSeconds: 60 };
    const err = await checkNatGateway({ request: bookinfoRequest({ timeouts: { natGatewaySeconds: 600 } }), natGateway: { ...natGateway, poll: past } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitDeadlineExceededError);
    expect((err as Error).message).toMatch(new RegExp(`NAT gateway ${NAT} is still pending after 600 s`));
  });

  it('reports throttling as AwsThrottledError through the wrapped handler', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } }));
    const err = await checkNatGatewayHandler({ request: bookinfoRequest(), natGateway }, {} as Context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsThrottledError);
    expect((err as Error).name).toBe('AwsThrottledError');
  });
});

describe('Ensure NAT gateway (AWS states moto never shows)', () => {
  it('returns our pending NAT gateway and never creates a second', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).callsFake((input: DescribeNatGatewaysCommandInput) => ({
      NatGateways: stateFilter(input).includes('pending') ? [nat('pending', { Tags: ourTags })] : [],
    }));
    const r = await ensureNatGateway({ request: bookinfoRequest(), network });
    expect(r).toEqual({ natGatewayId: NAT, state: 'pending', subnetId: natGateway.subnetId, ledger: [{ kind: 'nat-gateway', id: NAT, created: false, shared: true }] });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNatGatewayCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSubnetCommand);
  });

  it('throws NatGatewayFailedError when our NAT gateway failed, instead of making another', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).callsFake((input: DescribeNatGatewaysCommandInput) => ({
      NatGateways: stateFilter(input).includes('failed') ? [nat('failed', { Tags: ourTags, FailureCode: 'Gateway.NotAttached', FailureMessage: 'Network vpc-x has no Internet gateway attached' })] : [],
    }));
    await expect(ensureNatGateway({ request: bookinfoRequest(), network })).rejects.toThrow(/Gateway\.NotAttached: Network vpc-x has no Internet gateway attached/);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNatGatewayCommand);
  });

  it('throws ResourceConflictError when a subnet we did not make carries the NAT subnet name', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [{ InternetGatewayId: network.internetGatewayId, Attachments: [{ VpcId: VPC, State: 'available' as never }] }] });
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
    ec2Mock.on(DescribeSubnetsCommand).resolves({
      Subnets: [{ SubnetId: 'subnet-0f0f0f0f0f0f0f0f0', VpcId: VPC, CidrBlock: '10.0.9.0/24', AvailabilityZone: 'us-east-1a', Tags: [{ Key: 'Name', Value: `mesh-onboarding-nat-gw-subnet-${VPC}` }] }],
    });

    const err = await ensureNatGateway({ request: bookinfoRequest(), network }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toMatch(new RegExp(`Subnet "mesh-onboarding-nat-gw-subnet-${VPC}" \\(subnet-0f0f0f0f0f0f0f0f0\\) in ${VPC} exists but was not made by this tool`));
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSubnetCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNatGatewayCommand);
  });

  it('returns pending when AWS creates the NAT gateway pending', async () => {
    interruptedRun();
    ec2Mock.on(CreateNatGatewayCommand).resolves({ NatGateway: nat('pending') });

    const r = await ensureNatGateway({ request: bookinfoRequest(), network });

    expect(r.state).toBe('pending');
    expect(r.ledger).toEqual([
      { kind: 'vpc-subnet', id: natGateway.subnetId, created: false, shared: true },
      { kind: 'route-table', id: 'rtb-0a1b2c3d4e5f60718', created: false, shared: true },
      { kind: 'elastic-ip', id: 'eipalloc-0a1b2c3d4e5f60718', created: false, shared: true },
      { kind: 'nat-gateway', id: NAT, created: true, shared: true },
    ]);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateNatGatewayCommand, { SubnetId: natGateway.subnetId, AllocationId: 'eipalloc-0a1b2c3d4e5f60718' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSubnetCommand);
  });

  it('passes over a private NAT gateway, one without a public IP and one whose subnet has no internet gateway route', async () => {
    interruptedRun();
    const privateSubnet = 'subnet-0c0c0c0c0c0c0c0c0';
    const foreign = [
      nat('available', { NatGatewayId: 'nat-0000000000000000a', ConnectivityType: 'private', NatGatewayAddresses: [{ PrivateIp: '10.0.5.9' }] }),
      nat('available', { NatGatewayId: 'nat-0000000000000000b', ConnectivityType: 'public', NatGatewayAddresses: [{ PrivateIp: '10.0.5.10' }] }),
      nat('available', { NatGatewayId: 'nat-0000000000000000c', SubnetId: privateSubnet, NatGatewayAddresses: [{ PublicIp: '203.0.113.7' }] }),
    ];
    ec2Mock.on(DescribeNatGatewaysCommand).callsFake((input: DescribeNatGatewaysCommandInput) => ({ NatGateways: stateFilter(input).includes('available') ? foreign : [] }));
    ec2Mock.on(DescribeRouteTablesCommand, { Filters: [{ Name: 'association.subnet-id', Values: [privateSubnet] }] }).resolves({
      RouteTables: [{ RouteTableId: 'rtb-0c0c0c0c0c0c0c0c0', Routes: [{ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-0000000000000000d' }], Associations: [{ SubnetId: privateSubnet }] }],
    });
    ec2Mock.on(CreateNatGatewayCommand).resolves({ NatGateway: nat('pending') });

    const r = await ensureNatGateway({ request: bookinfoRequest(), network });

    expect(r.natGatewayId).toBe(NAT);
    expect(r.ledger).toContainEqual({ kind: 'nat-gateway', id: NAT, created: true, shared: true });
    expect(ec2Mock).toHaveReceivedCommandTimes(CreateNatGatewayCommand, 1);
  });

  it('reuses a public NAT gateway with a public IP whose subnet routes to the internet gateway, ours without a route look-up', async () => {
    const publicSubnet = 'subnet-0d0d0d0d0d0d0d0d0';
    const theirs = nat('available', { NatGatewayId: 'nat-0000000000000000e', SubnetId: publicSubnet, NatGatewayAddresses: [{ PublicIp: '203.0.113.8' }] });
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [theirs] });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [{ RouteTableId: 'rtb-0d0d0d0d0d0d0d0d0', Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: network.internetGatewayId, State: 'active' }], Associations: [{ SubnetId: publicSubnet }] }],
    });
    expect(await ensureNatGateway({ request: bookinfoRequest(), network })).toMatchObject({ natGatewayId: 'nat-0000000000000000e', ledger: [{ created: false }] });

    ec2Mock.reset();
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [theirs, nat('available', { Tags: ourTags, NatGatewayAddresses: [{ PublicIp: '203.0.113.9' }] })] });
    expect(await ensureNatGateway({ request: bookinfoRequest(), network })).toMatchObject({ natGatewayId: NAT });
    expect(ec2Mock).not.toHaveReceivedCommand(DescribeRouteTablesCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNatGatewayCommand);
  });

  it('keeps the ClientToken across retries of one attempt and changes it once the user deleted our failed NAT gateway', async () => {
    interruptedRun();
    ec2Mock.on(CreateNatGatewayCommand).resolves({ NatGateway: nat('pending') });
    await ensureNatGateway({ request: bookinfoRequest(), network });
    await ensureNatGateway({ request: bookinfoRequest(), network });
    const deletedOne = nat('deleted', { NatGatewayId: 'nat-0000000000000000f', Tags: ourTags });
    ec2Mock.on(DescribeNatGatewaysCommand).callsFake((input: DescribeNatGatewaysCommandInput) => ({ NatGateways: stateFilter(input).includes('deleted') ? [deletedOne] : [] }));
    await ensureNatGateway({ request: bookinfoRequest(), network });
    await ensureNatGateway({ request: bookinfoRequest(), network });

    const [t1, t2, t3, t4] = tokens();
    expect(t1).toMatch(/^mesh-onboarding-[0-9a-f]{32}$/);
    expect(t2).toBe(t1);
    expect(t3).not.toBe(t1);
    expect(t4).toBe(t3);
    // One read of the VPC's NAT gateways in every state: the dead ones (ours, by tag) are told apart locally.
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeNatGatewaysCommand, {
      Filter: expect.arrayContaining([
        { Name: 'vpc-id', Values: [VPC] },
        { Name: 'state', Values: ['pending', 'available', 'failed', 'deleting', 'deleted'] },
      ]) as never,
    });
  });

  it('asks again with a new ClientToken when AWS answers with a deleted NAT gateway the token still names', async () => {
    interruptedRun();
    ec2Mock
      .on(CreateNatGatewayCommand)
      .resolvesOnce({ NatGateway: nat('deleted', { NatGatewayId: 'nat-0000000000000001a' }) })
      .resolves({ NatGateway: nat('pending') });

    const r = await ensureNatGateway({ request: bookinfoRequest(), network });

    expect(r).toMatchObject({ natGatewayId: NAT, state: 'pending' });
    const [t1, t2] = tokens();
    expect(t2).toBeDefined();
    expect(t2).not.toBe(t1);
  });

  it('reports an Elastic IP or subnet AWS does not list yet (just made) as ResourceNotReadyError', async () => {
    interruptedRun();
    ec2Mock.on(CreateNatGatewayCommand).rejects(notFound('InvalidAllocationID.NotFound', `The allocation ID '${EIP}' does not exist`));
    const err = await ensureNatGatewayHandler({ request: bookinfoRequest(), network }, {} as Context).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).name).toBe('ResourceNotReadyError');
  });
});

describe('NAT Elastic IP race (two runs in one VPC)', () => {
  const EIP_A = 'eipalloc-0000000000000000a';
  const EIP_B = 'eipalloc-0000000000000000b';

  it.each([
    { mine: EIP_B, keep: EIP_A, release: EIP_B, created: false },
    { mine: EIP_A, keep: EIP_A, release: EIP_B, created: true },
  ])('both runs keep the lowest allocation id and release the other (this run allocated $mine)', async ({ mine, keep, release, created }) => {
    interruptedRun();
    ec2Mock.on(DescribeAddressesCommand).resolvesOnce({ Addresses: [] }).resolves({ Addresses: [{ AllocationId: EIP_B, Tags: ourTags }, { AllocationId: EIP_A, Tags: ourTags }] });
    ec2Mock.on(AllocateAddressCommand).resolves({ AllocationId: mine });
    ec2Mock.on(ReleaseAddressCommand).resolves({});
    ec2Mock.on(CreateNatGatewayCommand).resolves({ NatGateway: nat('pending') });

    const r = await ensureNatGateway({ request: bookinfoRequest(), network });

    expect(ec2Mock).toHaveReceivedCommandTimes(ReleaseAddressCommand, 1);
    expect(ec2Mock).toHaveReceivedCommandWith(ReleaseAddressCommand, { AllocationId: release });
    expect(ec2Mock).toHaveReceivedCommandWith(CreateNatGatewayCommand, { AllocationId: keep });
    expect(r.ledger).toContainEqual({ kind: 'elastic-ip', id: keep, created, shared: true });
  });

  it('releases its own Elastic IP and waits when the other run already gave its address to a NAT gateway', async () => {
    interruptedRun();
    ec2Mock
      .on(DescribeAddressesCommand)
      .resolvesOnce({ Addresses: [] })
      .resolves({ Addresses: [{ AllocationId: EIP_A, AssociationId: 'eipassoc-0000000000000000a', Tags: ourTags }, { AllocationId: EIP_B, Tags: ourTags }] });
    ec2Mock.on(AllocateAddressCommand).resolves({ AllocationId: EIP_B });
    ec2Mock.on(ReleaseAddressCommand).resolves({});

    const err = await ensureNatGateway({ request: bookinfoRequest(), network }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect(ec2Mock).toHaveReceivedCommandWith(ReleaseAddressCommand, { AllocationId: EIP_B });
    expect(ec2Mock).toHaveReceivedCommandTimes(ReleaseAddressCommand, 1);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateNatGatewayCommand);
  });
});
