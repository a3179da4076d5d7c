/**
 * Thirty onboardings of distinct workloads into one VPC and one ECS cluster, started at once
 * through the local API: all succeed, with one NAT gateway, one Elastic IP, one ECS cluster, no
 * overlapping subnets and no resource of ours twice. What makes them converge is the VPC's
 * network lease (functions/lib/network-lease.ts): of the runs that find the NAT gateway or the
 * cluster's task subnet missing, one makes it while the others wait, then reuse it.
 * `CONCURRENT_ONBOARDINGS=50 npx vitest run test/emulator/concurrent-onboardings.test.ts`
 * runs it with another count.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client, type Tag } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { overlaps, parseBlock } from '../../functions/lib/cidr.ts';
import { getWorkload } from '../../functions/lib/registry.ts';
import { networkLeaseKey } from '../../functions/lib/network-lease.ts';
import type { ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { TAG_MANAGED_BY, TOOL_NAME } from '../../functions/lib/settings.ts';
import { seedMesh } from '../../local/kube-api-standin.ts';
import { SANDBOX_ACCOUNT } from '../../local/sandbox.ts';
import { eventually } from '../support/emulator.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useLocalApi } from '../support/local-api.ts';
import { useSandbox } from '../support/sandbox.ts';

const COUNT = Number(process.env.CONCURRENT_ONBOARDINGS ?? 30);
// moto reports every ECS service with one running task (the example's count).
const sandbox = useSandbox({ intervalMs: 200 });
const local = useLocalApi({ waitMs: 50, retryIntervalMs: 100 });

const name = (i: number) => `w${String(i).padStart(2, '0')}`;
function workload(i: number) {
  const base = bookinfoInput();
  return { ...base, workloadGroup: { namespace: 'bookinfo', name: name(i) }, ecs: { ...base.ecs, service: name(i), family: `bookinfo_${name(i)}` } };
}
const ours = (tags: Tag[] | undefined) => tags?.some((t) => t.Key === TAG_MANAGED_BY && t.Value === TOOL_NAME) ?? false;
const nameTag = (tags: Tag[] | undefined) => tags?.find((t) => t.Key === 'Name')?.Value;
const duplicates = (xs: (string | undefined)[]) => xs.filter((x, i) => xs.indexOf(x) !== i);

describe(`${COUNT} onboardings into one VPC and one ECS cluster, at once`, () => {
  it('all succeed, sharing one NAT gateway, one Elastic IP, one ECS cluster, with no overlapping subnet and nothing of ours twice', async () => {
    for (let i = 0; i < COUNT; i++) seedMesh(sandbox().kube.store, { workloadGroup: name(i), account: SANDBOX_ACCOUNT });

    const started = Date.now();
    const posts = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) => {
        const res = await fetch(`${local().api.url}/onboardings`, { method: 'POST', body: JSON.stringify(workload(i)), headers: { 'content-type': 'application/json' } });
        expect(res.status, await res.clone().text()).toBe(202);
        return ((await res.json()) as { executionId: string }).executionId;
      }),
    );
    const views = await eventually(
      async () => {
        const all = await Promise.all(posts.map(async (id) => (await (await fetch(`${local().api.url}/onboardings/${id}`)).json()) as ExecutionView));
        const running = all.filter((v) => v.status === 'RUNNING');
        if (running.length > 0) throw new Error(`${running.length} still running, e.g. at ${running[0]?.currentStep}`);
        return all;
      },
      240_000,
      250,
    );
    const wallMs = Date.now() - started;
    console.info(`${COUNT} concurrent onboardings: ${wallMs} ms wall time`);

    const failed = views.filter((v) => v.status !== 'SUCCEEDED').map((v) => `${v.workload}: ${v.error?.error} ${v.error?.cause}`);
    expect(failed).toEqual([]);
    // Each task reports its zone, one of the two task subnets' zones.
    const zones = views.flatMap((v) => (v.result as { tasks: { availabilityZone: string }[] }).tasks.map((t) => t.availabilityZone));
    expect(zones).toHaveLength(COUNT);
    for (const z of zones) expect(['us-east-1a', 'us-east-1b']).toContain(z);

    const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
    const ec2 = new EC2Client(cfg);
    const byVpc = [{ Name: 'vpc-id', Values: [sandbox().vpc.vpcId] }];
    const nats = ((await ec2.send(new DescribeNatGatewaysCommand({ Filter: byVpc }))).NatGateways ?? []).filter((n) => n.State !== 'deleted');
    expect(nats.map((n) => n.State)).toEqual(['available']);
    expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(1);
    expect((await new ECSClient(cfg).send(new ListClustersCommand({}))).clusterArns).toHaveLength(1);

    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: byVpc }))).Subnets ?? [];
    // The EKS cluster's two public subnets, our NAT subnet and the ECS cluster's task subnet in each of two zones.
    expect(subnets).toHaveLength(5);
    const blocks = subnets.map((s) => s.CidrBlock!);
    const clashes = blocks.flatMap((a, i) => blocks.slice(i + 1).filter((b) => overlaps(parseBlock(a), parseBlock(b))).map((b) => `${a} ~ ${b}`));
    expect(clashes).toEqual([]);

    const routeTables = ((await ec2.send(new DescribeRouteTablesCommand({ Filters: byVpc }))).RouteTables ?? []).filter((t) => ours(t.Tags));
    const groups = ((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byVpc }))).SecurityGroups ?? []).filter((g) => ours(g.Tags));
    expect(routeTables).toHaveLength(3);
    expect(groups).toHaveLength(COUNT);
    expect(duplicates([...subnets.filter((s) => ours(s.Tags)).map((s) => nameTag(s.Tags)), ...routeTables.map((t) => nameTag(t.Tags)), ...groups.map((g) => g.GroupName)])).toEqual([]);
    // Every run released the lease.
    expect(await getWorkload(networkLeaseKey(sandbox().vpc.vpcId))).toBeUndefined();
  }, 300_000);
});
