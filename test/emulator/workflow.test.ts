/**
 * The onboarding workflow (statemachine/onboard-workload.asl.json) run by the local engine
 * against the sandbox: real handlers, real moto_server, the Kubernetes API stand-in and
 * the simulated Fargate scheduler and onboarding plane. One sandbox for the file; tests
 * run in order and later ones reuse what earlier ones made, as re-runs do.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { ensureNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { checkNatGateway } from '../../functions/check-nat-gateway.ts';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { getWorkload } from '../../functions/lib/registry.ts';
import { nextPoll } from '../../functions/lib/poll.ts';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { recordFailure, type FailureRecord, type FailureState } from '../../functions/record-failure.ts';
import { executionArnOf, runWorkflow, startWorkflow, type ExecutionOutcome, type RunOptions } from '../../local/engine/run-workflow.ts';
import { loadDefinition, taskSteps } from '../../statemachine/definition.ts';
import { captureLogs } from '../support/logs.ts';
import { useSandbox } from '../support/sandbox.ts';
import { bookinfoInput } from '../support/requests.ts';

const sandbox = useSandbox();
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };

/** The bookinfo request for another service of the same cluster (its own family and task subnet stay shared). */
function variant(service: string, extra: Partial<OnboardingRequestInput> = {}): OnboardingRequestInput {
  const base = bookinfoInput();
  return { ...base, ...extra, ecs: { ...base.ecs, service, family: `bookinfo_${service.replace(/-/g, '_')}` } };
}

/** The steps that make resources, with the state key of their result (what a failure state carries the ledger of). */
const LEDGER_OF: Record<string, string> = {
  'Ensure cluster': 'cluster',
  'Ensure task role': 'taskRole',
  'Ensure execution role': 'executionRole',
  'Ensure CA secret': 'caSecret',
  'Ensure log group': 'logGroup',
  'Ensure NAT gateway': 'natGateway',
  'Check NAT gateway': 'natGateway',
  'Ensure task subnet': 'taskSubnet',
  'Ensure security group': 'securityGroup',
  'Register task definition': 'taskDefinition',
  'Ensure service': 'service',
};

/** 'top', or the index of the Parallel branch holding the state. */
function scopeOf(state: string): 'top' | number {
  const branches = Object.values(loadDefinition().States).flatMap((s) => s.Branches ?? []);
  const i = branches.findIndex((b) => state in b.States);
  return i < 0 ? 'top' : i;
}

function entered(o: ExecutionOutcome, state: string): number {
  return o.history.filter((h) => h.state === state).length;
}

