/**
 * The teardown workflow (statemachine/offboard-workload.asl.json) run by the local engine
 * against the sandbox, after real onboardings: nothing carrying this tool's tags is left, a
 * second workload's resources and the shared ones it uses stay, an interrupted teardown run
 * again finishes, a resource with our name but not our tags is never touched, and the local
 * API answers DELETE /onboardings/{workload}. One sandbox for the file; tests run in order.
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, DeleteLogGroupCommand, DescribeLogGroupsCommand, ListTagsForResourceCommand, UntagResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateSubnetCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, ListTaskDefinitionsCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { getWorkload } from '../../functions/lib/registry.ts';
import { parseRequest } from '../../functions/lib/request.ts';
import { finishTeardown } from '../../functions/finish-teardown.ts';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import { TAG_MANAGED_BY, TAG_WORKLOAD, TOOL_NAME } from '../../functions/lib/settings.ts';
import type { TeardownResult } from '../../functions/finish-teardown.ts';
import type { TeardownFailureRecord } from '../../functions/record-teardown-failure.ts';
import { runWorkflow, type ExecutionOutcome, type RunOptions } from '../../local/engine/run-workflow.ts';
import { startApiServer } from '../../local/api-server.ts';
import { LocalExecutions } from '../../local/local-executions.ts';
import { seedMesh } from '../../local/kube-api-standin.ts';
import { SANDBOX_ACCOUNT } from '../../local/sandbox.ts';
import { eventually } from '../support/emulator.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useSandbox } from '../support/sandbox.ts';
import { loadDefinition, taskSteps } from '../../statemachine/definition.ts';

const sandbox = useSandbox();
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };

/**
 * The ratings workload with its own task definition family. moto forgets a deleted task
 * definition's revision and hands the number out again (revision 1 of the family anew), so a
 * re-onboarding after a teardown would take the old service's stopped tasks (same task
 * definition ARN, no stop code from the simulated scheduler) for its own failed ones; on AWS a
 * new registration gets a new revision. Each re-onboarding here uses a new family instead.
 */
function ratings(family: string): OnboardingRequestInput {
  const base = bookinfoInput();
  return { ...base, ecs: { ...base.ecs, family } };
}

function reviews(): OnboardingRequestInput {
  const base = bookinfoInput();
  return { ...base, workloadGroup: { namespace: 'bookinfo', name: 'reviews' }, ecs: { ...base.ecs, service: 'reviews', family: 'bookinfo_reviews' }, app: { ...base.app, name: 'reviews' } };
}

async function onboard(input: OnboardingRequestInput): Promise<void> {
  const o = await runWorkflow(input, FAST);
  expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
}

async function teardown(workload: string, opts: RunOptions & { retainLogs?: boolean } = {}): Promise<ExecutionOutcome> {
  const { retainLogs, ...run } = opts;
  return runWorkflow({ workload, ...(retainLogs !== undefined ? { retainLogs } : {}) }, { ...FAST, machine: 'offboard-workload', ...run });
}

async function tornDown(workload: string, opts: Parameters<typeof teardown>[1] = {}): Promise<TeardownResult> {
  const o = await teardown(workload, opts);
  expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
  return o.output as TeardownResult;
}

