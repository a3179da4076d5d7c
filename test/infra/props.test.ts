/**
 * MeshOnboarding as another CDK app would use it, with every prop set, and the stack's
 * context parsing. The mesh steps are given permissions that name the EKS clusters, the
 * drift bus and a wildcard (what their real declarations will look like), so the shared
 * role's union, the cluster list and the acknowledgements are checked on a real synthesis.
 * One synthesis (two stacks: every prop set; no EKS cluster given) in beforeAll.
 */
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StepPermissions } from '../../functions/lib/permissions.ts';
import { handlerFiles } from '../../infra/handlers.ts';
import { MeshOnboarding } from '../../infra/mesh-onboarding.ts';
import { contextProps } from '../../infra/stack.ts';
import { loadStepPermissions, type LoadedStepPermissions } from '../../infra/step-permissions.ts';

const MESH_PERMISSIONS: Record<string, StepPermissions> = {
  'preflight-mesh': [
    { sid: 'DescribeMeshCluster', actions: ['eks:DescribeCluster'], resources: ['arn:${Partition}:eks:${Region}:${Account}:cluster/${EksClusterName}'] },
    // sts:GetCallerIdentity takes no resource.
    { sid: 'WhoAmI', actions: ['sts:GetCallerIdentity'], resources: ['*'] },
  ],
  'verify-workload': [{ sid: 'DescribeMeshCluster', actions: ['eks:DescribeCluster'], resources: ['arn:${Partition}:eks:${Region}:${Account}:cluster/${EksClusterName}'] }],
  'reverify-workload': [
    { sid: 'DescribeMeshCluster', actions: ['eks:DescribeCluster'], resources: ['arn:${Partition}:eks:${Region}:${Account}:cluster/${EksClusterName}'] },
    { sid: 'PublishDrift', actions: ['events:PutEvents'], resources: ['${DriftEventBusArn}'] },
  ],
};
const BUS_ARN = 'arn:aws:events:eu-west-1:123456789012:event-bus/mesh-drift';

let full: Template;
let bare: Stack;
let bareTemplate: Template;

beforeAll(async () => {
  const loaded = await loadStepPermissions(handlerFiles());
  const stepPermissions: LoadedStepPermissions = { byFile: { ...loaded.byFile, ...MESH_PERMISSIONS }, missing: [] };
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'Full', { env: { account: '123456789012', region: 'eu-west-1' } });
  new MeshOnboarding(stack, 'Mesh', {
    stepPermissions,
    namePrefix: 'acme-mesh',
    eksClusterNames: ['mesh-a', 'mesh-b'],
    reverifySchedule: 'cron(0/15 * * * ? *)',
    reverifyMaxConcurrency: 4,
    logRetention: logs.RetentionDays.TWO_WEEKS,
    logLevel: 'DEBUG',
    driftEventBus: events.EventBus.fromEventBusArn(stack, 'Bus', BUS_ARN),
    driftAlarmThreshold: 3,
    driftAlarmPeriod: Duration.minutes(15),
    apiThrottleRateLimit: 5,
    apiThrottleBurstLimit: 10,
    apiGatewayCloudWatchRole: false,
  });
  bare = new Stack(app, 'NoClusters');
  new MeshOnboarding(bare, 'Mesh', { stepPermissions, namePrefix: 'bare' });
  // cdk-nag runs here: the acknowledgements generated from the declared permissions must cover them.
  const assembly = app.synth();
  full = Template.fromJSON(assembly.getStackByName('Full').template as Record<string, unknown>);
  bareTemplate = Template.fromJSON(assembly.getStackByName('NoClusters').template as Record<string, unknown>);
}, 300_000);

