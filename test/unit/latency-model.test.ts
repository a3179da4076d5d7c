/**
 * The latency model's pieces (bench/latency-model.ts): the ASL interpreter on its virtual clock,
 * the call-chain profile, and the manual procedure's step list. The recorded run itself needs
 * the sandbox and is exercised by `npx tsx bench/latency-model.ts`.
 */
import { describe, expect, it } from 'vitest';
import { criticalPathSeconds, existingNatCriticalPathSeconds, manualSteps, profileOf, ruleHolds, simulate, type LatencyModel, type Recording, type StepProfile } from '../../bench/latency-model.ts';
import { SEED_STEPS } from '../../scripts/seed-steps.ts';
import { loadDefinition, taskSteps, type AslMachine } from '../../statemachine/definition.ts';

const MODEL: LatencyModel = { callMs: 100, invokeMs: 10, coldInvokeMs: 200, transitionMs: 50, natReadySeconds: 90, iamReadySeconds: 10, taskRunningSeconds: 60, agentConnectedSeconds: 15 };
const profile = (calls: number): StepProfile => ({ calls, marks: {} });

/** A Task, then a Parallel: one branch a Task, the other a check → Choice → Wait loop. */
const TINY: AslMachine = {
  StartAt: 'A',
  States: {
    A: { Type: 'Task', Resource: 'a', Next: 'P' },
    P: {
      Type: 'Parallel',
      Next: 'End',
      Branches: [
        { StartAt: 'B', States: { B: { Type: 'Task', Resource: 'b', End: true } } },
        {
          StartAt: 'C',
          States: {
            C: { Type: 'Task', Resource: 'c', ResultPath: '$.c', Next: 'Ready?' },
            'Ready?': { Type: 'Choice', Choices: [{ Variable: '$.c.ready', BooleanEquals: true, Next: 'Done' }], Default: 'W' },
            W: { Type: 'Wait', SecondsPath: '$.c.wait', Next: 'C' },
            Done: { Type: 'Succeed' },
          },
        },
      ],
    },
    End: { Type: 'Succeed' },
  },
};

