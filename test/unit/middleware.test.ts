import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { wrap } from '../../functions/lib/middleware.ts';
import { validateRequest } from '../../functions/validate-request.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';
import { captureLogs } from '../support/logs.ts';

const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:onboard-workload:run-1';
const context = { functionName: 'f', awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f', memoryLimitInMB: '256' } as Context;

describe('step middleware', () => {
  it('logs the execution id and the workload as correlation keys', async () => {
    const { rootCaPem: _ca, ...request } = bookinfoRequest();
    const step = wrap('Ensure cluster', async () => ({ ok: true }));
    const { lines } = await captureLogs(() => step({ request, execution: { id: EXECUTION } }, context));
    expect(lines.find((l) => l.message === 'step finished')).toMatchObject({ step: 'Ensure cluster', executionId: EXECUTION, workload: 'bookinfo/ratings' });
  });

  it("reads Validate request's {input, executionId} event the same way", async () => {
    const step = wrap('Validate request', async () => ({ ok: true }));
    const { lines } = await captureLogs(() => step({ input: bookinfoInput(), executionId: EXECUTION }, context));
    expect(lines.find((l) => l.message === 'step finished')).toMatchObject({ executionId: EXECUTION, workload: 'bookinfo/ratings' });
  });

  it("reads the re-verification's {workload, executionId} item the same way", async () => {
    const step = wrap('Reverify workload', async () => ({ ok: true }));
    const { lines } = await captureLogs(() => step({ workload: 'bookinfo/ratings', executionId: EXECUTION }, context));
    expect(lines.find((l) => l.message === 'step finished')).toMatchObject({ executionId: EXECUTION, workload: 'bookinfo/ratings' });
  });

  it('does not carry one invocation\'s execution id into the next', async () => {
    const step = wrap('Ensure cluster', async () => ({ ok: true }));
    await captureLogs(() => step({ execution: { id: EXECUTION } }, context));
    const { lines } = await captureLogs(() => step({}, context));
    expect(lines.find((l) => l.message === 'step finished')).not.toHaveProperty('executionId');
  });
});

describe('Validate request', () => {
  it('returns the execution id the state machine passes beside the request', async () => {
    const s = await validateRequest({ input: bookinfoInput(), executionId: EXECUTION });
    expect(s.execution).toEqual({ id: EXECUTION });
    expect(s.request.workloadGroup).toEqual({ namespace: 'bookinfo', name: 'ratings' });
    expect(s.request).not.toHaveProperty('rootCaPem');
    expect(s.caBundle?.pem).toContain('BEGIN CERTIFICATE');
  });

  it('still accepts the plain request and {request} (console start, manual invoke)', async () => {
    for (const input of [bookinfoInput(), { request: bookinfoInput() }, { input: { request: bookinfoInput() }, executionId: EXECUTION }]) {
      const s = await validateRequest(input);
      expect(s.request.ecs.service).toBe('ratings');
    }
    expect((await validateRequest(bookinfoInput())).execution).toBeUndefined();
  });
});
