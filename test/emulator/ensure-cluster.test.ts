import { DescribeClustersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { ensureCluster } from '../../functions/ensure-cluster.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();

describe('Ensure cluster (emulator)', () => {
  it('creates the FARGATE cluster once and reuses it on the second run', async () => {
    const request = bookinfoRequest();
    const first = await ensureCluster({ request });
    const second = await ensureCluster({ request });

    expect(first.ledger).toEqual([{ kind: 'ecs-cluster', id: 'bookinfo', arn: first.clusterArn, created: true }]);
    expect(second.clusterArn).toBe(first.clusterArn);
    expect(second.ledger[0]?.created).toBe(false);

    const ecs = new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1' });
    const { clusters } = await ecs.send(new DescribeClustersCommand({ clusters: ['bookinfo'], include: ['TAGS'] }));
    expect(clusters).toHaveLength(1);
    expect(clusters?.[0]?.capacityProviders).toEqual(['FARGATE']);
    expect(clusters?.[0]?.tags).toContainEqual({ key: 'mesh-onboarding/workload', value: 'bookinfo/ratings' });
  });
});
