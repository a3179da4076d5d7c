import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { RENDERERS } from '../../scripts/generate-workflow.ts';
import { allStates, aslPath, FUNCTIONS_DIR, loadDefinition, MACHINE_NAMES, placeholderOf, substitute, taskSteps } from '../../statemachine/definition.ts';
import { runWorkflow } from '../../local/engine/run-workflow.ts';

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
  it('runs in the local engine: a Map over the listed workloads, bounded by the concurrency the list step gives', async () => {
    const out = await runWorkflow({ workloads: ['bookinfo/ratings', 'bookinfo/reviews'] }, { machine: 'reverify-workloads' });
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output).toEqual([
      expect.objectContaining({ workload: 'bookinfo/ratings', checked: true }),
      expect.objectContaining({ workload: 'bookinfo/reviews', checked: true }),
    ]);
  });

  it('fits in an Express workflow (5 minutes)', () => {
    expect(loadDefinition('reverify-workloads').TimeoutSeconds).toBeLessThanOrEqual(300);
  });
});
