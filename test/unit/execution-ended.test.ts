/**
 * Execution ended (functions/execution-ended.ts), the EventBridge target that repairs the
 * registry after a run that did not reach its last state, against a mocked DynamoDB and Step
 * Functions answering as AWS does. The event is AWS's "Step Functions Execution Status Change"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html): its `input` is left
 * out, `inputDetails.included` false, when the escaped input and output exceed 248 KiB together.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { DeleteCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ENDED_WITHOUT_SUCCESS, executionEnded, failureOfEnded, permissions, workloadOfInput, type ExecutionStatusChangeDetail } from '../../functions/execution-ended.ts';
import { ENV } from '../../functions/lib/settings.ts';
import { bookinfoInput } from '../support/requests.ts';

const docMock = mockClient(DynamoDBDocumentClient);
const sfnMock = mockClient(SFNClient);
const eksMock = mockClient(EKSClient);
const saved = process.env[ENV.registryTable];
const ARN = 'arn:aws:states:us-east-1:123456789012:execution:mesh-onboarding-onboard-workload:onboard-bookinfo_ratings-0123456789abcdef';
// DynamoDB's answer to a false ConditionExpression (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html#API_UpdateItem_Errors).
const refused = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });

function detail(over: Partial<ExecutionStatusChangeDetail> = {}): ExecutionStatusChangeDetail {
  return {
    executionArn: ARN,
    stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:mesh-onboarding-onboard-workload',
    name: 'onboard-bookinfo_ratings-0123456789abcdef',
    status: 'TIMED_OUT',
    startDate: 1764390000000,
    stopDate: 1764400000000,
    input: JSON.stringify(bookinfoInput()),
    inputDetails: { included: true },
    output: null,
    outputDetails: null,
    error: null,
    cause: null,
    ...over,
  } as ExecutionStatusChangeDetail;
}

beforeEach(() => {
  process.env[ENV.registryTable] = 'registry';
  docMock.on(UpdateCommand).resolves({ Attributes: { lock: { executionId: 'onboard-bookinfo_ratings-0123456789abcdef' } } });
  // The lease is not this execution's unless a test says so (DeleteItem's answer to a false condition).
  docMock.on(DeleteCommand).rejects(refused());
  eksMock.on(DescribeClusterCommand).resolves({ cluster: { name: 'mesh-eks', resourcesVpcConfig: { vpcId: 'vpc-0123456789abcdef0' } } });
});
afterEach(() => {
  docMock.reset();
  sfnMock.reset();
  eksMock.reset();
  if (saved === undefined) delete process.env[ENV.registryTable];
  else process.env[ENV.registryTable] = saved;
});

describe('Execution ended', () => {
  it.each(ENDED_WITHOUT_SUCCESS)('%s: marks that execution\'s ONBOARDING record FAILED and frees its lock, in one conditional write', async (status) => {
    // Act
    const r = await executionEnded({ detail: detail({ status }) });

    // Assess
    expect(r).toEqual({ workload: 'bookinfo/ratings', released: true, markedFailed: true });
    const calls = docMock.commandCalls(UpdateCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toMatchObject({ TableName: 'registry', Key: { workload: 'bookinfo/ratings' }, UpdateExpression: 'SET #status = :failed, #failure = :failure, #updatedAt = :now REMOVE #lock' });
    expect(input.ConditionExpression).toBe('#status = :onboarding AND #executionId = :arn AND (attribute_not_exists(#lock) OR #lock.#executionId = :name)');
    expect(input.ExpressionAttributeValues).toMatchObject({ ':arn': ARN, ':name': 'onboard-bookinfo_ratings-0123456789abcdef', ':failure': { step: `Execution ${status.toLowerCase().replace('_', ' ')}`, cause: expect.stringContaining(`ended ${status}`) as string } });
  });

  it('frees the VPC network lease an ended onboarding still holds (killed inside a step that held it), found from its EKS cluster or vpcId', async () => {
    docMock.on(DeleteCommand).resolves({});

    const r = await executionEnded({ detail: detail({ status: 'ABORTED' }) });

    expect(r).toMatchObject({ workload: 'bookinfo/ratings', leaseReleased: true });
    const del = docMock.commandCalls(DeleteCommand)[0]!.args[0].input;
    expect(del).toMatchObject({ TableName: 'registry', Key: { workload: 'lease#network#vpc-0123456789abcdef0' }, ConditionExpression: '#h = :me', ExpressionAttributeValues: { ':me': ARN } });
    // With network.vpcId the EKS cluster is not read.
    docMock.resetHistory();
    eksMock.resetHistory();
    const byVpc = { ...bookinfoInput(), network: { vpcId: 'vpc-0fedcba9876543210' } };
    await executionEnded({ detail: detail({ status: 'TIMED_OUT', input: JSON.stringify(byVpc) }) });
    expect(eksMock.commandCalls(DescribeClusterCommand)).toHaveLength(0);
    expect(docMock.commandCalls(DeleteCommand)[0]!.args[0].input.Key).toEqual({ workload: 'lease#network#vpc-0fedcba9876543210' });
  });

  it('a lease held by another run stays, and an unreadable EKS cluster leaves the lease to its expiry', async () => {
    expect((await executionEnded({ detail: detail({ status: 'FAILED' }) })).leaseReleased).toBeUndefined();
    eksMock.on(DescribeClusterCommand).rejects(new Error('AccessDeniedException'));
    expect((await executionEnded({ detail: detail({ status: 'FAILED' }) })).leaseReleased).toBeUndefined();
  });

  it('names the default error of a run that ended without one, and unwraps a Lambda error\'s cause (never its stack)', () => {
    expect(failureOfEnded(detail({ status: 'TIMED_OUT' })).error).toBe('States.Timeout');
    expect(failureOfEnded(detail({ status: 'ABORTED' })).error).toBe('ExecutionAborted');
    const f = failureOfEnded(detail({ status: 'FAILED', error: 'ResourceConflictError', cause: JSON.stringify({ errorType: 'ResourceConflictError', errorMessage: 'service is not ours', trace: ['at x (/var/task/index.mjs:1:1)'] }) }));
    expect(f).toEqual({ step: 'Execution failed', error: 'ResourceConflictError', cause: 'the execution onboard-bookinfo_ratings-0123456789abcdef ended FAILED before recording its result: service is not ours' });
  });

  it('a record that is not that execution\'s ONBOARDING one is left alone: only a lock it still holds is freed', async () => {
    docMock.on(UpdateCommand).rejectsOnce(refused()).resolves({});

    const r = await executionEnded({ detail: detail({ status: 'FAILED' }) });

    expect(r).toEqual({ workload: 'bookinfo/ratings', released: true, markedFailed: false });
    const second = docMock.commandCalls(UpdateCommand)[1]!.args[0].input;
    expect(second).toMatchObject({ UpdateExpression: 'REMOVE #lock', ConditionExpression: '#lock.#id = :id', ExpressionAttributeValues: { ':id': 'onboard-bookinfo_ratings-0123456789abcdef' } });
  });

  it('reads the input with DescribeExecution when the event left it out (over 248 KiB)', async () => {
    sfnMock.on(DescribeExecutionCommand, { executionArn: ARN }).resolves({ input: JSON.stringify({ request: bookinfoInput() }) });

    const r = await executionEnded({ detail: detail({ input: null, inputDetails: { included: false } }) });

    expect(r.workload).toBe('bookinfo/ratings');
    expect(sfnMock.commandCalls(DescribeExecutionCommand)).toHaveLength(1);
  });

  it('does nothing for an input that is no request (Validate request took no lock), without a registry, or for a run still going', async () => {
    expect(await executionEnded({ detail: detail({ input: '{"hello":"world"}' }) })).toEqual({ released: false, markedFailed: false });
    expect(await executionEnded({ detail: detail({ status: 'RUNNING' }) })).toEqual({ released: false, markedFailed: false });
    delete process.env[ENV.registryTable];
    expect(await executionEnded({ detail: detail() })).toEqual({ released: false, markedFailed: false });
    expect(docMock.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('a success (reported by the local engine) only frees a lock left behind', async () => {
    docMock.on(UpdateCommand).resolves({});
    const r = await executionEnded({ detail: detail({ status: 'SUCCEEDED' }) });
    expect(r.markedFailed).toBe(false);
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toBe('REMOVE #lock');
  });

  it('reads the workload from every input shape a run is started with', () => {
    expect(workloadOfInput(JSON.stringify(bookinfoInput()))).toBe('bookinfo/ratings');
    expect(workloadOfInput(JSON.stringify({ request: bookinfoInput() }))).toBe('bookinfo/ratings');
    expect(workloadOfInput('not json')).toBeUndefined();
    expect(workloadOfInput(null)).toBeUndefined();
  });

  it('may write the registry, free the network lease, read the EKS cluster\'s VPC and describe onboarding executions, nothing else', () => {
    expect(permissions.flatMap((p) => p.actions).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:UpdateItem', 'eks:DescribeCluster', 'states:DescribeExecution']);
    expect(permissions.flatMap((p) => p.resources)).toEqual([
      '${RegistryTableArn}',
      '${RegistryTableArn}',
      'arn:${Partition}:eks:${Region}:${Account}:cluster/${EksClusterName}',
      'arn:${Partition}:states:${Region}:${Account}:execution:${OnboardStateMachineName}:*',
    ]);
  });
});
