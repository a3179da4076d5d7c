import {
  AllocateAddressCommand,
  AssociateRouteTableCommand,
  AssociateVpcCidrBlockCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  DeleteNatGatewayCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DisassociateAddressCommand,
  type SecurityGroupRule,
  type Tag,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { checkNatGateway } from '../../functions/check-nat-gateway.ts';
import { ensureNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { ensureSecurityGroup } from '../../functions/ensure-security-group.ts';
import { ensureTaskSubnet } from '../../functions/ensure-task-subnet.ts';
import { NetworkConfigurationError, ResourceConflictError, ResourceNotReadyError } from '../../functions/lib/errors.ts';
import { names } from '../../functions/lib/naming.ts';
import { parseRequest, type OnboardingRequestInput } from '../../functions/lib/request.ts';
import { TAG_MANAGED_BY, TAG_ROLE, TAG_WORKLOAD, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { checkFeasibility } from '../../functions/lib/feasibility.ts';
import { resolveNetworkAfterPreflight as resolveNetwork } from '../support/steps.ts';
import { createEksCluster, createMeshVpc, type MeshVpc } from '../../local/aws-fixtures.ts';
import { useEmulator } from '../support/emulator.ts';
import { useNetworkAccount } from '../support/network-account.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const account = useNetworkAccount(emu);

/** A fresh VPC + EKS cluster (names unique per test) and the bookinfo request pointing at it. */
async function meshFixture(name: string, network: OnboardingRequestInput['network'] = {}, vpcOpts: { internetGateway?: boolean } = {}) {
  const vpc = await createMeshVpc({ name, ...vpcOpts });
  await createEksCluster({ name: `${name}-eks`, vpcId: vpc.vpcId, subnetIds: vpc.publicSubnetIds, clusterSecurityGroupId: vpc.clusterSecurityGroupId });
  const request = bookinfoRequest({ network: { eksClusterName: `${name}-eks`, ...network } });
  return { vpc, request };
}

const byVpc = (vpcId: string) => [{ Name: 'vpc-id', Values: [vpcId] }];
const subnetsOf = async (vpcId: string) => (await account().send(new DescribeSubnetsCommand({ Filters: byVpc(vpcId) }))).Subnets ?? [];
const routeTablesOf = async (vpcId: string) => (await account().send(new DescribeRouteTablesCommand({ Filters: byVpc(vpcId) }))).RouteTables ?? [];
const natsOf = async (vpcId: string) => (await account().send(new DescribeNatGatewaysCommand({ Filter: byVpc(vpcId) }))).NatGateways ?? [];
const natEipsOf = async (vpcId: string) => (await account().send(new DescribeAddressesCommand({ Filters: [{ Name: 'tag:Name', Values: [names.natEip(vpcId)] }] }))).Addresses ?? [];
const appRules = async (groupId: string, port = 9080): Promise<SecurityGroupRule[]> =>
  ((await account().send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))).SecurityGroupRules ?? []).filter(
    (r) => !r.IsEgress && r.FromPort === port && r.ToPort === port,
  );
const sources = (rules: SecurityGroupRule[]) => rules.map((r) => r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId).sort();
/** Every ingress rule of a group as `<port> <source>`, sorted. */
const ingressOf = async (groupId: string): Promise<string[]> =>
  ((await account().send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))).SecurityGroupRules ?? [])
    .filter((r) => !r.IsEgress)
    .map((r) => `${r.FromPort} ${r.CidrIpv4 ?? r.ReferencedGroupInfo?.GroupId}`)
    .sort();
const tagOf = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
/** Another workload (bookinfo/reviews) of the same ECS cluster and EKS cluster as `request`. */
function otherWorkload(request: ReturnType<typeof bookinfoRequest>) {
  const base = bookinfoInput();
  return parseRequest({ ...base, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...base.ecs, service: 'reviews', family: 'bookinfo_reviews' }, network: request.network });
}

