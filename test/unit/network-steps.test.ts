/**
 * Task subnet and security group behaviour moto cannot show: it has no eventual consistency
 * (a group or subnet just made is always visible) and a race between two runs in one VPC
 * cannot be timed against it. Everything else is in test/emulator/network-steps.test.ts.
 */
import {
  AssociateRouteTableCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeVpcsCommand,
  EC2Client,
  type DescribeSubnetsCommandInput,
  type Subnet,
} from '@aws-sdk/client-ec2';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { handler as ensureSecurityGroupHandler } from '../../functions/ensure-security-group.ts';
import { handler as ensureTaskSubnetHandler } from '../../functions/ensure-task-subnet.ts';
import { NetworkConfigurationError, ResourceConflictError, ResourceNotReadyError } from '../../functions/lib/errors.ts';
import { TAG_MANAGED_BY, TAG_ROLE, TAG_WORKLOAD, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { NatGatewayResult, NetworkResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { resolveNetwork } from '../../functions/resolve-network.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ec2Mock = mockClient(EC2Client);
afterEach(() => ec2Mock.reset());

const VPC = 'vpc-0a1b2c3d4e5f60718';
const EKS_SG = 'sg-0e0e0e0e0e0e0e0e0';
const OUR_SG = 'sg-0a0a0a0a0a0a0a0a0';
const USER_SG = 'sg-0b0b0b0b0b0b0b0b0';
const network: NetworkResult = { vpcId: VPC, vpcCidrs: ['10.0.0.0/16'], subnets: [], internetGatewayId: 'igw-0a1b2c3d4e5f60718', availableNatGatewayIds: [], eksClusterSecurityGroupId: EKS_SG, zones: ['us-east-1a'] };
const natGateway: NatGatewayResult = { natGatewayId: 'nat-0a1b2c3d4e5f60718', state: 'available', subnetId: 'subnet-0000000000000002a', ledger: [] };
const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
const run = <T>(h: (s: WorkflowState, c: Context) => Promise<T>, state: WorkflowState) => h(state, {} as Context).catch((e: unknown) => e);

describe('Ensure security group (eventual consistency)', () => {
  beforeEach(() => {
    // Our group is not there yet: this run makes it.
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: OUR_SG });
    ec2Mock.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
  });

  it('reports the group it just made, not yet known to AuthorizeSecurityGroupIngress, as ResourceNotReadyError', async () => {
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound', `The security group '${OUR_SG}' does not exist`));
    const err = await run(ensureSecurityGroupHandler, { request: bookinfoRequest({ network: { eksClusterName: 'mesh-eks' } }), network });
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).name).toBe('ResourceNotReadyError');
  });

  it('reports the EKS cluster security group not found as ResourceNotReadyError', async () => {
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand, { GroupId: OUR_SG }).resolves({});
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand, { GroupId: EKS_SG }).rejects(awsError('InvalidGroup.NotFound', `The security group '${EKS_SG}' does not exist`));
    const err = await run(ensureSecurityGroupHandler, { request: bookinfoRequest({ network: { eksClusterName: 'mesh-eks' } }), network });
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect(ec2Mock).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, { GroupId: EKS_SG });
  });

  it('fails with NetworkConfigurationError when an sg- id in network.ingressSources does not exist', async () => {
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound', `The security group '${USER_SG}' does not exist`));
    ec2Mock.on(DescribeSecurityGroupsCommand, { GroupIds: [USER_SG] }).rejects(awsError('InvalidGroup.NotFound', `The security group '${USER_SG}' does not exist`));
    const request = bookinfoRequest({ network: { eksClusterName: 'mesh-eks', ingressSources: [USER_SG], allowFromEksClusterSecurityGroup: false } });

    const err = await run(ensureSecurityGroupHandler, { request, network });

    expect(err).toBeInstanceOf(NetworkConfigurationError);
    expect((err as Error).message).toMatch(new RegExp(`network.ingressSources: security group ${USER_SG} was not found`));
  });

  it('reports ResourceNotReadyError when the sg- id the user gave exists (the missing group is the one just made)', async () => {
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).rejects(awsError('InvalidGroup.NotFound', `The security group '${OUR_SG}' does not exist`));
    ec2Mock.on(DescribeSecurityGroupsCommand, { GroupIds: [USER_SG] }).resolves({ SecurityGroups: [{ GroupId: USER_SG, VpcId: VPC }] });
    const request = bookinfoRequest({ network: { eksClusterName: 'mesh-eks', ingressSources: [USER_SG], allowFromEksClusterSecurityGroup: false } });

    expect(await run(ensureSecurityGroupHandler, { request, network })).toBeInstanceOf(ResourceNotReadyError);
  });

  it('reports ResourceNotReadyError when a concurrent run made the group but it is not listed yet', async () => {
    ec2Mock.on(CreateSecurityGroupCommand).rejects(awsError('InvalidGroup.Duplicate', "The security group 'ecs-bookinfo.ratings' already exists for VPC"));
    const err = await run(ensureSecurityGroupHandler, { request: bookinfoRequest(), network });
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).message).toMatch(/made by a concurrent run and is not listed yet/);
  });
});

