/**
 * The dry run's pieces (functions/lib/plan.ts): Record plan's assembly, the dispatch in `wrap`,
 * the placeholders, and the workflow wiring: every provisioning step plans, a dry run never
 * waits for a NAT gateway, and it leaves at the service loop's Choice for Record plan.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { wrap } from '../../functions/lib/middleware.ts';
import { isDryRun, isPlanned, PLANNED_KEYS, plannedId } from '../../functions/lib/plan.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { recordPlan } from '../../functions/record-plan.ts';
import { validateRequest } from '../../functions/validate-request.ts';
import { ONBOARD_WORKLOAD } from '../../statemachine/onboard-workload.ts';
import { allStates, loadDefinition } from '../../statemachine/definition.ts';
import type { Step, TaskStep } from '../../statemachine/builder.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';

function tasksOf(steps: Step[]): TaskStep[] {
  return steps.flatMap((s) => (s.kind === 'task' ? [s] : s.kind === 'loop' ? [s.check, ...(s.exit?.steps ?? [])] : s.branches.flatMap((b) => tasksOf(b.steps))));
}

describe('Record plan', () => {
  it('lists every step\'s entries in workflow order with the step, counts them, and is ready without problems or conflicts', async () => {
    const state = {
      request: bookinfoRequest(),
      cluster: { plan: [{ kind: 'ecs-cluster', name: 'bookinfo', action: 'create' }] },
      service: { plan: [{ kind: 'ecs-service', name: 'ratings', id: 'arn:svc', action: 'update', changes: [{ field: 'desiredCount', current: 1, wanted: 2 }] }] },
      logGroup: { plan: [{ kind: 'log-group', name: '/ecs/x', id: '/ecs/x', action: 'reuse' }] },
    } as unknown as WorkflowState;
    const plan = await recordPlan(state);
    expect(plan).toMatchObject({ workload: 'bookinfo/ratings', dryRun: true, status: 'ready', summary: { create: 1, update: 1, reuse: 1, conflict: 0 }, problems: [] });
    expect(plan.resources.map((e) => `${e.step}/${e.kind}`)).toEqual(['Ensure cluster/ecs-cluster', 'Ensure log group/log-group', 'Ensure service/ecs-service']);
  });

  it('is blocked by a problem of Pre-flight mesh or Resolve network, and by a conflict', async () => {
    const request = bookinfoRequest();
    const withProblem = await recordPlan({ request, preflight: { problems: [{ step: 'Pre-flight mesh', message: 'no policy' }] } } as unknown as WorkflowState);
    expect(withProblem).toMatchObject({ status: 'blocked', problems: [{ step: 'Pre-flight mesh', message: 'no policy' }] });
    const withConflict = await recordPlan({ request, taskSubnet: { plan: [{ kind: 'vpc-subnet', name: 'x', id: 'subnet-1', action: 'conflict', detail: 'not ours' }] } } as unknown as WorkflowState);
    expect(withConflict.status).toBe('blocked');
  });
});

describe('dry-run dispatch and placeholders', () => {
  it('wrap runs the plan function only for a dry run\'s state', async () => {
    const handler = wrap('Test step', (s: { request: { dryRun?: boolean } }) => Promise.resolve(`apply ${String(s.request.dryRun)}`), { plan: () => Promise.resolve('plan') });
    const ctx = { functionName: 'f', awsRequestId: '1' } as never;
    await expect(handler({ request: { dryRun: true } }, ctx)).resolves.toBe('plan');
    await expect(handler({ request: {} }, ctx)).resolves.toBe('apply undefined');
    await expect(handler({ request: { dryRun: false } }, ctx)).resolves.toBe('apply false');
    expect(isDryRun({ request: { dryRun: 'true' } })).toBe(false);
  });

  it('placeholder ids are recognisable and name the resource', () => {
    expect(plannedId('vpc-subnet', 'c-ecs-subnet-us-east-1a')).toBe('planned:vpc-subnet:c-ecs-subnet-us-east-1a');
    expect(isPlanned(plannedId('secret', 's'))).toBe(true);
    expect(isPlanned('subnet-0123')).toBe(false);
    expect(isPlanned(undefined)).toBe(false);
  });

  it('Validate request of a dry run keeps only the PEM\'s SHA-256 and writes nothing', async () => {
    const input = { ...bookinfoInput(), dryRun: true };
    const state = await validateRequest({ input, executionId: 'arn:aws:states:us-east-1:123456789012:execution:m:plan-x' });
    expect(state.caBundle).toEqual({ sha256: createHash('sha256').update(input.rootCaPem, 'utf8').digest('hex') });
    expect(JSON.stringify(state)).not.toContain('BEGIN CERTIFICATE');
    expect(state.request.dryRun).toBe(true);
  });
});

describe('the workflow in a dry run', () => {
  const asl = loadDefinition('onboard-workload');
  const states = Object.fromEntries(allStates(asl));

  it('every Task that provisions (its result has a ledger) and runs before the dry run\'s exit has a planned key', () => {
    const provisioning = tasksOf(ONBOARD_WORKLOAD.steps).filter((t) => t.ledger && !t.name.startsWith('Check '));
    const planned = PLANNED_KEYS.map(([, step]) => step).filter((s) => s !== 'Pre-flight mesh' && s !== 'Resolve network');
    expect(provisioning.map((t) => t.name).sort()).toEqual([...planned].sort());
    for (const [key, step] of PLANNED_KEYS) expect(states[step]).toMatchObject({ Type: 'Task', ResultPath: `$.${key}` });
  });

  it('never waits for the NAT gateway, and leaves after Ensure service (the first rule of the service loop\'s Choice: no extra state for an apply) for Record plan and the Planned end', () => {
    const natChoice = JSON.stringify(states['NAT gateway available?']);
    expect(natChoice).toContain('$.request.dryRun');
    expect(states['Ensure service']).toMatchObject({ Next: 'Service ready?' });
    const first = (states['Service ready?'] as unknown as { Choices: Record<string, unknown>[] }).Choices[0]!;
    expect(first).toMatchObject({ Next: 'Record plan' });
    expect(JSON.stringify(first)).toContain('$.request.dryRun');
    expect(states['Record plan']).toMatchObject({ Next: 'Planned' });
    expect(states.Planned).toMatchObject({ Type: 'Succeed', OutputPath: '$.plan' });
  });
});
