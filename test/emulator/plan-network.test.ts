/**
 * The dry run of the Network branch (Ensure NAT gateway, Ensure task subnet, Ensure security
 * group) against moto: each plan sends no mutating call, and the apply that follows does exactly
 * what the plan said. Every case plans, then applies, and compares the apply's ledger with the
 * plan: the same multiset of (kind, action), with created → create, updated → update, else
 * reuse, and the same id for every entry that is not a create.
 */
import type { Context } from 'aws-lambda';
import {
  AssociateRouteTableCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  DescribeSubnetsCommand,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { ensureNatGateway, planNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { ensureSecurityGroup, planSecurityGroup } from '../../functions/ensure-security-group.ts';
import { ensureTaskSubnet, handler as taskSubnetHandler, planTaskSubnet } from '../../functions/ensure-task-subnet.ts';
import { onCommand } from '../../functions/lib/clients.ts';
import { NetworkConfigurationError, ResourceConflictError } from '../../functions/lib/errors.ts';
import { assessNetwork } from '../../functions/lib/feasibility.ts';
import { isPlanned, type PlanEntry } from '../../functions/lib/plan.ts';
import type { OnboardingRequest, OnboardingRequestInput } from '../../functions/lib/request.ts';
import type { LedgerEntry, NatGatewayResult, NetworkResult, SecurityGroupResult, TaskSubnetResult, WorkflowState } from '../../functions/lib/workflow.ts';
import { resolveNetworkAfterPreflight as resolveNetwork } from '../support/steps.ts';
import { createEksCluster, createMeshVpc } from '../../local/aws-fixtures.ts';
import { isMutating } from '../support/aws-faults.ts';
import { useEmulator } from '../support/emulator.ts';
import { useNetworkAccount } from '../support/network-account.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const account = useNetworkAccount(emu);

async function meshFixture(name: string, network: OnboardingRequestInput['network'] = {}) {
  const vpc = await createMeshVpc({ name });
  await createEksCluster({ name: `${name}-eks`, vpcId: vpc.vpcId, subnetIds: vpc.publicSubnetIds, clusterSecurityGroupId: vpc.clusterSecurityGroupId });
  const request = bookinfoRequest({ network: { eksClusterName: `${name}-eks`, ...network } });
  return { vpc, request };
}

/** Runs `fn`, failing the test if it sent any mutating AWS call (recorded before it is sent, so a failed one counts too). */
async function readOnly<T>(fn: () => Promise<T>): Promise<T> {
  const writes: string[] = [];
  const stop = onCommand((sent) => {
    if (isMutating(sent)) writes.push(`${sent.service}:${sent.command}`);
  });
  try {
    return await fn();
  } finally {
    stop();
    expect(writes, 'mutating calls during the plan').toEqual([]);
  }
}

interface NetworkPlan {
  natGateway: NatGatewayResult;
  taskSubnet: TaskSubnetResult;
  securityGroup: SecurityGroupResult;
}

/**
 * `network` as a new run's Resolve network reads it: the VPC's subnets, route tables and NAT
 * gateways as they are now (the steps decide their read-only path and dry run from that read),
 * so a test that changes the VPC between runs need not resolve the network again.
 */
async function asNewRun(request: OnboardingRequest, network: NetworkResult): Promise<NetworkResult> {
  const seen = (await assessNetwork(request)).network?.seen;
  return { ...network, ...(seen ? { seen } : {}) };
}

/** The three plans in workflow order, each seeing the previous one's result as the state machine passes it. */
function planNetwork(request: OnboardingRequest, given: NetworkResult): Promise<NetworkPlan> {
  return readOnly(async () => {
    const network = await asNewRun(request, given);
    const state: WorkflowState = { request, network };
    const natGateway = await planNatGateway(state);
    const taskSubnet = await planTaskSubnet({ ...state, natGateway });
    const securityGroup = await planSecurityGroup(state);
    return { natGateway, taskSubnet, securityGroup };
  });
}

async function applyNetwork(request: OnboardingRequest, given: NetworkResult): Promise<NetworkPlan> {
  const network = await asNewRun(request, given);
  const state: WorkflowState = { request, network };
  const natGateway = await ensureNatGateway(state);
  const taskSubnet = await ensureTaskSubnet({ ...state, natGateway });
  const securityGroup = await ensureSecurityGroup(state);
  return { natGateway, taskSubnet, securityGroup };
}

const steps = ['natGateway', 'taskSubnet', 'securityGroup'] as const;
const actionOf = (e: LedgerEntry) => (e.created ? 'create' : e.updated ? 'update' : 'reuse');

/** Per step: the apply's ledger is the plan (kind and action; ids of all but creates). */
function expectApplyMatchesPlan(plan: NetworkPlan, apply: NetworkPlan): void {
  for (const step of steps) {
    const planned = plan[step].plan ?? [];
    expect(plan[step].ledger, step).toEqual([]);
    expect(apply[step].ledger.map((e) => `${e.kind} ${actionOf(e)}`).sort(), step).toEqual(planned.map((e) => `${e.kind} ${e.action}`).sort());
    expect(apply[step].ledger.filter((e) => !e.created).map((e) => `${e.kind} ${e.id}`).sort(), step).toEqual(
      planned.filter((e) => e.action !== 'create').map((e) => `${e.kind} ${e.id}`).sort(),
    );
  }
}

const summary = (entries: PlanEntry[] | undefined) => (entries ?? []).map((e) => `${e.kind} ${e.action}`);
const all = (plan: NetworkPlan) => steps.flatMap((s) => plan[s].plan ?? []);

describe('Network branch dry run (emulator)', () => {
  it('plans everything as create on a fresh VPC (shared NAT gateway, two zones), the apply makes exactly that, and a second plan reuses it all', async () => {
    const { vpc, request } = await meshFixture('plan-fresh');
    const network = await resolveNetwork({ request });

    const plan = await planNetwork(request, network);

    expect(summary(plan.natGateway.plan)).toEqual(['vpc-subnet create', 'route-table create', 'elastic-ip create', 'nat-gateway create']);
    expect(plan.natGateway.plan?.[0]?.detail).toBe('10.0.2.0/24 in us-east-1a');
    expect(plan.natGateway).toMatchObject({ state: 'pending', ledger: [] });
    expect(isPlanned(plan.natGateway.natGatewayId)).toBe(true);
    expect(summary(plan.taskSubnet.plan)).toEqual(['vpc-subnet create', 'route-table create', 'vpc-subnet create', 'route-table create']);
    // The NAT subnet the same plan makes takes 10.0.2.0/24, the first zone's task subnet 10.0.3.0/24.
    expect(plan.taskSubnet.plan?.filter((e) => e.kind === 'vpc-subnet').map((e) => e.detail)).toEqual(['10.0.3.0/24 in us-east-1a', '10.0.4.0/24 in us-east-1b']);
    expect(plan.taskSubnet.plan?.[1]?.detail).toContain(`0.0.0.0/0 to ${plan.natGateway.natGatewayId}`);
    expect(summary(plan.securityGroup.plan)).toEqual(['security-group create', 'security-group-ingress create']);
    expect(plan.securityGroup.plan?.[0]?.detail).toBe(`in ${vpc.vpcId}, TCP 9080 from 10.0.0.0/16`);
    expect(steps.flatMap((s) => plan[s].problems ?? [])).toEqual([]);

    const apply = await applyNetwork(request, network);
    expectApplyMatchesPlan(plan, apply);
    expect(apply.taskSubnet.subnets.map((s) => `${s.cidr} in ${s.availabilityZone}`)).toEqual(['10.0.3.0/24 in us-east-1a', '10.0.4.0/24 in us-east-1b']);
    const natSubnet = (await account().send(new DescribeSubnetsCommand({ SubnetIds: [apply.natGateway.subnetId] }))).Subnets?.[0];
    expect(`${natSubnet?.CidrBlock} in ${natSubnet?.AvailabilityZone}`).toBe(plan.natGateway.plan?.[0]?.detail);

    // After the apply, the same request plans nothing to do; the next apply agrees.
    const again = await planNetwork(request, await resolveNetwork({ request }));
    expect(all(again).every((e) => e.action === 'reuse')).toBe(true);
    expect(again.natGateway).toMatchObject({ natGatewayId: apply.natGateway.natGatewayId, state: 'available' });
    expect(again.taskSubnet.subnets).toEqual(apply.taskSubnet.subnets);
    expect(again.securityGroup.groupId).toBe(apply.securityGroup.groupId);
    expectApplyMatchesPlan(again, await applyNetwork(request, network));
  });

  it('plans a NAT gateway, subnet, route table and Elastic IP per zone with natGateways per-zone, each block counted as taken by the next', async () => {
    const { request } = await meshFixture('plan-zonal', { natGateways: 'per-zone' });
    const network = await resolveNetwork({ request });

    const plan = await planNetwork(request, network);

    expect(summary(plan.natGateway.plan)).toEqual([
      ...['vpc-subnet create', 'route-table create', 'elastic-ip create', 'nat-gateway create'],
      ...['vpc-subnet create', 'route-table create', 'elastic-ip create', 'nat-gateway create'],
    ]);
    expect(plan.natGateway.plan?.filter((e) => e.kind === 'vpc-subnet').map((e) => e.detail)).toEqual(['10.0.2.0/24 in us-east-1a', '10.0.3.0/24 in us-east-1b']);
    expect(plan.natGateway.zonal?.map((z) => [z.zone, isPlanned(z.natGatewayId), z.state])).toEqual([
      ['us-east-1a', true, 'pending'],
      ['us-east-1b', true, 'pending'],
    ]);
    expect(plan.taskSubnet.plan?.filter((e) => e.kind === 'vpc-subnet').map((e) => e.detail)).toEqual(['10.0.4.0/24 in us-east-1a', '10.0.5.0/24 in us-east-1b']);
    // Each zone's task route table goes through its zone's own planned NAT gateway.
    expect(plan.taskSubnet.plan?.filter((e) => e.kind === 'route-table').map((e) => e.detail?.split(',')[0])).toEqual(
      plan.natGateway.zonal?.map((z) => `0.0.0.0/0 to ${z.natGatewayId}`),
    );

    const apply = await applyNetwork(request, network);
    expectApplyMatchesPlan(plan, apply);
    expect(apply.taskSubnet.subnets.map((s) => s.cidr)).toEqual(['10.0.4.0/24', '10.0.5.0/24']);
    expect(all(await planNetwork(request, network)).every((e) => e.action === 'reuse')).toBe(true);
  });

  it('plans updates for what changed: ingressSources, app.port, and a task route table pointed elsewhere by hand', async () => {
    const { vpc, request } = await meshFixture('plan-changed', { ingressSources: ['10.0.0.0/16'] });
    const network = await resolveNetwork({ request });
    const first = await applyNetwork(request, network);
    const groupId = first.securityGroup.groupId;
    const eksRule = (port: number) => `${vpc.clusterSecurityGroupId}:tcp:${port}:${groupId}`;

    // ingressSources changed: one rule to add, ours on the old source to revoke; a rule a person added stays out of it.
    await account().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9080, ToPort: 9080, IpRanges: [{ CidrIp: '192.168.0.0/24' }] }] }));
    const sourcesChanged = bookinfoRequest({ network: { ...request.network, ingressSources: ['10.0.1.0/24'] } });
    const sgPlan = await readOnly(() => planSecurityGroup({ request: sourcesChanged, network }));
    expect(sgPlan.plan).toEqual([
      {
        kind: 'security-group',
        name: 'ecs-bookinfo.ratings',
        id: groupId,
        action: 'update',
        changes: [
          { field: 'ingress', wanted: 'tcp:9080:10.0.1.0/24' },
          { field: 'ingress', current: 'tcp:9080:10.0.0.0/16' },
        ],
      },
      { kind: 'security-group-ingress', name: `TCP 9080 from ecs-bookinfo.ratings into ${vpc.clusterSecurityGroupId}`, id: eksRule(9080), action: 'reuse' },
    ]);
    const sgApply = await ensureSecurityGroup({ request: sourcesChanged, network });
    expect(sgApply.ledger.map((e) => [e.kind, actionOf(e), e.id])).toEqual(sgPlan.plan?.map((e) => [e.kind, e.action, e.id]));

    // app.port changed: the group's rule moves, and the EKS cluster group gets a new rule (ours on 9080 there is revoked).
    const portChanged = bookinfoRequest({ app: { port: 9090 }, network: sourcesChanged.network });
    const portPlan = await readOnly(() => planSecurityGroup({ request: portChanged, network }));
    expect(portPlan.plan?.[0]).toMatchObject({
      action: 'update',
      changes: [
        { field: 'ingress', wanted: 'tcp:9090:10.0.1.0/24' },
        { field: 'ingress', current: 'tcp:9080:10.0.1.0/24' },
      ],
    });
    expect(portPlan.plan?.[1]).toMatchObject({ kind: 'security-group-ingress', action: 'create' });
    const portApply = await ensureSecurityGroup({ request: portChanged, network });
    expect(portApply.ledger.map((e) => [e.kind, actionOf(e)])).toEqual(portPlan.plan?.map((e) => [e.kind, e.action]));
    expect(portApply.ledger[1]?.id).toBe(eksRule(9090));

    // A person points the second zone's task route table at the internet gateway: the plan updates that table alone.
    const table = first.taskSubnet.subnets[1]!.routeTableId;
    await account().send(new ReplaceRouteCommand({ RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', GatewayId: vpc.internetGatewayId! }));
    const plan = await planNetwork(portChanged, network);
    expect(plan.taskSubnet.plan?.filter((e) => e.action !== 'reuse')).toEqual([
      {
        kind: 'route-table',
        name: 'bookinfo-ecs-subnet-rt-us-east-1b',
        id: table,
        action: 'update',
        changes: [{ field: 'routes[0.0.0.0/0]', current: vpc.internetGatewayId, wanted: first.natGateway.natGatewayId }],
        shared: true,
      },
    ]);
    expect(all(plan).filter((e) => e.action !== 'reuse')).toHaveLength(1);
    expectApplyMatchesPlan(plan, await applyNetwork(portChanged, network));
    expect(all(await planNetwork(portChanged, network)).every((e) => e.action === 'reuse')).toBe(true);
  });

  it('reports a conflict for a subnet named like ours but not ours, and for a subnetCidrs block already taken; the apply fails on them', async () => {
    const { vpc, request } = await meshFixture('plan-conflict');
    const network = await resolveNetwork({ request });
    await account().send(
      new CreateSubnetCommand({ VpcId: vpc.vpcId, CidrBlock: '10.0.20.0/24', AvailabilityZone: 'us-east-1a', TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: 'bookinfo-ecs-subnet-us-east-1a' }] }] }),
    );

    const plan = await planNetwork(request, network);
    const [foreign, ...rest] = plan.taskSubnet.plan ?? [];
    expect(foreign).toMatchObject({ kind: 'vpc-subnet', name: 'bookinfo-ecs-subnet-us-east-1a', action: 'conflict' });
    expect(foreign?.detail).toMatch(/Subnet "bookinfo-ecs-subnet-us-east-1a" \(subnet-\w+\) .* was not made by this tool/);
    // The rest is still planned: the other zone's subnet and both route tables.
    expect(summary(rest)).toEqual(['route-table create', 'vpc-subnet create', 'route-table create']);
    await expect(ensureTaskSubnet({ request, network, natGateway: await ensureNatGateway({ request, network }) })).rejects.toThrow(ResourceConflictError);

    // A block the request gives that a subnet already holds: Resolve network reports it, and the plan does not crash on it.
    const taken = bookinfoRequest({ ecs: { cluster: 'taken' }, network: { ...request.network, subnetCidrs: ['10.0.1.0/24', '10.0.30.0/24'] } });
    const assessed = await assessNetwork(taken);
    expect(assessed.problems.map((p) => p.path)).toEqual(['$.network.subnetCidrs[0]']);
    const flagged: NetworkResult = { ...assessed.network!, problems: assessed.problems.map(({ path, message }) => ({ step: 'Resolve network', path, message })) };
    const takenPlan = await planNetwork(taken, flagged);
    expect(takenPlan.taskSubnet.plan?.[0]).toMatchObject({ kind: 'vpc-subnet', name: 'taken-ecs-subnet-us-east-1a', action: 'conflict' });
    expect(takenPlan.taskSubnet.plan?.[0]?.detail).toMatch(new RegExp(`network.subnetCidrs\\[0\\] 10.0.1.0/24 overlaps subnet ${vpc.publicSubnetIds[1]}`));
    expect(takenPlan.taskSubnet.plan?.[2]).toMatchObject({ kind: 'vpc-subnet', action: 'create', detail: '10.0.30.0/24 in us-east-1b' });
    await expect(ensureTaskSubnet({ request: taken, network: flagged, natGateway: await ensureNatGateway({ request: taken, network }) })).rejects.toThrow(NetworkConfigurationError);
  });

  it('with network.subnetIds, plans the given subnet and its NAT gateway as reuse, and one without a NAT route as a conflict', async () => {
    const { vpc, request } = await meshFixture('plan-given');
    const network = await resolveNetwork({ request });
    const { natGatewayId } = await ensureNatGateway({ request, network });
    const subnetRoutedTo = async (cidr: string, target: { NatGatewayId: string } | { GatewayId: string }) => {
      const { Subnet } = await account().send(new CreateSubnetCommand({ VpcId: vpc.vpcId, CidrBlock: cidr, AvailabilityZone: 'us-east-1a' }));
      const { RouteTable } = await account().send(new CreateRouteTableCommand({ VpcId: vpc.vpcId }));
      await account().send(new CreateRouteCommand({ RouteTableId: RouteTable!.RouteTableId!, DestinationCidrBlock: '0.0.0.0/0', ...target }));
      await account().send(new AssociateRouteTableCommand({ RouteTableId: RouteTable!.RouteTableId!, SubnetId: Subnet!.SubnetId! }));
      return Subnet!.SubnetId!;
    };
    const good = await subnetRoutedTo('10.0.10.0/24', { NatGatewayId: natGatewayId });
    const given = bookinfoRequest({ network: { ...request.network, subnetIds: [good] } });

    const plan = await planNetwork(given, network);
    expect(plan.natGateway.plan).toEqual([{ kind: 'nat-gateway', name: expect.any(String) as string, id: natGatewayId, action: 'reuse', shared: true }]);
    expect(plan.taskSubnet.plan).toEqual([{ kind: 'vpc-subnet', name: good, id: good, action: 'reuse', shared: true }]);
    expectApplyMatchesPlan(plan, await applyNetwork(given, network));

    // A given subnet routed to the internet gateway: Resolve network reports it; the plans do not repeat the problem, the subnet is a conflict.
    const toIgw = await subnetRoutedTo('10.0.11.0/24', { GatewayId: vpc.internetGatewayId! });
    const bad = bookinfoRequest({ network: { ...request.network, subnetIds: [toIgw] } });
    const assessed = await assessNetwork(bad);
    const flagged: NetworkResult = { ...assessed.network!, problems: assessed.problems.map(({ path, message }) => ({ step: 'Resolve network', path, message })) };
    expect(flagged.problems?.map((p) => p.path)).toEqual(['$.network.subnetIds[0]']);
    const badPlan = await planNetwork(bad, flagged);
    expect(badPlan.natGateway.problems).toBeUndefined();
    expect(badPlan.taskSubnet.plan).toEqual([
      { kind: 'vpc-subnet', name: toIgw, id: toIgw, action: 'conflict', detail: expect.stringMatching(/not to a NAT gateway/) as string, shared: true },
    ]);
    await expect(ensureTaskSubnet({ request: bad, network })).rejects.toThrow(NetworkConfigurationError);
  });

  it('answers with the plan through the wrapped handler when request.dryRun is true', async () => {
    const { request } = await meshFixture('plan-handler');
    const network = await resolveNetwork({ request });
    const natGateway = await readOnly(() => planNatGateway({ request, network }));
    const context = { functionName: 'f', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', memoryLimitInMB: '256' } as Context;

    const planned = (await readOnly(() => taskSubnetHandler({ request: { ...request, dryRun: true }, network, natGateway }, context))) as TaskSubnetResult;

    expect(planned.ledger).toEqual([]);
    expect(summary(planned.plan)).toEqual(['vpc-subnet create', 'route-table create', 'vpc-subnet create', 'route-table create']);
    expect(planned.subnets.every((s) => isPlanned(s.subnetId) && isPlanned(s.routeTableId))).toBe(true);
  });
});