describe('onboarding workflow in the local engine', () => {
  it('onboards bookinfo ratings: every task ends AgentConnected True', async () => {
    const events: string[] = [];
    const o = await runWorkflow(bookinfoInput(), { ...FAST, onEvent: (e) => e.type === 'entered' && e.state && events.push(e.state) });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    const result = o.output as OnboardingResult;
    expect(result.tasks).toHaveLength(1);
    for (const t of result.tasks) expect(t).toMatchObject({ agentConnected: 'True', warName: expect.stringContaining(t.taskId) });
    expect(result.created.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'nat-gateway', 'ecs-service', 'task-definition']));
    // The Parallel ran both branches; the progress events name every step.
    expect(events).toEqual(expect.arrayContaining(['Validate request', 'Pre-flight mesh', 'Provision identity and network', 'Ensure cluster', 'Resolve network', 'Verify workload', 'Record result']));
    const wars = sandbox().kube.store.list('WorkloadAutoRegistration', 'bookinfo');
    expect(wars).toHaveLength(1);
  });

  it('carries the CA bundle only until Ensure CA secret: no later state or output holds it', async () => {
    const seen: Record<string, string> = {};
    const spy = (state: string, file: string) => async (input: unknown) => {
      seen[state] = JSON.stringify(input);
      const { handler } = (await import(`../../functions/${file}.ts`)) as { handler: (e: unknown, c: never) => Promise<unknown> };
      return (await handler(input, {} as never)) as never;
    };
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: { 'Ensure CA secret': spy('Ensure CA secret', 'ensure-ca-secret'), 'Register task definition': spy('Register task definition', 'register-task-definition'), 'Record result': spy('Record result', 'record-result') },
    });
    expect(o.status).toBe('SUCCEEDED');
    expect(seen['Ensure CA secret']).toContain('BEGIN CERTIFICATE');
    expect(seen['Register task definition']).not.toContain('BEGIN CERTIFICATE');
    expect(seen['Record result']).not.toContain('BEGIN CERTIFICATE');
    expect(JSON.stringify(o.output)).not.toContain('BEGIN CERTIFICATE');
  });

  it('a second run of the same request creates nothing', async () => {
    const o = await runWorkflow(bookinfoInput(), FAST);
    expect(o.status).toBe('SUCCEEDED');
    expect((o.output as OnboardingResult).created).toEqual([]);
  });

  describe('a failed Parallel branch: the failure record and the registry list what both branches made or reused', () => {
    const fail = (step: string, message = `injected in ${step}`) => async () => {
      throw new ResourceConflictError(message);
    };

    it('Identity fails (Ensure log group): the Network branch ran to its end, its NAT gateway, subnet and security group are listed', async () => {
      const o = await runWorkflow(variant('ratings-idfail'), { ...FAST, handlerOverrides: { 'Ensure log group': fail('Ensure log group') } });

      expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError', cause: 'Ensure log group: injected in Ensure log group' });
      const record = o.failureRecord as FailureRecord;
      const listed = [...record.resourcesSoFar, ...record.reusedSoFar].map((e) => e.kind);
      expect(listed).toEqual(expect.arrayContaining(['ecs-cluster', 'iam-role', 'secret', 'nat-gateway', 'vpc-subnet', 'route-table', 'security-group']));
      const registry = await getWorkload('bookinfo/ratings');
      expect(registry).toMatchObject({ status: 'FAILED', executionId: executionArnOf(o.executionName), failure: { step: 'Ensure log group', error: 'ResourceConflictError' } });
      expect(registry?.lock).toBeUndefined();
      expect(registry?.ledger.map((e) => e.kind)).toEqual(expect.arrayContaining(['nat-gateway', 'vpc-subnet', 'security-group', 'ecs-cluster', 'iam-role']));
    });

    it('Network fails (Ensure security group): the Identity branch ran to its end, the log group it made is in resourcesSoFar', async () => {
      const o = await runWorkflow(variant('ratings-netfail'), { ...FAST, handlerOverrides: { 'Ensure security group': fail('Ensure security group') } });

      expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError', cause: 'Ensure security group: injected in Ensure security group' });
      const record = o.failureRecord as FailureRecord;
      // A new family: its log group is this run's.
      expect(record.resourcesSoFar).toContainEqual(expect.objectContaining({ kind: 'log-group', id: '/ecs/bookinfo_ratings_netfail', created: true }));
      expect(record.reusedSoFar.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'iam-role', 'secret', 'nat-gateway', 'vpc-subnet']));
      const registry = await getWorkload('bookinfo/ratings');
      expect(registry?.ledger).toContainEqual(expect.objectContaining({ kind: 'log-group', id: '/ecs/bookinfo_ratings_netfail' }));
      expect(registry?.ledger.map((e) => e.kind)).toEqual(expect.arrayContaining(['nat-gateway', 'vpc-subnet', 'ecs-cluster']));
    });

    it('both fail: the first branch\'s failure is recorded, the other named in the cause, the ledgers of both kept', async () => {
      const o = await runWorkflow(variant('ratings-bothfail'), {
        ...FAST,
        handlerOverrides: { 'Ensure log group': fail('Ensure log group', 'identity broke'), 'Ensure task subnet': fail('Ensure task subnet', 'network broke') },
      });

      expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
      expect(o.cause).toBe('Ensure log group: identity broke (also failed: Ensure task subnet: ResourceConflictError: network broke)');
      expect(entered(o, 'Identity and Network branches failed')).toBe(1);
      const record = o.failureRecord as FailureRecord;
      expect([...record.resourcesSoFar, ...record.reusedSoFar].map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-cluster', 'iam-role', 'secret', 'nat-gateway']));
      expect((await getWorkload('bookinfo/ratings'))?.failure).toEqual({ step: 'Ensure log group', error: 'ResourceConflictError', cause: o.cause!.slice('Ensure log group: '.length) });
    });
  });

  describe('one run per workload', () => {
    it('a run started without the API (as from the console) while another holds the lock fails with WorkloadBusyError, leaving the holder\'s record as it was', async () => {
      // Prepare: a run that holds the lock, parked inside Ensure service.
      let release!: () => void;
      const parked = new Promise<void>((r) => (release = r));
      let reached!: () => void;
      const inside = new Promise<void>((r) => (reached = r));
      const { handler: ensureService } = await import('../../functions/ensure-service.ts');
      const holder = await startWorkflow(bookinfoInput(), {
        ...FAST,
        executionName: 'lock-holder',
        handlerOverrides: {
          'Ensure service': async (s) => {
            reached();
            await parked;
            return (await ensureService(s as never, {} as never)) as never;
          },
        },
      });
      await inside;
      const before = await getWorkload('bookinfo/ratings');
      expect(before).toMatchObject({ status: 'ONBOARDING', executionId: executionArnOf('lock-holder'), lock: { executionId: 'lock-holder', machine: 'onboard-workload' } });

      // Act
      const console = await runWorkflow(variant('ratings-console'), { ...FAST, executionName: 'console-start' });

      // Assess
      expect(console).toMatchObject({ status: 'FAILED', error: 'WorkloadBusyError' });
      expect(console.cause).toMatch(/^Validate request: workload bookinfo\/ratings is being changed by execution lock-holder \(onboard-workload, since /);
      expect(console.history.map((h) => h.state)).not.toContain('Pre-flight mesh');
      expect(await getWorkload('bookinfo/ratings')).toEqual(before);

      release();
      const done = await holder.done;
      expect(done.status, `${done.error}: ${done.cause}`).toBe('SUCCEEDED');
      expect(await getWorkload('bookinfo/ratings')).toMatchObject({ status: 'ONBOARDED', executionId: executionArnOf('lock-holder') });
      expect((await getWorkload('bookinfo/ratings'))?.lock).toBeUndefined();
    });

    it('an aborted run frees its lock and its record says FAILED (ABORTED), so the next run goes ahead', async () => {
      const { handler: ensureService } = await import('../../functions/ensure-service.ts');
      const run = await startWorkflow(bookinfoInput(), {
        ...FAST,
        executionName: 'aborted-run',
        handlerOverrides: {
          'Ensure service': async (s) => {
            const r = (await ensureService(s as never, {} as never)) as never;
            run.abort();
            return r;
          },
        },
      });
      expect((await run.done).status).toBe('ABORTED');
      const record = await getWorkload('bookinfo/ratings');
      expect(record).toMatchObject({ status: 'FAILED', executionId: executionArnOf('aborted-run'), failure: { step: 'Execution aborted', error: expect.any(String) as string, cause: expect.stringContaining('ended ABORTED') as string } });
      expect(record?.lock).toBeUndefined();
      const next = await runWorkflow(bookinfoInput(), FAST);
      expect(next.status, `${next.error}: ${next.cause}`).toBe('SUCCEEDED');
    });
  });

  it('rejects an invalid request in its first state, naming every problem, before any AWS call', async () => {
    const bad = { ...bookinfoInput(), ecs: { ...bookinfoInput().ecs, memory: '3' }, app: { ...bookinfoInput().app, port: 0 } };
    const o = await runWorkflow(bad, FAST);
    expect(o).toMatchObject({ status: 'FAILED', error: 'InvalidRequestError' });
    expect(o.cause).toContain('Validate request: ');
    expect(o.cause).toContain('$.ecs.memory');
    expect(o.cause).toContain('$.app.port');
    expect(o.history.map((h) => h.state)).not.toContain('Pre-flight mesh');
  });

  it('waits for a NAT gateway that stays pending for several polls, then goes on', async () => {
    let checks = 0;
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        // moto's NAT gateways are available at once: report pending as AWS does for the first minutes.
        'Ensure NAT gateway': async (s) => ({ ...(await ensureNatGateway(s as unknown as WorkflowState)), state: 'pending' }) as never,
        'Check NAT gateway': async (s) => {
          const state = s as unknown as WorkflowState;
          if (++checks <= 3) return { ...state.natGateway!, state: 'pending', poll: nextPoll(state.natGateway!.poll, 600) } as never;
          return (await checkNatGateway(state)) as never;
        },
      },
    });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    expect(entered(o, 'Check NAT gateway')).toBe(4);
    expect(entered(o, 'Wait for NAT gateway')).toBe(3);
  });

  // One test per Catch path: the failure of each Task state ends the execution with its error, naming the step.
  const steps = taskSteps().map((s) => s.state).filter((s) => s !== 'Record failure');
  it.each(steps)('a terminal failure in "%s" ends in Record failure with the step named, what ran before made, and no CA', async (step) => {
    let received: unknown;
    const overrides: RunOptions['handlerOverrides'] = {
      [step]: async () => {
        throw new ResourceConflictError(`injected in ${step}`);
      },
      'Record failure': async (input) => {
        received = input;
        return (await recordFailure(input as never)) as never;
      },
    };
    // Check NAT gateway only runs while the NAT gateway is pending.
    if (step === 'Check NAT gateway') overrides['Ensure NAT gateway'] = async (s) => ({ ...(await ensureNatGateway(s as unknown as WorkflowState)), state: 'pending' }) as never;
    // Record plan runs only in a dry run.
    const o = await runWorkflow(step === 'Record plan' ? { ...bookinfoInput(), dryRun: true } : bookinfoInput(), { ...FAST, handlerOverrides: overrides });
    expect(o.status).toBe('FAILED');
    expect(o.error).toBe('ResourceConflictError');
    expect(o.cause).toBe(`${step}: injected in ${step}`);
    expect(entered(o, 'Record failure')).toBe(1);
    expect(o.failureRecord).toMatchObject({ step, error: 'ResourceConflictError', cause: `injected in ${step}` });
    // Terminal errors are never retried; the history shows the step failed with its error.
    expect(o.history.find((h) => h.state === step)).toMatchObject({ attempts: 1, status: 'failed', error: 'ResourceConflictError' });

    // Record failure gets a clean state: no CA bundle, no raw request, and the execution it belongs to.
    const text = JSON.stringify(received);
    for (const secret of ['BEGIN CERTIFICATE', 'caBundle', 'rootCaPem']) expect(text).not.toContain(secret);
    const failure = received as FailureState;
    expect(failure.execution).toEqual({ id: executionArnOf(o.executionName) });
    // It carries the ledger of every step that made something before the failure, from both Parallel branches: a failed branch ends normally, so the other runs to its end.
    const carried = Object.entries(failure.ledgers ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? [k] : Object.keys(v)));
    const made = o.history.filter((h) => h.status === 'succeeded' && LEDGER_OF[h.state]).map((h) => LEDGER_OF[h.state]!);
    expect([...new Set(carried)].sort()).toEqual([...new Set(made)].sort());
    if (scopeOf(step) !== 'top') {
      // The other branch ran to its end.
      const other = scopeOf(step) === 0 ? 'Ensure security group' : 'Ensure log group';
      expect(o.history.find((h) => h.state === other), other).toMatchObject({ status: 'succeeded' });
    }
  });

  it('lists in the failure record what this run made before the failure', async () => {
    const o = await runWorkflow(variant('ratings-made'), {
      ...FAST,
      handlerOverrides: {
        'Check service readiness': async () => {
          throw new ResourceConflictError('injected');
        },
      },
    });
    expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    const made = (o.failureRecord as FailureRecord).resourcesSoFar;
    // A new family: its own log group, task definition and service.
    expect(made.map((e) => e.kind).sort()).toEqual(['ecs-service', 'log-group', 'task-definition']);
    expect(made.every((e) => e.created)).toBe(true);
  });

  it('a branch Task that used up its retries fails the Parallel once: the Parallel itself does not retry', async () => {
    let calls = 0;
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        'Ensure log group': async () => {
          calls++;
          throw Object.assign(new Error('Lambda is unavailable'), { name: 'Lambda.ServiceException' });
        },
      },
    });
    expect(o).toMatchObject({ status: 'FAILED', error: 'Lambda.ServiceException' });
    expect(entered(o, 'Provision identity and network')).toBe(1);
    expect(entered(o, 'Ensure cluster')).toBe(1);
    expect(calls).toBe(7);
  });

  it('does not retry Lambda.Unknown (an out-of-memory recurs)', async () => {
    let calls = 0;
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        'Pre-flight mesh': async () => {
          calls++;
          throw Object.assign(new Error('Runtime exited with error: signal: killed'), { name: 'Lambda.Unknown' });
        },
      },
    });
    expect(o).toMatchObject({ status: 'FAILED', error: 'Lambda.Unknown' });
    expect(calls).toBe(1);
  });

  it('gives each execution its own id, in every step\'s state, logs and Lambda context', async () => {
    const top = Object.keys(loadDefinition().States);
    for (const name of ['ids-first', 'ids-second']) {
      const ids: Record<string, string | undefined> = {};
      const spy = (state: string, file: string) => async (input: unknown) => {
        ids[state] = (input as WorkflowState).execution?.id;
        const { handler } = (await import(`../../functions/${file}.ts`)) as { handler: (e: unknown, c: never) => Promise<unknown> };
        return (await handler(input, { awsRequestId: `${name}-spy` } as never)) as never;
      };
      const { result: o, lines } = await captureLogs(() =>
        runWorkflow(bookinfoInput(), { ...FAST, executionName: name, handlerOverrides: { 'Ensure security group': spy('Ensure security group', 'ensure-security-group'), 'Record result': spy('Record result', 'record-result') } }),
      );
      expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
      // In the state: inside a Parallel branch and after it.
      expect(ids).toEqual({ 'Ensure security group': executionArnOf(name), 'Record result': executionArnOf(name) });
      // In the logs and the Lambda context of every top-level step (the two branches share one logger locally, so their lines may swap keys).
      const finished = lines.filter((l) => l.message === 'step finished' && top.includes(String(l.step)));
      expect(finished.map((l) => l.step)).toEqual(expect.arrayContaining(['Validate request', 'Pre-flight mesh', 'Ensure service', 'Verify workload', 'Record result']));
      for (const l of finished) {
        expect(l.executionId, String(l.step)).toBe(executionArnOf(name));
        expect(String(l.function_request_id), String(l.step)).toMatch(new RegExp(`^${name}-`));
      }
    }
  });

  it('retries a retryable error with backoff and succeeds', async () => {
    let calls = 0;
    const { handler } = await import('../../functions/ensure-log-group.ts');
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        'Ensure log group': async (s) => {
          if (++calls <= 2) throw Object.assign(new Error('Rate exceeded'), { name: 'AwsThrottledError' });
          return (await handler(s as never, {} as never)) as never;
        },
      },
    });
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    expect(calls).toBe(3);
    expect(o.history.find((h) => h.state === 'Ensure log group')).toMatchObject({ attempts: 3, status: 'succeeded' });
  });

  it('still ends with the step\'s own error when recording the failure fails too', async () => {
    const o = await runWorkflow(bookinfoInput(), {
      ...FAST,
      handlerOverrides: {
        'Ensure service': async () => {
          throw new ResourceConflictError('service owned by someone else');
        },
        'Record failure': async () => {
          throw new ResourceConflictError('cannot record');
        },
      },
    });
    expect(o).toMatchObject({ status: 'FAILED', error: 'ResourceConflictError' });
    expect(entered(o, 'Onboarding failed (unrecorded)')).toBe(1);
    // The end of the run (execution-ended, as EventBridge delivers it on AWS) freed the lock and recorded the failure Record failure could not.
    const record = await getWorkload('bookinfo/ratings');
    expect(record).toMatchObject({ status: 'FAILED', executionId: executionArnOf(o.executionName), failure: { error: 'ResourceConflictError', cause: expect.stringContaining('service owned by someone else') as string } });
    expect(record?.lock).toBeUndefined();
  });

  it('a run killed mid-way and started again with the same request succeeds and creates nothing twice', async () => {
    const request = variant('ratings-resume');
    const { ensureService } = await import('../../functions/ensure-service.ts');
    // The kill lands inside "Ensure service" after AWS made the service but before the step reported it.
    const first = await startWorkflow(request, {
      ...FAST,
      handlerOverrides: {
        'Ensure service': async (s) => {
          await ensureService(s as unknown as WorkflowState);
          first.abort();
          return new Promise<never>(() => undefined);
        },
      },
    });
    const killed = await first.done;
    expect(killed.status).toBe('ABORTED');
    expect(killed.history.map((h) => h.state)).not.toContain('Check service readiness');

    const again = await runWorkflow(request, FAST);
    expect(again.status, `${again.error}: ${again.cause}`).toBe('SUCCEEDED');
    // Everything the killed run made, the service included, is found and reused.
    expect((again.output as OnboardingResult).created).toEqual([]);
    expect((again.output as OnboardingResult).reused.map((e) => e.kind)).toEqual(expect.arrayContaining(['ecs-service', 'task-definition']));

    const ecs = new ECSClient({ endpoint: sandbox().moto.endpoint, region: 'us-east-1' });
    const ec2 = new EC2Client({ endpoint: sandbox().moto.endpoint, region: 'us-east-1' });
    expect((await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'bookinfo_ratings_resume' }))).taskDefinitionArns).toHaveLength(1);
    const services = (await ecs.send(new ListServicesCommand({ cluster: 'bookinfo' }))).serviceArns ?? [];
    expect(services.filter((a) => a.endsWith('/ratings-resume'))).toHaveLength(1);
    const nats = (await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways?.filter((n) => n.State !== 'deleted');
    expect(nats).toHaveLength(1);
    expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(1);
  });

  it('fails fast when a task stops, carrying its stopped reason', async () => {
    sandbox().scheduler.setCrash({ stoppedReason: 'Essential container in task exited' });
    try {
      const o = await runWorkflow(variant('ratings-crash'), FAST);
      expect(o).toMatchObject({ status: 'FAILED', error: 'TaskStoppedError' });
      expect(o.cause).toMatch(/^Check service readiness: .*Essential container in task exited/);
      // Well before the 15-minute service deadline.
      expect(o.durationMs).toBeLessThan(30_000);
    } finally {
      sandbox().scheduler.setCrash(undefined);
    }
  });

  it('fails at the mesh deadline naming the tasks whose WorkloadAutoRegistration never appeared', async () => {
    await sandbox().plane.stop();
    try {
      const o = await runWorkflow(variant('ratings-nowar', { timeouts: { meshSeconds: 30 } }), { ...FAST, waitMs: 500 });
      expect(o).toMatchObject({ status: 'FAILED', error: 'WaitDeadlineExceededError' });
      expect(o.cause).toMatch(/^Verify workload: /);
      const readiness = o.history.filter((h) => h.state === 'Verify workload');
      expect(readiness.length).toBeGreaterThan(1);
      expect(o.cause).toMatch(/no WorkloadAutoRegistration for .*task/);
    } finally {
      sandbox().plane.start({ intervalMs: 100 });
    }
  }, 90_000);
});
