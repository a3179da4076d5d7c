/**
 * Where the sandbox's drift events can be seen: an EventBridge bus (the one the
 * re-verification publishes to, through ENV.driftEventBus), a rule matching MeshWorkloadDrift
 * events, and an SQS queue as its target; moto delivers rule matches to SQS, so a drift event
 * arrives on the queue as it would on AWS. Idempotent.
 */
import { CreateEventBusCommand, PutRuleCommand, PutTargetsCommand, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { events } from '../functions/lib/clients.ts';
import { DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE } from '../functions/lib/settings.ts';

export const LOCAL_DRIFT_BUS = 'mesh-onboarding-drift';
export const LOCAL_DRIFT_RULE = 'mesh-workload-drift-to-queue';
export const LOCAL_DRIFT_QUEUE = 'mesh-workload-drift-events';

/** The EventBridge pattern of a drift event (the CDK construct's rule matches the same). */
export const DRIFT_EVENT_PATTERN = { source: [DRIFT_EVENT_SOURCE], 'detail-type': [DRIFT_EVENT_DETAIL_TYPE] };

export interface DriftEventSink {
  busName: string;
  ruleArn: string;
  queueUrl: string;
  queueArn: string;
}

/** An SQS client for the emulator (AWS_ENDPOINT_URL, as the sandbox sets it). */
export function sandboxSqs(): SQSClient {
  return new SQSClient({ region: process.env.AWS_REGION ?? 'us-east-1', maxAttempts: 1 });
}

export async function createDriftEventSink(sqs: SQSClient): Promise<DriftEventSink> {
  try {
    await events().send(new CreateEventBusCommand({ Name: LOCAL_DRIFT_BUS }));
  } catch (e) {
    if (!(e instanceof ResourceAlreadyExistsException)) throw e;
  }
  const { RuleArn: ruleArn } = await events().send(
    new PutRuleCommand({ Name: LOCAL_DRIFT_RULE, EventBusName: LOCAL_DRIFT_BUS, EventPattern: JSON.stringify(DRIFT_EVENT_PATTERN), State: 'ENABLED' }),
  );
  if (!ruleArn) throw new Error('PutRule returned no rule ARN');
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: LOCAL_DRIFT_QUEUE }));
  if (!queueUrl) throw new Error('CreateQueue returned no queue URL');
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const queueArn = attrs.Attributes?.QueueArn;
  if (!queueArn) throw new Error('GetQueueAttributes returned no QueueArn');
  // On AWS the queue's policy must also let events.amazonaws.com SendMessage for this rule
  // (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions); moto does not check it.
  const { FailedEntryCount } = await events().send(new PutTargetsCommand({ Rule: LOCAL_DRIFT_RULE, EventBusName: LOCAL_DRIFT_BUS, Targets: [{ Id: 'drift-queue', Arn: queueArn }] }));
  if (FailedEntryCount) throw new Error(`PutTargets failed for ${FailedEntryCount} target(s)`);
  return { busName: LOCAL_DRIFT_BUS, ruleArn, queueUrl, queueArn };
}
