/**
 * AWS SDK v3 clients, one per service, made once per process with the project's retry
 * settings. They are built on first use (not at import) so the local sandbox and the
 * emulator tests can point `AWS_ENDPOINT_URL` at moto_server before any call is made;
 * on Lambda the first use happens during the first invocation and is then reused.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EKSClient } from '@aws-sdk/client-eks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

function clientConfig() {
  return {
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // Adaptive retry absorbs short throttling bursts inside one invocation; longer ones
    // surface as AwsThrottledError and the state machine retries with backoff.
    retryMode: 'adaptive',
    maxAttempts: Number(process.env.AWS_MAX_ATTEMPTS ?? 3),
  };
}

/** One command a client is about to send: what the least-privilege test maps to IAM actions. */
export interface SentCommand {
  /** The client's key below (`ecs`, `ec2`, `iam`, ...). */
  service: string;
  /** The operation, e.g. `CreateRole` (lib-dynamodb's commands report the DynamoDB operation they send). */
  command: string;
  input: unknown;
}
export type CommandRecorder = (sent: SentCommand) => void | Promise<void>;

const recorders = new Set<CommandRecorder>();

/**
 * Registers a recorder every client calls before sending a command (awaited, so it may look
 * the resource up first); returns its removal. None are registered on Lambda: then the hook
 * costs one size check per call.
 */
export function onCommand(recorder: CommandRecorder): () => void {
  recorders.add(recorder);
  return () => {
    recorders.delete(recorder);
  };
}

type Next = (args: { input: unknown }) => Promise<unknown>;
interface RecordableStack {
  add(mw: (next: Next, context: { commandName?: string }) => Next, opts: { step: 'initialize'; name: string }): void;
}

function recorded<C extends { middlewareStack: unknown }>(service: string, client: C): C {
  (client.middlewareStack as RecordableStack).add(
    (next, context) => async (args) => {
      if (recorders.size > 0) {
        const sent = { service, command: (context.commandName ?? '').replace(/Command$/, ''), input: args.input };
        for (const r of recorders) await r(sent);
      }
      return next(args);
    },
    { step: 'initialize', name: 'meshOnboardingCommandRecorder' },
  );
  return client;
}

const cache = new Map<string, unknown>();
function lazy<T>(key: string, make: () => T): () => T {
  return () => {
    let c = cache.get(key) as T | undefined;
    if (c === undefined) {
      c = make();
      cache.set(key, c);
    }
    return c;
  };
}

export const ecs = lazy('ecs', () => recorded('ecs', new ECSClient(clientConfig())));
export const ec2 = lazy('ec2', () => recorded('ec2', new EC2Client(clientConfig())));
export const eks = lazy('eks', () => recorded('eks', new EKSClient(clientConfig())));
export const iam = lazy('iam', () => recorded('iam', new IAMClient(clientConfig())));
export const logs = lazy('logs', () => recorded('logs', new CloudWatchLogsClient(clientConfig())));
export const secrets = lazy('secrets', () => recorded('secrets', new SecretsManagerClient(clientConfig())));
export const sfn = lazy('sfn', () => recorded('sfn', new SFNClient(clientConfig())));
export const sts = lazy('sts', () => recorded('sts', new STSClient(clientConfig())));
export const cloudwatch = lazy('cloudwatch', () => recorded('cloudwatch', new CloudWatchClient(clientConfig())));
export const events = lazy('events', () => recorded('events', new EventBridgeClient(clientConfig())));
export const dynamodb = lazy('dynamodb', () => recorded('dynamodb', new DynamoDBClient(clientConfig())));
/** The registry's document client: plain JS values in and out, `undefined` fields dropped (it shares the DynamoDB client's middleware, recorder included). */
export const documents = lazy('documents', () => DynamoDBDocumentClient.from(dynamodb(), { marshallOptions: { removeUndefinedValues: true } }));

/** Forgets every client so the next use reads the environment again (tests, sandbox restarts). */
export function resetClients(): void {
  for (const c of cache.values()) (c as { destroy?: () => void }).destroy?.();
  cache.clear();
}
