/**
 * The deployable stack as `npx cdk synth` makes it (default context): one synthesis in
 * beforeAll, then assertions on specific properties, cdk-nag (inside the synthesis) and
 * cfn-lint on the written template.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../functions/lib/settings.ts';
import { API_HANDLER_FILE, EXECUTION_ENDED_FILE, handlerFiles, machineSteps } from '../../infra/handlers.ts';
import { MESH_READER_STEPS } from '../../infra/mesh-onboarding.ts';
import { allStates, aslPath, loadDefinition, MACHINE_NAMES, substitute } from '../../statemachine/definition.ts';
import { actionsOf, allStatements, resourcesOf, synthApp, type Synthesised } from '../support/infra.ts';

let s: Synthesised;
const PREFIX = 'mesh-onboarding';
const fnName = (file: string) => `${PREFIX}-${file.replace(/\//g, '-')}`;

beforeAll(async () => {
  s = await synthApp();
  // Measured, not asserted: shows in the test output when the infra tests get slow.
  console.info(`infra synth: build ${(s.timings.build / 1000).toFixed(1)} s (bundling included), synth ${(s.timings.synth / 1000).toFixed(1)} s (cdk-nag included)`);
}, 300_000);
afterAll(() => s?.cleanup());

/** Logical id of the Lambda function deployed as `functions/<file>.ts`. */
function functionId(file: string): string {
  const hit = resourcesOf(s, 'AWS::Lambda::Function').find(([, p]) => p.FunctionName === fnName(file));
  if (!hit) throw new Error(`no function for ${file}`);
  return hit[0];
}
const props = (id: string) => s.templateJson.Resources[id]!.Properties as Record<string, unknown>;
/** The staged code directory of a function (its S3 key is the asset hash). */
const codeDir = (file: string) => join(s.outdir, `asset.${(props(functionId(file)).Code as { S3Key: string }).S3Key.replace(/\.zip$/, '')}`);

