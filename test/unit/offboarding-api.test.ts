/**
 * DELETE /onboardings/{workload} (functions/lib/offboarding-api.ts) with a fake backend, registry
 * and lock: what is refused before anything starts (400, 404, 409), the lock taken in the new
 * execution's name (taking over from an execution seen ended), one execution for a double
 * DELETE, a resume after a failed teardown; and the Step Functions backend asking the teardown
 * machine for `offboard-` executions.
 */
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkloadBusyError } from '../../functions/lib/errors.ts';
import { offboard, offboardingTarget, offboardNameFor, type OffboardDeps } from '../../functions/lib/offboarding-api.ts';
import { handleApiRequest, type ExecutionBackend, type ExecutionStatus, type ExecutionView } from '../../functions/lib/onboarding-api.ts';
import type { WorkloadLock, WorkloadRecord } from '../../functions/lib/registry.ts';
import { StepFunctionsExecutions } from '../../functions/lib/sfn-backend.ts';
import type { TeardownInput } from '../../functions/lib/teardown.ts';
import { bookinfoRequest } from '../support/requests.ts';

const sfnMock = mockClient(SFNClient);
afterEach(() => sfnMock.reset());

const WORKLOAD = 'bookinfo/ratings';
const ONBOARDING = 'onboard-bookinfo_ratings-0123456789abcdef';

function backend(views: Record<string, ExecutionStatus> = {}) {
  const offboarded: { name: string; input: TeardownInput }[] = [];
  const view = (id: string, status: ExecutionStatus): ExecutionView => ({ executionId: id, status, workload: WORKLOAD, startedAt: '2026-11-29T10:00:00.000Z', steps: [] });
  const b: ExecutionBackend & { offboarded: typeof offboarded } = {
    offboarded,
    start: () => Promise.reject(new Error('no onboarding expected')),
    verify: () => Promise.reject(new Error('no verification expected')),
    describe: (id) => Promise.resolve(views[id] ? view(id, views[id]) : undefined),
    offboard: (name, input) => {
      offboarded.push({ name, input });
      views[name] = 'RUNNING';
      return Promise.resolve({ started: true });
    },
  };
  return b;
}

function record(lock?: WorkloadLock): WorkloadRecord {
  return { workload: WORKLOAD, request: bookinfoRequest(), status: 'ONBOARDED', executionId: ONBOARDING, updatedAt: '2026-11-29T09:00:00.000Z', ledger: [], ...(lock ? { lock } : {}) };
}

function deps(rec: WorkloadRecord | undefined, locks: { lock: WorkloadLock; takeOverFrom?: string }[] = [], refuse?: Error): OffboardDeps {
  return {
    getWorkload: () => Promise.resolve(rec),
    now: () => new Date('2026-11-29T10:20:30.000Z'),
    // As the registry does: free, this execution's, or taken over from the named holder; else WorkloadBusyError naming it.
    acquireWorkloadLock: (_w: string, lock: WorkloadLock, opts: { takeOverFrom?: string } = {}) => {
      if (refuse) return Promise.reject(refuse);
      const held = rec?.lock?.executionId;
      if (held && held !== lock.executionId && held !== opts.takeOverFrom) return Promise.reject(new WorkloadBusyError('busy', held));
      locks.push({ lock, ...opts });
      return Promise.resolve();
    },
    releaseWorkloadLock: () => Promise.resolve(true),
  };
}

