/**
 * Step permissions → IAM statements: the checks made at synth time, the EKS cluster list, the
 * union of several steps on one role, and the cdk-nag acknowledgement of a declared wildcard
 * resource (checked against cdk-nag itself, on a small stack).
 */
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import type { Permission } from '../../functions/lib/permissions.ts';
import { acknowledgeWildcardResources, wildcardResourceFindings } from '../../infra/nag.ts';
import { loadStepPermissions, renderStatement, renderStatements } from '../../infra/step-permissions.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/step-permissions/', import.meta.url));
const values = { Partition: 'aws', Region: 'eu-west-1', Account: '123456789012', EksClusterName: ['mesh-a', 'mesh-b'], RegistryTableArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/registry' };
const describeCluster: Permission = { sid: 'DescribeMeshCluster', actions: ['eks:DescribeCluster'], resources: ['arn:${Partition}:eks:${Region}:${Account}:cluster/${EksClusterName}'] };

describe('loadStepPermissions', () => {
  it('reads each file’s `permissions`; a file without the export counts as none, and is listed', async () => {
    const loaded = await loadStepPermissions(['declares', 'silent'], FIXTURES, false);
    expect(loaded.byFile.declares).toEqual([expect.objectContaining({ sid: 'ReadWorkloadRegistry' })]);
    expect(loaded.byFile.silent).toEqual([]);
    expect(loaded.missing).toEqual(['silent']);
  });

  it('once the export is required (PERMISSIONS_EXPORT_REQUIRED), a file without it fails the synth', async () => {
    await expect(loadStepPermissions(['silent'], FIXTURES, true)).rejects.toThrow(/silent\.ts exports no `permissions`/);
  });
});

describe('renderStatement', () => {
  it('gives one resource per EKS cluster', () => {
    expect(renderStatement('preflight-mesh', describeCluster, values)?.toStatementJson()).toEqual({
      Sid: 'DescribeMeshCluster',
      Effect: 'Allow',
      Action: 'eks:DescribeCluster',
      Resource: ['arn:aws:eks:eu-west-1:123456789012:cluster/mesh-a', 'arn:aws:eks:eu-west-1:123456789012:cluster/mesh-b'],
    });
  });

  it('drops a statement left without resources (no EKS cluster given)', () => {
    expect(renderStatement('preflight-mesh', describeCluster, { ...values, EksClusterName: [] })).toBeUndefined();
  });

  it('refuses a wildcard action', () => {
    expect(() => renderStatement('ensure-service', { sid: 'All', actions: ['ecs:*'], resources: ['*'] }, values)).toThrow(/never wildcards: ecs:\*/);
  });

  it('refuses iam:PassRole without an iam:PassedToService condition, and keeps the condition when given', () => {
    const pass: Permission = { sid: 'PassTaskRoles', actions: ['iam:PassRole'], resources: ['arn:${Partition}:iam::${Account}:role/mesh-onboarding-*'] };
    expect(() => renderStatement('register-task-definition', pass, values)).toThrow(/iam:PassedToService/);
    const scoped = renderStatement('register-task-definition', { ...pass, conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } }, values);
    expect(scoped?.toStatementJson()).toMatchObject({ Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
  });

  it('names a placeholder it cannot fill', () => {
    expect(() => renderStatement('record-result', { sid: 'Put', actions: ['events:PutEvents'], resources: ['${DriftEventBusArn}'] }, values)).toThrow(/needs a value for \$\{DriftEventBusArn\}/);
  });
});

describe('renderStatements (steps sharing a role)', () => {
  it('keeps one copy of an equal statement, prefixes a sid two steps use differently, lists what was dropped', () => {
    const read: Permission = { sid: 'ReadWorkloadRegistry', actions: ['dynamodb:GetItem'], resources: ['${RegistryTableArn}'] };
    const { statements, dropped } = renderStatements(
      [
        { file: 'verify-workload', permissions: [read, describeCluster] },
        { file: 'reverify-workload', permissions: [read, { ...describeCluster, actions: ['eks:DescribeCluster', 'eks:ListAccessEntries'] }] },
      ],
      { ...values, EksClusterName: ['mesh-a'] },
    );
    expect(statements.map((s) => s.sid)).toEqual(['ReadWorkloadRegistry', 'DescribeMeshCluster', 'ReverifyWorkloadDescribeMeshCluster']);
    expect(dropped).toEqual([]);
    expect(renderStatements([{ file: 'verify-workload', permissions: [describeCluster] }], { ...values, EksClusterName: [] }).dropped).toEqual(['verify-workload: DescribeMeshCluster']);
  });
});

describe('cdk-nag acknowledgement of declared wildcards', () => {
  it('acknowledges exactly the findings cdk-nag reports, so a declared `*` passes and an undeclared one does not', () => {
    const app = new App();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new Stack(app, 'Nag');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const { statements } = renderStatements(
      [{ file: 'resolve-network', permissions: [{ sid: 'DescribeNetwork', actions: ['ec2:DescribeSubnets'], resources: ['*'] }, { sid: 'DescribeRoutes', actions: ['ec2:DescribeRouteTables'], resources: ['arn:${Partition}:ec2:${Region}:${Account}:route-table/*'] }] }],
      { Partition: stack.partition, Region: stack.region, Account: stack.account },
    );
    for (const s of statements) role.addToPrincipalPolicy(s);
    expect(wildcardResourceFindings(role, statements).map((f) => f.id)).toEqual(['AwsSolutions-IAM5[Resource::*]', 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:route-table/*]']);
    acknowledgeWildcardResources(role, statements, 'functions/resolve-network.ts');
    expect(() => app.synth()).not.toThrow();

    const bare = new App();
    Validations.of(bare).addPlugins(new AwsSolutionsChecks(bare));
    const other = new iam.Role(new Stack(bare, 'Bare'), 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    for (const s of statements) other.addToPrincipalPolicy(s);
    expect(() => bare.synth()).toThrow(/AwsSolutions-IAM5/);
  });
});
