/**
 * The NAT gateway this tool makes for a VPC (one per VPC, shared by every workload in it)
 * and its Elastic IP. Both are found by our tags before anything is allocated.
 */
import { createHash } from 'node:crypto';
import { AllocateAddressCommand, CreateNatGatewayCommand, DescribeAddressesCommand, DescribeNatGatewaysCommand, type NatGateway } from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, NatGatewayFailedError } from '../errors.ts';
import { names } from '../naming.ts';
import type { OnboardingRequest } from '../request.ts';
import { ourFilters, tagSpec } from './network.ts';

type Req = Pick<OnboardingRequest, 'workloadGroup'>;

export const NAT_ROLES = { subnet: 'nat-subnet', routeTable: 'nat-route-table', eip: 'nat-eip', natGateway: 'nat-gateway' } as const;

/** Finds our Elastic IP for the VPC's NAT gateway or allocates it. */
export async function ensureNatElasticIp(request: Req, vpcId: string): Promise<{ allocationId: string; created: boolean }> {
  const name = names.natEip(vpcId);
  const { Addresses } = await ec2().send(new DescribeAddressesCommand({ Filters: ourFilters({ role: NAT_ROLES.eip, name }) }));
  const found = Addresses?.find((a) => a.AllocationId);
  if (found?.AllocationId) return { allocationId: found.AllocationId, created: false };
  const made = await ec2().send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: tagSpec('elastic-ip', request, NAT_ROLES.eip, name) }));
  return { allocationId: made.AllocationId!, created: true };
}

/** Creates the NAT gateway; the ClientToken is derived from its inputs so an AWS-side retry returns the same one. */
export async function createNatGateway(request: Req, vpcId: string, subnetId: string, allocationId: string): Promise<NatGateway> {
  const token = createHash('sha256').update(`${vpcId}/${subnetId}/${allocationId}`).digest('hex').slice(0, 32);
  const { NatGateway: nat } = await ec2().send(
    new CreateNatGatewayCommand({
      SubnetId: subnetId,
      AllocationId: allocationId,
      ConnectivityType: 'public',
      ClientToken: `mesh-onboarding-${token}`,
      TagSpecifications: tagSpec('natgateway', request, NAT_ROLES.natGateway, names.natGateway(vpcId)),
    }),
  );
  if (!nat?.NatGatewayId) throw new Error(`CreateNatGateway returned no id in ${subnetId}`);
  return nat;
}

/** One NAT gateway by id; undefined when AWS no longer knows it. */
export async function describeNatGateway(natGatewayId: string): Promise<NatGateway | undefined> {
  try {
    const { NatGateways } = await ec2().send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natGatewayId] }));
    return NatGateways?.find((n) => n.NatGatewayId === natGatewayId);
  } catch (e) {
    if (isAwsError(e, 'NatGatewayNotFound', 'InvalidNatGatewayID.NotFound')) return undefined;
    throw e;
  }
}

/** The NatGatewayFailedError for a NAT gateway in state failed/deleting/deleted, with AWS's code and message. */
export function natGatewayFailed(nat: NatGateway | undefined, natGatewayId: string): NatGatewayFailedError {
  const state = nat?.State ?? 'deleted';
  const why = nat?.FailureCode || nat?.FailureMessage ? `${nat.FailureCode ?? 'unknown'}: ${nat.FailureMessage ?? 'no message'}` : 'AWS gave no failure code';
  return new NatGatewayFailedError(
    `NAT gateway ${natGatewayId} is ${state} (${why}). Fix the cause, delete it (aws ec2 delete-nat-gateway --nat-gateway-id ${natGatewayId}) if it still exists, and run again`,
  );
}
