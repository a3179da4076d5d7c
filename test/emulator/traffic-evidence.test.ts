import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Poll } from '../../functions/lib/poll.ts';
import type { RunningTask, WorkflowState } from '../../functions/lib/workflow.ts';
import { accessLogEntry, statusClass, statusCodeOf, trafficEvidence } from '../../functions/traffic-evidence.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const logGroupName = '/ecs/bookinfo_ratings';

function task(taskId: string): RunningTask {
  return { taskId, taskArn: `arn:aws:ecs:us-east-1:123456789012:task/bookinfo/${taskId}`, availabilityZone: 'us-east-1a', privateIp: '10.0.3.10', lastStatus: 'RUNNING' };
}
function state(tasks: RunningTask[]): WorkflowState {
  return {
    request: bookinfoRequest(),
    logGroup: { logGroupName, retentionDays: 30, ledger: [] },
    readiness: { ready: true, tasks, poll: undefined as unknown as Poll, status: 'ok' },
  };
}

const inbound = (code: number) =>
  `[2026-11-26T14:00:00.000Z] "GET /ratings/0 HTTP/1.1" ${code} - via_upstream - "-" 0 48 3 2 "-" "Envoy/HC" "5c1b-..." "ratings.bookinfo:9080" "127.0.0.1:9080" inbound|9080|| 127.0.0.6:41235 10.0.3.10:9080 10.0.1.7:52010 outbound_.9080_._.ratings.bookinfo.svc.cluster.local default`;
const outbound = (code: number) =>
  `[2026-11-26T14:00:01.000Z] "GET /details/0 HTTP/1.1" ${code} - via_upstream - "-" 0 178 5 4 "-" "curl/8.0" "7d2e-..." "details.bookinfo:9080" "10.0.1.9:9080" outbound|9080||details.bookinfo.svc.cluster.local 10.0.3.10:40112 127.0.0.2:9080 127.0.0.1:51234 - default`;

