/**
 * The hook the least-privilege test stands on: every project client reports each command before
 * sending it, and the step it belongs to comes from the handler's async context, so two steps
 * running at once (the local engine's Parallel branches) are told apart.
 */
import { DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { documents, ecs, onCommand, resetClients, sts, type SentCommand } from '../../functions/lib/clients.ts';
import { currentStep, wrap } from '../../functions/lib/middleware.ts';

class Stop extends Error {}

/** Records what is about to be sent, then stops it there (nothing reaches the network). */
function stopAndRecord(into: (SentCommand & { step: string | undefined })[]): () => void {
  return onCommand((sent) => {
    into.push({ ...sent, step: currentStep() });
    throw new Stop('recorded');
  });
}

afterEach(() => resetClients());

describe('command recorder hook', () => {
  it('reports service, operation and input of every client, lib-dynamodb as the DynamoDB operation it sends', async () => {
    const seen: (SentCommand & { step: string | undefined })[] = [];
    const stop = stopAndRecord(seen);
    try {
      await expect(ecs().send(new DescribeClustersCommand({ clusters: ['bookinfo'] }))).rejects.toBeInstanceOf(Stop);
      await expect(documents().send(new PutCommand({ TableName: 't', Item: { workload: 'a/b' } }))).rejects.toBeInstanceOf(Stop);
    } finally {
      stop();
    }
    expect(seen).toEqual([
      { service: 'ecs', command: 'DescribeClusters', input: { clusters: ['bookinfo'] }, step: undefined },
      { service: 'dynamodb', command: 'PutItem', input: { TableName: 't', Item: { workload: 'a/b' } }, step: undefined },
    ]);
  });

  it('attributes each call to the step whose handler made it, also when two run at once', async () => {
    const seen: (SentCommand & { step: string | undefined })[] = [];
    const call = async () => {
      await new Promise((r) => setTimeout(r, 5));
      await sts()
        .send(new GetCallerIdentityCommand({}))
        .catch(() => undefined);
    };
    const a = wrap('Ensure cluster', async () => {
      await call();
      await call();
    });
    const b = wrap('Resolve network', async () => {
      await call();
    });
    const stop = stopAndRecord(seen);
    try {
      await Promise.all([a({}, {} as Context), b({}, {} as Context)]);
    } finally {
      stop();
    }
    expect(seen.map((s) => s.step).sort()).toEqual(['Ensure cluster', 'Ensure cluster', 'Resolve network']);
    expect(currentStep()).toBeUndefined();
  });

  it('costs nothing once the recorder is removed', async () => {
    const seen: (SentCommand & { step: string | undefined })[] = [];
    stopAndRecord(seen)();
    // Unreachable endpoint, one attempt: the call fails on the network, not in the recorder.
    process.env.AWS_ENDPOINT_URL_ECS = 'http://127.0.0.1:9';
    try {
      await expect(ecs().send(new DescribeClustersCommand({ clusters: ['x'] }))).rejects.not.toBeInstanceOf(Stop);
    } finally {
      delete process.env.AWS_ENDPOINT_URL_ECS;
    }
    expect(seen).toEqual([]);
  });
});