/** A private subnet in `vpc` whose own route table sends 0.0.0.0/0 to `target`. */
async function subnetRoutedTo(vpc: MeshVpc, cidr: string, target: { NatGatewayId: string } | { GatewayId: string } | undefined) {
  const { Subnet } = await account().send(new CreateSubnetCommand({ VpcId: vpc.vpcId, CidrBlock: cidr, AvailabilityZone: 'us-east-1a' }));
  const { RouteTable } = await account().send(new CreateRouteTableCommand({ VpcId: vpc.vpcId }));
  if (target) await account().send(new CreateRouteCommand({ RouteTableId: RouteTable!.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', ...target }));
  await account().send(new AssociateRouteTableCommand({ RouteTableId: RouteTable!.RouteTableId!, SubnetId: Subnet!.SubnetId! }));
  return Subnet!.SubnetId!;
}

describe('Resolve network (emulator)', () => {
  it('finds the VPC from the EKS cluster, with CIDRs, subnets, gateway and cluster security group', async () => {
    const { vpc, request } = await meshFixture('resolve');
    await account().send(new AssociateVpcCidrBlockCommand({ VpcId: vpc.vpcId, CidrBlock: '100.64.0.0/16' }));

    const net = await resolveNetwork({ request });

    expect(net).toEqual({
      vpcId: vpc.vpcId,
      vpcCidrs: ['10.0.0.0/16', '100.64.0.0/16'],
      subnets: [
        { subnetId: vpc.publicSubnetIds[0], cidr: '10.0.0.0/24', availabilityZone: 'us-east-1a', name: 'resolve-public-a' },
        { subnetId: vpc.publicSubnetIds[1], cidr: '10.0.1.0/24', availabilityZone: 'us-east-1b', name: 'resolve-public-b' },
      ],
      internetGatewayId: vpc.internetGatewayId,
      availableNatGatewayIds: [],
      eksClusterSecurityGroupId: vpc.clusterSecurityGroupId,
      zones: ['us-east-1a', 'us-east-1b'],
      // What the network steps decide their read-only path from: the VPC as read once.
      seen: {
        subnets: expect.arrayContaining([expect.objectContaining({ SubnetId: vpc.publicSubnetIds[0], CidrBlock: '10.0.0.0/24' })]) as never,
        routeTables: expect.any(Array) as never,
        natGateways: [],
      },
    });
  });

  it('finds the VPC from network.vpcId alone, and accepts both when they agree', async () => {
    const { vpc, request } = await meshFixture('resolve-by-id');
    const byId = await resolveNetwork({ request: bookinfoRequest({ network: { eksClusterName: undefined, vpcId: vpc.vpcId } }) });
    expect(byId.vpcId).toBe(vpc.vpcId);
    expect(byId.eksClusterSecurityGroupId).toBeUndefined();
    expect(byId.subnets.map((s) => s.cidr)).toEqual(['10.0.0.0/24', '10.0.1.0/24']);

    const both = await resolveNetwork({ request: bookinfoRequest({ network: { ...request.network, vpcId: vpc.vpcId } }) });
    expect(both.vpcId).toBe(vpc.vpcId);
  });

  it('rejects a vpcId that is not the EKS cluster VPC, an unknown cluster and an unknown VPC', async () => {
    const { request } = await meshFixture('resolve-mismatch');
    const other = await createMeshVpc({ name: 'resolve-other' });

    await expect(resolveNetwork({ request: bookinfoRequest({ network: { ...request.network, vpcId: other.vpcId } }) })).rejects.toThrow(
      new RegExp(`network.vpcId ${other.vpcId} differs from the VPC of EKS cluster "resolve-mismatch-eks"`),
    );
    // An unknown EKS cluster stops the workflow at Pre-flight mesh, which describes it first; the API's check names the field.
    await expect(resolveNetwork({ request: bookinfoRequest({ network: { eksClusterName: 'no-such-eks' } }) })).rejects.toMatchObject({ name: 'MeshPrerequisiteError', message: expect.stringContaining('EKS cluster "no-such-eks"') as string });
    await expect(checkFeasibility(bookinfoRequest({ network: { eksClusterName: 'no-such-eks' } }))).resolves.toEqual([
      expect.objectContaining({ path: '$.network.eksClusterName', message: expect.stringContaining('EKS cluster "no-such-eks"') as string }),
    ]);
    await expect(resolveNetwork({ request: bookinfoRequest({ network: { eksClusterName: undefined, vpcId: 'vpc-0123456789abcdef0' } }) })).rejects.toThrow(
      /VPC vpc-0123456789abcdef0 was not found/,
    );
  });
});

describe('NAT gateway, task subnet and security group (emulator)', () => {
  it('builds the whole network once and reuses it on the second run', async () => {
    const { vpc, request } = await meshFixture('full');
    const state: WorkflowState = { request };
    state.network = await resolveNetwork(state);

    // NAT gateway: twice, one of each sub-resource.
    const nat1 = await ensureNatGateway(state);
    const nat2 = await ensureNatGateway(state);
    expect(nat1.state).toBe('available');
    expect(nat1.ledger.map((e) => [e.kind, e.created])).toEqual([
      ['vpc-subnet', true],
      ['route-table', true],
      ['elastic-ip', true],
      ['nat-gateway', true],
    ]);
    expect(nat2).toEqual({ natGatewayId: nat1.natGatewayId, state: 'available', subnetId: nat1.subnetId, ledger: [{ kind: 'nat-gateway', id: nat1.natGatewayId, created: false, shared: true }] });
    const nats = await natsOf(vpc.vpcId);
    expect(nats.map((n) => n.NatGatewayId)).toEqual([nat1.natGatewayId]);
    const eips = await natEipsOf(vpc.vpcId);
    expect(eips).toHaveLength(1);
    expect(nats[0]?.NatGatewayAddresses?.[0]?.AllocationId).toBe(eips[0]?.AllocationId);
    const natSubnets = (await subnetsOf(vpc.vpcId)).filter((s) => s.SubnetId === nat1.subnetId);
    expect(natSubnets.map((s) => [s.CidrBlock, s.AvailabilityZone])).toEqual([['10.0.2.0/24', 'us-east-1a']]);
    expect(natSubnets[0]?.Tags).toContainEqual({ Key: 'Name', Value: names.natSubnet(vpc.vpcId) });
    const natTables = (await routeTablesOf(vpc.vpcId)).filter((t) => t.Tags?.some((g) => g.Value === names.natRouteTable(vpc.vpcId)));
    expect(natTables).toHaveLength(1);
    expect(natTables[0]?.Routes).toContainEqual(expect.objectContaining({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: vpc.internetGatewayId }));
    expect(natTables[0]?.Associations?.map((a) => a.SubnetId)).toEqual([nat1.subnetId]);

    // The wait loop's check sees it available at once on moto and keeps the ledger.
    state.natGateway = nat1;
    expect(await checkNatGateway(state)).toEqual({ ...nat1, state: 'available' });

    // Task subnets, one per zone of the VPC's subnets: the next free /24s after the two public ones and the NAT subnet.
    expect(state.network.zones).toEqual(['us-east-1a', 'us-east-1b']);
    const sub1 = await ensureTaskSubnet(state);
    const sub2 = await ensureTaskSubnet(state);
    expect(sub1.subnets.map((x) => [x.cidr, x.availabilityZone])).toEqual([
      ['10.0.3.0/24', 'us-east-1a'],
      ['10.0.4.0/24', 'us-east-1b'],
    ]);
    expect(sub1.ledger.map((e) => [e.kind, e.created])).toEqual([
      ['vpc-subnet', true],
      ['route-table', true],
      ['vpc-subnet', true],
      ['route-table', true],
    ]);
    expect(sub2).toEqual({ ...sub1, ledger: sub1.ledger.map((e) => ({ ...e, created: false })) });
    expect((await subnetsOf(vpc.vpcId)).map((s) => s.CidrBlock).sort()).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    for (const [i, zone] of ['us-east-1a', 'us-east-1b'].entries()) {
      const taskTables = (await routeTablesOf(vpc.vpcId)).filter((t) => t.RouteTableId === sub1.subnets[i]!.routeTableId);
      expect(taskTables[0]?.Tags).toContainEqual({ Key: 'Name', Value: `bookinfo-ecs-subnet-rt-${zone}` });
      // One shared NAT gateway: the second zone's traffic crosses to the first's.
      expect(taskTables[0]?.Routes).toContainEqual(expect.objectContaining({ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: nat1.natGatewayId }));
      expect(taskTables[0]?.Associations?.map((a) => a.SubnetId)).toEqual([sub1.subnets[i]!.subnetId]);
    }
    expect(await routeTablesOf(vpc.vpcId)).toHaveLength(5); // main, public, NAT, two task

    // Security group: twice, ingress exactly the VPC CIDR on 9080, EKS cluster SG open to it.
    const sg1 = await ensureSecurityGroup(state);
    const sg2 = await ensureSecurityGroup(state);
    const ingressId = `${vpc.clusterSecurityGroupId}:tcp:9080:${sg1.groupId}`;
    expect(sg1.ledger).toEqual([
      { kind: 'security-group', id: sg1.groupId, created: true },
      { kind: 'security-group-ingress', id: ingressId, created: true },
    ]);
    expect(sg2.ledger).toEqual([
      { kind: 'security-group', id: sg1.groupId, created: false },
      { kind: 'security-group-ingress', id: ingressId, created: false },
    ]);
    const groups = (await account().send(new DescribeSecurityGroupsCommand({ Filters: [...byVpc(vpc.vpcId), { Name: 'group-name', Values: ['ecs-bookinfo.ratings'] }] }))).SecurityGroups;
    expect(groups?.map((g) => g.GroupId)).toEqual([sg1.groupId]);
    expect(groups?.[0]?.IpPermissionsEgress).toContainEqual(expect.objectContaining({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }));
    const ours = (await account().send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [sg1.groupId] }] }))).SecurityGroupRules ?? [];
    expect(ours.filter((r) => !r.IsEgress).map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.CidrIpv4])).toEqual([['tcp', 9080, 9080, '10.0.0.0/16']]);
    expect(sources(await appRules(vpc.clusterSecurityGroupId))).toEqual([sg1.groupId]);
  });

  it('converges ingress to network.ingressSources (CIDR and sg- id), keeping rules it did not make', async () => {
    const { vpc, request } = await meshFixture('ingress', { ingressSources: ['10.0.0.0/24'], allowFromEksClusterSecurityGroup: false });
    const network = await resolveNetwork({ request });
    const first = await ensureSecurityGroup({ request, network });
    expect(first.ledger).toEqual([{ kind: 'security-group', id: first.groupId, created: true }]);
    expect(sources(await appRules(first.groupId))).toEqual(['10.0.0.0/24']);
    // No EKS rule: allowFromEksClusterSecurityGroup is false.
    expect(await appRules(vpc.clusterSecurityGroupId)).toEqual([]);

    // A person adds a rule; then the request changes to an sg- source plus another CIDR.
    await account().send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: first.groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9080, ToPort: 9080, IpRanges: [{ CidrIp: '192.168.0.0/24' }] }] }),
    );
    const { GroupId: peer } = await account().send(new CreateSecurityGroupCommand({ VpcId: vpc.vpcId, GroupName: 'mesh-peer', Description: 'peer' }));
    const changed = bookinfoRequest({ network: { ...request.network, ingressSources: [peer!, '10.0.1.0/24'] } });
    const second = await ensureSecurityGroup({ request: changed, network });

    expect(second.groupId).toBe(first.groupId);
    expect(sources(await appRules(first.groupId))).toEqual(['10.0.1.0/24', '192.168.0.0/24', peer!].sort());
  });

  it('reuses a given private subnet behind a NAT gateway and rejects ones that are not', async () => {
    const { vpc, request } = await meshFixture('given');
    const network = await resolveNetwork({ request });
    const { natGatewayId } = await ensureNatGateway({ request, network });

    const good = await subnetRoutedTo(vpc, '10.0.10.0/24', { NatGatewayId: natGatewayId });
    const withGood = bookinfoRequest({ network: { ...request.network, subnetIds: [good] } });
    const nat = await ensureNatGateway({ request: withGood, network });
    expect(nat).toMatchObject({ natGatewayId, state: 'available', ledger: [{ kind: 'nat-gateway', id: natGatewayId, created: false }] });
    const task = await ensureTaskSubnet({ request: withGood, network, natGateway: nat });
    expect(task).toMatchObject({ subnets: [{ subnetId: good, cidr: '10.0.10.0/24', availabilityZone: 'us-east-1a' }], ledger: [{ kind: 'vpc-subnet', id: good, created: false }] });

    const toIgw = await subnetRoutedTo(vpc, '10.0.11.0/24', { GatewayId: vpc.internetGatewayId! });
    await expect(ensureTaskSubnet({ request: bookinfoRequest({ network: { ...request.network, subnetIds: [toIgw] } }), network })).rejects.toThrow(
      new RegExp(`network.subnetIds\\[0\\] ${toIgw}: its route table rtb-\\w+ sends 0.0.0.0/0 to ${vpc.internetGatewayId}, not to a NAT gateway`),
    );
    const { Subnet: bare } = await account().send(new CreateSubnetCommand({ VpcId: vpc.vpcId, CidrBlock: '10.0.12.0/24' }));
    await expect(ensureTaskSubnet({ request: bookinfoRequest({ network: { ...request.network, subnetIds: [bare!.SubnetId!] } }), network })).rejects.toThrow(
      /the VPC's main route table rtb-\w+ \(the subnet has no route table of its own\) has no 0.0.0.0\/0 route/,
    );
    const elsewhere = await createMeshVpc({ name: 'given-other' });
    await expect(ensureTaskSubnet({ request: bookinfoRequest({ network: { ...request.network, subnetIds: [elsewhere.publicSubnetIds[0]] } }), network })).rejects.toThrow(
      new RegExp(`is in ${elsewhere.vpcId}, not in the workload's VPC ${vpc.vpcId}`),
    );
  });

  it('rejects a subnetCidrs block outside the VPC or overlapping a subnet, and a foreign subnet with our name', async () => {
    const { vpc, request } = await meshFixture('cidr');
    const network = await resolveNetwork({ request });
    const natGateway = await ensureNatGateway({ request, network });
    const withCidr = (block: string) => bookinfoRequest({ network: { ...request.network, subnetCidrs: [block, '10.0.30.0/24'] } });

    await expect(ensureTaskSubnet({ request: withCidr('10.1.0.0/24'), network, natGateway })).rejects.toThrow(/network.subnetCidrs\[0\] 10.1.0.0\/24 is not inside .* 10.0.0.0\/16/);
    await expect(ensureTaskSubnet({ request: withCidr('10.0.1.0/24'), network, natGateway })).rejects.toThrow(
      new RegExp(`network.subnetCidrs\\[0\\] 10.0.1.0/24 overlaps subnet ${vpc.publicSubnetIds[1]}`),
    );
    const before = (await subnetsOf(vpc.vpcId)).length;

    await account().send(
      new CreateSubnetCommand({ VpcId: vpc.vpcId, CidrBlock: '10.0.20.0/24', TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: 'bookinfo-ecs-subnet-us-east-1a' }] }] }),
    );
    await expect(ensureTaskSubnet({ request, network, natGateway })).rejects.toThrow(ResourceConflictError);
    expect(await subnetsOf(vpc.vpcId)).toHaveLength(before + 1);
  });

  it('fails with NetworkConfigurationError when the VPC has no internet gateway, making nothing', async () => {
    const { vpc, request } = await meshFixture('no-igw', {}, { internetGateway: false });
    const missing = new RegExp(`VPC ${vpc.vpcId} has no internet gateway, and a NAT gateway needs one.*network.subnetIds`);
    // Resolve network sees it before anything is made...
    const resolving = resolveNetwork({ request });
    await expect(resolving).rejects.toThrow(NetworkConfigurationError);
    await expect(resolving).rejects.toThrow(missing);

    // ...and Ensure NAT gateway still checks (the gateway may be detached between the two steps).
    const network = { vpcId: vpc.vpcId, vpcCidrs: [vpc.cidr], subnets: [], availableNatGatewayIds: [], zones: ['us-east-1a', 'us-east-1b'] };
    const run = ensureNatGateway({ request, network });
    await expect(run).rejects.toThrow(NetworkConfigurationError);
    await expect(run).rejects.toThrow(missing);
    expect(await subnetsOf(vpc.vpcId)).toHaveLength(2);
    expect(await natEipsOf(vpc.vpcId)).toEqual([]);
  });

  it('reuses an existing available NAT gateway and creates nothing', async () => {
    const { vpc, request } = await meshFixture('existing-nat');
    const { AllocationId } = await account().send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const { NatGateway } = await account().send(new CreateNatGatewayCommand({ SubnetId: vpc.publicSubnetIds[1], AllocationId }));
    const addressesBefore = (await account().send(new DescribeAddressesCommand({}))).Addresses?.length;
    const network = await resolveNetwork({ request });
    expect(network.availableNatGatewayIds).toEqual([NatGateway!.NatGatewayId]);

    const nat = await ensureNatGateway({ request, network });

    expect(nat).toEqual({
      natGatewayId: NatGateway!.NatGatewayId,
      state: 'available',
      subnetId: vpc.publicSubnetIds[1],
      ledger: [{ kind: 'nat-gateway', id: NatGateway!.NatGatewayId, created: false, shared: true }],
    });
    expect(await natsOf(vpc.vpcId)).toHaveLength(1);
    expect(await subnetsOf(vpc.vpcId)).toHaveLength(2);
    expect(await routeTablesOf(vpc.vpcId)).toHaveLength(2);
    expect((await account().send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(addressesBefore!);
  });

  it('passes over an available NAT gateway whose subnet does not route to the internet gateway, and makes ours', async () => {
    const { vpc, request } = await meshFixture('nat-no-igw-route');
    const isolated = await subnetRoutedTo(vpc, '10.0.30.0/24', undefined);
    const { AllocationId } = await account().send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const { NatGateway: theirs } = await account().send(new CreateNatGatewayCommand({ SubnetId: isolated, AllocationId }));
    const network = await resolveNetwork({ request });

    const nat = await ensureNatGateway({ request, network });

    expect(nat.natGatewayId).not.toBe(theirs!.NatGatewayId);
    expect(nat.ledger).toContainEqual({ kind: 'nat-gateway', id: nat.natGatewayId, created: true, shared: true });
    expect((await natsOf(vpc.vpcId)).map((n) => n.NatGatewayId).sort()).toEqual([theirs!.NatGatewayId, nat.natGatewayId].sort());
  });

  it('waits while a deleted NAT gateway of ours still holds the Elastic IP, then makes a new one with it', async () => {
    const { vpc, request } = await meshFixture('nat-deleted');
    const network = await resolveNetwork({ request });
    const first = await ensureNatGateway({ request, network });
    await account().send(new DeleteNatGatewayCommand({ NatGatewayId: first.natGatewayId }));

    // moto, like AWS while the NAT gateway is `deleting`, keeps the address associated.
    const [eip] = await natEipsOf(vpc.vpcId);
    expect(eip?.AssociationId).toBeDefined();
    const waiting = ensureNatGateway({ request, network });
    await expect(waiting).rejects.toThrow(ResourceNotReadyError);
    await expect(waiting).rejects.toThrow(new RegExp(`Elastic IP ${eip!.AllocationId} .* is still associated`));

    // AWS frees it once the NAT gateway is deleted.
    await account().send(new DisassociateAddressCommand({ AssociationId: eip!.AssociationId! }));
    const second = await ensureNatGateway({ request, network });

    expect(second.natGatewayId).not.toBe(first.natGatewayId);
    expect(second.state).toBe('available');
    expect(second.ledger.map((e) => [e.kind, e.created])).toEqual([
      ['vpc-subnet', false],
      ['route-table', false],
      ['elastic-ip', false],
      ['nat-gateway', true],
    ]);
    expect(await natEipsOf(vpc.vpcId)).toHaveLength(1);
  });
});