describe('Ensure task subnet (concurrent runs and eventual consistency)', () => {
  const subnet = (SubnetId: string, CidrBlock: string): Subnet => ({ SubnetId, VpcId: VPC, CidrBlock, AvailabilityZone: 'us-east-1a' });
  const before = [subnet('subnet-00000000000000000', '10.0.0.0/24'), subnet('subnet-00000000000000001', '10.0.1.0/24'), subnet(natGateway.subnetId, '10.0.2.0/24')];
  const state = (): WorkflowState => ({ request: bookinfoRequest({ network: { eksClusterName: 'mesh-eks', zones: 1 } }), network, natGateway });

  beforeEach(() => {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] });
    ec2Mock.on(CreateRouteTableCommand).resolves({ RouteTable: { RouteTableId: 'rtb-0000000000000000a', Routes: [] } });
  });

  it('reports a block another run took as ResourceNotReadyError, and the retry chooses the next free block', async () => {
    let listed = before;
    ec2Mock.on(DescribeSubnetsCommand).callsFake((input: DescribeSubnetsCommandInput) => ({ Subnets: input.Filters?.some((f) => f.Name === 'tag:Name') ? [] : listed }));
    ec2Mock
      .on(CreateSubnetCommand)
      .rejectsOnce(awsError('InvalidSubnet.Conflict', "The CIDR '10.0.3.0/24' conflicts with another subnet"))
      .resolves({ Subnet: subnet('subnet-0000000000000004a', '10.0.4.0/24') });

    const first = await run(ensureTaskSubnetHandler, state());
    listed = [...before, subnet('subnet-0000000000000003a', '10.0.3.0/24')];
    const second = await ensureTaskSubnetHandler(state(), {} as Context);

    expect(first).toBeInstanceOf(ResourceNotReadyError);
    expect((first as Error).message).toMatch(/subnet block 10.0.3.0\/24 .* was taken meanwhile/);
    const cidrs = ec2Mock.commandCalls(CreateSubnetCommand).map((c) => c.args[0].input.CidrBlock);
    expect(cidrs).toEqual(['10.0.3.0/24', '10.0.4.0/24']);
    expect(second.subnets).toEqual([expect.objectContaining({ subnetId: 'subnet-0000000000000004a', cidr: '10.0.4.0/24' })]);
  });

  it.each([
    { what: 'route table just made', command: CreateRouteCommand, code: 'InvalidRouteTableID.NotFound' },
    { what: 'subnet just made', command: AssociateRouteTableCommand, code: 'InvalidSubnetID.NotFound' },
  ] as const)('reports the $what not known yet ($code) as ResourceNotReadyError', async ({ command, code }) => {
    ec2Mock.on(DescribeSubnetsCommand).callsFake((input: DescribeSubnetsCommandInput) => ({ Subnets: input.Filters?.some((f) => f.Name === 'tag:Name') ? [] : before }));
    ec2Mock.on(CreateSubnetCommand).resolves({ Subnet: subnet('subnet-0000000000000003a', '10.0.3.0/24') });
    ec2Mock.on(CreateRouteCommand).resolves({ Return: true });
    ec2Mock.on(command as typeof CreateRouteCommand).rejects(awsError(code, `The ID does not exist (${code})`));

    const err = await run(ensureTaskSubnetHandler, state());

    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).message).toContain(code);
  });
});

describe('Ensure security group (name and ownership)', () => {
  beforeEach(() => {
    ec2Mock.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [] });
    ec2Mock.on(AuthorizeSecurityGroupIngressCommand).resolves({});
  });

  it('never asks CreateSecurityGroup for a name starting with sg- (namespace sg-apps)', async () => {
    // EC2: "Constraints: Up to 255 characters in length. Cannot start with sg-."
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: OUR_SG });
    const request = bookinfoRequest({ workloadGroup: { namespace: 'sg-apps', name: 'ratings' } });

    const r = await ensureSecurityGroupHandler({ request, network }, {} as Context);

    expect(r.groupId).toBe(OUR_SG);
    const [create] = ec2Mock.commandCalls(CreateSecurityGroupCommand);
    expect(create?.args[0].input.GroupName).toBe('ecs-sg-apps.ratings');
    expect(create?.args[0].input.GroupName).not.toMatch(/^sg-/i);
  });

  it('fails with ResourceConflictError naming the other workload when a group with our name carries its tag', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: OUR_SG,
          GroupName: 'ecs-bookinfo.ratings',
          VpcId: VPC,
          Tags: [
            { Key: TAG_MANAGED_BY, Value: TOOL_NAME },
            { Key: TAG_WORKLOAD, Value: 'other/app' },
            { Key: TAG_ROLE, Value: 'task-security-group' },
          ],
        },
      ],
    });

    const err = await run(ensureSecurityGroupHandler, { request: bookinfoRequest(), network });

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toMatch(/Security group "ecs-bookinfo.ratings" \(sg-0a0a0a0a0a0a0a0a0\) .* belongs to workload other\/app/);
    expect(ec2Mock).not.toHaveReceivedCommand(AuthorizeSecurityGroupIngressCommand);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSecurityGroupCommand);
  });
});

