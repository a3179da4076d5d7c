/** One emulated account shared by a file's network tests, with an EC2 client of the test's own. */
import { DeleteNatGatewayCommand, DescribeAddressesCommand, DescribeNatGatewaysCommand, EC2Client, ReleaseAddressCommand } from '@aws-sdk/client-ec2';
import { afterEach, beforeAll } from 'vitest';
import type { EmulatorHandle } from './emulator.ts';

/**
 * An EC2 client on the emulator, and after each test the NAT gateways deleted and the Elastic IPs
 * released: each test has a VPC of its own, but they share one account, whose Elastic IP quota
 * (5, as moto reports it and AWS applies by default) Resolve network checks.
 */
export function useNetworkAccount(emu: EmulatorHandle): () => EC2Client {
  let ec2: EC2Client | undefined;
  beforeAll(() => {
    ec2 = new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 });
  });
  afterEach(async () => {
    if (!ec2) return;
    for (const nat of (await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []) {
      if (nat.State !== 'deleted') await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: nat.NatGatewayId! }));
    }
    for (const a of (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []) await ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId! }));
  });
  return () => {
    if (!ec2) throw new Error('emulator not started yet: use it inside a test or hook');
    return ec2;
  };
}
