/**
 * Teardown behaviour moto does not show, answered with AWS's real error codes and messages:
 * a NAT gateway takes minutes in `deleting` and holds its Elastic IP until `deleted`
 * (ReleaseAddress: InvalidIPAddress.InUse); a stopped task's network interface lingers, so the
 * security group and subnet are refused with DependencyViolation; a cluster whose services are
 * still DRAINING is refused with ClusterContainsServicesException; IAM refuses DeleteRole while a
 * policy is attached (DeleteConflict). Each is retryable (bounded by the state machine) or kept
 * with a reason, never a blind failure.
 */
import { DeleteSecurityGroupCommand, DeleteSubnetCommand, DescribeNatGatewaysCommand, DescribeSecurityGroupsCommand, EC2Client, ReleaseAddressCommand } from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, DescribeClustersCommand, DescribeServicesCommand, ECSClient, ListServicesCommand } from '@aws-sdk/client-ecs';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { deleteCluster } from '../../functions/delete-cluster.ts';
import { startTeardown } from '../../functions/start-teardown.ts';
import { ENV } from '../../functions/lib/settings.ts';
import { DeleteRoleCommand, GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { checkNatGatewayDeleted } from '../../functions/check-nat-gateway-deleted.ts';
import { workloadOfInput } from '../../functions/execution-ended.ts';
import { deleteOurRole } from '../../functions/lib/aws/iam-role.ts';
import { deleteOurCluster } from '../../functions/lib/aws/teardown-ecs.ts';
import { deleteSecurityGroup, deleteSubnet, releaseEip } from '../../functions/lib/aws/teardown-network.ts';
import { ResourceDrainingError, ResourceNotReadyError, WaitDeadlineExceededError } from '../../functions/lib/errors.ts';
import { TAG_MANAGED_BY, TAG_WORKLOAD, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { TeardownState } from '../../functions/lib/teardown.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ec2Mock = mockClient(EC2Client);
const ecsMock = mockClient(ECSClient);
const iamMock = mockClient(IAMClient);
const eksMock = mockClient(EKSClient);
const docMock = mockClient(DynamoDBDocumentClient);
afterEach(() => {
  ec2Mock.reset();
  ecsMock.reset();
  iamMock.reset();
  eksMock.reset();
  docMock.reset();
  delete process.env[ENV.registryTable];
});

const awsError = (name: string, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

describe('AWS refusals teardown waits out', () => {
  it('ReleaseAddress while the deleting NAT gateway still holds the address: InvalidIPAddress.InUse → ResourceNotReadyError', async () => {
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html: "you must disassociate the Elastic IP
    // address before you can release it. Otherwise, Amazon EC2 returns an error (InvalidIPAddress.InUse)."
    ec2Mock.on(ReleaseAddressCommand).rejects(awsError('InvalidIPAddress.InUse', 'Address 203.0.113.7 is in use.'));
    await expect(releaseEip('eipalloc-0a1b2c3d4e5f60718')).rejects.toBeInstanceOf(ResourceNotReadyError);
    ec2Mock.on(ReleaseAddressCommand).rejects(awsError('InvalidAllocationID.NotFound', "The allocation ID 'eipalloc-0a1b2c3d4e5f60718' does not exist"));
    expect(await releaseEip('eipalloc-0a1b2c3d4e5f60718')).toBe('not-found');
  });

  it('DeleteSecurityGroup / DeleteSubnet while a stopped task\'s ENI lingers: DependencyViolation → ResourceDrainingError (slow, bounded retry)', async () => {
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html: "If you attempt to delete a security
    // group that is associated with an instance or network interface ... the operation fails with DependencyViolation."
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(awsError('DependencyViolation', 'resource sg-0a1b2c3d4e5f60718 has a dependent object'));
    await expect(deleteSecurityGroup('sg-0a1b2c3d4e5f60718')).rejects.toBeInstanceOf(ResourceDrainingError);
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSubnet.html: "You must terminate all running instances in the subnet before you can delete the subnet."
    ec2Mock.on(DeleteSubnetCommand).rejects(awsError('DependencyViolation', "The subnet 'subnet-0a1b2c3d4e5f60718' has dependencies and cannot be deleted."));
    await expect(deleteSubnet('subnet-0a1b2c3d4e5f60718')).rejects.toBeInstanceOf(ResourceDrainingError);
    ec2Mock.on(DeleteSubnetCommand).rejects(awsError('InvalidSubnetID.NotFound', "The subnet ID 'subnet-0a1b2c3d4e5f60718' does not exist"));
    expect(await deleteSubnet('subnet-0a1b2c3d4e5f60718')).toBe('not-found');
  });

  it('DeleteCluster while services remain: waits for this workload\'s DRAINING service, keeps a cluster holding someone else\'s', async () => {
    // https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteCluster.html, ClusterContainsServicesException:
    // "You can't delete a cluster that contains services. First, update the service to reduce its desired task count to 0, and then delete the service."
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'bookinfo', status: 'ACTIVE', tags: [{ key: TAG_MANAGED_BY, value: TOOL_NAME }] }] });
    ecsMock.on(DeleteClusterCommand).rejects(awsError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.'));
    await expect(deleteOurCluster('bookinfo', async () => true)).rejects.toBeInstanceOf(ResourceDrainingError);
    expect(await deleteOurCluster('bookinfo', async () => false)).toMatchObject({ outcome: 'kept' });
    // A cluster without our tag is never deleted.
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'bookinfo', status: 'ACTIVE', tags: [] }] });
    expect(await deleteOurCluster('bookinfo', async () => false)).toMatchObject({ outcome: 'kept' });
    expect(ecsMock.commandCalls(DeleteClusterCommand)).toHaveLength(2);
  });

  it('Delete cluster: on ClusterContainsServicesException it lists the cluster\'s services and waits only for this workload\'s DRAINING one', async () => {
    process.env[ENV.registryTable] = 'registry';
    docMock.resolves({ Items: [] });
    const ours = [
      { key: TAG_MANAGED_BY, value: TOOL_NAME },
      { key: TAG_WORKLOAD, value: 'bookinfo/ratings' },
    ];
    ecsMock.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'bookinfo', status: 'ACTIVE', tags: [{ key: TAG_MANAGED_BY, value: TOOL_NAME }] }] });
    ecsMock.on(DeleteClusterCommand).rejects(awsError('ClusterContainsServicesException', 'The Cluster cannot be deleted while Services are active.'));
    ecsMock.on(ListServicesCommand).resolves({ serviceArns: ['arn:aws:ecs:us-east-1:123456789012:service/bookinfo/ratings'] });
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'ratings', status: 'DRAINING', tags: ours, serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/bookinfo/ratings' }] });
    const state = { request: bookinfoRequest(), execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:offboard-workload:x' }, target: { workload: 'bookinfo/ratings', retainLogs: false, recorded: [] } };
    await expect(deleteCluster(state)).rejects.toBeInstanceOf(ResourceDrainingError);
    ecsMock.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'ratings', status: 'INACTIVE', tags: ours }] });
    ecsMock.on(ListServicesCommand).resolves({ serviceArns: ['arn:aws:ecs:us-east-1:123456789012:service/bookinfo/someone-elses'] });
    expect(await deleteCluster(state)).toMatchObject({ ledger: [{ kind: 'ecs-cluster', outcome: 'kept' }] });
  });

  it('Start teardown finds the VPC from a recorded resource when the EKS cluster is gone', async () => {
    process.env[ENV.registryTable] = 'registry';
    const request = bookinfoRequest();
    docMock.on(GetCommand).resolves({ Item: { workload: 'bookinfo/ratings', request, status: 'FAILED', executionId: 'onboard-x', updatedAt: '', ledger: [{ kind: 'security-group', id: 'sg-0a1b2c3d4e5f60718', created: true }] } });
    docMock.on(UpdateCommand).resolves({});
    eksMock.on(DescribeClusterCommand).rejects(awsError('ResourceNotFoundException', 'No cluster found for name: mesh-eks.'));
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-0a1b2c3d4e5f60718', VpcId: 'vpc-0a1b2c3d4e5f60718' }] });
    const out = await startTeardown({ input: { workload: 'bookinfo/ratings' }, executionId: 'arn:aws:states:us-east-1:123456789012:execution:offboard-workload:offboard-x' });
    expect(out.target).toEqual({ workload: 'bookinfo/ratings', retainLogs: false, recorded: [expect.objectContaining({ kind: 'security-group' })], vpcId: 'vpc-0a1b2c3d4e5f60718' });
    // The lock is taken in the execution's name.
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':lock': { executionId: 'offboard-x', machine: 'offboard-workload' } });

    // Failing after it took the lock (its failure path does not know the workload yet), it gives the lock back.
    ec2Mock.on(DescribeSecurityGroupsCommand).rejects(Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } }));
    docMock.resetHistory();
    await expect(startTeardown({ input: { workload: 'bookinfo/ratings' }, executionId: 'arn:aws:states:us-east-1:123456789012:execution:offboard-workload:offboard-y' })).rejects.toThrow('internal error');
    const updates = docMock.commandCalls(UpdateCommand).map((c) => c.args[0].input.UpdateExpression);
    expect(updates).toEqual(['SET #lock = :lock', 'REMOVE #lock']);
  });

  it('DeleteRole while a policy was attached meanwhile: DeleteConflict → ResourceNotReadyError; a role outside our path is kept', async () => {
    const ours = [
      { Key: TAG_MANAGED_BY, Value: TOOL_NAME },
      { Key: TAG_WORKLOAD, Value: 'bookinfo/ratings' },
    ];
    const role = { RoleName: 'bookinfo.ratings-ecs-task-role', RoleId: 'AROA', Arn: 'arn:aws:iam::123456789012:role/mesh-onboarding/bookinfo.ratings-ecs-task-role', Path: '/mesh-onboarding/', CreateDate: new Date(), Tags: ours };
    iamMock.on(GetRoleCommand).resolves({ Role: role });
    iamMock.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iamMock.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteRole.html: "you must first remove those items" (DeleteConflict).
    iamMock.on(DeleteRoleCommand).rejects(awsError('DeleteConflict', 'Cannot delete entity, must detach all policies first.'));
    await expect(deleteOurRole(role.RoleName, bookinfoRequest())).rejects.toBeInstanceOf(ResourceNotReadyError);
    iamMock.on(GetRoleCommand).resolves({ Role: { ...role, Path: '/' } });
    expect(await deleteOurRole(role.RoleName, bookinfoRequest())).toMatchObject({ outcome: 'kept' });
  });
});

