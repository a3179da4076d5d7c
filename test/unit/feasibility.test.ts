/**
 * The network feasibility check (functions/lib/feasibility.ts) against stubbed EC2/EKS answers,
 * for what the emulator cannot show: AWS enforces the Elastic IP quota that moto only reports
 * (moto 5.2.1 answers vpc-max-elastic-ips "5" and still allocates a sixth address), and a VPC
 * whose every /24 is taken.
 */
import {
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.ts';
import { InvalidRequestError, NetworkConfigurationError } from '../../functions/lib/errors.ts';
import { assessNetwork, checkFeasibility } from '../../functions/lib/feasibility.ts';
import { resolveNetwork } from '../../functions/resolve-network.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ec2Mock = mockClient(EC2Client);
const eksMock = mockClient(EKSClient);
const VPC = 'vpc-0000000000000000a';
/** What Pre-flight mesh's DescribeCluster hands Resolve network in the workflow state. */
const preflight = { kube: { clusterName: 'mesh-eks', server: 'https://eks.example', vpcId: VPC, clusterSecurityGroupId: 'sg-0000000000000000e' } } as never;
const subnet = (id: string, cidr: string, name?: string) => ({ SubnetId: id, VpcId: VPC, CidrBlock: cidr, AvailabilityZone: 'us-east-1a', ...(name ? { Tags: [{ Key: 'Name', Value: name }] } : {}) });
const quota = (max: string) => ({ AccountAttributes: [{ AttributeName: 'max-instances', AttributeValues: [{ AttributeValue: '20' }] }, { AttributeName: 'vpc-max-elastic-ips', AttributeValues: [{ AttributeValue: max }] }] });

beforeEach(() => {
  resetClients();
  eksMock.on(DescribeClusterCommand).resolves({ cluster: { name: 'mesh-eks', resourcesVpcConfig: { vpcId: VPC, clusterSecurityGroupId: 'sg-0000000000000000e' } } });
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/16' }] });
  ec2Mock.on(DescribeSubnetsCommand).resolves({ Subnets: [subnet('subnet-0000000000000000a', '10.0.0.0/24'), subnet('subnet-0000000000000000b', '10.0.1.0/24')] });
  ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [{ InternetGatewayId: 'igw-0000000000000000a', Attachments: [{ VpcId: VPC, State: 'attached' }] }] });
  ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
  ec2Mock.on(DescribeRouteTablesCommand).resolves({ RouteTables: [] });
  ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] });
  ec2Mock.on(DescribeAccountAttributesCommand).resolves(quota('5'));
  ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: ['us-east-1b', 'us-east-1a', 'us-east-1c'].map((ZoneName) => ({ ZoneName, ZoneType: 'availability-zone', State: 'available' as const })) });
});
afterEach(() => {
  ec2Mock.reset();
  eksMock.reset();
});

