import { FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { logs } from '#lib/clients.ts';
import { isAwsError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { AGENT_CONTAINER_NAME, LOG_STREAM_PREFIX } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import type { TrafficEvidenceResult, WorkflowState } from '#lib/workflow.ts';

export const TRAFFIC_WINDOW_MS = 15 * 60_000;
export const MAX_PAGES = 10;
export const MAX_EVENTS = 1000;
const MAX_SAMPLES = 5;
const SAMPLE_CHARS = 300;
// FilterLogEvents takes at most 100 stream names.
const MAX_STREAMS = 100;

/** The response code after the quoted request line of an Envoy access-log line (`"GET /x HTTP/1.1" 200 ...`). */
export function statusCodeOf(line: string): number | undefined {
  const m = /"[^"]*" (\d{1,3}) /.exec(line);
  return m ? Number(m[1]) : undefined;
}

/** `2xx`..`5xx`, or `other` for 0 (no response: reset, timeout) and unparsable lines. */
export function statusClass(code: number | undefined): string {
  return code !== undefined && code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : 'other';
}

function count(into: { total: number; byStatusClass: Record<string, number> }, line: string): void {
  into.total += 1;
  const c = statusClass(statusCodeOf(line));
  into.byStatusClass[c] = (into.byStatusClass[c] ?? 0) + 1;
}

/**
 * Traffic evidence: reads the onboarding agent's Envoy access log (last 15 minutes, bounded)
 * and counts inbound requests to the app port and outbound requests, by status class. No
 * traffic is a finding (trafficSeen false), not an error.
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

  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  for (let page = 0; logStreams.length > 0 && page < MAX_PAGES && events.length < MAX_EVENTS; page++) {
    try {
      const r = await logs().send(
        new FilterLogEventsCommand({ logGroupName: logGroup.logGroupName, logStreamNames: logStreams, startTime: start, endTime: end, nextToken, limit: MAX_EVENTS - events.length }),
      );
      events.push(...(r.events ?? []));
      nextToken = r.nextToken;
    } catch (e) {
      // Streams appear only once a task logs something: none yet is "no traffic".
      if (isAwsError(e, 'ResourceNotFoundException')) break;
      throw e;
    }
    if (!nextToken) break;
  }

  for (const ev of events.slice(0, MAX_EVENTS)) {
    const line = (ev.message ?? '').trim();
    const isIn = line.includes(inboundMark);
    const isOut = !isIn && line.includes('outbound|');
    if (!isIn && !isOut) continue;
    count(isIn ? inbound : outbound, line);
    if (samples.length < MAX_SAMPLES) samples.push(line.length > SAMPLE_CHARS ? `${line.slice(0, SAMPLE_CHARS)}...` : line);
  }

  return {
    windowStart: new Date(start).toISOString(),
    windowEnd: new Date(end).toISOString(),
    logStreams,
    inbound,
    outbound,
    samples,
    trafficSeen: inbound.total + outbound.total > 0,
  };
}

export const handler = wrap('Traffic evidence', (state: WorkflowState) => trafficEvidence(state));
