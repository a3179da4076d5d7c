import { assessNetworkWith, VPC_FEASIBILITY_PERMISSIONS, type NetworkProblem } from '#lib/feasibility.ts';
import { InvalidRequestError, NetworkConfigurationError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import type { NetworkResult, WorkflowState } from '#lib/workflow.ts';

/** InvalidRequestError when every problem is a field to change; NetworkConfigurationError when the account lacks something. */
export function feasibilityError(problems: NetworkProblem[]): InvalidRequestError | NetworkConfigurationError {
  const plain = problems.map(({ path, message }) => ({ path, message }));
  if (problems.every((p) => p.kind === 'request')) return new InvalidRequestError(plain);
  return new NetworkConfigurationError(`The network cannot be provisioned as asked; nothing was created: ${plain.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
}

/**
 * Resolve network: the VPC of the EKS cluster (or network.vpcId), its CIDRs, subnets,
 * internet gateway, available NAT gateways and the EKS cluster security group; and, before
 * anything is made, every check of the request's network against the account
 * (functions/lib/feasibility.ts). It runs before the provisioning Parallel, so a request that
 * cannot succeed fails here with nothing created. Read-only. In a dry run the problems go into
 * the result (`problems`) for the plan, unless the VPC itself cannot be found.
 */
export async function resolveNetwork(state: WorkflowState): Promise<NetworkResult> {
  // The EKS cluster's VPC and security group as Pre-flight mesh's DescribeCluster returned them: not described twice.
  const { problems, network } = await assessNetworkWith(state.request, (name) => {
    const kube = state.preflight?.kube;
    if (kube?.clusterName !== name) throw new Error(`Pre-flight mesh has not described EKS cluster "${name}": Resolve network runs after it`);
    return Promise.resolve(kube);
  });
  // A dry run reports the problems in its plan and goes on planning, as far as the network is known at all.
  if (state.request.dryRun && network) return problems.length > 0 ? { ...network, problems: problems.map(({ path, message }) => ({ step: 'Resolve network', path, message })) } : network;
  if (problems.length > 0 || !network) throw feasibilityError(problems);
  return network;
}

/**
 * Reads only the VPC (ec2:Describe* on `*`: EC2 has no resource-level permissions for them); the
 * EKS cluster was described by Pre-flight mesh, which always runs first with the same cluster.
 */
export const permissions: StepPermissions = VPC_FEASIBILITY_PERMISSIONS;

export const handler = wrap('Resolve network', resolveNetwork);
