/**
 * Section (d) of `npm run bench`: n onboardings of distinct workloads into one VPC and one ECS
 * cluster, started at once through the local API (POST /onboardings, then GET until none is
 * RUNNING), as test/emulator/concurrent-onboardings.test.ts does. Each level gets a fresh
 * sandbox, so what is counted afterwards is that level's alone: NAT gateways, Elastic IPs,
 * ECS clusters, our subnets in the VPC, and every resource of ours counted by name
 * (test/support/inventory.ts) to find any made twice.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import type { ExecutionView } from '../functions/lib/onboarding-api.ts';
import { TAG_MANAGED_BY, TOOL_NAME } from '../functions/lib/settings.ts';
import { startApiServer } from '../local/api-server.ts';
import { seedMesh } from '../local/kube-api-standin.ts';
import { LocalExecutions } from '../local/local-executions.ts';
import { SANDBOX_ACCOUNT, startSandbox } from '../local/sandbox.ts';
import { duplicates, inventory } from '../test/support/inventory.ts';
import { workloadOf } from './scenarios.ts';
import { readFileSync } from 'node:fs';

export interface ConcurrencyResult {
  count: number;
  /** From the first POST to the last execution's end (local wall clock). */
  wallMs: number;
  succeeded: number;
  failed: string[];
  /** True when the deadline passed with executions still running (they were aborted). */
  timedOut: boolean;
  natGateways: number;
  elasticIps: number;
  ecsClusters: number;
  /** Our subnets in the VPC (the NAT subnet and the cluster's task subnets). */
  subnets: number;
  /** Resources of ours counted more than once (`kind:name ×n`). */
  duplicates: string[];
}

export interface ConcurrencyOptions {
  waitMs: number;
  retryIntervalMs: number;
  /** Executions still running after this long are aborted and counted as failed. */
  deadlineMs: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runConcurrency(count: number, opts: ConcurrencyOptions): Promise<ConcurrencyResult> {
  const t0 = Date.now();
  const sandbox = await startSandbox({ intervalMs: 200 });
  const startMs = Date.now() - t0;
  const backend = new LocalExecutions({ waitMs: opts.waitMs, retryIntervalMs: opts.retryIntervalMs });
  const api = await startApiServer(backend, 0);
  try {
    const base = JSON.parse(readFileSync(new URL('../examples/bookinfo-ratings.json', import.meta.url), 'utf8')) as Parameters<typeof workloadOf>[0];
    const name = (i: number) => `w${String(i).padStart(2, '0')}`;
    for (let i = 0; i < count; i++) seedMesh(sandbox.kube.store, { workloadGroup: name(i), account: SANDBOX_ACCOUNT });

    const started = Date.now();
    const ids = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const res = await fetch(`${api.url}/onboardings`, { method: 'POST', body: JSON.stringify(workloadOf(base, name(i))), headers: { 'content-type': 'application/json' } });
        if (res.status !== 202) throw new Error(`POST /onboardings for ${name(i)}: ${res.status} ${await res.text()}`);
        return ((await res.json()) as { executionId: string }).executionId;
      }),
    );
    let views: ExecutionView[] = [];
    let timedOut = false;
    for (;;) {
      views = await Promise.all(ids.map(async (id) => (await (await fetch(`${api.url}/onboardings/${id}`)).json()) as ExecutionView));
      if (views.every((v) => v.status !== 'RUNNING')) break;
      if (Date.now() - started > opts.deadlineMs) {
        timedOut = true;
        break;
      }
      await sleep(250);
    }
    const wallMs = Date.now() - started;
    if (timedOut) {
      backend.abortAll();
      await backend.settle();
    }

    const countFrom = Date.now();
    const cfg = { endpoint: sandbox.moto.endpoint, region: sandbox.region, maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    const ec2 = new EC2Client(cfg);
    const ecs = new ECSClient(cfg);
    try {
      const byVpc = [{ Name: 'vpc-id', Values: [sandbox.vpc.vpcId] }];
      const nats = ((await ec2.send(new DescribeNatGatewaysCommand({ Filter: byVpc }))).NatGateways ?? []).filter((n) => n.State !== 'deleted' && n.State !== 'failed');
      const eips = (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
      const clusters = (await ecs.send(new ListClustersCommand({}))).clusterArns ?? [];
      const subnets = ((await ec2.send(new DescribeSubnetsCommand({ Filters: byVpc }))).Subnets ?? []).filter((s) => s.Tags?.some((t) => t.Key === TAG_MANAGED_BY && t.Value === TOOL_NAME));
      const inv = await inventory(sandbox.moto.endpoint, { region: sandbox.region, eksClusterSecurityGroupId: sandbox.vpc.clusterSecurityGroupId });
      const failed = views.filter((v) => v.status !== 'SUCCEEDED').map((v) => `${v.workload}: ${v.status} ${v.error?.error ?? ''} ${v.error?.cause ?? ''}`.trim());
      const r: ConcurrencyResult = {
        count,
        wallMs,
        succeeded: views.filter((v) => v.status === 'SUCCEEDED').length,
        failed,
        timedOut,
        natGateways: nats.length,
        elasticIps: eips.length,
        ecsClusters: clusters.length,
        subnets: subnets.length,
        duplicates: duplicates(inv),
      };
      opts.log?.(`  ${count} at once: ${r.succeeded}/${count} succeeded in ${(wallMs / 1000).toFixed(1)} s; ${r.natGateways} NAT gateway(s), ${r.elasticIps} EIP(s), ${r.subnets} subnets of ours, ${r.duplicates.length} duplicates (sandbox start ${(startMs / 1000).toFixed(1)} s, counting ${((Date.now() - countFrom) / 1000).toFixed(1)} s)`);
      return r;
    } finally {
      ec2.destroy();
      ecs.destroy();
    }
  } finally {
    const stopFrom = Date.now();
    await backend.settle().catch(() => undefined);
    await api.stop();
    await sandbox.stop();
    opts.log?.(`  (stopped in ${((Date.now() - stopFrom) / 1000).toFixed(1)} s)`);
  }
}
