/**
 * The Step Functions backend (functions/lib/sfn-backend.ts) where moto cannot stand in: moto's
 * GetExecutionHistory is a canned four-event history, so what the API reports from a real one
 * (steps, durations, attempts, a caught failure, a failed Parallel branch, the failure record)
 * is tested here with histories shaped like AWS's (TaskStateEntered → LambdaFunctionScheduled →
 * Started → Failed|Succeeded → TaskStateExited; a caught error still exits the state, an
 * uncaught one goes straight to ExecutionFailed:
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html), and
 * AWS's own error codes and messages ("Execution Already Exists: '<arn>'", "Execution Does Not
 * Exist: '<arn>'").
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type ExecutionStatus,
  type HistoryEvent,
  type HistoryEventType,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.ts';
import { withCaReference } from '../../functions/lib/onboarding-api.ts';
import { executionArnOf, stepsOf, StepFunctionsExecutions } from '../../functions/lib/sfn-backend.ts';
import { bookinfoRequest } from '../support/requests.ts';

const ONBOARD = 'arn:aws:states:us-east-1:123456789012:stateMachine:onboard-workload';
const REVERIFY = 'arn:aws:states:us-east-1:123456789012:stateMachine:reverify-workloads';
const NAME = 'onboard-bookinfo_ratings-0123456789abcdef';
const ARN = `arn:aws:states:us-east-1:123456789012:execution:onboard-workload:${NAME}`;
const REF = { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf', versionId: '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f' };
const T0 = Date.parse('2026-11-29T10:00:00.000Z');

const sfnMock = mockClient(SFNClient);
beforeEach(() => resetClients());
afterEach(() => sfnMock.reset());

/** A history built like AWS's: ids from 1, each event's previousEventId given, a second apart unless `at` says otherwise. */
function history(...specs: [prev: number, type: HistoryEventType, details?: Partial<HistoryEvent>, atSeconds?: number][]): HistoryEvent[] {
  return specs.map(([prev, type, details, at], i) => ({ id: i + 1, previousEventId: prev, type, timestamp: new Date(T0 + (at ?? i) * 1000), ...details }));
}
const entered = (name: string) => ({ stateEnteredEventDetails: { name } });
const exited = (name: string, output?: unknown) => ({ stateExitedEventDetails: { name, ...(output === undefined ? {} : { output: JSON.stringify(output) }) } });
const lambdaFailed = (error: string, errorMessage: string) => ({
  lambdaFunctionFailedEventDetails: { error, cause: JSON.stringify({ errorType: error, errorMessage, trace: ['    at ensureService (/var/task/index.mjs:1:1)'] }) },
});

const describeOutput = (status: ExecutionStatus, extra: Record<string, unknown> = {}) => ({
  executionArn: ARN,
  stateMachineArn: ONBOARD,
  name: NAME,
  status,
  startDate: new Date(T0),
  input: JSON.stringify(withCaReference(bookinfoRequest(), REF)),
  ...extra,
});

const backend = () => new StepFunctionsExecutions({ onboard: ONBOARD, reverify: REVERIFY });