describe('Shared and per-workload resources (emulator)', () => {
  it('tags what every workload of the VPC or cluster shares without a workload tag, and the security group and its rules with it', async () => {
    const { vpc, request } = await meshFixture('shared-tags');
    const state: WorkflowState = { request };
    state.network = await resolveNetwork(state);
    state.natGateway = await ensureNatGateway(state);
    state.taskSubnet = await ensureTaskSubnet(state);
    state.securityGroup = await ensureSecurityGroup(state);

    const shared = [...state.natGateway.ledger, ...state.taskSubnet.ledger];
    expect(shared.map((e) => [e.kind, e.shared])).toEqual([
      ['vpc-subnet', true],
      ['route-table', true],
      ['elastic-ip', true],
      ['nat-gateway', true],
      ['vpc-subnet', true],
      ['route-table', true],
      ['vpc-subnet', true],
      ['route-table', true],
    ]);
    const sharedIds = new Set(shared.map((e) => e.id));
    const found = [
      ...(await subnetsOf(vpc.vpcId)).map((r) => ({ id: r.SubnetId, tags: r.Tags })),
      ...(await routeTablesOf(vpc.vpcId)).map((r) => ({ id: r.RouteTableId, tags: r.Tags })),
      ...(await natEipsOf(vpc.vpcId)).map((r) => ({ id: r.AllocationId, tags: r.Tags })),
      ...(await natsOf(vpc.vpcId)).map((r) => ({ id: r.NatGatewayId, tags: r.Tags })),
    ].filter((r) => sharedIds.has(r.id!));
    expect(found).toHaveLength(8);
    for (const r of found) {
      expect(tagOf(r.tags, TAG_MANAGED_BY), r.id).toBe(TOOL_NAME);
      expect(tagOf(r.tags, TAG_ROLE), r.id).toBeDefined();
      expect(tagOf(r.tags, TAG_WORKLOAD), r.id).toBeUndefined();
    }

    // Per-workload: the task security group and the rules this tool added carry the workload.
    expect(state.securityGroup.ledger.every((e) => e.shared === undefined)).toBe(true);
    const [group] = (await account().send(new DescribeSecurityGroupsCommand({ GroupIds: [state.securityGroup.groupId] }))).SecurityGroups ?? [];
    expect(tagOf(group?.Tags, TAG_WORKLOAD)).toBe('bookinfo/ratings');
    const rules = [...(await appRules(state.securityGroup.groupId)), ...(await appRules(vpc.clusterSecurityGroupId))];
    expect(rules).toHaveLength(2);
    for (const r of rules) expect(tagOf(r.Tags, TAG_WORKLOAD)).toBe('bookinfo/ratings');

    // A second workload of the same cluster reuses every shared resource and makes its own group.
    const other: WorkflowState = { request: otherWorkload(request), network: state.network };
    const nat = await ensureNatGateway(other);
    const sub = await ensureTaskSubnet({ ...other, natGateway: nat });
    const sg = await ensureSecurityGroup(other);
    expect(nat.natGatewayId).toBe(state.natGateway.natGatewayId);
    expect(sub.subnets).toEqual(state.taskSubnet.subnets);
    expect([...nat.ledger, ...sub.ledger].every((e) => !e.created && e.shared)).toBe(true);
    expect(sg.groupId).not.toBe(state.securityGroup.groupId);
  });
});

