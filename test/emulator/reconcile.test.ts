/**
 * Re-converging through the local API (the deployed API shares the contract): after a resource
 * of an onboarded workload is deleted behind the tool's back, POSTing the same request answers
 * the old, successful execution (de-duplication), and `?reconcile=true` starts a new run `-r2`
 * that makes the resource again.
 */
import { CloudWatchLogsClient, DeleteLogGroupCommand, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { describe, expect, it } from 'vitest';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { useLocalApi } from '../support/local-api.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();

const local = useLocalApi();
const post = (query = '') => local().post(bookinfoInput(), query);
const ended = (executionId: string) => local().ended(executionId);

const logGroup = `/ecs/${bookinfoInput().ecs.family}`;
async function logGroupExists(): Promise<boolean> {
  const logs = new CloudWatchLogsClient({ endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 });
  const { logGroups } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: logGroup }));
  return (logGroups ?? []).some((g) => g.logGroupName === logGroup);
}

describe('POST /onboardings?reconcile=true', () => {
  let firstId: string;

  it('onboards the request', async () => {
    const r = await post();
    expect(r).toMatchObject({ status: 202, json: { duplicate: false } });
    firstId = r.json.executionId as string;
    const view = await ended(firstId);
    expect(view.status, JSON.stringify(view.error)).toBe('SUCCEEDED');
    expect(await logGroupExists()).toBe(true);
  }, 90_000);

  it('after the log group is deleted behind its back, the same POST is a duplicate of the old run and changes nothing', async () => {
    const logs = new CloudWatchLogsClient({ endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 });
    await logs.send(new DeleteLogGroupCommand({ logGroupName: logGroup }));
    expect(await logGroupExists()).toBe(false);

    const r = await post();
    expect(r).toMatchObject({ status: 202, json: { executionId: firstId, status: 'SUCCEEDED', duplicate: true } });
    expect(await logGroupExists()).toBe(false);
  });

  it('with reconcile=true, a new execution -r2 makes the log group again and reports it created', async () => {
    const r = await post('?reconcile=true');
    expect(r).toMatchObject({ status: 202, json: { executionId: `${firstId}-r2`, duplicate: false, reconciles: firstId } });
    // A double submit of the reconcile while it runs is the same run.
    const twice = await post('?reconcile=true');
    expect(twice.json).toMatchObject({ executionId: `${firstId}-r2`, duplicate: true });

    const view = await ended(`${firstId}-r2`);
    expect(view.status, JSON.stringify(view.error)).toBe('SUCCEEDED');
    const result = view.result as OnboardingResult;
    expect(result.created.map((e) => e.kind)).toEqual(['log-group']);
    expect(result.reused.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-service', 'task-definition', 'iam-role']));
    expect(await logGroupExists()).toBe(true);
  }, 90_000);
});