describe('DELETE /onboardings/{workload}', () => {
  it('reads <namespace>.<name>, <namespace>%2F<name> and a gateway-decoded <namespace>/<name>; not /verify', () => {
    expect(offboardingTarget('/onboardings/bookinfo.ratings')).toBe(WORKLOAD);
    expect(offboardingTarget('/onboardings/bookinfo%2Fratings')).toBe(WORKLOAD);
    expect(offboardingTarget('/onboardings/bookinfo/ratings')).toBe(WORKLOAD);
    expect(offboardingTarget('/onboardings/abc/verify')).toBeUndefined();
    expect(offboardingTarget('/onboardings')).toBeUndefined();
  });

  it('400 for a malformed workload or retainLogs; 404 for a workload the registry does not know; nothing started', async () => {
    const b = backend();
    expect(await offboard('Bookinfo/Ratings', {}, b, deps(record()))).toMatchObject({ status: 400, body: { problems: [{ path: '{workload}' }] } });
    expect(await offboard(WORKLOAD, { retainLogs: 'yes' }, b, deps(record()))).toMatchObject({ status: 400, body: { problems: [{ path: '?retainLogs' }] } });
    expect(await offboard(WORKLOAD, {}, b, deps(undefined))).toMatchObject({ status: 404 });
    // Through the contract's router, with the registry answering "no record".
    expect(await handleApiRequest({ method: 'DELETE', path: '/onboardings/bookinfo.ratings' }, b, { getWorkload: () => Promise.resolve(undefined) })).toMatchObject({ status: 404 });
    expect(b.offboarded).toEqual([]);
  });

  it('409 while a running execution holds the lock; nothing started', async () => {
    const b = backend({ [ONBOARDING]: 'RUNNING' });
    const r = await offboard(WORKLOAD, {}, b, deps(record({ executionId: ONBOARDING, machine: 'onboard-workload', acquiredAt: '2026-11-29T10:00:00.000Z' })));
    expect(r).toMatchObject({ status: 409, body: { executionId: ONBOARDING } });
    expect(b.offboarded).toEqual([]);
    // Held by another teardown this backend cannot check: taken as running (never taken over blind).
    const other = await offboard(WORKLOAD, {}, backend(), deps(record({ executionId: 'other', machine: 'offboard-workload', acquiredAt: '2026-11-29T10:00:00.000Z' })));
    expect(other).toMatchObject({ status: 409, body: { executionId: 'other' } });
  });

  it('202: takes the lock in the teardown\'s name (over an execution seen ended), starts it once; a double DELETE is the same execution', async () => {
    const b = backend({ [ONBOARDING]: 'FAILED' });
    const locks: { lock: WorkloadLock; takeOverFrom?: string }[] = [];
    const rec = record({ executionId: ONBOARDING, machine: 'onboard-workload', acquiredAt: '2026-11-29T10:00:00.000Z' });
    const first = await offboard(WORKLOAD, { retainLogs: 'true' }, b, deps(rec, locks));
    const name = offboardNameFor(WORKLOAD, ONBOARDING);
    expect(first).toMatchObject({ status: 202, body: { executionId: name, duplicate: false, status: 'RUNNING' }, headers: { location: `/onboardings/${name}` } });
    expect(name).toMatch(/^offboard-bookinfo_ratings-[0-9a-f]{16}$/);
    expect(locks).toEqual([{ lock: { executionId: name, machine: 'offboard-workload', acquiredAt: '2026-11-29T10:20:30.000Z' }, takeOverFrom: ONBOARDING }]);
    expect(b.offboarded).toEqual([{ name, input: { workload: WORKLOAD, retainLogs: true } }]);
    const second = await offboard(WORKLOAD, {}, b, deps(record({ executionId: name, machine: 'offboard-workload', acquiredAt: '2026-11-29T10:20:30.000Z' }), locks));
    expect(second).toMatchObject({ status: 202, body: { executionId: name, duplicate: true } });
    expect(b.offboarded).toHaveLength(1);
  });

  it('a teardown that failed is resumed under -r2 (what it deleted stays deleted)', async () => {
    const name = offboardNameFor(WORKLOAD, ONBOARDING);
    const b = backend({ [name]: 'FAILED' });
    const r = await offboard(WORKLOAD, {}, b, deps(record()));
    expect(r).toMatchObject({ status: 202, body: { executionId: `${name}-r2` } });
  });

  it('501 when the backend has no teardown machine', async () => {
    const { offboard: _none, ...b } = backend();
    expect(await offboard(WORKLOAD, {}, b, deps(record()))).toMatchObject({ status: 501 });
  });
});

describe('Step Functions backend: teardown executions', () => {
  const machines = {
    onboard: 'arn:aws:states:us-east-1:123456789012:stateMachine:mesh-onboarding-onboard-workload',
    reverify: 'arn:aws:states:us-east-1:123456789012:stateMachine:mesh-onboarding-reverify-workloads',
    offboard: 'arn:aws:states:us-east-1:123456789012:stateMachine:mesh-onboarding-offboard-workload',
  };

  it('starts the teardown machine with the input; a name taken is not started again', async () => {
    sfnMock.on(StartExecutionCommand).resolvesOnce({ executionArn: 'x', startDate: new Date() }).rejects(Object.assign(new Error('Execution Already Exists'), { name: 'ExecutionAlreadyExists' }));
    const b = new StepFunctionsExecutions(machines);
    expect(await b.offboard('offboard-bookinfo_ratings-0123456789abcdef', { workload: WORKLOAD, retainLogs: false })).toEqual({ started: true });
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: machines.offboard,
      name: 'offboard-bookinfo_ratings-0123456789abcdef',
      input: JSON.stringify({ workload: WORKLOAD, retainLogs: false }),
    });
    expect(await b.offboard('offboard-bookinfo_ratings-0123456789abcdef', { workload: WORKLOAD, retainLogs: false })).toEqual({ started: false });
  });

  it('describes an offboard- execution through the teardown machine, naming its workload', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', startDate: new Date('2026-11-29T10:00:00Z'), input: JSON.stringify({ workload: WORKLOAD, retainLogs: false }) } as never);
    const v = await new StepFunctionsExecutions(machines).describe('offboard-bookinfo_ratings-0123456789abcdef', { steps: false });
    expect(sfnMock.commandCalls(DescribeExecutionCommand)[0]!.args[0].input.executionArn).toBe(
      'arn:aws:states:us-east-1:123456789012:execution:mesh-onboarding-offboard-workload:offboard-bookinfo_ratings-0123456789abcdef',
    );
    expect(v).toMatchObject({ status: 'RUNNING', workload: WORKLOAD });
  });
});
