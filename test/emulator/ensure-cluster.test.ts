import { DeleteClusterCommand, DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureCluster } from '../../functions/ensure-cluster.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
let ecs: ECSClient;
beforeAll(() => {
  ecs = new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 });
});

const describeCluster = async (name: string) => (await ecs.send(new DescribeClustersCommand({ clusters: [name], include: ['TAGS', 'SETTINGS'] }))).clusters?.find((c) => c.clusterName === name);

describe('Ensure cluster (emulator)', () => {
  it('creates the FARGATE cluster once and reuses it on the second run', async () => {
    const request = bookinfoRequest();
    const first = await ensureCluster({ request });
    const second = await ensureCluster({ request });

    expect(first.ledger).toEqual([{ kind: 'ecs-cluster', id: 'bookinfo', arn: first.clusterArn, created: true, shared: true }]);
    expect(second.clusterArn).toBe(first.clusterArn);
    expect(second.ledger[0]?.created).toBe(false);

    const { clusters } = await ecs.send(new DescribeClustersCommand({ clusters: ['bookinfo'], include: ['TAGS'] }));
    expect(clusters).toHaveLength(1);
    expect(clusters?.[0]?.capacityProviders).toEqual(['FARGATE']);
  });

  it('tags the cluster as shared: managed-by, and no workload (every workload of the cluster uses it)', async () => {
    const cluster = await describeCluster('bookinfo');
    expect(cluster?.tags).toEqual([{ key: 'mesh-onboarding/managed-by', value: 'ecs-mesh-onboarding' }]);
    // Another workload of the same cluster reuses it as it is.
    const other = await ensureCluster({ request: bookinfoRequest({ workloadGroup: { name: 'reviews' } }) });
    expect(other).toMatchObject({ clusterArn: cluster?.clusterArn, ledger: [{ created: false }] });
  });

  it('turns Container Insights on only when the request asks for it', async () => {
    expect((await describeCluster('bookinfo'))?.settings ?? []).not.toContainEqual({ name: 'containerInsights', value: 'enabled' });

    await ensureCluster({ request: bookinfoRequest({ ecs: { cluster: 'observed', containerInsights: true } }) });
    expect((await describeCluster('observed'))?.settings).toContainEqual({ name: 'containerInsights', value: 'enabled' });
  });

  it('creates the cluster again after it was deleted', async () => {
    const before = await describeCluster('bookinfo');
    await ecs.send(new DeleteClusterCommand({ cluster: 'bookinfo' }));

    const again = await ensureCluster({ request: bookinfoRequest() });

    expect(again.ledger[0]?.created).toBe(true);
    expect((await describeCluster('bookinfo'))?.status).toBe('ACTIVE');
    expect(again.clusterArn).toBe(before?.clusterArn);
  });
});
