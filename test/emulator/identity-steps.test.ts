import { readFileSync } from 'node:fs';
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand, ListTagsForResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateSecretCommand, DeleteSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCaSecret } from '../../functions/ensure-ca-secret.ts';
import { ensureExecutionRole } from '../../functions/ensure-execution-role.ts';
import { ensureLogGroup } from '../../functions/ensure-log-group.ts';
import { ensureTaskRole } from '../../functions/ensure-task-role.ts';
import { ecsTasksTrustPolicy } from '../../functions/lib/aws/iam-role.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import type { PreflightResult } from '../../functions/lib/workflow.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const ACCOUNT = '123456789012';
const SECOND_PEM = readFileSync(new URL('../fixtures/second-root-ca.pem', import.meta.url), 'utf8');

let iam: IAMClient;
let sm: SecretsManagerClient;
let logs: CloudWatchLogsClient;
beforeAll(() => {
  const cfg = { endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 };
  iam = new IAMClient(cfg);
  sm = new SecretsManagerClient(cfg);
  logs = new CloudWatchLogsClient(cfg);
});

/** IAM hands policy documents back URL-encoded. */
function policyOf(doc: string | undefined): { Statement: Record<string, unknown>[] } {
  expect(doc).toBeDefined();
  return JSON.parse(decodeURIComponent(doc!)) as { Statement: Record<string, unknown>[] };
}

async function trustOf(roleName: string) {
  const { Role } = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  return { role: Role, trust: policyOf(Role?.AssumeRolePolicyDocument) };
}

