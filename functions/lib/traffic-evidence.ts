import { DescribeLogStreamsCommand, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { LOG_GROUPS_ARN } from './aws/log-group.ts';
import { logs } from './clients.ts';
import { isAwsError } from './errors.ts';
import type { StepPermissions } from './permissions.ts';
import { AGENT_CONTAINER_NAME, LOG_STREAM_PREFIX } from './settings.ts';
import { need } from './state.ts';
import type { TrafficEvidenceResult, WorkflowState } from './workflow.ts';

export const TRAFFIC_WINDOW_MS = 15 * 60_000;
export const MAX_PAGES = 10;
export const MAX_EVENTS = 1000;
const MAX_SAMPLES = 5;
const SAMPLE_CHARS = 300;
// FilterLogEvents takes at most 100 stream names.
const MAX_STREAMS = 100;
const DESCRIBE_CONCURRENCY = 5;

export const ACCESS_LOG_OFF_HINT =
  'the onboarding-agent container logged lines but no Envoy access-log line: access logging may be off in the mesh ' +
  '(meshConfig.accessLogFile: /dev/stdout, or a Telemetry resource with accessLogging), so "no traffic" cannot be concluded';

/** The response code after the quoted request line of an Envoy TEXT access-log line (`"GET /x HTTP/1.1" 200 ...`). */
export function statusCodeOf(line: string): number | undefined {
  const m = /"[^"]*" (\d{1,3}) /.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** `2xx`..`5xx`, or `other` for 0 (no response: reset, timeout) and unparsable lines. */
export function statusClass(code: number | undefined): string {
  return code !== undefined && code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'other';
}

export interface AccessLogEntry {
  code: number | undefined;
  /** `inbound|<port>||` or `outbound|<port>|<subset>|<host>`, when the line has one. */
  upstreamCluster?: string;
}

/**
 * An Envoy access-log line as Istio writes it, or undefined for any other log line.
 * TEXT (Istio's default): `[<start>] "<method> <path> <proto>" <code> ... <upstream_cluster> ...`.
 * JSON (meshConfig `accessLogEncoding: JSON`, Istio's EnvoyJSONLogFormatIstio): an object with
 * `response_code` (a number, or a string in custom formats) and `upstream_cluster`.
 */
export function accessLogEntry(line: string): AccessLogEntry | undefined {
  if (line.startsWith('{')) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (typeof o !== 'object' || o === null || !('response_code' in o)) return undefined;
    const { response_code: rc, upstream_cluster: uc } = o as { response_code?: unknown; upstream_cluster?: unknown };
    const code = typeof rc === 'number' ? rc : typeof rc === 'string' && /^\d{1,3}$/.test(rc) ? Number(rc) : undefined;
    return { code, upstreamCluster: typeof uc === 'string' ? uc : undefined };
  }
  if (!/^\[[^\]]+\] "[^"]*" \d{1,3} /.test(line)) return undefined;
  return { code: statusCodeOf(line), upstreamCluster: /(?:^|\s)((?:inbound|outbound)\|\S*)/.exec(line)?.[1] };
}

function count(into: { total: number; byStatusClass: Record<string, number> }, code: number | undefined): void {
  into.total += 1;
  const c = statusClass(code);
  into.byStatusClass[c] = (into.byStatusClass[c] ?? 0) + 1;
}

/** Every event of the named streams in the window, bounded by MAX_PAGES / MAX_EVENTS. */
async function filterEvents(logGroupName: string, logStreamNames: string[], startTime: number, endTime: number): Promise<FilteredLogEvent[]> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES && events.length < MAX_EVENTS; page++) {
    const r = await logs().send(new FilterLogEventsCommand({ logGroupName, logStreamNames, startTime, endTime, nextToken, limit: MAX_EVENTS - events.length }));
    events.push(...(r.events ?? []));
    nextToken = r.nextToken;
    if (!nextToken) break;
  }
  return events;
}

/** Whether the stream exists: DescribeLogStreams with its full name as prefix (the exact name sorts first). */
async function streamExists(logGroupName: string, logStreamName: string): Promise<boolean> {
  try {
    const r = await logs().send(new DescribeLogStreamsCommand({ logGroupName, logStreamNamePrefix: logStreamName, limit: 1 }));
    return r.logStreams?.[0]?.logStreamName === logStreamName;
  } catch (e) {
    // The log group itself does not exist yet.
    if (isAwsError(e, 'ResourceNotFoundException')) return false;
    throw e;
  }
}

