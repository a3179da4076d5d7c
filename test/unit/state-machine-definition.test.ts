import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { RETRYABLE_ERROR_NAMES, TERMINAL_ERROR_NAMES } from '../../functions/lib/errors.ts';
import { allStates, ASL_PATH, FUNCTIONS_DIR, loadDefinition, placeholderOf, substitute, taskSteps, type AslMachine } from '../../statemachine/definition.ts';

const machine = loadDefinition();
const states = allStates(machine);
const tasks = states.filter(([, s]) => s.Type === 'Task');

describe('statemachine/onboard-workload.asl.json', () => {
  it('passes asl-validator once the placeholders are filled as CDK fills them', () => {
    const arns = Object.fromEntries(taskSteps(machine).map((t) => [t.placeholder, `arn:aws:lambda:us-east-1:123456789012:function:${t.file}`]));
    const filled: unknown = JSON.parse(substitute(readFileSync(ASL_PATH, 'utf8'), arns));
    const { isValid, errorsText } = aslValidator(filled, { checkPaths: true, checkArn: true });
    expect(isValid, errorsText('\n')).toBe(true);
  });

  it('uses the JSONPath dialect only (the local engine ignores JSONata and Assign)', () => {
    const text = readFileSync(ASL_PATH, 'utf8');
    expect(text).not.toMatch(/"QueryLanguage"\s*:\s*"JSONata"|"Assign"|"Arguments"|"Output"\s*:/);
  });

  it.each(tasks.map(([name]) => name))('Task "%s" has a handler file exporting `handler` and a placeholder Resource', async (name) => {
    const file = join(FUNCTIONS_DIR, `${taskSteps(machine).find((t) => t.state === name)!.file}.ts`);
    expect(existsSync(file), `${file} should exist`).toBe(true);
    const mod = (await import(file)) as { handler?: unknown };
    expect(typeof mod.handler).toBe('function');
    expect(states.find(([n]) => n === name)?.[1].Resource).toBe(`\${${placeholderOf(name)}}`);
  });

  it.each(tasks.map(([name, s]) => [name, s] as const))('Task "%s" retries Lambda and retryable errors, never terminal ones, and catches everything', (_name, s) => {
    const retried = (s.Retry ?? []).flatMap((r) => r.ErrorEquals);
    expect(retried).toContain('Lambda.ServiceException');
    expect(retried).toContain('Lambda.TooManyRequestsException');
    for (const name of RETRYABLE_ERROR_NAMES) expect(retried).toContain(name);
    for (const name of [...TERMINAL_ERROR_NAMES, 'States.ALL', 'States.TaskFailed']) expect(retried).not.toContain(name);
    expect(s.Catch?.map((c) => c.ErrorEquals)).toContainEqual(['States.ALL']);
  });

  it('routes every caught failure to Record failure (directly, or out of its Parallel branch)', () => {
    const top = machine.States;
    const reaches = (m: AslMachine, from: string, goal: string, seen = new Set<string>()): boolean => {
      if (from === goal) return true;
      if (seen.has(from)) return false;
      seen.add(from);
      const s = m.States[from];
      if (!s) return false;
      const next = [s.Next, ...(s.Catch ?? []).map((c) => c.Next)].filter((x): x is string => typeof x === 'string');
      return next.some((n) => reaches(m, n, goal, seen));
    };
    for (const [name, s] of Object.entries(top)) {
      if (s.Type === 'Task' && name !== 'Record failure') expect(reaches(machine, s.Catch![0]!.Next, 'Record failure'), name).toBe(true);
      if (s.Type === 'Parallel') {
        expect(reaches(machine, s.Catch![0]!.Next, 'Record failure')).toBe(true);
        for (const b of s.Branches ?? []) {
          for (const [bn, bs] of Object.entries(b.States)) {
            if (bs.Type !== 'Task') continue;
            const path = [bs.Catch![0]!.Next];
            let cur = b.States[path[0]!];
            while (cur && cur.Type !== 'Fail' && typeof cur.Next === 'string') cur = b.States[cur.Next];
            expect(cur?.Type, `${bn}'s catch should end in the branch's Fail state`).toBe('Fail');
          }
        }
      }
    }
  });

  it('bounds every wait: Wait states read the interval the check step computed', () => {
    const waits = states.filter(([, s]) => s.Type === 'Wait');
    expect(waits.map(([n]) => n).sort()).toEqual(['Wait for NAT gateway', 'Wait for mesh registration', 'Wait for service']);
    for (const [, w] of waits) expect(w.SecondsPath).toMatch(/\.poll\.nextWaitSeconds$/);
  });

  it('runs identity and network provisioning side by side', () => {
    const parallel = states.find(([, s]) => s.Type === 'Parallel')?.[1];
    const branchTasks = parallel?.Branches?.map((b) => Object.entries(b.States).filter(([, s]) => s.Type === 'Task').map(([n]) => n));
    expect(branchTasks).toEqual([
      ['Ensure cluster', 'Ensure task role', 'Ensure execution role', 'Ensure CA secret', 'Ensure log group'],
      ['Resolve network', 'Ensure NAT gateway', 'Check NAT gateway', 'Ensure task subnet', 'Ensure security group'],
    ]);
    expect(machine.StartAt).toBe('Validate request');
    expect(machine.States['Validate request']?.Next).toBe('Pre-flight mesh');
    expect(machine.States['Pre-flight mesh']?.Next).toBe('Provision identity and network');
  });
});