describe('functions', () => {
  it('one per Task state of each state machine, plus the API and the end-of-execution handler: the ASL files decide, not a list', () => {
    const expected = [...new Set([...MACHINE_NAMES.flatMap((m) => machineSteps(m).map((t) => fnName(t.file))), fnName(API_HANDLER_FILE), fnName(EXECUTION_ENDED_FILE)])];
    const names = resourcesOf(s, 'AWS::Lambda::Function').map(([, p]) => p.FunctionName);
    expect(names.sort()).toEqual(expected.sort());
    expect(names).toHaveLength(handlerFiles().length);
  });

  it('every function: nodejs22.x on arm64, an ESM bundle, X-Ray active, source maps on, Powertools set, its own log group with retention', () => {
    for (const [id, p] of resourcesOf(s, 'AWS::Lambda::Function')) {
      expect(p, id).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
      const env = (p.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env, id).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_SERVICE_NAME: 'ecs-mesh-onboarding', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_TRACE_ENABLED: 'true', POWERTOOLS_METRICS_NAMESPACE: 'EcsMeshOnboarding' });
      const logGroup = (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(s.templateJson.Resources[logGroup]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });
    }
    const groups = resourcesOf(s, 'AWS::Lambda::Function').map(([, p]) => (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref);
    expect(new Set(groups).size).toBe(groups.length);
  });

  it.each(MACHINE_NAMES)('%s: each step function gives up before its Task does', (m) => {
    const states = new Map(allStates(loadDefinition(m)));
    for (const t of machineSteps(m)) expect(props(functionId(t.file)).Timeout as number, t.file).toBeLessThanOrEqual(states.get(t.state)!.TimeoutSeconds!);
  });

  it('sizes steps from the table: the Kubernetes steps get more memory, the API stops before API Gateway (29 s)', () => {
    expect(props(functionId('preflight-mesh'))).toMatchObject({ MemorySize: 512, Timeout: 45 });
    expect(props(functionId('validate-request'))).toMatchObject({ MemorySize: 256, Timeout: 10 });
    expect(props(functionId('ensure-service'))).toMatchObject({ MemorySize: 256, Timeout: 30 });
    expect(props(functionId(API_HANDLER_FILE)).Timeout as number).toBeLessThan(29);
  });

  it('the code assets are the real bundles: a minified ESM file with its source map, which runs', async () => {
    const assetDir = codeDir('validate-request');
    const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    expect(code).toMatch(/^import\{createRequire as __cr\}from'module';const require=__cr\(import\.meta\.url\);/);
    expect(code).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
    // The map names sources from the project root, so stack traces and asset hashes do not depend on the checkout's path.
    const { sources } = JSON.parse(readFileSync(join(assetDir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    expect(sources).toContain('functions/validate-request.ts');
    expect(sources.filter((p) => p.startsWith('/') || p.startsWith('..'))).toEqual([]);
    // Minified: a few very long lines (the source would be thousands of short ones).
    expect(code.length / code.split('\n').length).toBeGreaterThan(2000);
    // The SDK is bundled (infra/bundle.ts BUNDLE_AWS_SDK): no import of @aws-sdk/* is left for the runtime to resolve.
    const listWorkloads = readFileSync(join(codeDir('list-workloads'), 'index.mjs'), 'utf8');
    expect(listWorkloads).toContain('DynamoDBClient');
    expect(listWorkloads).not.toMatch(/from\s*["']@aws-sdk\//);
    const { handler } = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as { handler: (e: unknown, c: unknown) => Promise<unknown> };
    const err = await handler({ workloadGroup: { namespace: 'Not A Label' } }, { functionName: 'validate-request', awsRequestId: 't', getRemainingTimeInMillis: () => 10_000 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe('InvalidRequestError');
  });

  it('environment: every function knows the shared resources; the list step its Map concurrency', () => {
    for (const [id, p] of resourcesOf(s, 'AWS::Lambda::Function')) {
      const env = (p.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(Object.keys(env), id).toEqual(expect.arrayContaining([ENV.registryTable, ENV.driftEventBus, ENV.onboardStateMachineArn, ENV.reverifyStateMachineArn]));
      // The bus's ARN: PutEvents resolves a bare name in the caller's own account and region.
      expect(JSON.stringify(env[ENV.driftEventBus])).toContain(':event-bus/default');
    }
    expect(props(functionId('list-workloads'))).toMatchObject({ Environment: { Variables: { REVERIFY_MAX_CONCURRENCY: '10' } } });
    const apiEnv = (props(functionId(API_HANDLER_FILE)).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(apiEnv[ENV.onboardStateMachineArn])).toContain(':stateMachine:mesh-onboarding-onboard-workload');
    expect(JSON.stringify(apiEnv[ENV.reverifyStateMachineArn])).toContain(':stateMachine:mesh-onboarding-reverify-workloads');
    expect(apiEnv[ENV.registryTable]).toEqual({ Ref: resourcesOf(s, 'AWS::DynamoDB::Table')[0]![0] });
  });
});

describe('roles', () => {
  const roleOf = (file: string) => (props(functionId(file)).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

  it('the three mesh-reading steps share one role, the one output as MeshReaderRoleArn; every other function has its own', () => {
    const reader = new Set(MESH_READER_STEPS.map(roleOf));
    expect(reader.size).toBe(1);
    const readerRole = [...reader][0]!;
    expect(s.templateJson.Outputs?.MeshReaderRoleArn).toEqual({ Value: { 'Fn::GetAtt': [readerRole, 'Arn'] }, Description: expect.any(String) });
    const others = handlerFiles().filter((f) => !(MESH_READER_STEPS as readonly string[]).includes(f)).map(roleOf);
    expect(new Set(others).size).toBe(others.length);
    expect(others).not.toContain(readerRole);
  });

  it('a function role holds its step permissions, its own log group and X-Ray, nothing else (no managed policies)', () => {
    for (const [id, p] of resourcesOf(s, 'AWS::IAM::Role')) {
      const principal = JSON.stringify((p.AssumeRolePolicyDocument as { Statement: unknown[] }).Statement);
      if (!principal.includes('lambda.amazonaws.com')) continue;
      expect(p.ManagedPolicyArns, id).toBeUndefined();
    }
    const listRole = roleOf('list-workloads');
    const statements = allStatements(s).filter((x) => JSON.stringify(s.templateJson.Resources[x.where]!.Properties!.Roles).includes(listRole));
    expect(statements.map((x) => x.statement)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Sid: 'ListWorkloadRegistry', Action: 'dynamodb:Scan' }),
        expect.objectContaining({ Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' }),
        expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] }),
      ]),
    );
    expect(statements).toHaveLength(3);
  });

  it('no IAM policy holds an unfilled placeholder, in resources or condition values (IAM would read it as a policy variable that never resolves)', () => {
    const left = allStatements(s).filter(({ statement }) => JSON.stringify(statement).includes('${'));
    expect(left.map(({ where, statement }) => `${where}: ${JSON.stringify(statement)}`)).toEqual([]);
  });

  it('no IAM statement grants a wildcard action', () => {
    const wild = allStatements(s).filter(({ statement }) => actionsOf(statement).some((a) => a.includes('*')));
    expect(wild).toEqual([]);
  });

  it('iam:PassRole, where granted, names the service it may be passed to', () => {
    for (const { where, statement } of allStatements(s).filter((x) => actionsOf(x.statement).includes('iam:PassRole'))) {
      expect(JSON.stringify(statement.Condition ?? {}), where).toContain('iam:PassedToService');
    }
  });
});

describe('state machines', () => {
  const machineId = (m: string) => resourcesOf(s, 'AWS::StepFunctions::StateMachine').find(([, p]) => p.StateMachineName === `${PREFIX}-${m}`)![0];

  it.each(MACHINE_NAMES)('%s: every ASL placeholder is substituted with its step function ARN, and none is left', (m) => {
    const p = props(machineId(m));
    const subs = p.DefinitionSubstitutions as Record<string, { 'Fn::GetAtt': [string, string] }>;
    const placeholders = [...readFileSync(aslPath(m), 'utf8').matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((x) => x[1]!);
    expect(Object.keys(subs).sort()).toEqual([...new Set(placeholders)].sort());
    for (const t of machineSteps(m)) expect(subs[t.placeholder]).toEqual({ 'Fn::GetAtt': [functionId(t.file), 'Arn'] });
    // The definition deployed is the committed ASL file (an S3 asset): filled as CloudFormation fills it, no Task placeholder remains.
    const key = (p.DefinitionS3Location as { Key: string }).Key;
    const staged = readFileSync(join(s.outdir, `asset.${key}`), 'utf8');
    expect(staged).toBe(readFileSync(aslPath(m), 'utf8'));
    const filled = substitute(staged, Object.fromEntries(Object.keys(subs).map((k) => [k, `arn:aws:lambda:eu-west-1:123456789012:function:${k}`])));
    expect(filled).not.toMatch(/\$\{[A-Za-z0-9]+FunctionArn\}/);
  });

  it('onboarding and teardown are STANDARD, re-verification EXPRESS; all traced, logging ERROR without execution data', () => {
    expect(props(machineId('onboard-workload')).StateMachineType).toBe('STANDARD');
    expect(props(machineId('offboard-workload')).StateMachineType).toBe('STANDARD');
    expect(props(machineId('reverify-workloads')).StateMachineType).toBe('EXPRESS');
    for (const m of MACHINE_NAMES) {
      expect(props(machineId(m))).toMatchObject({ TracingConfiguration: { Enabled: true }, LoggingConfiguration: { Level: 'ERROR', IncludeExecutionData: false } });
    }
  });

  it.each(MACHINE_NAMES)('%s: its role may invoke exactly its own steps', (m) => {
    const role = (props(machineId(m)).RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const invoked = allStatements(s)
      .filter((x) => JSON.stringify(s.templateJson.Resources[x.where]!.Properties!.Roles).includes(role) && actionsOf(x.statement).includes('lambda:InvokeFunction'))
      .flatMap((x) => [x.statement.Resource].flat())
      .map((r) => JSON.stringify(r).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)![1]);
    expect([...new Set(invoked)].sort()).toEqual([...new Set(machineSteps(m).map((t) => functionId(t.file)))].sort());
  });
});

describe('the end of a locking run', () => {
  it('an EventBridge rule sends the onboarding and teardown machines\' FAILED, TIMED_OUT and ABORTED executions (nothing else) to execution-ended', () => {
    const rules = resourcesOf(s, 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.EventBusName).toBeUndefined();
    expect(rule.State).toBe('ENABLED');
    const pattern = rule.EventPattern as { source: string[]; 'detail-type': string[]; detail: { status: string[]; stateMachineArn: unknown[] } };
    expect(pattern.source).toEqual(['aws.states']);
    expect(pattern['detail-type']).toEqual(['Step Functions Execution Status Change']);
    expect(pattern.detail.status).toEqual(['FAILED', 'TIMED_OUT', 'ABORTED']);
    // Only the machines that take the workload lock (the Express re-verification sends no events and takes none).
    expect(pattern.detail.stateMachineArn).toHaveLength(2);
    expect(JSON.stringify(pattern.detail.stateMachineArn)).toContain(':stateMachine:mesh-onboarding-onboard-workload');
    expect(JSON.stringify(pattern.detail.stateMachineArn)).toContain(':stateMachine:mesh-onboarding-offboard-workload');
    expect(rule.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': [functionId(EXECUTION_ENDED_FILE), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86400 } })]);
    s.template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [functionId(EXECUTION_ENDED_FILE), 'Arn'] } });
  });

  it('execution-ended may write the registry, free a network lease, read the EKS cluster and describe onboarding executions, nothing more', () => {
    const role = (props(functionId(EXECUTION_ENDED_FILE)).Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = allStatements(s)
      .filter((x) => JSON.stringify(s.templateJson.Resources[x.where]!.Properties!.Roles).includes(role))
      .map((x) => x.statement)
      .filter((st) => !actionsOf(st).some((a) => a.startsWith('xray:') || a.startsWith('logs:')));
    expect(statements).toEqual([
      expect.objectContaining({ Sid: 'WriteWorkloadRegistry', Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [resourcesOf(s, 'AWS::DynamoDB::Table')[0]![0], 'Arn'] } }),
      expect.objectContaining({ Sid: 'ReleaseNetworkLease', Action: 'dynamodb:DeleteItem', Resource: { 'Fn::GetAtt': [resourcesOf(s, 'AWS::DynamoDB::Table')[0]![0], 'Arn'] } }),
      // eks:DescribeCluster (the VPC of a request that names only its EKS cluster) is granted per named cluster: this stack names none.
      expect.objectContaining({ Sid: 'ReadEndedExecutionInput', Action: 'states:DescribeExecution' }),
    ]);
    expect(JSON.stringify(statements[2]!.Resource)).toContain(':execution:mesh-onboarding-onboard-workload:*');
  });
});

describe('registry', () => {
  it('keyed by workload (string), on demand, point-in-time recovery, KMS encryption, deletion protection, retained', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'workload', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'workload', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });
});

describe('API', () => {
  it('exactly the five routes, every one AWS_IAM, proxied to the API function', () => {
    const paths = new Map(resourcesOf(s, 'AWS::ApiGateway::Resource').map(([id, p]) => [id, p]));
    const pathOf = (ref: unknown): string => {
      const id = (ref as { Ref?: string }).Ref;
      const p = id ? paths.get(id) : undefined;
      return p ? `${pathOf(p.ParentId)}/${p.PathPart as string}` : '';
    };
    const methods = resourcesOf(s, 'AWS::ApiGateway::Method');
    expect(methods.map(([, p]) => `${p.HttpMethod as string} ${pathOf(p.ResourceId)}`).sort()).toEqual(['DELETE /onboardings/{id}', 'GET /onboardings', 'GET /onboardings/{id}', 'POST /onboardings', 'POST /onboardings/{id}/verify']);
    for (const [id, p] of methods) {
      expect(p.AuthorizationType, id).toBe('AWS_IAM');
      expect(p.Integration, id).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      expect(JSON.stringify(p.Integration)).toContain(functionId(API_HANDLER_FILE));
    }
  });

  it('stage: throttled, traced, access-logged, execution logs without bodies', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] }, Format: Match.stringLikeRegexp('caller') },
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20, LoggingLevel: 'ERROR', DataTraceEnabled: false })],
    });
  });
});

