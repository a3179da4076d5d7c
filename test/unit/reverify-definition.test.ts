import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { RENDERERS } from '../../scripts/generate-workflow.ts';
import { allStates, aslPath, FUNCTIONS_DIR, loadDefinition, MACHINE_NAMES, placeholderOf, substitute, taskSteps } from '../../statemachine/definition.ts';
import { REVERIFY_CONCURRENCY_ENV } from '../../functions/list-workloads.ts';
import { executionArnOf, runWorkflow } from '../../local/engine/run-workflow.ts';
import { taskBudgetSeconds } from '../../statemachine/builder.ts';

describe.each(MACHINE_NAMES)('statemachine/%s.asl.json', (name) => {
  const machine = loadDefinition(name);

  it('is what its description renders (run `npm run workflow` after changing it)', () => {
    expect(readFileSync(aslPath(name), 'utf8')).toBe(RENDERERS[name]());
  });

  it('passes asl-validator once the placeholders are filled as CDK fills them', () => {
    const arns = Object.fromEntries(taskSteps(machine).map((t) => [t.placeholder, `arn:aws:lambda:us-east-1:123456789012:function:${t.file}`]));
    const { isValid, errorsText } = aslValidator(JSON.parse(substitute(readFileSync(aslPath(name), 'utf8'), arns)), { checkPaths: true, checkArn: true });
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('binds every Task to functions/<file>.ts exporting `handler`, through its placeholder', async () => {
    for (const t of taskSteps(machine)) {
      const file = join(FUNCTIONS_DIR, `${t.file}.ts`);
      expect(existsSync(file), file).toBe(true);
      const mod = (await import(file)) as { handler?: unknown };
      expect(typeof mod.handler, file).toBe('function');
      expect(t.resource).toBe(`\${${placeholderOf(t.state)}}`);
    }
    expect(allStates(machine).length).toBeGreaterThan(0);
  });
});

describe('re-verification workflow', () => {
  it('runs in the local engine: a Map over the listed workloads, each with the execution id of the run, bounded by the concurrency the list step gives', async () => {
    const seen: unknown[] = [];
    let inFlight = 0;
    let most = 0;
    process.env[REVERIFY_CONCURRENCY_ENV] = '2';
    try {
      const out = await runWorkflow(
        { workloads: ['bookinfo/ratings', 'bookinfo/reviews', 'bookinfo/details', 'bookinfo/productpage'] },
        {
          machine: 'reverify-workloads',
          executionName: 'hourly',
          handlerOverrides: {
            'Reverify workload': async (input) => {
              seen.push(input);
              most = Math.max(most, ++inFlight);
              await new Promise((r) => setTimeout(r, 20));
              inFlight--;
              return { workload: (input as { workload: string }).workload, checked: true, ok: true, drift: [] };
            },
          },
        },
      );
      expect(out.status).toBe('SUCCEEDED');
      expect(out.output).toEqual(['ratings', 'reviews', 'details', 'productpage'].map((n) => ({ workload: `bookinfo/${n}`, checked: true, ok: true, drift: [] })));
    } finally {
      delete process.env[REVERIFY_CONCURRENCY_ENV];
    }
    expect(seen).toContainEqual({ workload: 'bookinfo/ratings', executionId: executionArnOf('hourly', 'reverify-workloads') });
    expect(most).toBe(2);
  });

  it('reports a workload whose check fails and checks the others (the per-item Catch)', async () => {
    const out = await runWorkflow(
      { workloads: ['bookinfo/ratings', 'bookinfo/reviews'] },
      {
        machine: 'reverify-workloads',
        retryIntervalMs: 1,
        handlerOverrides: {
          'Reverify workload': async (input) => {
            const { workload } = input as { workload: string };
            if (workload === 'bookinfo/ratings') throw Object.assign(new Error('EKS cluster "mesh-eks" was not found'), { name: 'MeshPrerequisiteError' });
            return { workload, checked: true, ok: true, drift: [] };
          },
        },
      },
    );
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output).toEqual([
      { workload: 'bookinfo/ratings', checked: false, error: 'MeshPrerequisiteError', cause: expect.stringContaining('mesh-eks') },
      { workload: 'bookinfo/reviews', checked: true, ok: true, drift: [] },
    ]);
  });

  it("one workload's check, every retry used up, leaves the run time for the others (Express ends at 5 minutes)", () => {
    const item = allStates(loadDefinition('reverify-workloads')).find(([n]) => n === 'Reverify workload')![1];
    const worst = taskBudgetSeconds(item.TimeoutSeconds!, item.Retry!);
    expect(worst).toBeLessThan(300);
  });

  it('fits in an Express workflow (5 minutes)', () => {
    expect(loadDefinition('reverify-workloads').TimeoutSeconds).toBeLessThanOrEqual(300);
  });
});

describe('List workloads: the Map concurrency setting', () => {
  it('uses a valid setting and falls back to the default for a malformed one (NaN would reach MaxConcurrencyPath as null)', async () => {
    const { concurrencySetting, DEFAULT_REVERIFY_CONCURRENCY } = await import('../../functions/list-workloads.ts');
    expect(concurrencySetting('4')).toBe(4);
    for (const bad of [undefined, '', 'ten', '0', '41', '2.5']) expect(concurrencySetting(bad)).toBe(DEFAULT_REVERIFY_CONCURRENCY);
  });
});