describe('IPv6-only subnets (no CidrBlock)', () => {
  // An IPv6-only subnet (Ipv6Native) has no IPv4 CidrBlock:
  // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Subnet.html
  const ipv6Only: Subnet = {
    SubnetId: 'subnet-0000000000000006a',
    VpcId: VPC,
    AvailabilityZone: 'us-east-1b',
    Ipv6Native: true,
    Ipv6CidrBlockAssociationSet: [{ Ipv6CidrBlock: '2600:1f18:1234:5600::/64', Ipv6CidrBlockState: { State: 'associated' } }],
  };
  const ipv4 = (SubnetId: string, CidrBlock: string): Subnet => ({ SubnetId, VpcId: VPC, CidrBlock, AvailabilityZone: 'us-east-1a' });
  const listed = [ipv4('subnet-00000000000000001', '10.0.1.0/24'), ipv6Only, ipv4('subnet-00000000000000000', '10.0.0.0/24')];

  beforeEach(() => {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
    ec2Mock.on(DescribeSubnetsCommand).callsFake((input: DescribeSubnetsCommandInput) => ({
      Subnets: input.Filters?.some((f) => f.Name === 'tag:Name') ? [] : input.Filters?.some((f) => f.Name === 'subnet-id') ? [ipv6Only] : listed,
    }));
  });

  it('Resolve network lists only the subnets with an IPv4 block, sorted', async () => {
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [{ InternetGatewayId: 'igw-0000000000000000a', Attachments: [{ VpcId: VPC, State: 'attached' }] }] });
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] });
    ec2Mock.on(DescribeAccountAttributesCommand).resolves({ AccountAttributes: [{ AttributeName: 'vpc-max-elastic-ips', AttributeValues: [{ AttributeValue: '5' }] }] });
    ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: [{ ZoneName: 'us-east-1a', ZoneType: 'availability-zone', State: 'available' }, { ZoneName: 'us-east-1b', ZoneType: 'availability-zone', State: 'available' }] });

    const net = await resolveNetwork({ request: bookinfoRequest({ network: { eksClusterName: undefined, vpcId: VPC } }) });

    expect(net.subnets.map((s) => s.subnetId)).toEqual(['subnet-00000000000000000', 'subnet-00000000000000001']);
  });

  it('Ensure task subnet chooses the first free IPv4 block, passing over the IPv6-only subnet', async () => {
    ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] });
    ec2Mock.on(CreateRouteTableCommand).resolves({ RouteTable: { RouteTableId: 'rtb-0000000000000000a', Routes: [] } });
    ec2Mock.on(CreateRouteCommand).resolves({ Return: true });
    ec2Mock.on(AssociateRouteTableCommand).resolves({ AssociationId: 'rtbassoc-0000000000000000a' });
    ec2Mock.on(CreateSubnetCommand).resolves({ Subnet: ipv4('subnet-0000000000000002b', '10.0.2.0/24') });

    const r = await ensureTaskSubnetHandler({ request: bookinfoRequest({ network: { eksClusterName: 'mesh-eks', zones: 1 } }), network, natGateway }, {} as Context);

    expect(ec2Mock).toHaveReceivedCommandWith(CreateSubnetCommand, { CidrBlock: '10.0.2.0/24' });
    expect(r.subnets).toEqual([expect.objectContaining({ subnetId: 'subnet-0000000000000002b', cidr: '10.0.2.0/24', availabilityZone: 'us-east-1a' })]);
  });

  it('rejects an IPv6-only network.subnetId with NetworkConfigurationError', async () => {
    const request = bookinfoRequest({ network: { eksClusterName: 'mesh-eks', subnetIds: [ipv6Only.SubnetId!] } });
    const err = await run(ensureTaskSubnetHandler, { request, network });
    expect(err).toBeInstanceOf(NetworkConfigurationError);
    expect((err as Error).message).toMatch(/network.subnetIds\[0\] subnet-0000000000000006a is IPv6-only \(no IPv4 CIDR block\)/);
  });
});
