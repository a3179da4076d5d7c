/** The sandbox's drift route (POST /sandbox/drift) and the CLI's line per re-verification run, without a sandbox. */
import { describe, expect, it } from 'vitest';
import { driftRoute, UnknownWorkloadError, type SandboxDriftKind } from '../../local/drift.ts';
import type { ExecutionOutcome } from '../../local/engine/run-workflow.ts';
import { describeReverifyOutcome } from '../../local/reverify-loop.ts';

const asked: [string, SandboxDriftKind][] = [];
const route = driftRoute({
  drift: async (workload, kind) => {
    if (workload === 'nobody/here') throw new UnknownWorkloadError(`"${workload}" is not in the workload registry: onboard it first`);
    asked.push([workload, kind]);
    return { workload, kind, cluster: 'bookinfo', service: 'ratings' };
  },
});
const post = (body: unknown) => route({ method: 'POST', path: '/sandbox/drift', body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('POST /sandbox/drift', () => {
  it('applies a drift and answers what was done', async () => {
    expect(await post({ workload: 'bookinfo/ratings', kind: 'stop-task' })).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: { workload: 'bookinfo/ratings', kind: 'stop-task', cluster: 'bookinfo', service: 'ratings' },
    });
    expect(asked).toEqual([['bookinfo/ratings', 'stop-task']]);
  });

  it('leaves other paths to the other routes, and answers 405 to other methods', async () => {
    expect(await route({ method: 'GET', path: '/onboardings' })).toBeUndefined();
    expect(await route({ method: 'GET', path: '/sandbox/drift' })).toMatchObject({ status: 405, headers: { allow: 'POST' } });
  });

  it('400 for a body that is not JSON or names no known kind; 404 for a workload the registry lacks', async () => {
    expect(await post('{')).toMatchObject({ status: 400 });
    expect(await post({ workload: 'bookinfo/ratings', kind: 'explode' })).toMatchObject({ status: 400, body: { problems: [{ path: '$.kind' }] } });
    expect(await post({ workload: 'ratings', kind: 'stop-task' })).toMatchObject({ status: 400, body: { problems: [{ path: '$.workload' }] } });
    expect(await post({ workload: 'nobody/here', kind: 'restore' })).toMatchObject({ status: 404, body: { message: expect.stringContaining('nobody/here') } });
  });
});

describe('the CLI line of a re-verification run', () => {
  const outcome = (output: unknown): ExecutionOutcome => ({ executionName: 'r', status: 'SUCCEEDED', output, history: [], startedAt: '', durationMs: 42 });
  const at = new Date('2026-11-29T12:00:00Z');

  it('names each workload: ok, drift with its findings, or why it was not checked', () => {
    const text = describeReverifyOutcome(
      outcome([
        { workload: 'bookinfo/ratings', checked: true, ok: false, drift: [{ kind: 'tasks-below-desired', message: 'runs 0 of 1 desired tasks' }] },
        { workload: 'bookinfo/reviews', checked: true, ok: true, drift: [] },
        { workload: 'bookinfo/details', checked: false, error: 'MeshPrerequisiteError', cause: 'EKS cluster gone' },
        { workload: 'bookinfo/new', checked: false, reason: 'status ONBOARDING: only onboarded workloads are re-verified' },
      ]),
      at,
    );
    expect(text.split('\n')).toEqual([
      '[12:00:00] re-verified 4 workloads in 42 ms, 1 drifted (event sent):',
      '  bookinfo/ratings: DRIFT tasks-below-desired (runs 0 of 1 desired tasks)',
      '  bookinfo/reviews: ok',
      '  bookinfo/details: not checked (MeshPrerequisiteError: EKS cluster gone)',
      '  bookinfo/new: not checked (status ONBOARDING: only onboarded workloads are re-verified)',
    ]);
    expect(describeReverifyOutcome(outcome([]), at)).toBe('[12:00:00] re-verification: no workload in the registry');
  });
});