describe('latency model', () => {
  it('times a Parallel with a wait loop as computed by hand', () => {
    const calls: Record<string, number> = { A: 2, B: 3, C: 1 };
    const r = simulate(TINY, {}, {
      model: MODEL,
      profile: (state) => profile(calls[state]!),
      // C is ready once its call ends at or after 5 s; otherwise it asks for a 2 s wait.
      answer: (state, _input, _k, at) => ({ output: state === 'C' ? { ready: at.endS >= 5, wait: 2 } : { done: state } }),
    });
    // A: 0.05 + 0.2 (cold) + 0.2 = 0.45. P enters at 0.5.
    // B: 0.55 + 0.2 + 0.3 = 1.05.
    // C 0.55→0.85 (not ready), Ready? 0.9, W 0.95→2.95, C 3.0→3.11, Ready? 3.16, W 3.21→5.21, C 5.26→5.37 (ready), Ready? 5.42, Done 5.47.
    // The join at the later branch (5.47), End 5.52.
    expect(r.seconds).toBeCloseTo(5.52, 6);
    expect(r.transitions).toBe(13);
    expect(r.lambdaInvocations).toBe(5);
    expect(r.waits).toEqual([
      { state: 'W', seconds: 2 },
      { state: 'W', seconds: 2 },
    ]);
    expect(r.timeline.find((e) => e.state === 'B')).toEqual({ state: 'B', startS: 0.55, endS: 1.05, branch: 'P[0]' });
  });

  it('retries a Task per the Retry that lists its error, each retry a transition', () => {
    const machine: AslMachine = {
      StartAt: 'T',
      States: { T: { Type: 'Task', Resource: 't', End: true, Retry: [{ ErrorEquals: ['IamPropagationError'], IntervalSeconds: 5, MaxAttempts: 8, BackoffRate: 1.5 }] } },
    };
    const r = simulate(machine, {}, { model: MODEL, profile: () => profile(1), answer: (_s, _i, k) => (k < 2 ? { output: undefined, error: 'IamPropagationError' } : { output: 'ok' }) });
    // 0.05 + (0.2 + 0.1) + 5 + (0.01 + 0.1) + 7.5 + (0.01 + 0.1)
    expect(r.seconds).toBeCloseTo(13.07, 6);
    expect(r.transitions).toBe(3);
    expect(r.lambdaInvocations).toBe(3);
  });

  it('counts calls made at once as one position of the chain', () => {
    const p = profileOf([
      { service: 'ec2', command: 'A', startMs: 0, endMs: 10 },
      { service: 'ec2', command: 'B', startMs: 0, endMs: 12 },
      { service: 'ec2', command: 'D', startMs: 5, endMs: 30 },
      { service: 'ec2', command: 'C', startMs: 12, endMs: 20 },
    ]);
    expect(p).toEqual({ calls: 2, marks: { A: 1, B: 1, D: 1, C: 2 } });
  });

  it('evaluates the Choice rules the definitions use, and fails on a missing variable as Step Functions does', () => {
    const data = { request: { dryRun: true }, natGateway: { state: 'pending' } };
    expect(ruleHolds({ And: [{ Variable: '$.request.dryRun', IsPresent: true }, { Variable: '$.request.dryRun', BooleanEquals: true }] }, data)).toBe(true);
    expect(ruleHolds({ Or: [{ Variable: '$.natGateway.state', StringEquals: 'available' }, { Not: { Variable: '$.request.dryRun', IsPresent: true } }] }, data)).toBe(false);
    expect(() => ruleHolds({ Variable: '$.readiness.ready', BooleanEquals: true }, data)).toThrow(/States.Runtime/);
  });

  it('runs the manual procedure in the page order of scripts/seed-steps.ts, each onboarding state once', () => {
    const fromSeed = [...new Set(SEED_STEPS.flatMap((s) => s.states.filter((r) => r.machine === 'onboard-workload').map((r) => r.state)))];
    expect(manualSteps()).toEqual(fromSeed);
    expect(manualSteps().slice(0, 4)).toEqual(['Pre-flight mesh', 'Ensure cluster', 'Ensure task role', 'Ensure execution role']);
    const tasks = taskSteps(loadDefinition()).map((t) => t.state);
    for (const s of manualSteps()) expect(tasks).toContain(s);
    expect(manualSteps()).not.toContain('Validate request');
  });

  it('bounds the critical path by the chain through the NAT gateway, the service and the agent', () => {
    const inv = (state: string, calls: number, marks: Record<string, number> = {}) => ({ state, input: {}, output: {}, profile: { calls, marks } });
    const recording: Recording = {
      input: {},
      invocations: [inv('Validate request', 2), inv('Pre-flight mesh', 3), inv('Resolve network', 4), inv('Ensure NAT gateway', 8, { CreateNatGateway: 6 }), inv('Verify workload', 5), inv('Verify workload', 2), inv('Traffic evidence', 1), inv('Record result', 1)],
    };
    // Each step 0.05 + 0.2 + calls × 0.1: (2 + 3 + 4 + 6) calls before the NAT gateway, 1 for CreateService, 2 + 1 + 1 after; 8 steps; the final transition.
    const expected = 8 * 0.25 + (15 + 1 + 4) * 0.1 + 90 + 60 + 15 + 0.05;
    expect(criticalPathSeconds(recording, MODEL)).toBeCloseTo(expected, 6);
  });

  describe('with a NAT gateway already in the VPC', () => {
    const inv = (state: string, calls: number, marks: Record<string, number> = {}) => ({ state, input: {}, output: {}, profile: { calls, marks } });
    const around = [inv('Validate request', 2), inv('Pre-flight mesh', 3), inv('Resolve network', 4), inv('Verify workload', 5), inv('Verify workload', 2), inv('Traffic evidence', 1), inv('Record result', 1)];
    // Before: 3 steps, 9 calls. After the agent: 3 steps, 4 calls; the final transition.
    const before = 3 * 0.25 + 9 * 0.1;
    const after = 3 * 0.25 + 4 * 0.1 + 0.05;

    it('waits for the later role to be usable when IAM is the longer chain, then one CreateService call', () => {
      const recording: Recording = {
        input: {},
        invocations: [...around, inv('Ensure NAT gateway', 0), inv('Ensure task subnet', 12), inv('Ensure task role', 4, { CreateRole: 2 }), inv('Ensure execution role', 6, { CreateRole: 3 })],
      };
      // Identity: the execution role's step up to CreateRole (0.25 + 0.3) + 10 s + 0.1; network: (0.25) + (0.25 + 1.2) + (0.25 + 0.1) = 2.05.
      const expected = before + (0.55 + 10 + 0.1) + 60 + 15 + after;
      expect(existingNatCriticalPathSeconds(recording, MODEL)).toBeCloseTo(expected, 6);
    });

    it('follows the network chain (finding the NAT gateway, the task subnet, CreateService) when it is the longer', () => {
      const recording: Recording = {
        input: {},
        invocations: [...around, inv('Ensure NAT gateway', 3), inv('Ensure task subnet', 12), inv('Ensure task role', 4, { CreateRole: 2 }), inv('Ensure execution role', 6, { CreateRole: 3 })],
      };
      const slowSubnet = { ...MODEL, iamReadySeconds: 0 };
      // Network: (0.25 + 0.3) + (0.25 + 1.2) + (0.25 + 0.1) = 2.35 > identity 0.55 + 0 + 0.1.
      expect(existingNatCriticalPathSeconds(recording, slowSubnet)).toBeCloseTo(before + 2.35 + 60 + 15 + after, 6);
    });

    it('refuses a recording that made a NAT gateway', () => {
      const recording: Recording = { input: {}, invocations: [...around, inv('Ensure NAT gateway', 8, { CreateNatGateway: 6 }), inv('Ensure task subnet', 1), inv('Ensure task role', 1), inv('Ensure execution role', 1)] };
      expect(() => existingNatCriticalPathSeconds(recording, MODEL)).toThrow(/made a NAT gateway/);
    });
  });
});
