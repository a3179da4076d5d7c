/**
 * Surviving the loss of an availability zone, on the sandbox: by default the ECS cluster gets a
 * task subnet in each of two zones (those of the VPC's subnets), the service gets both, its
 * tasks land in both (the sandbox's scheduler spreads them as ECS does; moto alone would put
 * them all in the first subnet), and the result reports each task's zone. One NAT gateway
 * serves both zones.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeRouteTablesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { runWorkflow } from '../../local/engine/run-workflow.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox({ ecsServiceRunning: 2 });

describe('task subnets in two zones', () => {
  it('spreads a two-task service over two zones behind one NAT gateway, and reports each task with its zone', async () => {
    const input = bookinfoInput();
    const o = await runWorkflow({ ...input, ecs: { ...input.ecs, desiredCount: 2 } }, { waitMs: 20, retryIntervalMs: 5 });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    const result = o.output as OnboardingResult;

    expect(result.tasks.map((t) => t.availabilityZone).sort()).toEqual(['us-east-1a', 'us-east-1b']);
    const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
    const { services } = await new ECSClient(cfg).send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'] }));
    const subnets = services?.[0]?.networkConfiguration?.awsvpcConfiguration?.subnets ?? [];
    expect(subnets).toHaveLength(2);
    const made = result.created.filter((e) => e.kind === 'vpc-subnet').map((e) => e.id);
    // The NAT subnet and the two task subnets; the service runs in the task subnets.
    expect(made).toHaveLength(3);
    for (const s of subnets) expect(made).toContain(s);
    const nats = (await new EC2Client(cfg).send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'vpc-id', Values: [sandbox().vpc.vpcId] }] }))).NatGateways ?? [];
    expect(nats.filter((n) => n.State !== 'deleted')).toHaveLength(1);
  });

  it('with natGateways per-zone, gives each zone its own NAT gateway and Elastic IP, and routes each task subnet through its zone\'s', async () => {
    const input = bookinfoInput();
    // Another ECS cluster: task subnets are shared per ECS cluster, and so is the choice of their NAT gateways.
    const request = { ...input, ecs: { ...input.ecs, cluster: 'zonal', desiredCount: 2 }, network: { ...input.network, natGateways: 'per-zone' as const } };
    const o = await runWorkflow(request, { waitMs: 20, retryIntervalMs: 5 });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    const result = o.output as OnboardingResult;
    expect(result.tasks.map((t) => t.availabilityZone).sort()).toEqual(['us-east-1a', 'us-east-1b']);

    const ec2 = new EC2Client({ endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 });
    const vpcFilter = [{ Name: 'vpc-id', Values: [sandbox().vpc.vpcId] }];
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: vpcFilter }))).Subnets ?? [];
    const zoneOf = (subnetId: string | undefined) => subnets.find((x) => x.SubnetId === subnetId)?.AvailabilityZone;
    const nats = ((await ec2.send(new DescribeNatGatewaysCommand({ Filter: vpcFilter }))).NatGateways ?? []).filter((n) => n.State !== 'deleted');
    const zonal = nats.filter((n) => n.Tags?.some((t) => t.Key === 'Name' && /-us-east-1[ab]$/.test(t.Value ?? '')));
    expect(zonal.map((n) => zoneOf(n.SubnetId)).sort()).toEqual(['us-east-1a', 'us-east-1b']);
    // The shared one of the first test, and one per zone now; an Elastic IP each.
    expect(nats).toHaveLength(3);
    expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(3);
    const tables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: vpcFilter }))).RouteTables ?? [];
    for (const zone of ['us-east-1a', 'us-east-1b']) {
      const table = tables.find((t) => t.Tags?.some((g) => g.Key === 'Name' && g.Value === `zonal-ecs-subnet-rt-${zone}`));
      const via = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')?.NatGatewayId;
      expect(zoneOf(nats.find((n) => n.NatGatewayId === via)?.SubnetId), zone).toBe(zone);
    }
  });
});