describe('Step Functions backend: start and verify', () => {
  it('starts the onboarding machine with the deterministic name and the request holding only the CA reference', async () => {
    // Prepare
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: ARN, startDate: new Date(T0) });

    // Act
    const r = await backend().start(NAME, withCaReference(bookinfoRequest(), REF));

    // Assess
    expect(r).toEqual({ started: true });
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: ONBOARD, name: NAME });
    const input = sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!;
    expect(JSON.parse(input)).toMatchObject({ workloadGroup: { namespace: 'bookinfo', name: 'ratings' }, rootCaSecret: REF });
    expect(input).not.toContain('BEGIN CERTIFICATE');
  });

  it('takes ExecutionAlreadyExists (a closed execution, or the same name with another input) as that execution: not started', async () => {
    // AWS's answer: https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: `Execution Already Exists: '${ARN}'`, $metadata: { httpStatusCode: 400 } }));

    expect(await backend().start(NAME, withCaReference(bookinfoRequest(), REF))).toEqual({ started: false });
  });

  it('lets any other StartExecution error through (the API answers it)', async () => {
    sfnMock.on(StartExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));

    await expect(backend().start(NAME, withCaReference(bookinfoRequest(), REF))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('starts the re-verification machine for one workload', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${REVERIFY}:x`, startDate: new Date(T0) });

    await backend().verify('verify-bookinfo_ratings-20261129T100000Z-abcdef', 'bookinfo/ratings');

    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: REVERIFY, name: 'verify-bookinfo_ratings-20261129T100000Z-abcdef', input: '{"workloads":["bookinfo/ratings"]}' });
  });

  it('maps the API id (the name) to the execution ARN of the onboarding machine', () => {
    expect(executionArnOf(ONBOARD, NAME)).toBe(ARN);
    expect(executionArnOf('arn:aws-us-gov:states:us-gov-west-1:123456789012:stateMachine:m', 'n')).toBe('arn:aws-us-gov:states:us-gov-west-1:123456789012:execution:m:n');
    expect(() => executionArnOf('arn:aws:lambda:us-east-1:123456789012:function:f', 'n')).toThrow(/not a state machine ARN/);
  });
});

describe('Step Functions backend: describe', () => {
  it('answers undefined for ExecutionDoesNotExist, without reading a history', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${ARN}'`, $metadata: { httpStatusCode: 400 } }));

    expect(await backend().describe(NAME)).toBeUndefined();
    expect(sfnMock).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: ARN });
    expect(sfnMock).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
  });

  it('reports a failed run: every step with duration and attempts, the caught step failed, the error and the resources made so far, over two history pages', async () => {
    // Prepare
    const resourcesSoFar = [{ kind: 'ecs-cluster', id: 'mesh-apps', created: true }];
    const events = history(
      [0, 'ExecutionStarted', {}, 0],
      [0, 'TaskStateEntered', entered('Validate request'), 1],
      [2, 'LambdaFunctionScheduled', {}, 1],
      [3, 'LambdaFunctionStarted', {}, 1],
      [4, 'LambdaFunctionSucceeded', {}, 2],
      [5, 'TaskStateExited', exited('Validate request'), 2],
      [6, 'TaskStateEntered', entered('Pre-flight mesh'), 2],
      [7, 'LambdaFunctionScheduled', {}, 2],
      [8, 'LambdaFunctionStarted', {}, 2],
      [9, 'LambdaFunctionFailed', lambdaFailed('KubernetesUnavailableError', 'the API answered 503'), 3],
      [10, 'LambdaFunctionScheduled', {}, 5],
      [11, 'LambdaFunctionStarted', {}, 5],
      [12, 'LambdaFunctionSucceeded', {}, 6],
      [13, 'TaskStateExited', exited('Pre-flight mesh'), 6],
      [14, 'TaskStateEntered', entered('Ensure service'), 10],
      [15, 'LambdaFunctionScheduled', {}, 10],
      [16, 'LambdaFunctionStarted', {}, 10],
      [17, 'LambdaFunctionFailed', lambdaFailed('TaskStoppedError', 'task stopped: Essential container in task exited'), 14],
      [18, 'TaskStateExited', exited('Ensure service'), 14],
      [19, 'PassStateEntered', entered('Ensure service failed'), 14],
      [20, 'PassStateExited', exited('Ensure service failed'), 14],
      [21, 'TaskStateEntered', entered('Record failure'), 14],
      [22, 'LambdaFunctionScheduled', {}, 14],
      [23, 'LambdaFunctionStarted', {}, 14],
      [24, 'LambdaFunctionSucceeded', {}, 15],
      [25, 'TaskStateExited', exited('Record failure', { failureRecord: { step: 'Ensure service', error: 'TaskStoppedError', resourcesSoFar } }), 15],
      [26, 'FailStateEntered', entered('Onboarding failed'), 15],
      [27, 'ExecutionFailed', { executionFailedEventDetails: { error: 'TaskStoppedError', cause: 'Ensure service: task stopped' } }, 15],
    );
    sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('FAILED', { stopDate: new Date(T0 + 15_000), error: 'TaskStoppedError', cause: 'Ensure service: task stopped: Essential container in task exited' }));
    sfnMock
      .on(GetExecutionHistoryCommand, { nextToken: undefined })
      .resolves({ events: events.slice(0, 14), nextToken: 'page-2' })
      .on(GetExecutionHistoryCommand, { nextToken: 'page-2' })
      .resolves({ events: events.slice(14) });

    // Act
    const v = await backend().describe(NAME);

    // Assess
    expect(v).toEqual({
      executionId: NAME,
      status: 'FAILED',
      workload: 'bookinfo/ratings',
      startedAt: '2026-11-29T10:00:00.000Z',
      stoppedAt: '2026-11-29T10:00:15.000Z',
      durationMs: 15_000,
      steps: [
        { state: 'Validate request', status: 'succeeded', startedAt: '2026-11-29T10:00:01.000Z', durationMs: 1000, attempts: 1 },
        { state: 'Pre-flight mesh', status: 'succeeded', startedAt: '2026-11-29T10:00:02.000Z', durationMs: 4000, attempts: 2 },
        { state: 'Ensure service', status: 'failed', startedAt: '2026-11-29T10:00:10.000Z', durationMs: 4000, attempts: 1, error: 'TaskStoppedError' },
        { state: 'Ensure service failed', status: 'succeeded', startedAt: '2026-11-29T10:00:14.000Z', durationMs: 0, attempts: 1 },
        { state: 'Record failure', status: 'succeeded', startedAt: '2026-11-29T10:00:14.000Z', durationMs: 1000, attempts: 1 },
        { state: 'Onboarding failed', status: 'failed', startedAt: '2026-11-29T10:00:15.000Z', durationMs: 0, attempts: 1 },
      ],
      error: { error: 'TaskStoppedError', cause: 'Ensure service: task stopped: Essential container in task exited', resourcesSoFar },
    });
    // Data (states' outputs) is asked for only on a failed run, for Record failure's record.
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 2);
    expect(sfnMock).toHaveReceivedNthCommandWith(GetExecutionHistoryCommand, 1, { executionArn: ARN, maxResults: 1000, includeExecutionData: true });
    expect(sfnMock).toHaveReceivedNthCommandWith(GetExecutionHistoryCommand, 2, { executionArn: ARN, nextToken: 'page-2' });
    expect(JSON.stringify(v)).not.toMatch(/\s+at\s|index\.mjs/);
  });

  it('reports a running run inside the Parallel: the current step, the branches interleaved, no data read', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('RUNNING'));
    sfnMock.on(GetExecutionHistoryCommand).resolves({
      events: history(
        [0, 'ExecutionStarted', {}, 0],
        [0, 'ParallelStateEntered', entered('Provision identity and network'), 1],
        [2, 'ParallelStateStarted', {}, 1],
        [3, 'TaskStateEntered', entered('Ensure cluster'), 1],
        [3, 'TaskStateEntered', entered('Resolve network'), 1],
        [4, 'LambdaFunctionScheduled', {}, 1],
        [5, 'LambdaFunctionScheduled', {}, 1],
        [7, 'LambdaFunctionSucceeded', {}, 2],
        [8, 'TaskStateExited', exited('Resolve network'), 2],
        [9, 'TaskStateEntered', entered('Ensure NAT gateway'), 2],
        [6, 'LambdaFunctionFailed', lambdaFailed('AwsThrottledError', 'Rate exceeded'), 3],
        [11, 'LambdaFunctionScheduled', {}, 4],
      ),
    });

    const v = await backend().describe(NAME);

    expect(v).toMatchObject({ status: 'RUNNING', currentStep: 'Ensure NAT gateway' });
    expect(v).not.toHaveProperty('stoppedAt');
    expect(v?.steps).toEqual([
      { state: 'Provision identity and network', status: 'running', startedAt: '2026-11-29T10:00:01.000Z', attempts: 1 },
      // Retried after throttling: the error stays shown until the retry succeeds.
      { state: 'Ensure cluster', status: 'running', startedAt: '2026-11-29T10:00:01.000Z', attempts: 2, error: 'AwsThrottledError' },
      { state: 'Resolve network', status: 'succeeded', startedAt: '2026-11-29T10:00:01.000Z', durationMs: 1000, attempts: 1 },
      { state: 'Ensure NAT gateway', status: 'running', startedAt: '2026-11-29T10:00:02.000Z', attempts: 1 },
    ]);
    expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { includeExecutionData: false });
  });

  it('marks a Parallel whose branch failed as failed with the branch error, and the stopped branch as aborted', () => {
    const { steps } = stepsOf(
      history(
        [0, 'ParallelStateEntered', entered('Provision identity and network'), 0],
        [1, 'ParallelStateStarted', {}, 0],
        [2, 'TaskStateEntered', entered('Ensure cluster'), 0],
        [2, 'TaskStateEntered', entered('Ensure NAT gateway'), 0],
        [3, 'LambdaFunctionScheduled', {}, 0],
        [5, 'LambdaFunctionFailed', lambdaFailed('ResourceConflictError', 'the cluster belongs to another tool'), 1],
        [6, 'TaskStateExited', exited('Ensure cluster'), 1],
        [7, 'PassStateEntered', entered('Ensure cluster failed'), 1],
        [8, 'PassStateExited', exited('Ensure cluster failed'), 1],
        [9, 'PassStateEntered', entered('Identity branch failed'), 1],
        [10, 'PassStateExited', exited('Identity branch failed'), 1],
        [11, 'FailStateEntered', entered('Fail identity branch'), 1],
        [12, 'ParallelStateFailed', {}, 2],
        [13, 'ParallelStateExited', exited('Provision identity and network'), 2],
        [14, 'PassStateEntered', entered('Provisioning failed'), 2],
      ),
    );

    expect(steps.map((s) => [s.state, s.status, s.error])).toEqual([
      ['Provision identity and network', 'failed', 'ResourceConflictError'],
      ['Ensure cluster', 'failed', 'ResourceConflictError'],
      ['Ensure NAT gateway', 'aborted', undefined],
      ['Ensure cluster failed', 'succeeded', undefined],
      ['Identity branch failed', 'succeeded', undefined],
      ['Fail identity branch', 'failed', undefined],
      ['Provisioning failed', 'running', undefined],
    ]);
  });

  it('reports a succeeded run with its result, and a Lambda timeout as States.Timeout', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('SUCCEEDED', { stopDate: new Date(T0 + 5000), output: JSON.stringify({ workload: 'bookinfo/ratings', tasks: [] }) }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({
      events: history(
        [0, 'TaskStateEntered', entered('Traffic evidence'), 0],
        [1, 'LambdaFunctionScheduled', {}, 0],
        [2, 'LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: { error: 'States.Timeout' } }, 1],
        [3, 'LambdaFunctionScheduled', {}, 2],
        [4, 'LambdaFunctionSucceeded', {}, 3],
        [5, 'TaskStateExited', exited('Traffic evidence'), 3],
        [6, 'SucceedStateEntered', entered('Onboarded'), 3],
        [7, 'SucceedStateExited', exited('Onboarded'), 3],
        [8, 'ExecutionSucceeded', {}, 3],
      ),
    });

    const v = await backend().describe(NAME);

    expect(v).toMatchObject({ status: 'SUCCEEDED', durationMs: 5000, result: { workload: 'bookinfo/ratings', tasks: [] } });
    expect(v?.steps[0]).toEqual({ state: 'Traffic evidence', status: 'succeeded', startedAt: '2026-11-29T10:00:00.000Z', durationMs: 3000, attempts: 2 });
    expect(v).not.toHaveProperty('error');
    expect(stepsOf(history([0, 'TaskStateEntered', entered('T'), 0], [1, 'LambdaFunctionScheduled', {}, 0], [2, 'LambdaFunctionTimedOut', {}, 1])).steps[0]?.error).toBe('States.Timeout');
  });

  it('reports a timed-out execution with States.Timeout and its open step aborted', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('TIMED_OUT', { stopDate: new Date(T0 + 9000) }));
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: history([0, 'WaitStateEntered', entered('Wait for service'), 0], [1, 'ExecutionTimedOut', {}, 9]) });

    const v = await backend().describe(NAME);

    expect(v).toMatchObject({ status: 'TIMED_OUT', error: { error: 'States.Timeout', cause: '' }, steps: [{ state: 'Wait for service', status: 'aborted', durationMs: 9000 }] });
  });

  it('never shows a stack: a run whose Record failure failed too ends with the raw Lambda cause, shown unwrapped', async () => {
    // "Onboarding failed (unrecorded)" ends with the step's own Cause: Lambda's {errorType, errorMessage, trace}
    // (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html), or a failed branch's failure state around it.
    const lambdaCause = JSON.stringify({ errorType: 'ResourceConflictError', errorMessage: 'ECS service "ratings" belongs to workload bookinfo/other', trace: ['ResourceConflictError: x', '    at ensureService (/var/task/index.mjs:1:1)'] });
    const branchCause = JSON.stringify({ failure: { step: 'Ensure log group', error: 'ResourceConflictError', cause: lambdaCause }, ledgers: {} });
    for (const [cause, expected] of [
      [lambdaCause, 'ECS service "ratings" belongs to workload bookinfo/other'],
      [branchCause, 'Ensure log group: ECS service "ratings" belongs to workload bookinfo/other'],
    ] as const) {
      sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('FAILED', { stopDate: new Date(T0 + 1000), error: 'ResourceConflictError', cause }));
      sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
      const v = await backend().describe(NAME);
      expect(v?.error).toMatchObject({ error: 'ResourceConflictError', cause: expected });
      expect(JSON.stringify(v)).not.toMatch(/index\.mjs|trace/);
    }
  });
});

describe('Step Functions backend: status only', () => {
  it('reads no history when the caller needs only the status (the API before a start, and for verify)', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves(describeOutput('FAILED', { stopDate: new Date(T0 + 1000), error: 'MeshPrerequisiteError', cause: 'Pre-flight mesh: no WorkloadGroup' }));

    const v = await backend().describe(NAME, { steps: false });

    expect(v).toMatchObject({ status: 'FAILED', workload: 'bookinfo/ratings', steps: [], error: { error: 'MeshPrerequisiteError' } });
    expect(sfnMock).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
  });
});
