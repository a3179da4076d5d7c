/**
 * NAT gateway behaviour moto cannot show: its NAT gateways are available at once and never
 * fail, and it never throttles. Everything else is in test/emulator/network-steps.test.ts.
 */
import {
  CreateNatGatewayCommand,
  CreateSubnetCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  type DescribeNatGatewaysCommandInput,
  type NatGateway,
} from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNatGateway, handler as checkNatGatewayHandler } from '../../functions/check-nat-gateway.ts';
import { ensureNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { AwsThrottledError, NatGatewayFailedError, ResourceConflictError, WaitDeadlineExceededError } from '../../functions/lib/errors.ts';
import { TAG_MANAGED_BY, TAG_ROLE, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { NatGatewayResult, NetworkResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());

const VPC = 'vpc-0a1b2c3d4e5f60718';
const NAT = 'nat-0a1b2c3d4e5f60718';
const network: NetworkResult = { vpcId: VPC, vpcCidrs: ['10.0.0.0/16'], subnets: [], internetGatewayId: 'igw-0a1b2c3d4e5f60718', availableNatGatewayIds: [] };
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

describe('Check NAT gateway (wait loop)', () => {
  it('stays pending with a growing poll for N checks, then reports available with the ledger kept', async () => {
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

    expect(polls.map((p) => [p?.attempt, p?.nextWaitSeconds])).toEqual([
      [1, 5],
      [2, 8],
      [3, 12],
    ]);
    // Deadline = first check + timeouts.natGatewaySeconds (default 600 s), fixed across checks.
    expect(Date.parse(polls[0]!.deadline) - Date.parse(polls[0]!.startedAt)).toBe(600_000);
    expect(new Set(polls.map((p) => p?.deadline)).size).toBe(1);
    expect(done).toMatchObject({ natGatewayId: NAT, state: 'available', subnetId: natGateway.subnetId, ledger: natGateway.ledger });
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeNatGatewaysCommand, 4);
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

  it('throws NatGatewayFailedError when the NAT gateway was deleted or is gone', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolvesOnce({ NatGateways: [nat('deleted')] }).rejectsOnce(Object.assign(new Error('The Nat Gateway was not found'), { name: 'NatGatewayNotFound' }));
    await expect(checkNatGateway({ request: bookinfoRequest(), natGateway })).rejects.toThrow(new RegExp(`NAT gateway ${NAT} is deleted`));
    await expect(checkNatGateway({ request: bookinfoRequest(), natGateway })).rejects.toThrow(NatGatewayFailedError);
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
    expect(r).toEqual({ natGatewayId: NAT, state: 'pending', subnetId: natGateway.subnetId, ledger: [{ kind: 'nat-gateway', id: NAT, created: false }] });
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
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [{ InternetGatewayId: network.internetGatewayId, Attachments: [{ VpcId: VPC, State: 'available' as never }] }] });
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
    // Our NAT subnet, route table and Elastic IP already exist (an earlier run was interrupted).
    ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: natGateway.subnetId, VpcId: VPC, CidrBlock: '10.0.2.0/24', AvailabilityZone: 'us-east-1a', Tags: ourTags }] });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          RouteTableId: 'rtb-0a1b2c3d4e5f60718',
          Tags: ourTags,
          Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: network.internetGatewayId }],
          Associations: [{ SubnetId: natGateway.subnetId }],
        },
      ],
    });
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-0a1b2c3d4e5f60718', Tags: ourTags }] });
    ec2Mock.on(CreateNatGatewayCommand).resolves({ NatGateway: nat('pending') });

    const r = await ensureNatGateway({ request: bookinfoRequest(), network });

    expect(r.state).toBe('pending');
    expect(r.ledger).toEqual([
      { kind: 'vpc-subnet', id: natGateway.subnetId, created: false },
      { kind: 'route-table', id: 'rtb-0a1b2c3d4e5f60718', created: false },
      { kind: 'elastic-ip', id: 'eipalloc-0a1b2c3d4e5f60718', created: false },
      { kind: 'nat-gateway', id: NAT, created: true },
    ]);
    expect(ec2Mock).toHaveReceivedCommandWith(CreateNatGatewayCommand, { SubnetId: natGateway.subnetId, AllocationId: 'eipalloc-0a1b2c3d4e5f60718' });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSubnetCommand);
  });
});