const cfg = () => ({ endpoint: sandbox().moto.endpoint, region: sandbox().region, maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
const OURS = [{ Name: `tag:${TAG_MANAGED_BY}`, Values: [TOOL_NAME] }];
const ourTag = (tags: { key?: string; value?: string; Key?: string; Value?: string }[] | undefined) => (tags ?? []).some((t) => (t.key ?? t.Key) === TAG_MANAGED_BY && (t.value ?? t.Value) === TOOL_NAME);

/** Every resource in the emulator that carries this tool's managed-by tag (and is not deleted), as "kind id". */
async function ourResources(): Promise<string[]> {
  const ec2 = new EC2Client(cfg());
  const ecs = new ECSClient(cfg());
  const iam = new IAMClient(cfg());
  const sm = new SecretsManagerClient(cfg());
  const logs = new CloudWatchLogsClient(cfg());
  try {
    const out: string[] = [];
    for (const s of (await ec2.send(new DescribeSubnetsCommand({ Filters: OURS }))).Subnets ?? []) out.push(`subnet ${s.SubnetId}`);
    for (const t of (await ec2.send(new DescribeRouteTablesCommand({ Filters: OURS }))).RouteTables ?? []) out.push(`route-table ${t.RouteTableId}`);
    for (const g of (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: OURS }))).SecurityGroups ?? []) out.push(`security-group ${g.GroupId}`);
    for (const r of (await ec2.send(new DescribeSecurityGroupRulesCommand({}))).SecurityGroupRules ?? []) if (ourTag(r.Tags)) out.push(`security-group-rule ${r.SecurityGroupRuleId}`);
    for (const n of (await ec2.send(new DescribeNatGatewaysCommand({ Filter: OURS }))).NatGateways ?? []) if (n.State !== 'deleted') out.push(`nat-gateway ${n.NatGatewayId} ${n.State}`);
    for (const a of (await ec2.send(new DescribeAddressesCommand({ Filters: OURS }))).Addresses ?? []) out.push(`elastic-ip ${a.AllocationId}`);
    for (const r of (await iam.send(new ListRolesCommand({ PathPrefix: '/mesh-onboarding/' }))).Roles ?? []) out.push(`iam-role ${r.RoleName}`);
    for (const s of (await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: true }))).SecretList ?? []) if (ourTag(s.Tags)) out.push(`secret ${s.Name}`);
    for (const g of (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/' }))).logGroups ?? []) {
      const { tags } = await logs.send(new ListTagsForResourceCommand({ resourceArn: g.arn!.replace(/:\*$/, '') }));
      if (tags?.[TAG_MANAGED_BY] === TOOL_NAME) out.push(`log-group ${g.logGroupName}`);
    }
    for (const c of (await ecs.send(new DescribeClustersCommand({ clusters: ['bookinfo'], include: ['TAGS'] }))).clusters ?? []) if (c.status === 'ACTIVE' && ourTag(c.tags)) out.push(`ecs-cluster ${c.clusterName}`);
    for (const name of ['ratings', 'ratings-old', 'reviews']) {
      const svc = (await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: [name], include: ['TAGS'] })).catch(() => ({ services: [] }))).services ?? [];
      for (const s of svc) if (s.status !== 'INACTIVE' && ourTag(s.tags)) out.push(`ecs-service ${s.serviceName} ${s.status}`);
    }
    for (const status of ['ACTIVE', 'INACTIVE'] as const) {
      for (const arn of (await ecs.send(new ListTaskDefinitionsCommand({ status }))).taskDefinitionArns ?? []) {
        const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ['TAGS'] }));
        if (ourTag(td.tags) && td.taskDefinition?.status !== 'DELETE_IN_PROGRESS') out.push(`task-definition ${arn} ${td.taskDefinition?.status}`);
      }
    }
    return out.sort();
  } finally {
    for (const c of [ec2, ecs, iam, sm, logs]) c.destroy();
  }
}