async function inlinePolicies(roleName: string): Promise<string[]> {
  return (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
}

function expectEcsTasksTrust(trust: { Statement: Record<string, unknown>[] }, account: string) {
  expect(trust.Statement).toEqual([
    {
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': account } },
    },
  ]);
}

function preflight(account: string, region: string): PreflightResult {
  return { account, region, partition: 'aws', agentImage: 'x', workloadGroup: { namespace: 'n', name: 'w', templateLabels: {} }, onboardingPolicy: 'p' };
}

describe('Ensure task role (emulator)', () => {
  it('creates the role with ECS tasks trust and the ECS Exec policy once, then reuses it', async () => {
    const request = bookinfoRequest({ ecs: { enableExecuteCommand: true } });
    const first = await ensureTaskRole({ request });
    const second = await ensureTaskRole({ request });

    expect(first.roleName).toBe('bookinfo.ratings-ecs-task-role');
    // Under the tool's IAM path, which its own policies name (ROLE_PATH).
    expect(first.roleArn).toBe('arn:aws:iam::123456789012:role/mesh-onboarding/bookinfo.ratings-ecs-task-role');
    expect(first.ledger).toEqual([
      { kind: 'iam-role', id: first.roleName, arn: first.roleArn, created: true },
      { kind: 'iam-role-policy', id: 'bookinfo.ratings-ecs-task-role/ecs-exec-ssmmessages', created: true },
    ]);
    expect(second.roleArn).toBe(first.roleArn);
    expect(second.ledger.map((e) => e.created)).toEqual([false, false]);

    const { role, trust } = await trustOf(first.roleName);
    expect(role?.Arn).toBe(first.roleArn);
    expectEcsTasksTrust(trust, ACCOUNT);
    expect(role?.Tags).toContainEqual({ Key: 'mesh-onboarding/workload', Value: 'bookinfo/ratings' });
    expect(role?.Tags).toContainEqual({ Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' });
    expect(await inlinePolicies(first.roleName)).toEqual(['ecs-exec-ssmmessages']);
    const exec = await iam.send(new GetRolePolicyCommand({ RoleName: first.roleName, PolicyName: 'ecs-exec-ssmmessages' }));
    const stmt = policyOf(exec.PolicyDocument).Statement[0];
    expect(stmt?.Action).toEqual(['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel']);
    expect(stmt?.Resource).toBe('*');
  });

  it('removes the ECS Exec policy when enableExecuteCommand turns false, and adds it back when true', async () => {
    const off = await ensureTaskRole({ request: bookinfoRequest({ ecs: { enableExecuteCommand: false } }) });
    // Removing the policy changed the role in place: updated, not reused.
    expect(off.ledger).toEqual([{ kind: 'iam-role', id: off.roleName, arn: off.roleArn, created: false, updated: true }]);
    expect(await inlinePolicies(off.roleName)).toEqual([]);

    const offAgain = await ensureTaskRole({ request: bookinfoRequest({ ecs: { enableExecuteCommand: false } }) });
    expect(offAgain.roleArn).toBe(off.roleArn);

    const on = await ensureTaskRole({ request: bookinfoRequest({ ecs: { enableExecuteCommand: true } }) });
    expect(on.ledger[1]).toEqual({ kind: 'iam-role-policy', id: `${on.roleName}/ecs-exec-ssmmessages`, created: true });
    expect(await inlinePolicies(on.roleName)).toEqual(['ecs-exec-ssmmessages']);
  });

  it('takes the account from preflight when present', async () => {
    const request = bookinfoRequest({ workloadGroup: { name: 'details' }, ecs: { enableExecuteCommand: false } });
    const r = await ensureTaskRole({ request, preflight: preflight('111122223333', 'us-east-1') });
    expectEcsTasksTrust((await trustOf(r.roleName)).trust, '111122223333');
    expect(await inlinePolicies(r.roleName)).toEqual([]);
  });

  it('refuses a role with our name that this tool did not make', async () => {
    const request = bookinfoRequest({ workloadGroup: { name: 'foreign' } });
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'bookinfo.foreign-ecs-task-role',
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
        Tags: [{ Key: 'owner', Value: 'someone-else' }],
      }),
    );
    const err = await ensureTaskRole({ request }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('bookinfo.foreign-ecs-task-role');
    // The foreign role is left as it was.
    expect((await trustOf('bookinfo.foreign-ecs-task-role')).trust.Statement[0]?.Principal).toEqual({ Service: 'ec2.amazonaws.com' });
    expect(await inlinePolicies('bookinfo.foreign-ecs-task-role')).toEqual([]);
  });
});

describe('Ensure execution role (emulator)', () => {
  it('creates the role with the managed policy and a secret-scoped inline policy once, then reuses it', async () => {
    const request = bookinfoRequest();
    const first = await ensureExecutionRole({ request });
    const second = await ensureExecutionRole({ request });

    expect(first.roleName).toBe('bookinfo.ratings-ecs-exec-role');
    expect(first.ledger).toEqual([
      { kind: 'iam-role', id: first.roleName, arn: first.roleArn, created: true },
      { kind: 'iam-role-policy', id: 'bookinfo.ratings-ecs-exec-role/read-root-ca-secret', created: true },
    ]);
    expect(second.roleArn).toBe(first.roleArn);
    expect(second.ledger.map((e) => e.created)).toEqual([false, false]);

    expectEcsTasksTrust((await trustOf(first.roleName)).trust, ACCOUNT);
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: first.roleName }));
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual(['arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy']);
    expect(await inlinePolicies(first.roleName)).toEqual(['read-root-ca-secret']);
    const inline = await iam.send(new GetRolePolicyCommand({ RoleName: first.roleName, PolicyName: 'read-root-ca-secret' }));
    expect(policyOf(inline.PolicyDocument).Statement).toEqual([
      {
        Sid: 'ReadRootCaSecret',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:mesh-onboarding/bookinfo/ratings/root-ca-??????`,
      },
    ]);
  });

  it('scopes the secret to the region and account preflight found', async () => {
    const request = bookinfoRequest({ workloadGroup: { name: 'reviews' } });
    const r = await ensureExecutionRole({ request, preflight: preflight('111122223333', 'eu-west-1') });
    const inline = await iam.send(new GetRolePolicyCommand({ RoleName: r.roleName, PolicyName: 'read-root-ca-secret' }));
    expect(policyOf(inline.PolicyDocument).Statement[0]?.Resource).toBe('arn:aws:secretsmanager:eu-west-1:111122223333:secret:mesh-onboarding/bookinfo/reviews/root-ca-??????');
  });

  it('puts a drifted trust policy back', async () => {
    const request = bookinfoRequest();
    const name = 'bookinfo.ratings-ecs-exec-role';
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: name,
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
      }),
    );
    expect((await trustOf(name)).trust.Statement[0]?.Condition).toBeUndefined();
    const r = await ensureExecutionRole({ request });
    expect(r.ledger[0]?.created).toBe(false);
    expectEcsTasksTrust((await trustOf(name)).trust, ACCOUNT);
  });
});

describe('Ensure CA secret (emulator)', () => {
  const request = bookinfoRequest();
  const secretName = 'mesh-onboarding/bookinfo/ratings/root-ca';
  const valueOf = async () => (await sm.send(new GetSecretValueCommand({ SecretId: secretName }))).SecretString;
  const currentVersionId = async () => {
    const { VersionIdsToStages } = await sm.send(new DescribeSecretCommand({ SecretId: secretName }));
    return Object.entries(VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
  };

  it('stores the PEM once and reuses the secret on the second run, never returning the PEM', async () => {
    const first = await ensureCaSecret({ request, caBundle: { pem: request.rootCaPem } });
    const second = await ensureCaSecret({ request, caBundle: { pem: request.rootCaPem } });

    expect(first).toEqual({ secretName, secretArn: first.secretArn, versionId: first.versionId, updated: false, ledger: [{ kind: 'secret', id: secretName, arn: first.secretArn, created: true }] });
    expect(first.secretArn).toMatch(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:mesh-onboarding\/bookinfo\/ratings\/root-ca-.{6}$/);
    expect(second.secretArn).toBe(first.secretArn);
    // The version that holds the PEM, as Secrets Manager labels it AWSCURRENT; unchanged on a re-run.
    expect(first.versionId).toBe(await currentVersionId());
    expect(second.versionId).toBe(first.versionId);
    expect(second.updated).toBe(false);
    expect(second.ledger[0]?.created).toBe(false);
    expect(JSON.stringify([first, second])).not.toContain('BEGIN CERTIFICATE');

    expect(await valueOf()).toBe(request.rootCaPem);
    const described = await sm.send(new DescribeSecretCommand({ SecretId: secretName }));
    expect(described.Tags).toContainEqual({ Key: 'mesh-onboarding/workload', Value: 'bookinfo/ratings' });
    expect(described.Tags).toContainEqual({ Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' });
  });

  it('replaces the value only when the PEM changes, returning the new version', async () => {
    expect(SECOND_PEM).not.toBe(request.rootCaPem);
    const before = await currentVersionId();
    const changed = bookinfoRequest({ rootCaPem: SECOND_PEM });
    const first = await ensureCaSecret({ request: changed, caBundle: { pem: changed.rootCaPem } });
    expect(first.updated).toBe(true);
    expect(await valueOf()).toBe(SECOND_PEM);
    expect(first.versionId).not.toBe(before);
    expect(first.versionId).toBe(await currentVersionId());

    const again = await ensureCaSecret({ request: changed, caBundle: { pem: changed.rootCaPem } });
    expect(again.updated).toBe(false);
    expect(again.secretArn).toBe(first.secretArn);
    expect(again.versionId).toBe(first.versionId);
  });

  it('restores a secret scheduled for deletion and writes the current PEM', async () => {
    await sm.send(new DeleteSecretCommand({ SecretId: secretName, RecoveryWindowInDays: 7 }));
    expect((await sm.send(new DescribeSecretCommand({ SecretId: secretName }))).DeletedDate).toBeDefined();

    const r = await ensureCaSecret({ request, caBundle: { pem: request.rootCaPem } });
    expect(r.updated).toBe(true);
    expect(r.ledger[0]?.created).toBe(false);
    expect((await sm.send(new DescribeSecretCommand({ SecretId: secretName }))).DeletedDate).toBeUndefined();
    expect(await valueOf()).toBe(request.rootCaPem);
  });

  it('refuses a secret with our name that this tool did not make, without echoing the PEM', async () => {
    await sm.send(new CreateSecretCommand({ Name: 'mesh-onboarding/bookinfo/foreign/root-ca', SecretString: 'not ours' }));
    const err = await ensureCaSecret({ request: bookinfoRequest({ workloadGroup: { name: 'foreign' } }), caBundle: { pem: bookinfoRequest().rootCaPem } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('mesh-onboarding/bookinfo/foreign/root-ca');
    expect((err as Error).message).not.toContain('BEGIN CERTIFICATE');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: 'mesh-onboarding/bookinfo/foreign/root-ca' }))).SecretString).toBe('not ours');
  });
});

describe('Ensure log group (emulator)', () => {
  const describeGroup = async (name: string) => {
    const { logGroups } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
    return logGroups?.find((g) => g.logGroupName === name);
  };

  it('creates /ecs/<family> with retention and tags once, next to a group sharing its prefix', async () => {
    // A longer name with the same prefix must not be mistaken for ours.
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/bookinfo_ratings-old' }));
    const request = bookinfoRequest();
    const first = await ensureLogGroup({ request });
    const second = await ensureLogGroup({ request });

    expect(first.logGroupName).toBe('/ecs/bookinfo_ratings');
    expect(first.retentionDays).toBe(30);
    expect(first.ledger).toEqual([{ kind: 'log-group', id: '/ecs/bookinfo_ratings', arn: 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/bookinfo_ratings', created: true }]);
    expect(second).toEqual({ ...first, ledger: [{ ...first.ledger[0], created: false }] });

    const group = await describeGroup('/ecs/bookinfo_ratings');
    expect(group?.retentionInDays).toBe(30);
    const { tags } = await logs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:logs:us-east-1:123456789012:log-group:/ecs/bookinfo_ratings' }));
    expect(tags).toEqual({ 'mesh-onboarding/workload': 'bookinfo/ratings', 'mesh-onboarding/managed-by': 'ecs-mesh-onboarding' });
  });

  it('changes the retention when the request asks for another one', async () => {
    const r = await ensureLogGroup({ request: bookinfoRequest({ logRetentionDays: 90 }) });
    expect(r.retentionDays).toBe(90);
    expect(r.ledger[0]?.created).toBe(false);
    expect((await describeGroup('/ecs/bookinfo_ratings'))?.retentionInDays).toBe(90);
  });

  it('refuses a log group with our name that this tool did not make', async () => {
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/foreign_family', tags: { owner: 'someone-else' } }));
    const err = await ensureLogGroup({ request: bookinfoRequest({ ecs: { family: 'foreign_family' } }) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('/ecs/foreign_family');
    expect((await describeGroup('/ecs/foreign_family'))?.retentionInDays).toBeUndefined();
  });
});

// Names are per workload, but a tag is what proves it: a resource with this tool's managed-by
// tag and another workload's tag (renamed, restored, or an ecs.family two workloads share) is
// never adopted, so two workloads never share a mesh identity, a CA secret or a log group.
describe('per-workload ownership (emulator)', () => {
  const theirs = [
    { Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' },
    { Key: 'mesh-onboarding/workload', Value: 'payments/ledger' },
  ];

  it("refuses a task role with this tool's tag that belongs to another workload, naming it, and leaves it alone", async () => {
    const request = bookinfoRequest({ workloadGroup: { name: 'borrowed' }, ecs: { enableExecuteCommand: true } });
    await iam.send(new CreateRoleCommand({ RoleName: 'bookinfo.borrowed-ecs-task-role', AssumeRolePolicyDocument: JSON.stringify(ecsTasksTrustPolicy(ACCOUNT)), Tags: theirs }));

    const err = await ensureTaskRole({ request }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('payments/ledger');
    expect((err as Error).message).toContain('bookinfo.borrowed-ecs-task-role');
    expect(await inlinePolicies('bookinfo.borrowed-ecs-task-role')).toEqual([]);
  });

  it("refuses an execution role with this tool's tag that belongs to another workload", async () => {
    const request = bookinfoRequest({ workloadGroup: { name: 'borrowed' } });
    await iam.send(new CreateRoleCommand({ RoleName: 'bookinfo.borrowed-ecs-exec-role', AssumeRolePolicyDocument: JSON.stringify(ecsTasksTrustPolicy(ACCOUNT)), Tags: theirs }));

    const err = await ensureExecutionRole({ request }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('payments/ledger');
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'bookinfo.borrowed-ecs-exec-role' }))).AttachedPolicies).toEqual([]);
  });

  it("refuses a CA secret with this tool's tag that belongs to another workload, without touching its value", async () => {
    const name = 'mesh-onboarding/bookinfo/borrowed/root-ca';
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'their CA', Tags: theirs }));
    const request = bookinfoRequest({ workloadGroup: { name: 'borrowed' } });

    const err = await ensureCaSecret({ request, caBundle: { pem: request.rootCaPem } }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('payments/ledger');
    expect((err as Error).message).not.toContain('BEGIN CERTIFICATE');
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('their CA');
  });

  it('refuses the log group of another workload that uses the same ecs.family, naming it', async () => {
    await ensureLogGroup({ request: bookinfoRequest({ ecs: { family: 'shared_family' } }) });

    const err = await ensureLogGroup({ request: bookinfoRequest({ workloadGroup: { name: 'details' }, ecs: { family: 'shared_family' } }) }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ResourceConflictError);
    expect((err as Error).message).toContain('/ecs/shared_family');
    expect((err as Error).message).toContain('bookinfo/ratings');
  });
});
