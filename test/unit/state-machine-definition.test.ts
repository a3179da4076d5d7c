import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { RETRYABLE_ERROR_NAMES, TERMINAL_ERROR_NAMES } from '../../functions/lib/errors.ts';
import { READINESS } from '../../functions/lib/settings.ts';
import { allStates, ASL_PATH, FUNCTIONS_DIR, loadDefinition, placeholderOf, substitute, taskSteps, type AslMachine, type AslState, type Retrier } from '../../statemachine/definition.ts';
import { renderWorkflow } from '../../statemachine/onboard-workload.ts';
import { onboardingRequestJsonSchema } from '../../scripts/generate-schema.ts';

const machine = loadDefinition();
const states = allStates(machine);
const tasks = states.filter(([, s]) => s.Type === 'Task');

describe('statemachine/onboard-workload.asl.json', () => {
  it('is what statemachine/onboard-workload.ts renders (run `npm run workflow` after changing it)', () => {
    expect(readFileSync(ASL_PATH, 'utf8')).toBe(renderWorkflow());
  });

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
    for (const name of [...TERMINAL_ERROR_NAMES, 'States.ALL', 'States.TaskFailed', 'Lambda.Unknown']) expect(retried).not.toContain(name);
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
        // A branch's caught failure ends the branch normally (the others run on); the Choice after the Parallel routes it.
        for (const b of s.Branches ?? []) {
          for (const [bn, bs] of Object.entries(b.States)) {
            if (bs.Type !== 'Task') continue;
            expect(b.States[bs.Catch![0]!.Next], `${bn}'s catch should end its branch with a failure Pass`).toMatchObject({ Type: 'Pass', End: true });
          }
        }
        const choice = top[s.Next!]!;
        expect(choice.Type).toBe('Choice');
        for (const c of choice.Choices as { Next: string }[]) expect(reaches(machine, c.Next, 'Record failure'), c.Next).toBe(true);
      }
    }
  });

  it('bounds every wait: Wait states read the interval the check step computed, after a first wait shaped by when the resource is typically ready', () => {
    const waits = states.filter(([, s]) => s.Type === 'Wait' && s.SecondsPath !== undefined);
    expect(waits.map(([n]) => n).sort()).toEqual(['Wait for NAT gateway', 'Wait for mesh registration', 'Wait for service']);
    for (const [, w] of waits) expect(w.SecondsPath).toMatch(/\.poll\.nextWaitSeconds$/);
    const first = Object.fromEntries(states.filter(([, s]) => s.Type === 'Wait' && s.SecondsPath === undefined).map(([n, s]) => [n, [s.Seconds, s.Next]]));
    expect(first).toEqual({
      'First wait for NAT gateway': [READINESS.natGateway.firstWaitSeconds, 'Check NAT gateway'],
      'First wait for service': [READINESS.service.firstWaitSeconds, 'Check service readiness'],
      'First wait for mesh registration': [READINESS.mesh.firstWaitSeconds, 'Verify workload'],
    });
  });

  it('waits first only for what this run started (a re-run finding the service in place checks at once)', () => {
    const choice = machine.States['Service ready?']!;
    expect(choice.Default).toBe('Check service readiness');
    const rules = choice.Choices as { Next: string }[];
    // First the dry run's exit (functions/lib/plan.ts), then the loop's own rules.
    expect(rules.map((r) => r.Next)).toEqual(['Record plan', 'Workload connected?', 'Wait for service', 'First wait for service']);
    expect(JSON.stringify(rules[3])).toMatch(/\$\.service\.ledger\[0\]\.created/);
    expect(machine.States['Workload connected?']!.Default).toBe('Verify workload');
  });

  it('checks the network against the account before anything is made, then runs identity and network provisioning side by side', () => {
    const parallel = states.find(([, s]) => s.Type === 'Parallel')?.[1];
    const branchTasks = parallel?.Branches?.map((b) => Object.entries(b.States).filter(([, s]) => s.Type === 'Task').map(([n]) => n));
    expect(branchTasks).toEqual([
      ['Ensure cluster', 'Ensure task role', 'Ensure execution role', 'Ensure CA secret', 'Ensure log group', 'Register task definition'],
      // Everything that does not need an available NAT gateway overlaps its wait; only Ensure service (after the Parallel) waits for it.
      ['Ensure NAT gateway', 'Ensure task subnet', 'Ensure security group', 'Check NAT gateway'],
    ]);
    expect(machine.States.Provisioned?.Next).toBe('Ensure service');
    expect(machine.StartAt).toBe('Validate request');
    expect(machine.States['Validate request']?.Next).toBe('Pre-flight mesh');
    // Resolve network holds every feasibility check: a request that cannot succeed fails there, before the first mutating call.
    expect(machine.States['Pre-flight mesh']?.Next).toBe('Resolve network');
    expect(machine.States['Resolve network']?.Next).toBe('Provision identity and network');
  });

  describe('retry policy', () => {
    it('no Parallel retries: its branch Tasks already used their own retries', () => {
      for (const [name, s] of states.filter(([, st]) => st.Type === 'Parallel')) expect(s.Retry, name).toBeUndefined();
    });

    it('no retrier lists Lambda.Unknown (out of memory recurs) or a terminal error', () => {
      const retried = states.flatMap(([, s]) => (s.Retry ?? []).flatMap((r) => r.ErrorEquals));
      expect(retried.length).toBeGreaterThan(0);
      for (const name of ['Lambda.Unknown', ...TERMINAL_ERROR_NAMES]) expect(retried).not.toContain(name);
    });

    it('waits minutes for a same-named resource to finish deleting, on a bounded schedule of its own (Ensure service at least)', () => {
      const draining = states.find(([n]) => n === 'Ensure service')?.[1].Retry?.find((r) => r.ErrorEquals.includes('ResourceDrainingError'));
      expect(draining?.ErrorEquals).toEqual(['ResourceDrainingError']);
      const d = draining!;
      // ECS takes several minutes to move a service DRAINING → INACTIVE; full jitter halves the expected wait.
      expect(d.IntervalSeconds * d.MaxAttempts).toBeGreaterThanOrEqual(600);
      expect(d.BackoffRate).toBe(1);
      expect(d.MaxAttempts).toBeLessThanOrEqual(30);
      expect(d.JitterStrategy).toBe('FULL');
    });
  });

  describe('execution timeout', () => {
    const timeouts = (onboardingRequestJsonSchema() as { properties: { timeouts: { properties: Record<string, { maximum: number }> } } }).properties.timeouts.properties;
    const maxWait = Math.max(...Object.values(timeouts).map((t) => t.maximum));

    const retryDelay = (r: Retrier) => Math.min(r.IntervalSeconds * r.BackoffRate ** (r.MaxAttempts - 1), r.MaxDelaySeconds ?? Infinity);
    /** Every retrier used up, every attempt running to the Task's timeout, then waiting the longest delay. */
    const taskWorstCase = (s: AslState) => {
      const retry = s.Retry ?? [];
      return (1 + retry.reduce((n, r) => n + r.MaxAttempts, 0)) * (Number(s.TimeoutSeconds) + Math.max(0, ...retry.map(retryDelay)));
    };
    /** The longest simple path from `from` (each wait loop once, at the schema's maximum wait), Catch edges included. */
    const longest = (m: AslMachine, from: string, seen: Set<string> = new Set()): number => {
      const s = m.States[from];
      if (!s || seen.has(from)) return 0;
      const here = new Set(seen).add(from);
      const cost = s.Type === 'Task' ? taskWorstCase(s) : s.Type === 'Wait' ? maxWait : s.Type === 'Parallel' ? Math.max(...(s.Branches ?? []).map((b) => longest(b, b.StartAt))) : 0;
      const choices = (s.Choices as { Next: string }[] | undefined) ?? [];
      const next = [s.Next, s.Default, ...choices.map((c) => c.Next), ...(s.Catch ?? []).map((c) => c.Next)].filter((x): x is string => typeof x === 'string');
      return cost + Math.max(0, ...next.map((n) => longest(m, n, here)));
    };

    it('is a backstop no path can reach: longer than every wait at its maximum plus every Task on the longest path retried to exhaustion', () => {
      const worst = longest(machine, machine.StartAt);
      expect(maxWait).toBeGreaterThanOrEqual(7200);
      expect(worst).toBeGreaterThan(3 * maxWait);
      expect(machine.TimeoutSeconds).toBeGreaterThanOrEqual(worst);
      // Standard workflows allow a year; the local engine's setTimeout allows 2^31 - 1 ms.
      expect(machine.TimeoutSeconds).toBeLessThanOrEqual(Math.min(365 * 24 * 3600, Math.floor((2 ** 31 - 1) / 1000)));
    });
  });

  describe('failure paths', () => {
    const failedPasses = states.filter(([n, s]) => s.Type === 'Pass' && / failed$/.test(n) && !/branch(es)? failed$/.test(n));
    const parallel = machine.States['Provision identity and network']!;
    const branchNames = ['Identity', 'Network'];

    it('every Catch of a Task or Parallel goes to a Pass that builds a new, clean state', () => {
      const catchers = states.filter(([n, s]) => (s.Type === 'Task' || s.Type === 'Parallel') && n !== 'Record failure');
      expect(catchers.length).toBeGreaterThan(10);
      for (const [name, s] of catchers) {
        const target = states.find(([n]) => n === s.Catch?.[0]?.Next)?.[1];
        expect(failedPasses.map(([, p]) => p), name).toContain(target);
      }
      for (const [name, p] of failedPasses) {
        expect(p.ResultPath, name).toBeUndefined();
        const params = p.Parameters as Record<string, unknown>;
        expect(Object.keys(params).filter((k) => !['failure', 'ledgers', 'request.$', 'execution'].includes(k)), name).toEqual([]);
        expect(params.failure, name).toEqual({ step: expect.any(String), 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' });
        // A branch's failure Pass ends its branch; the top-level Pass after the Parallel adds the execution.
        if (p.End) expect(params.execution, name).toBeUndefined();
        else expect(params.execution, name).toEqual({ 'id.$': '$$.Execution.Id' });
        for (const [k, v] of Object.entries(params.ledgers as Record<string, string>)) expect(v, name).toBe(`$.${k.replace(/\.\$$/, '')}.ledger`);
        if ('request.$' in params) expect(params['request.$']).toBe('$.request');
      }
    });

    it('after the Parallel, a Choice sends each set of failed branches to its own clean failure Pass (larger sets first), and success to one flattening Pass', () => {
      expect(parallel.ResultSelector).toBeUndefined();
      expect(parallel.ResultPath).toBeUndefined();
      const choice = machine.States[parallel.Next!]!;
      expect(choice).toMatchObject({ Type: 'Choice', Default: 'Provisioned' });
      const present = (i: number) => ({ Variable: `$[${i}].failure`, IsPresent: true });
      expect(choice.Choices).toEqual([
        { And: [present(0), present(1)], Next: 'Identity and Network branches failed' },
        { ...present(0), Next: 'Identity branch failed' },
        { ...present(1), Next: 'Network branch failed' },
      ]);
      expect(machine.States.Provisioned).toMatchObject({ Type: 'Pass', Next: 'Ensure service' });
      expect(Object.values(machine.States.Provisioned!.Parameters as Record<string, string>).every((v) => /^\$\[[01]\]\.[A-Za-z]+$/.test(v))).toBe(true);
      expect(JSON.stringify(machine.States.Provisioned)).not.toMatch(/caBundle/);
    });

    it.each([
      ['Identity branch failed', [0]],
      ['Network branch failed', [1]],
      ['Identity and Network branches failed', [0, 1]],
    ] as const)('"%s": the first failed branch\'s failure, the others as alsoFailed, every branch\'s ledgers, the request and the execution; nothing else', (name, failed) => {
      const p = machine.States[name]!;
      expect(p).toMatchObject({ Type: 'Pass', Next: 'Record failure' });
      const params = p.Parameters as Record<string, unknown>;
      expect(params['failure.$']).toBe(`$[${failed[0]}].failure`);
      if (failed.length > 1) expect(params.alsoFailed).toEqual({ 'Network.$': '$[1].failure' });
      else expect(params.alsoFailed).toBeUndefined();
      expect(params['request.$']).toBe(`$[${failed[0]}].request`);
      expect(params.execution).toEqual({ 'id.$': '$$.Execution.Id' });
      const ledgers = params.ledgers as Record<string, string>;
      for (const i of failed) expect(ledgers[`${branchNames[i]}.$`]).toBe(`$[${i}].ledgers`);
      // A branch that ran to its end: the ledger of each of its steps.
      const finished = [0, 1].filter((i) => !(failed as readonly number[]).includes(i));
      for (const i of finished) {
        const keys = Object.values(parallel.Branches![i]!.States)
          .filter((st) => st.Type === 'Task' && typeof st.ResultPath === 'string')
          .map((st) => String(st.ResultPath).slice(2))
          .filter((k) => k !== 'network');
        for (const k of keys) expect(ledgers[`${k}.$`], k).toBe(`$[${i}].${k}.ledger`);
      }
      expect(JSON.stringify(p)).not.toMatch(/caBundle|rootCaPem|"\$"/);
    });

    it('no failure state names the raw input, the request before validation or the CA bundle', () => {
      const text = JSON.stringify(failedPasses);
      expect(text).not.toMatch(/caBundle|rootCaPem|"\$"/);
      expect(machine.States['Validate request failed']?.Parameters).not.toHaveProperty('request.$');
    });
  });
});