describe('Traffic evidence (emulator)', () => {
  const logs = () => new CloudWatchLogsClient({ endpoint: emu.endpoint, region: 'us-east-1' });

  beforeAll(async () => {
    await logs().send(new CreateLogGroupCommand({ logGroupName }));
  });

  it('parses the response code after the quoted request line', () => {
    expect(statusCodeOf(inbound(200))).toBe(200);
    expect(statusCodeOf(`[t] "- - -" 0 UF,URX - "-" 0 0 1 - "-" "-" "-" "-" "10.0.0.1:9080" outbound|9080||x -`)).toBe(0);
    expect(statusClass(503)).toBe('5xx');
    expect(statusClass(0)).toBe('other');
    expect(statusClass(undefined)).toBe('other');
  });

  it('counts inbound and outbound Envoy lines by status class, with a few samples', async () => {
    const now = Date.now();
    const lines = [inbound(200), inbound(200), inbound(404), outbound(200), outbound(503), 'starting Envoy', 'onboarding agent connected'];
    for (const [stream, msgs] of [
      ['ecs/onboarding-agent/task1', lines],
      ['ecs/onboarding-agent/task2', [inbound(200), outbound(503)]],
      ['ecs/ratings/task1', [inbound(500)]], // the app's own log: not the agent's
    ] as const) {
      await logs().send(new CreateLogStreamCommand({ logGroupName, logStreamName: stream }));
      await logs().send(new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: msgs.map((message, i) => ({ message, timestamp: now - 60_000 + i })) }));
    }
    // An old line outside the 15-minute window.
    await logs().send(new PutLogEventsCommand({ logGroupName, logStreamName: 'ecs/onboarding-agent/task2', logEvents: [{ message: inbound(500), timestamp: now - 60 * 60_000 }] }));

    const r = await trafficEvidence(state([task('task1'), task('task2'), task('task3')]), new Date(now));

    expect(r.logStreams).toEqual(['ecs/onboarding-agent/task1', 'ecs/onboarding-agent/task2', 'ecs/onboarding-agent/task3']);
    expect(r.inbound).toEqual({ total: 4, byStatusClass: { '2xx': 3, '4xx': 1 } });
    expect(r.outbound).toEqual({ total: 3, byStatusClass: { '2xx': 1, '5xx': 2 } });
    expect(r.trafficSeen).toBe(true);
    expect(r).toMatchObject({ accessLogSeen: true, agentLogLines: 9 });
    expect(r.samples).toHaveLength(5);
    expect(r.samples[0]).toContain('"GET /ratings/0 HTTP/1.1" 200');
    expect(r.samples.every((s) => s.length <= 303)).toBe(true);
    expect(Date.parse(r.windowEnd) - Date.parse(r.windowStart)).toBe(15 * 60_000);
  });

  async function putLines(stream: string, msgs: string[], at = Date.now() - 60_000) {
    await logs().send(new CreateLogStreamCommand({ logGroupName, logStreamName: stream }));
    await logs().send(new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: msgs.map((message, i) => ({ message, timestamp: at + i })) }));
  }

  // Istio's JSON encoding (meshConfig accessLogEncoding: JSON; pilot/pkg/model/telemetry_logging.go
  // EnvoyJSONLogFormatIstio) names the fields response_code and upstream_cluster; Envoy writes
  // %RESPONSE_CODE% as a number, custom formats may quote it.
  const jsonLine = (code: number | string, cluster: string) =>
    JSON.stringify({ start_time: '2026-11-26T14:00:00.000Z', method: 'GET', path: '/ratings/0', protocol: 'HTTP/1.1', response_code: code, response_flags: '-', upstream_cluster: cluster, upstream_host: '127.0.0.1:9080' });

  it('recognises TEXT and JSON access-log lines, and nothing else', () => {
    expect(accessLogEntry(inbound(200))).toEqual({ code: 200, upstreamCluster: 'inbound|9080||' });
    expect(accessLogEntry(outbound(503))).toEqual({ code: 503, upstreamCluster: 'outbound|9080||details.bookinfo.svc.cluster.local' });
    expect(accessLogEntry(jsonLine(200, 'inbound|9080||'))).toEqual({ code: 200, upstreamCluster: 'inbound|9080||' });
    expect(accessLogEntry(jsonLine('404', 'outbound|9080||details.bookinfo.svc.cluster.local'))).toEqual({ code: 404, upstreamCluster: 'outbound|9080||details.bookinfo.svc.cluster.local' });
    expect(accessLogEntry('{"level":"info","msg":"connected to the onboarding plane"}')).toBeUndefined();
    expect(accessLogEntry('2026-11-26T14:00:00.000Z info onboarding agent connected "x" 200 y')).toBeUndefined();
    expect(accessLogEntry('{not json')).toBeUndefined();
  });

  it('counts JSON-encoded access-log lines like TEXT ones', async () => {
    await putLines('ecs/onboarding-agent/json1', [
      jsonLine(200, 'inbound|9080||'),
      jsonLine(200, 'inbound|9080||'),
      jsonLine('503', 'outbound|9080||details.bookinfo.svc.cluster.local'),
      '{"level":"info","time":"2026-11-26T14:00:00Z","msg":"Envoy proxy is ready"}',
    ]);
    const r = await trafficEvidence(state([task('json1')]));
    expect(r).toMatchObject({
      inbound: { total: 2, byStatusClass: { '2xx': 2 } },
      outbound: { total: 1, byStatusClass: { '5xx': 1 } },
      trafficSeen: true,
      accessLogSeen: true,
      agentLogLines: 4,
    });
    expect(r.hint).toBeUndefined();
    expect(r.samples[0]).toContain('"response_code":200');
  });

  it('says access logging may be off when the agent logs lines but no access-log line', async () => {
    await putLines('ecs/onboarding-agent/quiet1', ['2026-11-26T14:00:00.000Z info agent connected to the onboarding plane', '2026-11-26T14:00:01.000Z info Envoy proxy is ready', '{"level":"info","msg":"sidecar started"}']);
    const r = await trafficEvidence(state([task('quiet1')]));
    expect(r).toMatchObject({ trafficSeen: false, accessLogSeen: false, agentLogLines: 3 });
    expect(r.hint).toContain('access logging may be off in the mesh (meshConfig.accessLogFile: /dev/stdout, or a Telemetry resource with accessLogging)');
  });

  it('reports no traffic (not an error) when the agent streams do not exist', async () => {
    const r = await trafficEvidence(state([task('never-logged')]));
    expect(r).toMatchObject({ trafficSeen: false, inbound: { total: 0, byStatusClass: {} }, outbound: { total: 0, byStatusClass: {} }, samples: [], agentLogLines: 0 });
  });

  it('reports no traffic with zero tasks', async () => {
    const r = await trafficEvidence(state([]));
    expect(r).toMatchObject({ trafficSeen: false, logStreams: [], samples: [] });
  });
});