async function existingStreams(logGroupName: string, names: string[]): Promise<string[]> {
  const found: boolean[] = [];
  for (let i = 0; i < names.length; i += DESCRIBE_CONCURRENCY) {
    found.push(...(await Promise.all(names.slice(i, i + DESCRIBE_CONCURRENCY).map((n) => streamExists(logGroupName, n)))));
  }
  return names.filter((_, i) => found[i]);
}

/**
 * The events of the streams that exist. FilterLogEvents fails as a whole with
 * ResourceNotFoundException ("The specified log stream does not exist.") when any ONE named stream
 * is missing (docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 * lists the error; percona/rds_exporter#81 and its enhanced/scraper.go show the whole-request
 * rejection), and a task's stream appears only once it logs. So on that error the existing streams
 * are found and queried alone.
 */
async function agentEvents(logGroupName: string, names: string[], start: number, end: number): Promise<{ events: FilteredLogEvent[]; missing: string[] }> {
  try {
    return { events: await filterEvents(logGroupName, names, start, end), missing: [] };
  } catch (e) {
    if (!isAwsError(e, 'ResourceNotFoundException')) throw e;
  }
  const existing = await existingStreams(logGroupName, names);
  const missing = names.filter((n) => !existing.includes(n));
  if (existing.length === 0) return { events: [], missing };
  try {
    return { events: await filterEvents(logGroupName, existing, start, end), missing };
  } catch (e) {
    // A stream deleted between the two calls: report what is known rather than fail the workflow.
    if (isAwsError(e, 'ResourceNotFoundException')) return { events: [], missing: names };
    throw e;
  }
}

/**
 * Traffic evidence: reads the onboarding agent's Envoy access log (last 15 minutes, bounded;
 * TEXT or JSON encoded) and counts inbound requests to the app port and outbound requests, by
 * status class. No traffic is a finding (trafficSeen false), not an error; agent log lines
 * without any access-log line are a different finding (accessLogSeen false, with a hint).
 */
export async function trafficEvidence(state: WorkflowState, now = new Date()): Promise<TrafficEvidenceResult> {
  const { request, logGroup, readiness } = need(state, 'logGroup', 'readiness');
  const end = now.getTime();
  const start = end - TRAFFIC_WINDOW_MS;
  const logStreams = readiness.tasks.slice(0, MAX_STREAMS).map((t) => `${LOG_STREAM_PREFIX}/${AGENT_CONTAINER_NAME}/${t.taskId}`);
  const inbound = { total: 0, byStatusClass: {} as Record<string, number> };
  const outbound = { total: 0, byStatusClass: {} as Record<string, number> };
  const samples: string[] = [];
  const inboundMark = `inbound|${request.app.port}|`;

  const { events, missing } = logStreams.length > 0 ? await agentEvents(logGroup.logGroupName, logStreams, start, end) : { events: [], missing: [] };

  let agentLogLines = 0;
  let accessLogSeen = false;
  for (const ev of events.slice(0, MAX_EVENTS)) {
    const line = (ev.message ?? '').trim();
    if (!line) continue;
    agentLogLines += 1;
    const entry = accessLogEntry(line);
    if (!entry) continue;
    accessLogSeen = true;
    const cluster = entry.upstreamCluster ?? '';
    const isIn = cluster.startsWith(inboundMark);
    const isOut = !isIn && cluster.startsWith('outbound|');
    if (!isIn && !isOut) continue;
    count(isIn ? inbound : outbound, entry.code);
    if (samples.length < MAX_SAMPLES) samples.push(line.length > SAMPLE_CHARS ? `${line.slice(0, SAMPLE_CHARS)}...` : line);
  }

  const hint =
    agentLogLines > 0 && !accessLogSeen
      ? ACCESS_LOG_OFF_HINT
      : logStreams.length > 0 && missing.length === logStreams.length
        ? 'no onboarding-agent log stream exists yet: the tasks have logged nothing (stream names are <prefix>/onboarding-agent/<taskId>)'
        : undefined;
  return {
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(end).toISOString(),
    logStreams,
    inbound,
    outbound,
    samples,
    trafficSeen: inbound.total + outbound.total > 0,
    agentLogLines,
    accessLogSeen,
    ...(missing.length > 0 ? { missingLogStreams: missing } : {}),
    ...(hint ? { hint } : {}),
  };
}

/** Reading the agent's access log, in the workload's log group (`/ecs/<family>`) only: Traffic evidence's and the re-verification's permission. */
export const AGENT_LOG_PERMISSIONS: StepPermissions = [{ sid: 'ReadAgentLog', actions: ['logs:DescribeLogStreams', 'logs:FilterLogEvents'], resources: [LOG_GROUPS_ARN] }];