describe('MeshOnboarding with every prop set', () => {
  it('the mesh reader role holds the union of the three steps: each EKS cluster, the drift bus, the wildcard once', () => {
    full.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^MeshMeshReaderRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Sid: 'DescribeMeshCluster', Action: 'eks:DescribeCluster', Resource: [Match.anyValue(), Match.anyValue()] }),
          Match.objectLike({ Sid: 'WhoAmI', Action: 'sts:GetCallerIdentity', Resource: '*' }),
          Match.objectLike({ Sid: 'PublishDrift', Action: 'events:PutEvents', Resource: BUS_ARN }),
        ]),
      },
    });
    const policy = JSON.stringify(full.findResources('AWS::IAM::Policy'));
    expect(policy).toContain(':cluster/mesh-a');
    expect(policy).toContain(':cluster/mesh-b');
    expect(policy.match(/"Sid":"DescribeMeshCluster"/g)).toHaveLength(1);
  });

  it('names carry the prefix; the schedule, concurrency, log level and bus follow the props', () => {
    full.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'acme-mesh-list-workloads', Environment: { Variables: Match.objectLike({ REVERIFY_MAX_CONCURRENCY: '4', POWERTOOLS_LOG_LEVEL: 'DEBUG' }) } });
    // The bus travels as its ARN (PutEvents resolves a bare name in the caller's own account and region).
    const listFn = Object.values(full.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'acme-mesh-list-workloads' } }))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(JSON.stringify(listFn.Properties.Environment.Variables.DRIFT_EVENT_BUS_NAME)).toContain(':event-bus/mesh-drift');
    full.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'acme-mesh-onboard-workload' });
    full.hasResourceProperties('AWS::Scheduler::Schedule', { Name: 'acme-mesh-reverify', ScheduleExpression: 'cron(0/15 * * * ? *)' });
    full.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmName: 'acme-mesh-workload-drift', Threshold: 3, Metrics: [Match.objectLike({ Period: 900 })] });
    full.hasResourceProperties('AWS::ApiGateway::Stage', { MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 })] });
    full.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  });

  it('leaves the account’s API Gateway logging role alone when told to', () => {
    full.resourceCountIs('AWS::ApiGateway::Account', 0);
  });
});

describe('MeshOnboarding with no EKS cluster', () => {
  it('warns at synth, and the mesh reader gets no EKS permission', () => {
    Annotations.fromStack(bare).hasWarning('/NoClusters/Mesh', Match.stringLikeRegexp('No eksClusterNames given: .*preflight-mesh: DescribeMeshCluster'));
    expect(JSON.stringify(bareTemplate.findResources('AWS::IAM::Policy'))).not.toContain('eks:DescribeCluster');
  });
});

describe('contextProps (cdk.json / -c key=value)', () => {
  const node = (context: Record<string, unknown>) => new App({ context }).node;

  it('parses strings as `-c` gives them', () => {
    expect(contextProps(node({ eksClusterNames: 'mesh-a, mesh-b', reverifyMaxConcurrency: '4', logRetentionDays: '14', logLevel: 'debug', driftAlarmThreshold: '2', apiGatewayCloudWatchRole: 'false' }))).toMatchObject({
      eksClusterNames: ['mesh-a', 'mesh-b'],
      reverifyMaxConcurrency: 4,
      logRetention: logs.RetentionDays.TWO_WEEKS,
      logLevel: 'DEBUG',
      driftAlarmThreshold: 2,
      apiGatewayCloudWatchRole: false,
    });
  });

  it('takes typed values from cdk.json, and nothing when nothing is set', () => {
    expect(contextProps(node({ eksClusterNames: ['mesh-a'], reverifyMaxConcurrency: 3 }))).toMatchObject({ eksClusterNames: ['mesh-a'], reverifyMaxConcurrency: 3 });
    expect(contextProps(node({}))).toMatchObject({ eksClusterNames: [], namePrefix: undefined, logRetention: undefined, apiGatewayCloudWatchRole: undefined });
  });

  it('refuses values AWS would refuse later', () => {
    expect(() => contextProps(node({ logRetentionDays: '31' }))).toThrow(/retention values/);
    expect(() => contextProps(node({ logLevel: 'LOUD' }))).toThrow(/DEBUG, INFO/);
    expect(() => contextProps(node({ reverifyMaxConcurrency: '0' }))).toThrow(/≥ 1/);
  });

  it('refuses a Map concurrency above the 40 an inline Map runs at once (it would be capped silently)', async () => {
    const loaded = await loadStepPermissions(handlerFiles());
    const stack = new Stack(new App(), 'TooWide');
    expect(() => new MeshOnboarding(stack, 'Mesh', { stepPermissions: { byFile: { ...loaded.byFile, ...MESH_PERMISSIONS }, missing: [] }, reverifyMaxConcurrency: 41 })).toThrow(/1 to 40/);
  });
});
