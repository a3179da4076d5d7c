import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('lists workloads page by page', async () => {
    for (const name of ['a', 'b', 'c']) await recordStarted(bookinfoRequest({ workloadGroup: { namespace: 'apps', name } }), `exec-${name}`);
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await listWorkloads({ limit: 2, nextToken });
      seen.push(...page.items.map((i) => i.workload));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen.sort()).toEqual(['apps/a', 'apps/b', 'apps/c', 'bookinfo/ratings']);
  });

  it('does not create a record when verifying an unknown workload', async () => {
    await expect(recordVerification('nobody/here', { at: new Date().toISOString(), ok: false, drift: [] })).rejects.toThrow();
    expect(await getWorkload('nobody/here')).toBeUndefined();
  });
});
