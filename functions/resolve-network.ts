import { attachedInternetGatewayId, eksClusterNetwork, NETWORK_READS, vpcCidrs, vpcNatGateways, vpcSubnets } from '#lib/aws/network.ts';
import { NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import type { NetworkResult, WorkflowState } from '#lib/workflow.ts';

/**
 * Resolve network: the VPC of the EKS cluster (or network.vpcId), its CIDRs, subnets,
 * internet gateway, available NAT gateways and the EKS cluster security group. Read-only.
 */
export async function resolveNetwork(state: WorkflowState): Promise<NetworkResult> {
  const { eksClusterName, vpcId: givenVpcId } = state.request.network;
  let vpcId = givenVpcId;
  let eksClusterSecurityGroupId: string | undefined;
  if (eksClusterName) {
    const eks = await eksClusterNetwork(eksClusterName);
    if (!eks.vpcId) throw new NetworkConfigurationError(`EKS cluster "${eksClusterName}" reports no VPC (resourcesVpcConfig.vpcId); give network.vpcId`);
    if (givenVpcId && givenVpcId !== eks.vpcId) {
      throw new NetworkConfigurationError(`network.vpcId ${givenVpcId} differs from the VPC of EKS cluster "${eksClusterName}" (${eks.vpcId}); give one of them, or make them agree`);
    }
    vpcId = eks.vpcId;
    eksClusterSecurityGroupId = eks.clusterSecurityGroupId;
  }
  // The request schema guarantees eksClusterName or vpcId.
  if (!vpcId) throw new NetworkConfigurationError('give network.eksClusterName or network.vpcId so the VPC can be found');

  const [cidrs, subnets, internetGatewayId, nats] = await Promise.all([
    vpcCidrs(vpcId),
    vpcSubnets(vpcId),
    attachedInternetGatewayId(vpcId),
    vpcNatGateways(vpcId, ['available']),
  ]);
  return {
    vpcId,
    vpcCidrs: cidrs,
    subnets,
    ...(internetGatewayId ? { internetGatewayId } : {}),
    availableNatGatewayIds: nats.map((n) => n.NatGatewayId!),
    ...(eksClusterSecurityGroupId ? { eksClusterSecurityGroupId } : {}),
  };
}

/** Reads only: the EKS cluster, then the VPC (ec2:Describe* on `*`: EC2 has no resource-level permissions for them). */
export const permissions: StepPermissions = composePermissions(
  NETWORK_READS.eksClusterNetwork,
  NETWORK_READS.vpcCidrs,
  NETWORK_READS.describeSubnets,
  NETWORK_READS.attachedInternetGatewayId,
  NETWORK_READS.vpcNatGateways,
);

export const handler = wrap('Resolve network', resolveNetwork);
