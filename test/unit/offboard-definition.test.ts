/**
 * The teardown machine's wiring, run by the local engine with every Task replaced by a fake (no
 * AWS): the happy path's order (Parallel branches included), and one test per Catch path: a
 * terminal failure in any step ends in Record teardown failure naming the step, with what was
 * deleted before it, never retried.
 */
import { describe, expect, it } from 'vitest';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import type { TeardownEntry } from '../../functions/lib/teardown.ts';
import type { TeardownFailureRecord } from '../../functions/record-teardown-failure.ts';
import { recordTeardownFailure } from '../../functions/record-teardown-failure.ts';
import { runWorkflow, type RunOptions } from '../../local/engine/run-workflow.ts';
import { loadDefinition, taskSteps } from '../../statemachine/definition.ts';
import { bookinfoRequest } from '../support/requests.ts';

const FAST: RunOptions = { waitMs: 1, retryIntervalMs: 1, machine: 'offboard-workload' };
const deleted = (kind: TeardownEntry['kind'], id: string): TeardownEntry => ({ kind, id, outcome: 'deleted' });

type Handler = NonNullable<RunOptions['handlerOverrides']>[string];
const ok = (v: unknown): Handler => async () => v as never;

/** Fakes for every Task: each "deletes" one resource; the NAT gateway wait runs one turn when asked. */
function fakes(natWaits = false): Record<string, Handler> {
  return {
    'Start teardown': ok({ request: bookinfoRequest(), execution: { id: 'arn:aws:states:us-east-1:000000000000:execution:offboard-workload:x' }, target: { workload: 'bookinfo/ratings', retainLogs: false, recorded: [] } }),
    'Scale service down': ok({ status: 'ours', services: ['ratings'], ledger: [] }),
    'Check tasks stopped': ok({ stopped: true, running: 0, status: 'ours' }),
    'Delete service': ok({ ledger: [deleted('ecs-service', 'ratings')] }),
    'Deregister task definitions': ok({ ledger: [deleted('task-definition', 'bookinfo_ratings:1')] }),
    'Delete roles': ok({ ledger: [deleted('iam-role', 'bookinfo.ratings-ecs-task-role')] }),
    'Delete CA secret': ok({ ledger: [deleted('secret', 'mesh-onboarding/bookinfo/ratings/root-ca')] }),
    'Delete log group': ok({ ledger: [deleted('log-group', '/ecs/bookinfo_ratings')] }),
    'Revoke EKS ingress': ok({ ledger: [deleted('security-group-ingress', 'sg-eks:sgr-1')] }),
    'Delete security group': ok({ ledger: [deleted('security-group', 'sg-1')] }),
    'Delete task subnets': ok({ ledger: [deleted('vpc-subnet', 'subnet-1')] }),
    'Delete NAT gateway': ok({ done: !natWaits, deleting: natWaits ? ['nat-1'] : [], ledger: [deleted('nat-gateway', 'nat-1')] }),
    'Check NAT gateway deleted': ok({ done: true, deleting: ['nat-1'], ledger: [deleted('nat-gateway', 'nat-1')] }),
    'Delete NAT network': ok({ ledger: [deleted('elastic-ip', 'eipalloc-1')] }),
    'Delete cluster': ok({ ledger: [deleted('ecs-cluster', 'bookinfo')] }),
    'Finish teardown': ok({ workload: 'bookinfo/ratings', deleted: [], kept: [], notFound: [], registryRecordDeleted: true }),
    'Record teardown failure': async (input) => (await recordTeardownFailure(input as never)) as never,
  };
}

describe('statemachine/offboard-workload.asl.json in the local engine', () => {
  it('runs every step once, the service before the workload resources, those before the shared ones, the record last', async () => {
    const o = await runWorkflow({ workload: 'bookinfo/ratings' }, { ...FAST, handlerOverrides: fakes(true) });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    const order = o.history.filter((h) => h.stateType === 'Task').map((h) => h.state);
    const at = (s: string) => order.indexOf(s);
    expect(at('Scale service down')).toBeLessThan(at('Check tasks stopped'));
    expect(at('Check tasks stopped')).toBeLessThan(at('Delete service'));
    for (const s of ['Deregister task definitions', 'Delete roles', 'Delete security group']) expect(at('Delete service')).toBeLessThan(at(s));
    expect(at('Revoke EKS ingress')).toBeLessThan(at('Delete security group'));
    for (const s of ['Delete task subnets', 'Delete NAT gateway', 'Delete cluster']) expect(at('Delete security group')).toBeLessThan(at(s));
    expect(at('Delete NAT gateway')).toBeLessThan(at('Check NAT gateway deleted'));
    expect(at('Check NAT gateway deleted')).toBeLessThan(at('Delete NAT network'));
    expect(order[order.length - 1]).toBe('Finish teardown');
    expect(new Set(order).size).toBe(order.length);
  });

  const steps = taskSteps(loadDefinition('offboard-workload'))
    .map((s) => s.state)
    .filter((s) => s !== 'Record teardown failure');
  it.each(steps)('a terminal failure in "%s" ends in Record teardown failure naming the step, not retried', async (step) => {
    let calls = 0;
    const handlers = fakes(step === 'Check NAT gateway deleted');
    handlers[step] = async () => {
      calls++;
      throw new ResourceConflictError(`injected in ${step}`);
    };
    const o = await runWorkflow({ workload: 'bookinfo/ratings' }, { ...FAST, handlerOverrides: handlers });
    expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError', cause: `${step}: injected in ${step}` });
    expect(calls).toBe(1);
    const record = o.failureRecord as TeardownFailureRecord;
    expect(record).toMatchObject({ step, error: 'ResourceConflictError' });
    // What was deleted before the failure is listed (the service goes before everything else).
    const ranBefore = o.history.some((h) => h.state === 'Delete service' && h.status === 'succeeded');
    if (ranBefore) expect(record.deletedSoFar).toEqual(expect.arrayContaining([deleted('ecs-service', 'ratings')]));
  });
});