describe('network feasibility', () => {
  it('plans a NAT gateway, its subnet and Elastic IP and a task subnet in a bare VPC, and finds nothing wrong', async () => {
    const r = await assessNetwork(bookinfoRequest());
    expect(r.problems).toEqual([]);
    expect(r.plan).toEqual({ natGateways: 1, natSubnets: 1, elasticIps: 1, taskSubnets: 2 });
    // The zone of the VPC's subnets first, then the region's others by name.
    expect(r.network).toMatchObject({ vpcId: VPC, vpcCidrs: ['10.0.0.0/16'], internetGatewayId: 'igw-0000000000000000a', zones: ['us-east-1a', 'us-east-1b'] });
  });

  it('names each block outside the VPC, overlapping a subnet, or overlapping the other block, with its path', async () => {
    const outside = await checkFeasibility(bookinfoRequest({ network: { subnetCidrs: ['10.0.5.0/24', '10.9.0.0/24'], natSubnetCidr: '10.0.1.128/25' } }));
    expect(outside).toEqual([
      { path: '$.network.subnetCidrs[1]', message: "10.9.0.0/24 is not inside the VPC's CIDR block(s) 10.0.0.0/16" },
      { path: '$.network.natSubnetCidr', message: expect.stringContaining('10.0.1.128/25 overlaps subnet subnet-0000000000000000b (10.0.1.0/24)') as string },
    ]);
    const eachOther = await checkFeasibility(bookinfoRequest({ network: { subnetCidrs: ['10.0.8.0/22', '10.0.9.0/24'], natSubnetCidr: '10.0.4.0/24' } }));
    expect(eachOther).toEqual([{ path: '$.network.subnetCidrs[1]', message: '10.0.9.0/24 overlaps network.subnetCidrs[0] 10.0.8.0/22; the subnets to make need blocks of their own' }]);
  });

  it('refuses, before anything is made, a NAT gateway whose Elastic IP would exceed the quota (AWS: AddressLimitExceeded)', async () => {
    // AWS refuses the sixth address of the default quota with AddressLimitExceeded, "The maximum number of addresses has
    // been reached." (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); the quota is the account
    // attribute vpc-max-elastic-ips (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAccountAttributes.html).
    // Five addresses of the account, none of them ours (the look-up by our tags finds none).
    const five = ['a', 'b', 'c', 'd', 'e'].map((x) => ({ AllocationId: `eipalloc-000000000000000${x}`, Domain: 'vpc' as const, AssociationId: `eipassoc-000000000000000${x}` }));
    ec2Mock.on(DescribeAddressesCommand).callsFake((input: { Filters?: unknown[] }) => ({ Addresses: input.Filters ? [] : five }));

    const problems = await checkFeasibility(bookinfoRequest());

    expect(problems).toEqual([{ path: '$.network', message: expect.stringMatching(/already has 5 of its 5 \(vpc-max-elastic-ips\).*network.subnetId/) as string }]);
    const err = await resolveNetwork({ request: bookinfoRequest(), preflight }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkConfigurationError);
  });

  it('counts one Elastic IP per zone with per-zone NAT gateways, against the quota', async () => {
    const three = ['a', 'b', 'c'].map((x) => ({ AllocationId: `eipalloc-000000000000000${x}`, Domain: 'vpc' as const, AssociationId: `eipassoc-000000000000000${x}` }));
    ec2Mock.on(DescribeAddressesCommand).callsFake((input: { Filters?: unknown[] }) => ({ Addresses: input.Filters ? [] : three }));

    const r = await assessNetwork(bookinfoRequest({ network: { natGateways: 'per-zone', zones: 3 } }));

    expect(r.plan).toEqual({ natGateways: 3, natSubnets: 3, elasticIps: 3, taskSubnets: 3 });
    expect(r.problems).toEqual([
      { path: '$.network.natGateways', kind: 'account', message: expect.stringMatching(/^3 NAT gateways must be made .* need 3 Elastic IPs, but the account already has 3 of its 5/) as string },
    ]);
  });

  it('does not count the quota when a usable NAT gateway exists (nothing is allocated)', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({
      NatGateways: [{ NatGatewayId: 'nat-0000000000000000a', State: 'available', SubnetId: 'subnet-0000000000000000a', NatGatewayAddresses: [{ PublicIp: '198.51.100.7' }] }],
    });
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [{ RouteTableId: 'rtb-0000000000000000a', Associations: [{ SubnetId: 'subnet-0000000000000000a' }], Routes: [{ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-0000000000000000a', State: 'active' }] }],
    });
    ec2Mock.on(DescribeAccountAttributesCommand).rejects(new Error('the quota was not expected to be read'));

    const r = await assessNetwork(bookinfoRequest());

    expect(r.problems).toEqual([]);
    expect(r.plan).toMatchObject({ natGateways: 0, elasticIps: 0, taskSubnets: 2 });
  });

  it('says when no free /24 is left for a block to choose, and when the VPC has no internet gateway', async () => {
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: VPC, CidrBlock: '10.0.0.0/23' }] });
    ec2Mock.on(DescribeInternetGatewaysCommand).resolves({ InternetGateways: [] });

    const problems = await checkFeasibility(bookinfoRequest());

    // The /23 holds two /24s, both taken: each block to choose is named.
    expect(problems.map((p) => p.path)).toEqual(['$.network.natSubnetCidr', '$.network.subnetCidrs[0]', '$.network.subnetCidrs[1]', '$.network']);
    expect(problems[0]?.message).toMatch(/no free \/24 block is left in the VPC's CIDR block\(s\) 10.0.0.0\/23/);
    expect(problems[3]?.message).toMatch(/has no internet gateway/);
  });

  it('fails the workflow with InvalidRequestError (with the problems) when only request fields are wrong', async () => {
    const err = await resolveNetwork({ request: bookinfoRequest({ network: { subnetCidrs: ['192.168.0.0/24', '10.0.7.0/24'] } }), preflight }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).problems).toEqual([{ path: '$.network.subnetCidrs[0]', message: "192.168.0.0/24 is not inside the VPC's CIDR block(s) 10.0.0.0/16" }]);
  });

  it('says when the region has fewer zones than asked for', async () => {
    ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({ AvailabilityZones: [{ ZoneName: 'us-east-1a', ZoneType: 'availability-zone', State: 'available' }, { ZoneName: 'us-east-1-bos-1a', ZoneType: 'local-zone', State: 'available' }] });
    const problems = await checkFeasibility(bookinfoRequest({ network: { zones: 3 } }));
    expect(problems).toEqual([{ path: '$.network.zones', message: '3 availability zones are needed for the task subnets, but the region offers 1 (us-east-1a); ask for fewer zones' }]);
  });
});
