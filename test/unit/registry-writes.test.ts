/**
 * The record steps write the workload registry: Validate request the start, Record result the
 * success with the ledger, Record failure the failure. Skipped where there is no registry
 * (REGISTRY_TABLE_NAME unset) or nothing to record; never with the CA bundle.
 * The same through the workflow, against the emulator: test/emulator/reverify.test.ts.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REGISTRY_READ_PERMISSIONS, REGISTRY_WRITE_PERMISSIONS } from '../../functions/lib/registry.ts';
import { ENV } from '../../functions/lib/settings.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { listWorkloadsStep } from '../../functions/list-workloads.ts';
import * as recordFailureStep from '../../functions/record-failure.ts';
import * as recordResultStep from '../../functions/record-result.ts';
import * as validateRequestStep from '../../functions/validate-request.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';

const docMock = mockClient(DynamoDBDocumentClient);
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:onboard-workload:run-1';
const saved = process.env[ENV.registryTable];

beforeEach(() => {
  process.env[ENV.registryTable] = 'registry';
  docMock.on(UpdateCommand).resolves({});
});
afterEach(() => {
  docMock.reset();
  if (saved === undefined) delete process.env[ENV.registryTable];
  else process.env[ENV.registryTable] = saved;
});

/** The fields the one UpdateItem sent set, by attribute name. */
function written(): Record<string, unknown> {
  const calls = docMock.commandCalls(UpdateCommand);
  expect(calls).toHaveLength(1);
  const input = calls[0]!.args[0].input;
  expect(input).toMatchObject({ TableName: 'registry', Key: { workload: 'bookinfo/ratings' } });
  return Object.fromEntries(Object.entries(input.ExpressionAttributeNames ?? {}).map(([alias, name]) => [name, input.ExpressionAttributeValues?.[`:${alias.slice(1)}`]]));
}

const { rootCaPem: _ca, ...request } = bookinfoRequest();
const ledger = {
  cluster: { clusterName: 'bookinfo', clusterArn: 'arn:cluster', ledger: [{ kind: 'ecs-cluster' as const, id: 'bookinfo', created: false, shared: true }] },
  service: { serviceArn: 'arn:svc', serviceName: 'ratings', clusterName: 'bookinfo', updated: false, ledger: [{ kind: 'ecs-service' as const, id: 'arn:svc', created: true }] },
};