describe('teardown workflow in the local engine', () => {
  it('after onboarding then teardown the emulator holds no resource carrying this tool\'s tags, and the workload is unknown', async () => {
    await onboard(bookinfoInput());
    expect((await ourResources()).length).toBeGreaterThan(10);
    const r = await tornDown('bookinfo/ratings');
    expect(r.kept).toEqual([]);
    expect(r.registryRecordDeleted).toBe(true);
    expect(r.deleted.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['ecs-service', 'task-definition', 'iam-role', 'iam-role-policy', 'secret', 'log-group', 'security-group-ingress', 'security-group', 'vpc-subnet', 'route-table', 'nat-gateway', 'elastic-ip', 'ecs-cluster']),
    );
    expect(await ourResources()).toEqual([]);
    expect(await getWorkload('bookinfo/ratings')).toBeUndefined();
    // Unknown now: a second teardown fails in its first state, touching nothing.
    const again = await teardown('bookinfo/ratings');
    expect(again).toMatchObject({ status: 'FAILED', error: 'WorkloadNotFoundError' });
    expect(again.history.map((h) => h.state)).not.toContain('Scale service down');
  });

  it('onboarding the same workload again afterwards works (nothing half-deleted blocks it)', async () => {
    await onboard(ratings('bookinfo_ratings_2'));
  });

  it('of two workloads, tearing one down keeps the other\'s resources and the shared ones it uses', async () => {
    seedMesh(sandbox().kube.store, { workloadGroup: 'reviews', account: SANDBOX_ACCOUNT });
    await onboard(reviews());
    const before = await ourResources();
    const r = await tornDown('bookinfo/reviews');
    const kept = r.kept.map((e) => e.kind).sort();
    expect(kept).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway', 'vpc-subnet', 'route-table', 'elastic-ip']));
    expect(r.kept.every((e) => e.shared && /bookinfo\/ratings/.test(e.reason ?? ''))).toBe(true);
    const after = await ourResources();
    // Only reviews' own resources went: ratings' and the shared ones are all still there (rules are compared by count: reviews' went with its group).
    const noRules = (xs: string[]) => xs.filter((x) => !x.startsWith('security-group-rule '));
    expect(after.filter((x) => /reviews/.test(x))).toEqual([]);
    expect(noRules(after)).toEqual(noRules(before).filter((x) => !/reviews/.test(x) && !r.deleted.some((e) => x.includes(e.id))));
    expect(after.filter((x) => x.startsWith('security-group-rule ')).length).toBe(before.filter((x) => x.startsWith('security-group-rule ')).length - 2);
    expect(after.filter((x) => /ratings/.test(x)).length).toBeGreaterThan(5);
    const ecs = new ECSClient(cfg());
    try {
      const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'] }));
      expect(services?.[0]).toMatchObject({ status: 'ACTIVE', desiredCount: 1 });
    } finally {
      ecs.destroy();
    }
  });

  it('an interrupted teardown, run again, finishes: nothing of ours is left', async () => {
    const failed = await teardown('bookinfo/ratings', {
      handlerOverrides: {
        'Delete cluster': async () => {
          throw new ResourceConflictError('injected after the workload resources went');
        },
      },
    });
    expect(failed).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    const record = failed.failureRecord as TeardownFailureRecord;
    expect(record.step).toBe('Delete cluster');
    expect(record.deletedSoFar.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-service', 'security-group']));
    // The lock was released and the record kept: the workload is still known.
    const held = await getWorkload('bookinfo/ratings');
    expect(held?.lock).toBeUndefined();
    const r = await tornDown('bookinfo/ratings');
    expect(r.notFound.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-service', 'security-group', 'secret']));
    expect(r.deleted.map((e) => e.kind)).toContain('ecs-cluster');
    expect(await ourResources()).toEqual([]);
  });

  it('never touches a resource with our name but without our tags; retainLogs keeps the log group', async () => {
    await onboard(ratings('bookinfo_ratings_3'));
    const logs = new CloudWatchLogsClient(cfg());
    const ecs = new ECSClient(cfg());
    const ec2 = new EC2Client(cfg());
    let foreignSubnet: string;
    try {
      // Someone replaced our log group with one of the same name, registered a revision of the family, and made a subnet named like ours.
      await logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/bookinfo_ratings_3' }));
      await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/bookinfo_ratings_3' }));
      // moto keeps a deleted group's tags for a new group of the same name (AWS does not): make sure this one has none of ours.
      const arn = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/bookinfo_ratings_3' }))).logGroups![0]!.arn!.replace(/:\*$/, '');
      await logs.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: [TAG_MANAGED_BY, TAG_WORKLOAD] }));
      expect((await logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {}).toEqual({});
      await ecs.send(new RegisterTaskDefinitionCommand({ family: 'bookinfo_ratings_3', containerDefinitions: [{ name: 'x', image: 'busybox', memory: 64 }] }));
      const made = await ec2.send(new CreateSubnetCommand({ VpcId: sandbox().vpc.vpcId, CidrBlock: '10.0.200.0/24', TagSpecifications: [{ ResourceType: 'subnet', Tags: [{ Key: 'Name', Value: 'bookinfo-ecs-subnet-b' }] }] }));
      foreignSubnet = made.Subnet!.SubnetId!;
      const r = await tornDown('bookinfo/ratings');
      expect(r.kept).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'log-group', id: '/ecs/bookinfo_ratings_3', outcome: 'kept' }),
          expect.objectContaining({ kind: 'task-definition', outcome: 'kept' }),
        ]),
      );
      expect((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/bookinfo_ratings_3' }))).logGroups).toHaveLength(1);
      expect((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [foreignSubnet] }))).Subnets).toHaveLength(1);
      expect(await ourResources()).toEqual([]);

      // retainLogs: our log group stays, reported as retained.
      await onboard(ratings('bookinfo_ratings_4'));
      const kept = await tornDown('bookinfo/ratings', { retainLogs: true });
      expect(kept.kept).toEqual([expect.objectContaining({ kind: 'log-group', outcome: 'retained' })]);
      expect(await ourResources()).toEqual(['log-group /ecs/bookinfo_ratings_4']);
      await logs.send(new DeleteLogGroupCommand({ logGroupName: '/ecs/bookinfo_ratings_4' }));
    } finally {
      for (const c of [logs, ecs, ec2]) c.destroy();
    }
  });

  // Interrupted right after each step did its work (a crash before its result was recorded), then run again: nothing of ours is left.
  const crashable = taskSteps(loadDefinition('offboard-workload')).filter((s) => s.state !== 'Record teardown failure');
  it.each(crashable.map((s, i) => [s.state, s.file, i] as const))('crashed right after "%s" did its work, then run again: nothing of ours is left', async (state, file, i) => {
    await onboard(ratings(`bookinfo_ratings_crash_${i}`));
    const { handler } = (await import(`../../functions/${file}.ts`)) as { handler: (e: unknown, c: never) => Promise<unknown> };
    const crashed = await teardown('bookinfo/ratings', {
      handlerOverrides: {
        [state]: async (input) => {
          await handler(input, {} as never);
          throw new ResourceConflictError(`crashed after ${state}`);
        },
      },
    });
    expect(crashed).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    // Past Start teardown the failure path releases the lock; a crash of Start teardown itself (a Lambda timeout after it took the lock) leaves it to Execution ended, which the engine calls at every end.
    expect((await getWorkload('bookinfo/ratings'))?.lock).toBeUndefined();
    const again = await teardown('bookinfo/ratings');
    // After the last state the record is gone: the workload is unknown, and everything else went before.
    if (state === 'Finish teardown') expect(again).toMatchObject({ status: 'FAILED', error: 'WorkloadNotFoundError' });
    else expect(again.status, `${again.error}: ${again.cause}`).toBe('SUCCEEDED');
    expect(await ourResources()).toEqual([]);
    expect(await getWorkload('bookinfo/ratings')).toBeUndefined();
  });

  it('Finish teardown, retried after the record went, reports it and deletes nothing', async () => {
    const request = parseRequest(bookinfoInput());
    const r = await finishTeardown({
      request,
      execution: { id: 'arn:aws:states:us-east-1:000000000000:execution:offboard-workload:offboard-gone' },
      target: { workload: 'bookinfo/ratings', retainLogs: false, recorded: [] },
    });
    expect(r).toMatchObject({ workload: 'bookinfo/ratings', registryRecordDeleted: false, deleted: [] });
  });

  it('a workload whose service name changed between onboardings: every service tagged as its own goes', async () => {
    const old = ratings('bookinfo_ratings_6');
    await onboard({ ...old, ecs: { ...old.ecs, service: 'ratings-old' } });
    await onboard(ratings('bookinfo_ratings_6'));
    const r = await tornDown('bookinfo/ratings');
    expect(r.deleted.filter((e) => e.kind === 'ecs-service').map((e) => e.id.split('/').pop()).sort()).toEqual(['ratings', 'ratings-old']);
    expect(await ourResources()).toEqual([]);
  });

  it('the local API: DELETE an unknown workload is 404; a known one is 202, described by GET, and a double DELETE is one execution', async () => {
    const backend = new LocalExecutions(FAST);
    const api = await startApiServer(backend);
    try {
      const unknown = await fetch(`${api.url}/onboardings/bookinfo.nobody`, { method: 'DELETE' });
      expect(unknown.status).toBe(404);
      const bad = await fetch(`${api.url}/onboardings/Not_A_Workload`, { method: 'DELETE' });
      expect(bad.status).toBe(400);
      await onboard(ratings('bookinfo_ratings_5'));
      const first = await fetch(`${api.url}/onboardings/bookinfo%2Fratings?retainLogs=false`, { method: 'DELETE' });
      expect(first.status).toBe(202);
      const body = (await first.json()) as { executionId: string; duplicate: boolean };
      expect(body.executionId).toMatch(/^offboard-bookinfo_ratings-[0-9a-f]{16}$/);
      const second = await fetch(`${api.url}/onboardings/bookinfo.ratings`, { method: 'DELETE' });
      // Still running (same execution) or already done (then the workload is unknown).
      if (second.status === 202) expect(((await second.json()) as { executionId: string }).executionId).toBe(body.executionId);
      else expect(second.status).toBe(404);
      const view = await eventually(async () => {
        const v = (await (await fetch(`${api.url}/onboardings/${body.executionId}`)).json()) as { status: string; workload: string; result?: TeardownResult };
        expect(v.status).toBe('SUCCEEDED');
        return v;
      }, 30_000);
      expect(view.workload).toBe('bookinfo/ratings');
      expect(view.result?.deleted.length).toBeGreaterThan(5);
      expect((await fetch(`${api.url}/onboardings/bookinfo.ratings`, { method: 'DELETE' })).status).toBe(404);
      await backend.settle();
    } finally {
      await api.stop();
    }
  });
});
