import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionEnded } from '../../functions/execution-ended.ts';
import { acquireWorkloadLock, getWorkload, listWorkloads, releaseWorkloadLock, recordFailed, recordOnboarded, recordStarted, recordVerification } from '../../functions/lib/registry.ts';
import { ENV } from '../../functions/lib/settings.ts';
import { createRegistryTable } from '../../local/registry-table.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoRequest } from '../support/requests.ts';

useEmulator();
const saved = process.env[ENV.registryTable];
beforeAll(async () => {
  process.env[ENV.registryTable] = await createRegistryTable('registry-test');
});
afterAll(() => {
  if (saved === undefined) delete process.env[ENV.registryTable];
  else process.env[ENV.registryTable] = saved;
});

describe('workload registry (emulator DynamoDB)', () => {
  it('keeps one record per workload through start, failure, success and verification, never the CA', async () => {
    const request = { ...bookinfoRequest(), rootCaPem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----' } as ReturnType<typeof bookinfoRequest>;
    await recordStarted(request, 'exec-1');
    expect(await getWorkload('bookinfo/ratings')).toMatchObject({ workload: 'bookinfo/ratings', status: 'ONBOARDING', executionId: 'exec-1' });
    await recordFailed(request, 'exec-1', { step: 'Ensure service', error: 'ResourceConflictError', cause: 'x' }, [{ kind: 'ecs-cluster', id: 'bookinfo', created: true, shared: true }]);
    expect(await getWorkload('bookinfo/ratings')).toMatchObject({ status: 'FAILED', failure: { step: 'Ensure service' } });
    await recordOnboarded(request, 'exec-1-r2', [{ kind: 'ecs-service', id: 'arn:svc', created: true }]);
    await recordVerification('bookinfo/ratings', { at: '2026-11-29T00:00:00.000Z', ok: true, drift: [] });
    await recordStarted(request, 'exec-3');
    const record = await getWorkload('bookinfo/ratings');
    expect(record).toMatchObject({ status: 'ONBOARDING', executionId: 'exec-3', verification: { ok: true } });
    expect(record?.failure).toBeUndefined();
    expect(JSON.stringify(record)).not.toContain('BEGIN CERTIFICATE');
  });

  it('holds one lock per workload: re-entrant for its holder, refused to another execution, taken over from a named stale holder, released only by its holder', async () => {
    const lock = (executionId: string) => ({ executionId, machine: 'onboard-workload' as const, acquiredAt: '2026-11-29T00:00:00.000Z' });
    await acquireWorkloadLock('locks/a', lock('exec-a'));
    await acquireWorkloadLock('locks/a', lock('exec-a'));
    await expect(acquireWorkloadLock('locks/a', lock('exec-b'))).rejects.toMatchObject({ name: 'WorkloadBusyError', heldBy: 'exec-a', message: expect.stringContaining('exec-a') });
    expect(await releaseWorkloadLock('locks/a', 'exec-b')).toBe(false);
    await acquireWorkloadLock('locks/a', lock('exec-b'), { takeOverFrom: 'exec-a' });
    expect((await getWorkload('locks/a'))?.lock?.executionId).toBe('exec-b');
    expect(await releaseWorkloadLock('locks/a', 'exec-b')).toBe(true);
    expect(await releaseWorkloadLock('locks/a', 'exec-b')).toBe(false);
    await acquireWorkloadLock('locks/a', lock('exec-c'));
  });

  it('record writes with the lock: the start takes it, the end writes only while holding it and frees it; a run without it writes nothing', async () => {
    const request = bookinfoRequest({ workloadGroup: { namespace: 'locks', name: 'writes' } });
    const take = (executionId: string) => ({ take: { executionId, machine: 'onboard-workload' as const, acquiredAt: '2026-11-29T00:00:00.000Z' } });
    await recordStarted(request, 'arn:x:exec-1', new Date(), take('exec-1'));
    await expect(recordStarted(request, 'arn:x:exec-2', new Date(), take('exec-2'))).rejects.toMatchObject({ name: 'WorkloadBusyError', heldBy: 'exec-1' });
    await expect(recordOnboarded(request, 'arn:x:exec-2', [], new Date(), { release: 'exec-2' })).rejects.toMatchObject({ name: 'WorkloadBusyError' });
    expect(await getWorkload('locks/writes')).toMatchObject({ status: 'ONBOARDING', executionId: 'arn:x:exec-1', lock: { executionId: 'exec-1' } });
    await recordFailed(request, 'arn:x:exec-1', { step: 's', error: 'e', cause: 'c' }, [], new Date(), { release: 'exec-1' });
    const record = await getWorkload('locks/writes');
    expect(record).toMatchObject({ status: 'FAILED', executionId: 'arn:x:exec-1' });
    expect(record?.lock).toBeUndefined();
  });

  it.each(['TIMED_OUT', 'ABORTED'] as const)('execution-ended on a %s event frees the lock and marks the record FAILED, and leaves another execution\'s record and lock alone', async (status) => {
    // Prepare: a run that took the lock and recorded its start, then never reached its last state.
    const name = `exec-${status.toLowerCase()}`;
    const arn = `arn:aws:states:us-east-1:123456789012:execution:onboard-workload:${name}`;
    const request = bookinfoRequest({ workloadGroup: { namespace: 'ended', name: status.toLowerCase().replace('_', '-') } });
    const workload = `ended/${status.toLowerCase().replace('_', '-')}`;
    await recordStarted(request, arn, new Date(), { take: { executionId: name, machine: 'onboard-workload', acquiredAt: new Date().toISOString() } });
    const event = (n: string, a: string) => ({ detail: { executionArn: a, stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:onboard-workload', name: n, status, input: JSON.stringify(request), inputDetails: { included: true } } });

    // Act: first the end of some other execution of the workload, then this one's (twice: EventBridge may deliver an event more than once).
    expect(await executionEnded(event('someone-else', `${arn}-other`))).toEqual({ workload, released: false, markedFailed: false });
    const r = await executionEnded(event(name, arn));
    const again = await executionEnded(event(name, arn));

    // Assess
    expect(r).toEqual({ workload, released: true, markedFailed: true });
    expect(again).toEqual({ workload, released: false, markedFailed: false });
    const record = await getWorkload(workload);
    expect(record).toMatchObject({ status: 'FAILED', executionId: arn, failure: { step: status === 'TIMED_OUT' ? 'Execution timed out' : 'Execution aborted', error: status === 'TIMED_OUT' ? 'States.Timeout' : 'ExecutionAborted' } });
    expect(record?.lock).toBeUndefined();
    expect(JSON.stringify(record)).not.toContain('BEGIN CERTIFICATE');
  });

  it('lists workloads page by page', async () => {
    for (const name of ['a', 'b', 'c']) await recordStarted(bookinfoRequest({ workloadGroup: { namespace: 'apps', name } }), `exec-${name}`);
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await listWorkloads({ limit: 2, nextToken });
      seen.push(...page.items.map((i) => i.workload));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen.sort()).toEqual(['apps/a', 'apps/b', 'apps/c', 'bookinfo/ratings', 'ended/aborted', 'ended/timed-out', 'locks/writes']);
  });

  it('does not create a record when verifying an unknown workload', async () => {
    await expect(recordVerification('nobody/here', { at: new Date().toISOString(), ok: false, drift: [] })).rejects.toThrow();
    expect(await getWorkload('nobody/here')).toBeUndefined();
  });
});
