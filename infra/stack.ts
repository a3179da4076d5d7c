/**
 * The deployable stack: MeshOnboarding with its props from CDK context (cdk.json, or
 * `npx cdk deploy -c eksClusterNames=mesh-a,mesh-b ...`), and the outputs an operator needs.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, Node } from 'constructs';
import { MeshOnboarding, type MeshOnboardingProps } from './mesh-onboarding.ts';
import type { LoadedStepPermissions } from './step-permissions.ts';
import type { PowertoolsLogLevel } from './step-function.ts';

/** The context keys the stack reads (all optional). */
export interface MeshOnboardingContext {
  namePrefix?: string;
  /** Comma-separated, or a JSON list in cdk.json. */
  eksClusterNames?: string | string[];
  reverifySchedule?: string;
  reverifyMaxConcurrency?: string | number;
  logRetentionDays?: string | number;
  logLevel?: string;
  /** Name or ARN of the bus drift events go to; default: the account's default bus. */
  driftEventBus?: string;
  driftAlarmThreshold?: string | number;
  apiThrottleRateLimit?: string | number;
  apiThrottleBurstLimit?: string | number;
  apiGatewayCloudWatchRole?: string | boolean;
}
export const CONTEXT_KEYS = [
  'namePrefix',
  'eksClusterNames',
  'reverifySchedule',
  'reverifyMaxConcurrency',
  'logRetentionDays',
  'logLevel',
  'driftEventBus',
  'driftAlarmThreshold',
  'apiThrottleRateLimit',
  'apiThrottleBurstLimit',
  'apiGatewayCloudWatchRole',
] as const satisfies readonly (keyof MeshOnboardingContext)[];

const LOG_LEVELS: readonly PowertoolsLogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'];

function num(key: string, v: string | number | undefined, min: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`context ${key}=${v}: a number ≥ ${min} is expected`);
  return n;
}

/** Reads and checks the context (values from `-c` are strings; cdk.json may hold typed ones). */
export function contextProps(node: Node): Omit<MeshOnboardingProps, 'stepPermissions' | 'driftEventBus'> & { driftEventBus?: string } {
  const c = Object.fromEntries(CONTEXT_KEYS.map((k) => [k, node.tryGetContext(k) as unknown])) as MeshOnboardingContext;
  const clusters = typeof c.eksClusterNames === 'string' ? c.eksClusterNames.split(',') : (c.eksClusterNames ?? []);
  const retentionDays = num('logRetentionDays', c.logRetentionDays, 1);
  if (retentionDays !== undefined && !Object.values(logs.RetentionDays).includes(retentionDays)) {
    throw new Error(`context logRetentionDays=${retentionDays}: one of CloudWatch Logs' retention values is expected (1, 3, 5, 7, 14, 30, 60, 90, ...)`);
  }
  const logLevel = c.logLevel?.toUpperCase();
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel as PowertoolsLogLevel)) throw new Error(`context logLevel=${c.logLevel}: one of ${LOG_LEVELS.join(', ')}`);
  const cwRole = c.apiGatewayCloudWatchRole;
  return {
    namePrefix: c.namePrefix || undefined,
    eksClusterNames: clusters.map((s) => s.trim()).filter(Boolean),
    reverifySchedule: c.reverifySchedule || undefined,
    reverifyMaxConcurrency: num('reverifyMaxConcurrency', c.reverifyMaxConcurrency, 1),
    logRetention: retentionDays as logs.RetentionDays | undefined,
    logLevel: logLevel as PowertoolsLogLevel | undefined,
    driftEventBus: c.driftEventBus || undefined,
    driftAlarmThreshold: num('driftAlarmThreshold', c.driftAlarmThreshold, 1),
    apiThrottleRateLimit: num('apiThrottleRateLimit', c.apiThrottleRateLimit, 1),
    apiThrottleBurstLimit: num('apiThrottleBurstLimit', c.apiThrottleBurstLimit, 1),
    apiGatewayCloudWatchRole: cwRole === undefined ? undefined : cwRole === true || cwRole === 'true',
  };
}

export interface MeshOnboardingStackProps extends StackProps {
  readonly stepPermissions: LoadedStepPermissions;
}

export class MeshOnboardingStack extends Stack {
  readonly meshOnboarding: MeshOnboarding;

  constructor(scope: Construct, id: string, props: MeshOnboardingStackProps) {
    super(scope, id, props);
    const { driftEventBus, ...rest } = contextProps(this.node);
    const bus = driftEventBus
      ? driftEventBus.startsWith('arn:')
        ? events.EventBus.fromEventBusArn(this, 'DriftBus', driftEventBus)
        : events.EventBus.fromEventBusName(this, 'DriftBus', driftEventBus)
      : undefined;
    this.meshOnboarding = new MeshOnboarding(this, 'MeshOnboarding', { ...rest, driftEventBus: bus, stepPermissions: props.stepPermissions });
    const m = this.meshOnboarding;

    new CfnOutput(this, 'ApiUrl', { description: 'Base URL of the onboarding API (SigV4, service execute-api)', value: m.api.url });
    new CfnOutput(this, 'OnboardStateMachineArn', { value: m.stateMachines['onboard-workload'].stateMachineArn });
    new CfnOutput(this, 'ReverifyStateMachineArn', { value: m.stateMachines['reverify-workloads'].stateMachineArn });
    new CfnOutput(this, 'OffboardStateMachineArn', { value: m.stateMachines['offboard-workload'].stateMachineArn });
    new CfnOutput(this, 'RegistryTableName', { value: m.table.tableName });
    new CfnOutput(this, 'MeshReaderRoleArn', { description: 'Map this role in each EKS cluster (access entry + RBAC, docs/deploy.md)', value: m.meshReaderRole.roleArn });
  }
}
