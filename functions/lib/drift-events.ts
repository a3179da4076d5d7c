/**
 * How a drifted workload is announced: one EventBridge event (MeshWorkloadDrift, for people
 * and automation to route) and one CloudWatch data point (WorkloadDrift, for the alarm).
 *
 * The metric goes through PutMetricData, not Powertools' EMF log line: EMF becomes a metric
 * only when CloudWatch Logs ingests a Lambda's log, so the local sandbox and the emulator
 * tests could never see it, and the middleware's EMF metrics carry the `service` and `step`
 * dimensions the alarm would have to repeat. PutMetricData is observable against moto, takes
 * exactly the dimensions we give (none: one custom metric, whatever the number of workloads),
 * and costs one request per drifted workload only ($0.01 per 1,000 requests,
 * https://aws.amazon.com/cloudwatch/pricing/); the alarm treats missing data as not breaching.
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutEventsCommand, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { cloudwatch, events } from './clients.ts';
import type { DriftFinding } from './registry.ts';
import { AwsAccessDeniedError, AwsThrottledError, AwsTransientError, UnexpectedError } from './errors.ts';
import type { StepPermissions } from './permissions.ts';
import { DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE, DRIFT_METRIC_NAME, ENV, METRICS_NAMESPACE } from './settings.ts';

/** The `detail` of a MeshWorkloadDrift event: what drifted, where, when, and which run saw it. */
export interface DriftEventDetail {
  workload: string;
  cluster: string;
  service: string;
  serviceArn?: string;
  namespace: string;
  eksClusterName?: string;
  findings: DriftFinding[];
  checkedAt: string;
  /** The re-verification execution that saw the drift (with `workload`, what a consumer dedupes on: delivery is at least once). */
  executionId?: string;
  /** The onboarding execution the registry last recorded for the workload. */
  onboardingExecutionId: string;
}

/** Findings carried in one event: a PutEvents entry is at most 256 KB, and a list this long already says enough. */
export const MAX_EVENT_FINDINGS = 50;

/** The drift event bus: ENV.driftEventBus, or the account's default bus when unset. */
export function driftEventBus(): string | undefined {
  return process.env[ENV.driftEventBus] || undefined;
}

/**
 * PutEvents answers HTTP 200 even when an entry failed: `FailedEntryCount` and the entry's
 * `ErrorCode` say so (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html,
 * "Handling failures with PutEvents"). ThrottlingException and InternalFailure are the
 * retryable codes (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html);
 * the others recur until someone fixes a grant or the event.
 */
export function putEventsEntryError(entry: PutEventsResultEntry | undefined): Error {
  const code = entry?.ErrorCode ?? 'Unknown';
  const text = `EventBridge PutEvents did not accept the drift event: ${code}${entry?.ErrorMessage ? `: ${entry.ErrorMessage}` : ''}`;
  if (code === 'ThrottlingException') return new AwsThrottledError(text);
  if (code === 'InternalFailure') return new AwsTransientError(text);
  if (code === 'AccessDeniedException' || code.startsWith('NotAuthorizedFor')) return new AwsAccessDeniedError(`${text}. Grant events:PutEvents on the drift event bus`);
  return new UnexpectedError(text);
}

/** Publishes one MeshWorkloadDrift event; throws a typed error when EventBridge did not take it. Returns the event id. */
export async function publishDriftEvent(detail: DriftEventDetail): Promise<string> {
  const bus = driftEventBus();
  const out = await events().send(
    new PutEventsCommand({
      Entries: [
        {
          Source: DRIFT_EVENT_SOURCE,
          DetailType: DRIFT_EVENT_DETAIL_TYPE,
          Detail: JSON.stringify({ ...detail, findings: detail.findings.slice(0, MAX_EVENT_FINDINGS) }),
          ...(detail.serviceArn ? { Resources: [detail.serviceArn] } : {}),
          ...(bus ? { EventBusName: bus } : {}),
          Time: new Date(detail.checkedAt),
        },
      ],
    }),
  );
  const entry = out.Entries?.[0];
  if ((out.FailedEntryCount ?? 0) > 0 || !entry?.EventId) throw putEventsEntryError(entry);
  return entry.EventId;
}

/** Adds one to the drift metric (no dimensions: one metric for the alarm, whatever the number of workloads). */
export async function putDriftMetric(at: Date): Promise<void> {
  await cloudwatch().send(new PutMetricDataCommand({ Namespace: METRICS_NAMESPACE, MetricData: [{ MetricName: DRIFT_METRIC_NAME, Value: 1, Unit: 'Count', Timestamp: at }] }));
}

/** What publishing drift needs. */
export const DRIFT_PUBLISH_PERMISSIONS: StepPermissions = [
  { sid: 'PublishDriftEvent', actions: ['events:PutEvents'], resources: ['${DriftEventBusArn}'] },
  // PutMetricData has no resource type (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html): narrowed to our namespace.
  { sid: 'PutDriftMetric', actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } } },
];
