/**
 * A second run of a workload with a changed request reports what it changed in place as
 * `updated`, apart from what it made (`created`) and what it found as wanted (`reused`): the
 * result's lists, and the CLI's summary table. One sandbox for the file; the tests run in order.
 */
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { renderSummary } from '../../local/cli-output.ts';
import { runWorkflow } from '../../local/engine/run-workflow.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();

async function succeeded(request: OnboardingRequestInput): Promise<OnboardingResult> {
  const o = await runWorkflow(request, { waitMs: 20, retryIntervalMs: 5 });
  expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
  return o.output as OnboardingResult;
}

const kinds = (entries: OnboardingResult['reused']) => entries.map((e) => e.kind).sort();

describe('created, updated and reused', () => {
  const first = bookinfoInput();

  it('a first run creates; the same request again reuses everything and updates nothing', async () => {
    const made = await succeeded(first);
    expect(kinds(made.created)).toEqual(expect.arrayContaining(['ecs-service', 'log-group', 'task-definition']));
    expect(made.updated).toEqual([]);
    const again = await succeeded(first);
    expect(again.created).toEqual([]);
    expect(again.updated).toEqual([]);
  });

  it('a changed desiredCount and logRetentionDays: the service and the log group are updated, the rest reused', async () => {
    const changed: OnboardingRequestInput = { ...first, ecs: { ...first.ecs, desiredCount: 0 }, logRetentionDays: 90 };
    const r = await succeeded(changed);
    expect(kinds(r.updated)).toEqual(['ecs-service', 'log-group']);
    expect(r.updated.every((e) => e.updated === true && !e.created)).toBe(true);
    // Neither change is task definition content: no new revision.
    expect(r.created).toEqual([]);
    expect(kinds(r.reused)).toEqual(expect.arrayContaining(['ecs-cluster', 'iam-role', 'secret', 'task-definition']));
    expect(kinds(r.reused)).not.toContain('ecs-service');

    const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
    const { services } = await new ECSClient(cfg).send(new DescribeServicesCommand({ cluster: first.ecs.cluster, services: [first.ecs.service] }));
    expect(services?.[0]?.desiredCount).toBe(0);
    const { logGroups } = await new CloudWatchLogsClient(cfg).send(new DescribeLogGroupsCommand({ logGroupNamePrefix: `/ecs/${first.ecs.family}` }));
    expect(logGroups?.find((g) => g.logGroupName === `/ecs/${first.ecs.family}`)?.retentionInDays).toBe(90);

    const table = renderSummary(r);
    expect(table).toMatch(/^updated +ecs-service +workload +arn:aws:ecs:\S+:service\/bookinfo\/ratings$/m);
    expect(table).toMatch(/^updated +log-group +workload +\/ecs\/\S+$/m);
    expect(table).toMatch(/^reused +task-definition +workload /m);
  });

  it('a changed app image is a new task definition revision: created, and the service rolled onto it is updated', async () => {
    const r = await succeeded({ ...first, ecs: { ...first.ecs, desiredCount: 0 }, logRetentionDays: 90, app: { ...first.app, image: `${first.app.image}-v2` } });
    expect(kinds(r.created)).toEqual(['task-definition']);
    expect(kinds(r.updated)).toEqual(['ecs-service']);
  });
});
