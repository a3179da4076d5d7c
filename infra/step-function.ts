/**
 * The one Lambda function construct of the project: every workflow step and the API go
 * through it, so runtime, architecture, bundling, sizing, logging and tracing are decided
 * here once (STYLE.md practice 9). "Step function" means the Lambda function of one step,
 * not an AWS Step Functions state machine.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, TOOL_NAME } from '../functions/lib/settings.ts';
import { handlerBundles } from './bundle.ts';
import { handlerFiles } from './handlers.ts';
import { acknowledgeWildcardResources, acknowledgeXray } from './nag.ts';

/** Powertools log levels (POWERTOOLS_LOG_LEVEL). */
export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';

export interface StepSizing {
  /** Lambda timeout; at most the Task's TimeoutSeconds (checked by MeshOnboarding against the ASL). */
  readonly timeout: Duration;
  readonly memorySize: number;
}

/**
 * Sizing by handler file. Lambda gives CPU in proportion to memory, so the steps that load
 * the Kubernetes client and open TLS connections to the cluster (the heaviest bundles and
 * the slowest cold starts) get more. Every Task in the ASL times out at 60 s and a step never
 * waits inside Lambda (waits are Wait states): 30 s leaves room for the SDK's own retries.
 */
export const STEP_SIZING: Readonly<Record<string, StepSizing>> = {
  'validate-request': { timeout: Duration.seconds(10), memorySize: 256 },
  'preflight-mesh': { timeout: Duration.seconds(45), memorySize: 512 },
  'verify-workload': { timeout: Duration.seconds(45), memorySize: 512 },
  'reverify-workload': { timeout: Duration.seconds(45), memorySize: 512 },
  'traffic-evidence': { timeout: Duration.seconds(45), memorySize: 256 },
  // API Gateway gives up on an integration after 29 s; the function stops a little before.
  'api/onboardings': { timeout: Duration.seconds(25), memorySize: 512 },
};
export const DEFAULT_STEP_SIZING: StepSizing = { timeout: Duration.seconds(30), memorySize: 256 };

export interface StepFunctionProps {
  /** The handler file under `functions/`, without `.ts`: `preflight-mesh`, `api/onboardings`. */
  readonly file: string;
  readonly functionName: string;
  readonly description: string;
  /** The execution role; default: a role of its own. Several functions may share one (the mesh reader). */
  readonly role?: iam.IRole;
  /** The step's rendered permissions, added to the role (its only grants besides logs and X-Ray). Empty for a shared role: its owner grants the union. */
  readonly statements: readonly iam.PolicyStatement[];
  readonly logLevel: PowertoolsLogLevel;
  readonly logRetention: logs.RetentionDays;
  readonly environment?: Readonly<Record<string, string>>;
  /** Default: STEP_SIZING[file] ?? DEFAULT_STEP_SIZING. */
  readonly sizing?: StepSizing;
}

/** The Lambda function of one workflow step (or the API), bundled from `functions/<file>.ts`. */
export class StepFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.IRole;
  readonly logGroup: logs.LogGroup;
  readonly timeout: Duration;

  constructor(scope: Construct, id: string, props: StepFunctionProps) {
    super(scope, id);
    const sizing = props.sizing ?? STEP_SIZING[props.file] ?? DEFAULT_STEP_SIZING;
    this.timeout = sizing.timeout;

    // No AWSLambdaBasicExecutionRole: the function writes only to its own log group (granted below).
    this.role = props.role ?? new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: `Runs ${props.functionName}` });
    for (const s of props.statements) this.role.addToPrincipalPolicy(s);
    if (!props.role) {
      // A shared role's owner acknowledges its findings (MeshOnboarding for the mesh reader).
      acknowledgeWildcardResources(this.role, props.statements, `functions/${props.file}.ts`);
      acknowledgeXray(this.role);
    }

    // One log group per function, with retention (the implicit /aws/lambda/<name> group keeps logs forever).
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });

    // Bundled with every other handler in one esbuild run (infra/bundle.ts); the asset is the bundle directory.
    const bundle = handlerBundles([...handlerFiles(), props.file]).get(props.file)!;
    this.function = new lambda.Function(this, 'Function', {
      code: lambda.Code.fromAsset(bundle.dir),
      handler: 'index.handler',
      functionName: props.functionName,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: sizing.timeout,
      memorySize: sizing.memorySize,
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        // Stack traces through the minified bundle point at the TypeScript sources.
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: TOOL_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        POWERTOOLS_TRACE_ENABLED: 'true',
        ...props.environment,
      },
    });

    // The explicit log group: the function's own grant (no logs:CreateLogGroup, no account-wide logs).
    this.logGroup.grantWrite(this.role);

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x on purpose: the project, its tests and the local engine run Node 22 (package.json engines); moving to a newer runtime is a project-wide change.',
    });
  }
}