describe('Execution ended knows a teardown', () => {
  it('reads the workload from a teardown\'s input, so a teardown that ended without its last state frees its lock too', () => {
    expect(workloadOfInput(JSON.stringify({ workload: 'bookinfo/ratings', retainLogs: false }))).toBe('bookinfo/ratings');
    expect(workloadOfInput(JSON.stringify({ workload: '../etc' }))).toBeUndefined();
  });
});

describe('Check NAT gateway deleted', () => {
  const NAT = 'nat-0a1b2c3d4e5f60718';
  const state = (over: Partial<NonNullable<TeardownState['natGateway']>> = {}): Partial<TeardownState> => ({
    request: bookinfoRequest(),
    execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:offboard-workload:x' },
    target: { workload: 'bookinfo/ratings', retainLogs: false, recorded: [] },
    natGateway: { done: false, deleting: [NAT], ledger: [{ kind: 'nat-gateway', id: NAT, outcome: 'deleted', shared: true }], ...over },
  });

  it('waits while AWS shows it `deleting` (minutes on AWS; moto deletes at once), then is done once `deleted`, keeping the ledger', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [{ NatGatewayId: NAT, State: 'deleting' }] });
    const waiting = await checkNatGatewayDeleted(state());
    expect(waiting).toMatchObject({ done: false, poll: { attempt: 1 } });
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [{ NatGatewayId: NAT, State: 'deleted' }] });
    const done = await checkNatGatewayDeleted(state({ poll: waiting.poll }));
    expect(done).toMatchObject({ done: true, ledger: [{ kind: 'nat-gateway', id: NAT, outcome: 'deleted' }] });
  });

  it('past its deadline still deleting: WaitDeadlineExceededError naming it', async () => {
    ec2Mock.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [{ NatGatewayId: NAT, State: 'deleting' }] });
    const past = { attempt: 9, startedAt: '2020-01-01T09:00:00.000Z', deadline: '2020-01-01T09:10:00.000Z', nextWaitSeconds: 60 };
    await expect(checkNatGatewayDeleted(state({ poll: past }))).rejects.toThrow(WaitDeadlineExceededError);
  });
});