describe('re-verification', () => {
  it('an EventBridge Scheduler schedule starts the re-verification machine every hour with an empty input', () => {
    const reverify = resourcesOf(s, 'AWS::StepFunctions::StateMachine').find(([, p]) => p.StateMachineType === 'EXPRESS')![0];
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: { Arn: { Ref: reverify }, Input: '{}', RoleArn: Match.anyValue() },
    });
    const schedulerRole = (resourcesOf(s, 'AWS::Scheduler::Schedule')[0]![1].Target as { RoleArn: { 'Fn::GetAtt': [string, string] } }).RoleArn['Fn::GetAtt'][0];
    const grants = allStatements(s).filter((x) => JSON.stringify(s.templateJson.Resources[x.where]!.Properties!.Roles).includes(schedulerRole));
    expect(grants.map((x) => x.statement)).toEqual([expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: reverify } })]);
  });

  it('alarms when the drift count (EcsMeshOnboarding/WorkloadDrift, any dimensions) reaches the threshold in the period', () => {
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: [{ Id: Match.anyValue(), Expression: 'SELECT SUM(WorkloadDrift) FROM EcsMeshOnboarding', Period: 3600, ReturnData: true, Label: Match.anyValue() }],
    });
  });
});

describe('outputs', () => {
  it('API URL, the three state machine ARNs, the table name, the mesh reader role ARN', () => {
    expect(Object.keys(s.templateJson.Outputs ?? {}).sort()).toEqual(['ApiUrl', 'MeshReaderRoleArn', 'OffboardStateMachineArn', 'OnboardStateMachineArn', 'RegistryTableName', 'ReverifyStateMachineArn']);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  it('no unacknowledged finding: the synthesis (which runs the checks) passed and reported no violation', () => {
    const report = JSON.parse(readFileSync(join(s.outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations?: unknown[] }[] };
    expect(report.pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });

  it('every acknowledgement names one finding (no blanket rule) and says why', () => {
    const acks = s.app.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => [c.node.path, m.data as Record<string, string>] as const))
      .flatMap(([path, data]) => Object.entries(data).map(([id, reason]) => ({ path, id, reason })));
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) {
      expect(a.id, a.path).toMatch(/AwsSolutions-(IAM5\[Resource::.+\]|IAM4\[Policy::.+\]|L1|SF1|APIG2|APIG3|COG4)$/);
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(40);
    }
  });
});

describe('cfn-lint', () => {
  it('finds no error in the synthesised template (warnings allowed: W3005, the DependsOn CDK adds next to a GetAtt)', () => {
    // cfn-lint is Python: `pip install cfn-lint` (https://github.com/aws-cloudformation/cfn-lint). Required, not skipped.
    const r = spawnSync('cfn-lint', ['--format', 'json', '--', s.templatePath], { encoding: 'utf8' });
    if (r.error) throw new Error(`cfn-lint is not installed (pip install cfn-lint): ${r.error.message}`);
    // Exit status is a bit mask: 2 errors, 4 warnings, 8 informational.
    const findings = JSON.parse(r.stdout || '[]') as { Rule: { Id: string }; Level: string; Message: string }[];
    expect(findings.filter((f) => f.Level === 'Error')).toEqual([]);
    expect(r.status! & 2).toBe(0);
    expect([...new Set(findings.map((f) => f.Rule.Id))]).toEqual(findings.length ? ['W3005'] : []);
  });
});
