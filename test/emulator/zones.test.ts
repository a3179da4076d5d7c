/**
 * Surviving the loss of an availability zone, on the sandbox: by default the ECS cluster gets a
 * task subnet in each of two zones (those of the VPC's subnets), the service gets both, its
 * tasks land in both (the sandbox's scheduler spreads them as ECS does; moto alone would put
 * them all in the first subnet), and the result reports each task's zone. One NAT gateway
 * serves both zones.
 */
import { DescribeNatGatewaysCommand, EC2Client } from '@aws-sdk/client-ec2';
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
});
