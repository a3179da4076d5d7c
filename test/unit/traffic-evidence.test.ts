/**
 * CloudWatch Logs behaviour moto cannot show: moto's FilterLogEvents ignores a named stream that
 * does not exist, while CloudWatch rejects the whole request with ResourceNotFoundException
 * "The specified log stream does not exist." when any ONE of `logStreamNames` is missing
 * (docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html lists the
 * error; the whole-request rejection is reported in percona/rds_exporter#81 and handled in its
 * enhanced/scraper.go). A task's agent stream appears only once the task logs, so a new task
 * must not hide the traffic of the others. Everything else is in test/emulator/traffic-evidence.test.ts.
 */
import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  ResourceNotFoundException,
  type DescribeLogStreamsCommandInput,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { Poll } from '../../functions/lib/poll.ts';
import type { RunningTask, WorkflowState } from '../../functions/lib/workflow.ts';
import { trafficEvidence } from '../../functions/traffic-evidence.ts';
import { bookinfoRequest } from '../support/requests.ts';

const logsMock = mockClient(CloudWatchLogsClient);
afterEach(() => logsMock.reset());

const logGroupName = '/ecs/bookinfo_ratings';
const task = (taskId: string): RunningTask => ({ taskId, taskArn: `arn:aws:ecs:us-east-1:123456789012:task/bookinfo/${taskId}`, availabilityZone: 'us-east-1a', privateIp: '10.0.3.10', lastStatus: 'RUNNING' });
const state = (ids: string[]): WorkflowState => ({
  request: bookinfoRequest(),
  logGroup: { logGroupName, retentionDays: 30, ledger: [] },
  readiness: { ready: true, tasks: ids.map(task), poll: undefined as unknown as Poll, status: 'ok' },
});
const inbound = (code: number) =>
  `[2026-11-26T14:00:00.000Z] "GET /ratings/0 HTTP/1.1" ${code} - via_upstream - "-" 0 48 3 2 "-" "Envoy/HC" "5c1b" "ratings.bookinfo:9080" "127.0.0.1:9080" inbound|9080|| 127.0.0.6:41235 10.0.3.10:9080 10.0.1.7:52010 - default`;

// AWS's answers, as the SDK surfaces them: the modeled exception with CloudWatch's message.
const streamMissing = () => new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: { httpStatusCode: 400 } });
const groupMissing = () => new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: { httpStatusCode: 400 } });

/** A log group holding `streams` (name -> lines), answering like CloudWatch Logs. */
function cloudWatch(streams: Record<string, string[]>, opts: { groupExists?: boolean } = {}) {
  const names = Object.keys(streams).sort();
  logsMock.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => {
    if (opts.groupExists === false) return Promise.reject(groupMissing());
    const wanted = input.logStreamNames ?? names;
    if (wanted.some((n) => !names.includes(n))) return Promise.reject(streamMissing());
    return Promise.resolve({ events: wanted.flatMap((n) => (streams[n] ?? []).map((message, i) => ({ logStreamName: n, message, timestamp: Date.now() - 1000 + i }))) });
  });
  logsMock.on(DescribeLogStreamsCommand).callsFake((input: DescribeLogStreamsCommandInput) => {
    if (opts.groupExists === false) return Promise.reject(groupMissing());
    const matching = names.filter((n) => n.startsWith(input.logStreamNamePrefix ?? ''));
    return Promise.resolve({ logStreams: matching.slice(0, input.limit ?? 50).map((logStreamName) => ({ logStreamName })) });
  });
}

describe('Traffic evidence when some agent streams do not exist yet (CloudWatch contract)', () => {
  it('counts the traffic of the tasks that logged, and names the streams that do not exist', async () => {
    cloudWatch({ 'ecs/onboarding-agent/old': [inbound(200), inbound(200)], 'ecs/ratings/new': ['app line'] });
    const r = await trafficEvidence(state(['old', 'new']));
    expect(r).toMatchObject({ trafficSeen: true, inbound: { total: 2, byStatusClass: { '2xx': 2 } }, missingLogStreams: ['ecs/onboarding-agent/new'], accessLogSeen: true });
    expect(logsMock).toHaveReceivedCommandTimes(FilterLogEventsCommand, 2);
    expect(logsMock).toHaveReceivedNthCommandWith(FilterLogEventsCommand, 1, { logGroupName, logStreamNames: ['ecs/onboarding-agent/old', 'ecs/onboarding-agent/new'] });
    expect(logsMock).toHaveReceivedNthCommandWith(FilterLogEventsCommand, 2, { logGroupName, logStreamNames: ['ecs/onboarding-agent/old'] });
    // One exact look-up per stream: a stream name is a prefix only of longer names, which sort after it.
    expect(logsMock).toHaveReceivedCommandWith(DescribeLogStreamsCommand, { logGroupName, logStreamNamePrefix: 'ecs/onboarding-agent/new', limit: 1 });
  });

  it('does not take a longer stream name for the missing one', async () => {
    cloudWatch({ 'ecs/onboarding-agent/abc': [inbound(200)], 'ecs/onboarding-agent/ab-later': [] });
    const r = await trafficEvidence(state(['abc', 'ab']));
    expect(r.missingLogStreams).toEqual(['ecs/onboarding-agent/ab']);
    expect(r.inbound.total).toBe(1);
  });

  it('reports no traffic with a hint, not an error, when no agent stream exists yet', async () => {
    cloudWatch({ 'ecs/ratings/x': ['app line'] });
    const r = await trafficEvidence(state(['a', 'b']));
    expect(r).toMatchObject({ trafficSeen: false, agentLogLines: 0, missingLogStreams: ['ecs/onboarding-agent/a', 'ecs/onboarding-agent/b'] });
    expect(r.hint).toContain('no onboarding-agent log stream exists yet');
    expect(logsMock).toHaveReceivedCommandTimes(FilterLogEventsCommand, 1);
  });

  it('treats a log group that does not exist like streams that do not', async () => {
    cloudWatch({}, { groupExists: false });
    const r = await trafficEvidence(state(['a']));
    expect(r).toMatchObject({ trafficSeen: false, missingLogStreams: ['ecs/onboarding-agent/a'] });
  });

  it('lets other errors through (the state machine retries or fails on them)', async () => {
    logsMock.on(FilterLogEventsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    await expect(trafficEvidence(state(['a']))).rejects.toThrow('Rate exceeded');
  });
});
