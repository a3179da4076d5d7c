import { eksClusterNetwork, NETWORK_READS } from '#lib/aws/network.ts';
import { DescribeNatGatewaysCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { ec2 } from '#lib/clients.ts';
import { isAwsError, NetworkConfigurationError, WorkloadNotFoundError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { composePermissions, type StepPermissions } from '#lib/permissions.ts';
import { acquireWorkloadLock, getWorkload, REGISTRY_WRITE_PERMISSIONS, releaseWorkloadLock } from '#lib/registry.ts';
import { executionNameOfId, parseTeardownInput, REGISTRY_READ_PERMISSIONS, type TeardownState, type TeardownTarget } from '#lib/teardown.ts';
import type { LedgerEntry } from '#lib/workflow.ts';

/**
 * Start teardown: the teardown's first state. Validates `{workload, retainLogs?}`, reads the
 * workload's registry record (none: WorkloadNotFoundError, nothing touched), takes the workload's
 * lock for this execution (another execution holding it: WorkloadBusyError), and finds the VPC
 * the later steps search by tag: the request's, the EKS cluster's, or that of a recorded resource.
 */
export async function startTeardown(event: unknown): Promise<Pick<TeardownState, 'request' | 'execution' | 'target'>> {
  const { input, executionId } = unwrap(event);
  const { workload, retainLogs } = parseTeardownInput(input);
  const record = await getWorkload(workload);
  if (!record?.request) throw new WorkloadNotFoundError(`workload ${workload} is not in the registry: nothing to tear down (it was never onboarded, or a teardown already removed it)`);
  const name = executionNameOfId(executionId);
  await acquireWorkloadLock(workload, { executionId: name, machine: 'offboard-workload', acquiredAt: new Date().toISOString() });
  try {
    const recorded = record.ledger ?? [];
    const target: TeardownTarget = { workload, retainLogs, recorded, ...(await locateVpc(record.request.network, recorded)) };
    return { request: record.request, execution: { id: executionId }, target };
  } catch (e) {
    // This state's failure path does not know the workload yet: give the lock back here (a retry takes it again).
    await releaseWorkloadLock(workload, name).catch(() => undefined);
    throw e;
  }
}

function unwrap(event: unknown): { input: unknown; executionId: string } {
  const e = event as { input?: unknown; executionId?: unknown } | null;
  if (e && typeof e === 'object' && 'input' in e && typeof e.executionId === 'string') return { input: e.input, executionId: e.executionId };
  // Invoked by hand: a one-off execution id keeps the lock's holder distinct.
  return { input: event, executionId: `manual-${Date.now()}` };
}

/** The VPC and EKS cluster security group: from the request, the EKS cluster (if it still exists), or a recorded resource. */
async function locateVpc(network: { vpcId?: string; eksClusterName?: string }, recorded: LedgerEntry[]): Promise<{ vpcId?: string; eksClusterSecurityGroupId?: string }> {
  let vpcId = network.vpcId;
  let eksClusterSecurityGroupId: string | undefined;
  if (network.eksClusterName) {
    try {
      const eks = await eksClusterNetwork(network.eksClusterName);
      vpcId ??= eks.vpcId;
      eksClusterSecurityGroupId = eks.clusterSecurityGroupId;
    } catch (e) {
      // The EKS cluster is gone (its security group and our rule on it went with it), or no longer one this deployment may read: the recorded resources tell the VPC.
      if (!(e instanceof NetworkConfigurationError) && !isAwsError(e, 'AccessDeniedException', 'AccessDenied')) throw e;
    }
  }
  vpcId ??= await vpcOfRecorded(recorded);
  return { ...(vpcId ? { vpcId } : {}), ...(eksClusterSecurityGroupId ? { eksClusterSecurityGroupId } : {}) };
}

async function vpcOfRecorded(recorded: LedgerEntry[]): Promise<string | undefined> {
  const ids = (kind: string) => recorded.filter((e) => e.kind === kind).map((e) => e.id);
  const tries: (() => Promise<string | undefined>)[] = [
    ...ids('security-group').map((id) => async () => (await ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups?.[0]?.VpcId),
    ...ids('vpc-subnet').map((id) => async () => (await ec2().send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets?.[0]?.VpcId),
    ...ids('nat-gateway').map((id) => async () => (await ec2().send(new DescribeNatGatewaysCommand({ NatGatewayIds: [id] }))).NatGateways?.[0]?.VpcId),
  ];
  for (const t of tries) {
    try {
      const v = await t();
      if (v) return v;
    } catch (e) {
      if (!isAwsError(e, 'InvalidGroup.NotFound', 'InvalidSubnetID.NotFound', 'NatGatewayNotFound', 'InvalidNatGatewayID.NotFound')) throw e;
    }
  }
  return undefined;
}

export const permissions: StepPermissions = composePermissions(
  REGISTRY_READ_PERMISSIONS,
  REGISTRY_WRITE_PERMISSIONS,
  NETWORK_READS.eksClusterNetwork,
  NETWORK_READS.describeSubnets,
  NETWORK_READS.vpcNatGateways,
  { sid: 'DescribeVpcNetwork', actions: ['ec2:DescribeSecurityGroups'], resources: ['*'] },
);

export const handler = wrap('Start teardown', startTeardown);
