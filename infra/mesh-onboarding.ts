/**
 * MeshOnboarding: everything the orchestrator needs in one AWS account and region — a Lambda
 * function per Task state of each state machine (derived from the ASL files, never listed by
 * hand), the two state machines loaded from those files, the workload registry, the
 * IAM-authenticated REST API, the hourly re-verification and its drift alarm.
 *
 * Another CDK app can use it (the handlers are bundled from this repository's functions/):
 *
 *   const stepPermissions = await loadStepPermissions(handlerFiles());
 *   new MeshOnboarding(stack, 'Mesh', { stepPermissions, eksClusterNames: ['mesh'] });
 */
import { Annotations, ArnFormat, Aws, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { REVERIFY_CONCURRENCY_ENV } from '../functions/list-workloads.ts';
import { ENDED_WITHOUT_SUCCESS, EXECUTION_STATUS_CHANGE } from '../functions/execution-ended.ts';
import { LOCK_MACHINES, REGISTRY_KEY } from '../functions/lib/registry.ts';
import { DRIFT_METRIC_NAME, ENV, METRICS_NAMESPACE } from '../functions/lib/settings.ts';
import { allStates, aslPath, loadDefinition, MACHINE_NAMES, type MachineName } from '../statemachine/definition.ts';
import { API_HANDLER_FILE, EXECUTION_ENDED_FILE, handlerFiles, machineSteps } from './handlers.ts';
import { acknowledgeWildcardResources, acknowledgeXray } from './nag.ts';
import { renderStatements, type LoadedStepPermissions, type PlaceholderValues } from './step-permissions.ts';
import { StepFunction, type PowertoolsLogLevel } from './step-function.ts';

/**
 * The steps that call the mesh's Kubernetes API. They share one IAM role, so the mesh
 * operator maps a single principal in EKS (one access entry per cluster, not one per step).
 */
export const MESH_READER_STEPS = ['preflight-mesh', 'verify-workload', 'reverify-workload'] as const;

/** The state machines' types: onboarding runs for hours (Wait loops); re-verification is a short read-only check. */
export const MACHINE_TYPES: Record<MachineName, sfn.StateMachineType> = {
  'onboard-workload': sfn.StateMachineType.STANDARD,
  // Express: billed by duration instead of per state transition, for an hourly check that caps at 5 minutes
  // (https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html).
  'reverify-workloads': sfn.StateMachineType.EXPRESS,
};

export interface MeshOnboardingProps {
  /** What each handler may call: `await loadStepPermissions(handlerFiles())`. */
  readonly stepPermissions: LoadedStepPermissions;
  /** Prefix of the functions', state machines' and schedule's names. @default 'mesh-onboarding' */
  readonly namePrefix?: string;
  /**
   * The EKS clusters (names, in this account and region) the mesh steps may describe. With
   * none, the synth warns and those permissions are left out: the mesh steps then fail
   * with AccessDenied until clusters are given. @default none
   */
  readonly eksClusterNames?: readonly string[];
  /** EventBridge Scheduler expression of the re-verification. @default 'rate(1 hour)' */
  readonly reverifySchedule?: string;
  /** How many workloads the re-verification checks at once (its Map's concurrency). @default 10 */
  readonly reverifyMaxConcurrency?: number;
  /** Retention of every log group. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** POWERTOOLS_LOG_LEVEL of every function. @default 'INFO' */
  readonly logLevel?: PowertoolsLogLevel;
  /** Where drift events go. @default the account's default event bus */
  readonly driftEventBus?: events.IEventBus;
  /** The drift alarm fires when this many drift findings are counted in one period. @default 1 */
  readonly driftAlarmThreshold?: number;
  /** The drift alarm's period. @default one hour (the default schedule's interval) */
  readonly driftAlarmPeriod?: Duration;
  /** Actions of the drift alarm (an SNS topic...). @default none: see docs/deploy.md */
  readonly driftAlarmActions?: readonly cloudwatch.IAlarmAction[];
  /** API stage throttling: steady requests per second. @default 10 */
  readonly apiThrottleRateLimit?: number;
  /** API stage throttling: burst. @default 20 */
  readonly apiThrottleBurstLimit?: number;
  /**
   * Create the account's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account, one per
   * account and region), which access and execution logging need. Turn off when the account
   * already has one. @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;
}

const DEFAULT_PREFIX = 'mesh-onboarding';

/** Step Functions' limit for an inline Map's concurrent iterations. */
export const MAX_INLINE_MAP_CONCURRENCY = 40;

export class MeshOnboarding extends Construct {
  readonly table: dynamodb.Table;
  readonly stateMachines: Record<MachineName, sfn.StateMachine>;
  /** Each handler file's function. */
  readonly functions: ReadonlyMap<string, StepFunction>;
  /** The role of the steps that read the mesh: the principal to map in EKS. */
  readonly meshReaderRole: iam.Role;
  readonly api: apigw.RestApi;
  readonly reverifySchedule: scheduler.Schedule;
  readonly driftAlarm: cloudwatch.Alarm;
  readonly driftEventBus: events.IEventBus;
  /** Sends the end of every run of a machine that takes the workload lock (failed, timed out, aborted) to functions/execution-ended.ts. */
  readonly executionEndedRule: events.Rule;

  constructor(scope: Construct, id: string, props: MeshOnboardingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const prefix = props.namePrefix ?? DEFAULT_PREFIX;
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/.test(prefix)) throw new Error(`namePrefix "${prefix}": letters, digits and '-', at most 32 characters (function names are capped at 64)`);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const logLevel = props.logLevel ?? 'INFO';
    const clusters = props.eksClusterNames ?? [];
    const maxConcurrency = props.reverifyMaxConcurrency ?? 10;
    // An inline Map runs at most 40 iterations at once (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html): more would be silently capped.
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_INLINE_MAP_CONCURRENCY) {
      throw new Error(`reverifyMaxConcurrency must be an integer from 1 to ${MAX_INLINE_MAP_CONCURRENCY} (an inline Map runs at most ${MAX_INLINE_MAP_CONCURRENCY} iterations at once), not ${maxConcurrency}`);
    }
    const scheduleExpression = props.reverifySchedule ?? 'rate(1 hour)';
    if (!/^(rate|cron|at)\(.+\)$/.test(scheduleExpression)) throw new Error(`reverifySchedule "${scheduleExpression}" is not an EventBridge Scheduler expression: rate(...), cron(...) or at(...)`);

    // Names are fixed by the prefix (not tokens), so a step's policy may name the state machines
    // that invoke it without a dependency cycle.
    const machineNames = Object.fromEntries(MACHINE_NAMES.map((m) => [m, `${prefix}-${m}`])) as Record<MachineName, string>;
    const machineArn = (m: MachineName) => stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: machineNames[m], arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    // --- Registry ---------------------------------------------------------------------------
    this.table = new dynamodb.Table(this, 'Registry', {
      partitionKey: { name: REGISTRY_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // A KMS key (aws/dynamodb) instead of the default AWS-owned one: its use shows in CloudTrail.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      deletionProtection: true,
      // The registry is the record of what was onboarded: it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.driftEventBus = props.driftEventBus ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');

    const placeholders: PlaceholderValues = {
      Partition: Aws.PARTITION,
      Region: Aws.REGION,
      Account: Aws.ACCOUNT_ID,
      EksClusterName: [...clusters],
      RegistryTableArn: this.table.tableArn,
      DriftEventBusArn: this.driftEventBus.eventBusArn,
      OnboardStateMachineArn: machineArn('onboard-workload'),
      ReverifyStateMachineArn: machineArn('reverify-workloads'),
      OnboardStateMachineName: machineNames['onboard-workload'],
      ReverifyStateMachineName: machineNames['reverify-workloads'],
    };
    // Every function knows the shared resources; what it may do with them is its permissions alone.
    const sharedEnvironment: Record<string, string> = {
      [ENV.registryTable]: this.table.tableName,
      // The ARN, not the name: PutEvents resolves a bare name in the caller's own account and region, so a bus given by ARN elsewhere would be missed.
      [ENV.driftEventBus]: this.driftEventBus.eventBusArn,
      [ENV.onboardStateMachineArn]: machineArn('onboard-workload'),
      [ENV.reverifyStateMachineArn]: machineArn('reverify-workloads'),
    };
    const stepEnvironment: Record<string, Record<string, string>> = {
      'list-workloads': { [REVERIFY_CONCURRENCY_ENV]: String(maxConcurrency) },
    };

    // --- Functions --------------------------------------------------------------------------
    const files = handlerFiles();
    for (const step of MESH_READER_STEPS) if (!files.includes(step)) throw new Error(`mesh reader step ${step} is no Task of ${MACHINE_NAMES.join(' or ')}: update MESH_READER_STEPS`);
    const permissionsOf = (file: string) => {
      const p = props.stepPermissions.byFile[file];
      if (p === undefined) throw new Error(`no permissions loaded for functions/${file}.ts: load them with loadStepPermissions(handlerFiles())`);
      return p;
    };
    if (props.stepPermissions.missing.length > 0) {
      Annotations.of(this).addWarningV2('mesh-onboarding:permissionsMissing', `These handlers export no \`permissions\` and are granted nothing beyond their logs and X-Ray: ${props.stepPermissions.missing.join(', ')}`);
    }
    const dropped: string[] = [];

    this.meshReaderRole = new iam.Role(this, 'MeshReaderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the steps that read the mesh (${MESH_READER_STEPS.join(', ')}); the principal of the EKS access entry`,
    });
    const reader = renderStatements(
      MESH_READER_STEPS.map((file) => ({ file, permissions: permissionsOf(file) })),
      placeholders,
    );
    dropped.push(...reader.dropped);
    for (const s of reader.statements) this.meshReaderRole.addToPrincipalPolicy(s);
    acknowledgeWildcardResources(this.meshReaderRole, reader.statements, 'the mesh reader steps');
    acknowledgeXray(this.meshReaderRole);

    const functions = new Map<string, StepFunction>();
    for (const file of files) {
      const shared = (MESH_READER_STEPS as readonly string[]).includes(file);
      const own = shared ? undefined : renderStatements([{ file, permissions: permissionsOf(file) }], placeholders);
      if (own) dropped.push(...own.dropped);
      const fn = new StepFunction(this, `Fn-${file.replace(/\//g, '-')}`, {
        file,
        functionName: `${prefix}-${file.replace(/\//g, '-')}`,
        description:
          file === API_HANDLER_FILE
            ? 'The onboarding API (API Gateway proxy)'
            : file === EXECUTION_ENDED_FILE
              ? 'Frees the workload lock of a run that ended failed, timed out or aborted, and records its failure (EventBridge)'
              : `Step ${file} of the mesh onboarding workflows`,
        role: shared ? this.meshReaderRole : undefined,
        statements: own?.statements ?? [],
        logLevel,
        logRetention,
        environment: { ...sharedEnvironment, ...stepEnvironment[file] },
      });
      functions.set(file, fn);
    }
    this.functions = functions;
    if (dropped.length > 0) {
      Annotations.of(this).addWarningV2(
        'mesh-onboarding:noEksClusters',
        `No eksClusterNames given: these permissions name an EKS cluster and are left out, so the mesh steps cannot reach a cluster: ${dropped.join('; ')}`,
      );
    }

    // --- State machines ---------------------------------------------------------------------
    const machines = {} as Record<MachineName, sfn.StateMachine>;
    for (const machine of MACHINE_NAMES) {
      const steps = machineSteps(machine);
      // A function must give up before its Task does, or the Task's timeout hides the function's own error.
      const taskTimeouts = new Map(allStates(loadDefinition(machine)).map(([name, st]) => [name, st.TimeoutSeconds]));
      for (const s of steps) {
        const fnTimeout = functions.get(s.file)!.timeout.toSeconds();
        const taskTimeout = taskTimeouts.get(s.state);
        if (taskTimeout !== undefined && fnTimeout > taskTimeout) throw new Error(`functions/${s.file}.ts times out after ${fnTimeout} s, after its Task "${s.state}" (${taskTimeout} s): lower it in STEP_SIZING`);
      }
      const logGroup = new logs.LogGroup(this, `${machine}-Logs`, {
        // /aws/vendedlogs/ keeps Step Functions' log delivery off the account's 5,120-character CloudWatch Logs
        // resource policy (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html); the stack id
        // suffix keeps a retained group from blocking a re-deploy.
        logGroupName: `/aws/vendedlogs/states/${machineNames[machine]}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
        retention: logRetention,
      });
      const sm = new sfn.StateMachine(this, machine, {
        stateMachineName: machineNames[machine],
        stateMachineType: MACHINE_TYPES[machine],
        definitionBody: sfn.DefinitionBody.fromFile(aslPath(machine)),
        // CloudFormation replaces exactly each `${key}` given and leaves other `${...}` text alone (the ASL's Comment
        // mentions `${...FunctionArn}`): DefinitionProcessor.transformDefinition in
        // https://github.com/aws-cloudformation/aws-cloudformation-resource-providers-stepfunctions
        definitionSubstitutions: Object.fromEntries(steps.map((s) => [s.placeholder, functions.get(s.file)!.function.functionArn])),
        tracingEnabled: true,
        // ERROR only, and never the execution data: the input carries the workload's root CA.
        logs: { destination: logGroup, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      });
      for (const s of steps) functions.get(s.file)!.function.grantInvoke(sm.role);
      Validations.of(sm).acknowledge({
        id: 'AwsSolutions-SF1',
        reason: 'Logs ERROR, not ALL: the execution input carries the root CA and ALL would record every transition; X-Ray, the onboarding execution history (Standard) and the registry records (re-verification) hold the rest.',
      });
      Validations.of(sm.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'CloudWatch Logs delivery (logs:*LogDelivery, Describe*Policies) and X-Ray (PutTraceSegments, GetSampling*) have no resource-level permissions (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy, https://docs.aws.amazon.com/step-functions/latest/dg/xray-iam.html).',
      });
      for (const s of steps) {
        Validations.of(sm.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(functions.get(s.file)!.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
          reason: `grantInvoke also covers the versions and aliases of ${s.file} (its ARN + ":*"); the machine invokes only the unqualified ARN it was given.`,
        });
      }
      machines[machine] = sm;
    }
    this.stateMachines = machines;

    // --- The end of every locking run --------------------------------------------------------
    // A run that times out, is aborted or fails outside a Catch never reaches the state that frees
    // the workload's lock. Step Functions sends every Standard execution's status changes to the
    // default bus (best effort; Express machines send none:
    // https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html); this rule takes the
    // ends other than success of this construct's machines that lock a workload.
    const lockMachines = MACHINE_NAMES.filter((m) => (LOCK_MACHINES as readonly string[]).includes(m));
    this.executionEndedRule = new events.Rule(this, 'ExecutionEnded', {
      description: `The end (${ENDED_WITHOUT_SUCCESS.join(', ')}) of a run that holds a workload lock: ${EXECUTION_ENDED_FILE} frees it and records the failure`,
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE],
        detail: { status: [...ENDED_WITHOUT_SUCCESS], stateMachineArn: lockMachines.map(machineArn) },
      },
      targets: [
        new eventTargets.LambdaFunction(functions.get(EXECUTION_ENDED_FILE)!.function, {
          // The handler is idempotent (conditional writes): retry a failed invocation for up to a day.
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // --- API --------------------------------------------------------------------------------
    const apiFunction = functions.get(API_HANDLER_FILE)!.function;
    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', { retention: logRetention });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: `${prefix}-api`,
      description: 'Onboards ECS Fargate workloads into the mesh (AWS_IAM: SigV4-signed requests only)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      cloudWatchRole: props.apiGatewayCloudWatchRole ?? true,
      // Every method: callers sign with SigV4 and need execute-api:Invoke on it.
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        throttlingRateLimit: props.apiThrottleRateLimit ?? 10,
        throttlingBurstLimit: props.apiThrottleBurstLimit ?? 20,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        // Execution logs at ERROR, never the bodies (dataTrace): a request carries the root CA.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        metricsEnabled: true,
      },
    });
    // The stack decides its outputs (ApiUrl): drop the one RestApi adds by itself.
    this.api.node.tryRemoveChild('Endpoint');
    // Proxy integration: the function answers every route (and its 400/404/405/413) from one contract, functions/lib/onboarding-api.ts.
    const integration = new apigw.LambdaIntegration(apiFunction, { proxy: true, allowTestInvoke: false });
    const onboardings = this.api.root.addResource('onboardings');
    onboardings.addMethod('POST', integration);
    onboardings.addMethod('GET', integration);
    const one = onboardings.addResource('{id}');
    one.addMethod('GET', integration);
    one.addResource('verify').addMethod('POST', integration);
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'Bodies are validated once, in the function, with the zod schema the local API uses (functions/lib/onboarding-api.ts: 400 with the problems, 413 over the execution input limit); an API Gateway model would be a second, draft-04 copy of that schema answering in another format.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: 'Every method requires SigV4 (AWS_IAM), so only principals of the account with execute-api:Invoke reach it; a WAF web ACL can be associated with the stage when the account mandates one.',
    });
    for (const m of this.api.methods) {
      Validations.of(m).acknowledge({ id: 'AwsSolutions-COG4', reason: 'AWS_IAM authorization on purpose: the callers are AWS principals (operators, pipelines), not Cognito users.' });
    }
    if (props.apiGatewayCloudWatchRole ?? true) {
      const role = this.api.node.tryFindChild('CloudWatchRole');
      if (role) {
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
          reason: "The account's API Gateway logging role: the AWS managed policy made for it (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).",
        });
      }
    }

    // --- Re-verification: the schedule and the drift alarm -----------------------------------
    this.reverifySchedule = new scheduler.Schedule(this, 'ReverifySchedule', {
      scheduleName: `${prefix}-reverify`,
      description: 'Starts the re-verification of every onboarded workload',
      schedule: scheduler.ScheduleExpression.expression(scheduleExpression),
      target: new schedulerTargets.StepFunctionsStartExecution(machines['reverify-workloads'], {
        // An empty input: List workloads then reads the whole registry.
        input: scheduler.ScheduleTargetInput.fromObject({}),
        retryAttempts: 2,
        maxEventAge: Duration.minutes(15),
      }),
    });

    // Metrics Insights over the whole namespace: counts the drift whatever dimensions the step
    // emits it with (Powertools adds `service`, the middleware may add `step`), which a plain
    // metric alarm, bound to one exact dimension set, would miss
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create_Metrics_Insights_Alarm.html).
    const period = props.driftAlarmPeriod ?? Duration.hours(1);
    const drift = new cloudwatch.MathExpression({
      expression: `SELECT SUM(${DRIFT_METRIC_NAME}) FROM ${METRICS_NAMESPACE}`,
      usingMetrics: {},
      period,
      label: 'Workloads drifted',
    });
    this.driftAlarm = drift.createAlarm(this, 'DriftAlarm', {
      alarmName: `${prefix}-workload-drift`,
      alarmDescription: `A re-verification found onboarded workloads that no longer match what was onboarded (${METRICS_NAMESPACE}/${DRIFT_METRIC_NAME}). The MeshWorkloadDrift events on the drift bus say which and why.`,
      threshold: props.driftAlarmThreshold ?? 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // No drift, no data point: the step only counts drift it finds.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.driftAlarmActions ?? []) this.driftAlarm.addAlarmAction(action);
  }
}