describe('Validate request', () => {
  it('records the start (status ONBOARDING, the execution, no ledger), without the CA bundle', async () => {
    await validateRequestStep.validateRequest({ input: bookinfoInput(), executionId: EXECUTION });
    const w = written();
    expect(w).toMatchObject({ status: 'ONBOARDING', executionId: EXECUTION, ledger: [] });
    expect(JSON.stringify(w)).not.toContain('BEGIN CERTIFICATE');
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toContain('REMOVE #failure');
  });

  it('writes nothing for a request it rejects, outside an execution, or without a registry', async () => {
    await expect(validateRequestStep.validateRequest({ input: { ...bookinfoInput(), app: { name: 'x', image: 'y', port: 0 } }, executionId: EXECUTION })).rejects.toMatchObject({ name: 'InvalidRequestError' });
    await validateRequestStep.validateRequest(bookinfoInput());
    delete process.env[ENV.registryTable];
    await validateRequestStep.validateRequest({ input: bookinfoInput(), executionId: EXECUTION });
    expect(docMock).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('Record result', () => {
  const state = (): WorkflowState => ({
    request,
    execution: { id: EXECUTION },
    ...ledger,
    taskDefinition: { taskDefinitionArn: 'arn:td:1', family: 'bookinfo_ratings', revision: 1, ledger: [] },
    readiness: { ready: true, tasks: [], poll: { attempt: 1, startedAt: '', deadline: '', nextWaitSeconds: 5 }, status: 'ok' },
  });

  it('records the success with the whole ledger (made and reused)', async () => {
    await recordResultStep.recordResult(state());
    expect(written()).toMatchObject({ status: 'ONBOARDED', executionId: EXECUTION, ledger: [...ledger.cluster.ledger, ...ledger.service.ledger] });
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toContain('REMOVE #failure');
  });

  it('writes nothing without a registry', async () => {
    delete process.env[ENV.registryTable];
    await recordResultStep.recordResult(state());
    expect(docMock).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('Record failure', () => {
  it('records the failed step, error, cause (unwrapped) and what the run made or reused', async () => {
    const cause = JSON.stringify({ errorType: 'TaskStoppedError', errorMessage: 'task t1 stopped', trace: ['at x'] });
    const r = await recordFailureStep.recordFailure({
      request,
      execution: { id: EXECUTION },
      failure: { step: 'Check service readiness', error: 'TaskStoppedError', cause },
      ledgers: { cluster: ledger.cluster.ledger, service: ledger.service.ledger },
    });
    expect(written()).toMatchObject({
      status: 'FAILED',
      executionId: EXECUTION,
      failure: { step: 'Check service readiness', error: 'TaskStoppedError', cause: 'task t1 stopped' },
      ledger: [...ledger.cluster.ledger, ...ledger.service.ledger],
    });
    // The execution's failure record still lists only what the run made.
    expect(r.resourcesSoFar).toEqual(ledger.service.ledger);
    // A failure sets `failure` (only a start or a success removes it) and frees the lock.
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toMatch(/ REMOVE #lock$/);
  });

  it('writes nothing when Validate request failed (no validated request), or without a registry', async () => {
    await recordFailureStep.recordFailure({ execution: { id: EXECUTION }, failure: { step: 'Validate request', error: 'InvalidRequestError', cause: 'bad' } });
    delete process.env[ENV.registryTable];
    await recordFailureStep.recordFailure({ request, execution: { id: EXECUTION }, failure: { step: 'Ensure service', error: 'X', cause: 'y' } });
    expect(docMock).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('permissions', () => {
  it('each record step may write the registry, and only that; Validate request may also read the lock holder it names', () => {
    for (const step of [recordResultStep, recordFailureStep]) expect(step.permissions).toEqual(REGISTRY_WRITE_PERMISSIONS);
    expect(validateRequestStep.permissions).toEqual([...REGISTRY_WRITE_PERMISSIONS, ...REGISTRY_READ_PERMISSIONS]);
  });
});

/**
 * The lock rides on the record writes: DynamoDB refuses a write whose ConditionExpression is
 * false with ConditionalCheckFailedException, HTTP 400, "The conditional request failed"
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html#API_UpdateItem_Errors).
 */
describe('the workload lock in the record writes', () => {
  const refused = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
  const holder = { executionId: 'onboard-bookinfo_ratings-other', machine: 'onboard-workload' as const, acquiredAt: '2026-11-29T05:00:00.000Z' };

  it('Validate request takes the lock for its execution name in the write that records the start', async () => {
    await validateRequestStep.validateRequest({ input: bookinfoInput(), executionId: EXECUTION });
    const input = docMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(written().lock).toMatchObject({ executionId: 'run-1', machine: 'onboard-workload' });
    expect(input.ConditionExpression).toBe('attribute_not_exists(#lock) OR #lock.#executionId = :holder');
    expect(input.ExpressionAttributeValues?.[':holder']).toBe('run-1');
  });

  it('Validate request refused the lock: WorkloadBusyError naming the holder, read from the registry', async () => {
    docMock.on(UpdateCommand).rejects(refused());
    docMock.on(GetCommand).resolves({ Item: { workload: 'bookinfo/ratings', lock: holder } });
    const err = await validateRequestStep.validateRequest({ input: bookinfoInput(), executionId: EXECUTION }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'WorkloadBusyError', heldBy: holder.executionId, retryable: false });
    expect((err as Error).message).toContain(`execution ${holder.executionId} (onboard-workload, since ${holder.acquiredAt})`);
  });

  it('Record result writes only while it holds the lock and frees it in the same write; having lost it, WorkloadBusyError', async () => {
    const state = { request, execution: { id: EXECUTION }, service: { serviceArn: 'a', serviceName: 'ratings', clusterName: 'bookinfo', updated: false, ledger: [] }, taskDefinition: { taskDefinitionArn: 'arn:td:1', family: 'f', revision: 1, ledger: [] }, readiness: { ready: true, tasks: [], poll: { attempt: 1, startedAt: '', deadline: '', nextWaitSeconds: 5 }, status: 'ok' } } as WorkflowState;
    await recordResultStep.recordResult(state);
    const input = docMock.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input.ConditionExpression).toBe('#lock.#executionId = :holder');
    expect(input.UpdateExpression).toMatch(/ REMOVE #failure, #lock$/);
    docMock.reset();
    docMock.on(UpdateCommand).rejects(refused());
    await expect(recordResultStep.recordResult(state)).rejects.toMatchObject({ name: 'WorkloadBusyError', message: expect.stringContaining('run-1 no longer holds the lock') });
  });

  it('Record failure that does not hold the lock leaves the record alone and still returns the failure record', async () => {
    docMock.on(UpdateCommand).rejects(refused());
    const r = await recordFailureStep.recordFailure({ request, execution: { id: EXECUTION }, failure: { step: 'Ensure service', error: 'ResourceConflictError', cause: 'x' } });
    expect(r).toMatchObject({ step: 'Ensure service', error: 'ResourceConflictError', summary: 'Ensure service: x' });
    expect(docMock.commandCalls(UpdateCommand)[0]!.args[0].input.ConditionExpression).toBe('#lock.#executionId = :holder');
  });
});

describe('List workloads: what the schedule checks', () => {
  it('leaves out a workload whose teardown holds its lock (its service going away is not drift)', async () => {
    const lock = (machine: string) => ({ executionId: 'x', machine, acquiredAt: '2026-11-29T00:00:00.000Z' });
    docMock.on(ScanCommand).resolves({
      Items: [
        { workload: 'a/steady', status: 'ONBOARDED' },
        { workload: 'a/changing', status: 'ONBOARDING', lock: lock('onboard-workload') },
        { workload: 'a/leaving', status: 'ONBOARDED', lock: lock('offboard-workload') },
      ],
    });
    expect((await listWorkloadsStep()).workloads).toEqual([{ workload: 'a/steady' }, { workload: 'a/changing' }]);
  });
});