describe('Security group converges both ways (emulator)', () => {
  it('a changed app.port revokes our rules on the old port (task group and EKS cluster group), keeping rules a person added', async () => {
    const { vpc, request } = await meshFixture('port-change');
    const network = await resolveNetwork({ request });
    const first = await ensureSecurityGroup({ request, network });
    const manual = (groupId: string, port: number, cidr: string) =>
      account().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: cidr }] }] }));
    await manual(first.groupId, 9080, '192.168.0.0/24');
    await manual(vpc.clusterSecurityGroupId, 9080, '10.9.0.0/16');
    const eksBefore = await ingressOf(vpc.clusterSecurityGroupId);
    expect(eksBefore).toContain(`9080 ${first.groupId}`);

    const moved = bookinfoRequest({ app: { port: 9090 }, network: request.network });
    const second = await ensureSecurityGroup({ request: moved, network });

    expect(second.groupId).toBe(first.groupId);
    expect(await ingressOf(first.groupId)).toEqual(['9080 192.168.0.0/24', '9090 10.0.0.0/16']);
    const eksAfter = await ingressOf(vpc.clusterSecurityGroupId);
    expect(eksAfter).toContain(`9090 ${first.groupId}`);
    expect(eksAfter).toContain('9080 10.9.0.0/16');
    expect(eksAfter).not.toContain(`9080 ${first.groupId}`);
    expect(eksAfter).toHaveLength(eksBefore.length);
    expect(second.ledger).toContainEqual({ kind: 'security-group-ingress', id: `${vpc.clusterSecurityGroupId}:tcp:9090:${first.groupId}`, created: true });

    // A re-run changes nothing.
    await ensureSecurityGroup({ request: moved, network });
    expect(await ingressOf(first.groupId)).toEqual(['9080 192.168.0.0/24', '9090 10.0.0.0/16']);
    expect(await ingressOf(vpc.clusterSecurityGroupId)).toEqual(eksAfter);
  });

  it('turning allowFromEksClusterSecurityGroup off removes our EKS cluster group rule; another workload\'s stays', async () => {
    const { vpc, request } = await meshFixture('eks-off', { allowFromEksClusterSecurityGroup: true });
    const network = await resolveNetwork({ request });
    const ours = await ensureSecurityGroup({ request, network });
    const theirs = await ensureSecurityGroup({ request: otherWorkload(request), network });
    expect(sources(await appRules(vpc.clusterSecurityGroupId))).toEqual([ours.groupId, theirs.groupId].sort());

    const off = bookinfoRequest({ network: { ...request.network, allowFromEksClusterSecurityGroup: false } });
    const r = await ensureSecurityGroup({ request: off, network });

    expect(r.ledger).toEqual([{ kind: 'security-group', id: ours.groupId, created: false }]);
    expect(sources(await appRules(vpc.clusterSecurityGroupId))).toEqual([theirs.groupId]);
    // Our own group keeps its app ingress.
    expect(sources(await appRules(ours.groupId))).toEqual(['10.0.0.0/16']);
  });
});
