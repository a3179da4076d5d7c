/**
 * The VPC network lease (functions/lib/network-lease.ts) against a stubbed DynamoDB: taken with
 * a conditional PutItem, looked again under it, released with a conditional DeleteItem; a run
 * that finds it held waits, then names the holder in a ResourceNotReadyError. DynamoDB answers a
 * failed condition with ConditionalCheckFailedException, "The conditional request failed"
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html#API_PutItem_Errors).
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.ts';
import { ResourceNotReadyError } from '../../functions/lib/errors.ts';
import { networkLeaseKey, withNetworkLease } from '../../functions/lib/network-lease.ts';
import { ENV } from '../../functions/lib/settings.ts';

const ddb = mockClient(DynamoDBDocumentClient);
mockClient(DynamoDBClient);
const VPC = 'vpc-0000000000000000a';
const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const saved = process.env[ENV.registryTable];

beforeEach(() => {
  resetClients();
  process.env[ENV.registryTable] = 'registry';
});
afterEach(() => {
  ddb.reset();
  if (saved === undefined) delete process.env[ENV.registryTable];
  else process.env[ENV.registryTable] = saved;
});

describe('network lease', () => {
  it('does not take the lease when everything is in place', async () => {
    const r = await withNetworkLease({ vpcId: VPC, holder: 'exec-1', what: 'The NAT gateway' }, () => Promise.resolve('nat-1'), () => Promise.reject(new Error('not expected')));
    expect(r).toBe('nat-1');
    expect(ddb.calls()).toHaveLength(0);
  });

  it('takes it conditionally, looks again under it, creates, and releases it only if still its own', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    let looks = 0;
    const r = await withNetworkLease({ vpcId: VPC, holder: 'exec-1', what: 'The NAT gateway', now: () => 1_000 }, () => Promise.resolve(void looks++), () => Promise.resolve('made'));
    expect(r).toBe('made');
    expect(looks).toBe(2);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: 'registry',
      Item: { workload: networkLeaseKey(VPC), holder: 'exec-1', acquiredAt: new Date(1_000).toISOString(), expiresAtMs: 121_000 },
      ConditionExpression: 'attribute_not_exists(#k) OR #h = :me OR #exp < :now',
      ExpressionAttributeValues: { ':me': 'exec-1', ':now': 1_000 },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { workload: networkLeaseKey(VPC) }, ConditionExpression: '#h = :me', ExpressionAttributeValues: { ':me': 'exec-1' } });
  });

  it('waits for a holder that finishes, then uses what it made without taking the lease', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { workload: networkLeaseKey(VPC), holder: 'exec-0', acquiredAt: '2026-11-29T05:00:00.000Z', expiresAtMs: 4e12 } });
    let looks = 0;
    const r = await withNetworkLease({ vpcId: VPC, holder: 'exec-1', what: 'The NAT gateway', pollMs: 1 }, () => Promise.resolve(++looks >= 3 ? 'nat-0' : undefined), () => Promise.reject(new Error('not expected')));
    expect(r).toBe('nat-0');
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
  });

  it('throws ResourceNotReadyError naming the holder once its wait is over', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { workload: networkLeaseKey(VPC), holder: 'arn:aws:states:us-east-1:123456789012:execution:onboard-workload:exec-0', acquiredAt: '2026-11-29T05:00:00.000Z', expiresAtMs: Date.parse('2026-11-29T05:02:00.000Z') } });
    const err = await withNetworkLease({ vpcId: VPC, holder: 'exec-1', what: 'The NAT gateway', waitMs: 0 }, () => Promise.resolve(undefined), () => Promise.reject(new Error('not expected'))).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ResourceNotReadyError);
    expect((err as Error).message).toMatch(/^The NAT gateway of vpc-0000000000000000a is being made by execution arn:aws:states:.*:exec-0 \(network lease taken 2026-11-29T05:00:00.000Z, expiring 2026-11-29T05:02:00.000Z\)/);
  });

  it('releases the lease when the create fails, and keeps the error', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    const err = await withNetworkLease({ vpcId: VPC, holder: 'exec-1', what: 'x' }, () => Promise.resolve(undefined), () => Promise.reject(new Error('boom'))).catch((e: unknown) => e);
    expect((err as Error).message).toBe('boom');
    expect(ddb).toHaveReceivedCommand(DeleteCommand);
  });

  it('runs the create without a lease when there is no registry table', async () => {
    delete process.env[ENV.registryTable];
    expect(await withNetworkLease({ vpcId: VPC, what: 'x' }, () => Promise.resolve(undefined), () => Promise.resolve('made'))).toBe('made');
    expect(ddb.calls()).toHaveLength(0);
  });
});
