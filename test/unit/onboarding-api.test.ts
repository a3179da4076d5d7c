/**
 * The onboarding API contract (functions/lib/onboarding-api.ts) with a recording backend: what
 * is refused at the edge, before any execution starts.
 */
import { describe, expect, it } from 'vitest';
import { executionInputOf, handleApiRequest, type ExecutionBackend, type ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { parseRequest, type OnboardingRequest } from '../../functions/lib/request.ts';
import { bookinfoInput } from '../support/requests.ts';

// StartExecution's input is at most 262144 bytes of UTF-8:
// https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
const LIMIT = 262144;

function recordingBackend(): ExecutionBackend & { started: string[] } {
  const views = new Map<string, ExecutionView>();
  const started: string[] = [];
  return {
    started,
    start(name: string, request: OnboardingRequest) {
      started.push(name);
      views.set(name, { executionId: name, status: 'RUNNING', workload: `${request.workloadGroup.namespace}/${request.workloadGroup.name}`, startedAt: new Date().toISOString(), steps: [] });
      return Promise.resolve({ started: true });
    },
    describe: (id: string) => Promise.resolve(views.get(id)),
    list: () => Promise.resolve([...views.values()]),
  };
}

/** The bookinfo request padded with workload labels (each valid) until its body is exactly `bytes` long. */
function requestOfSize(bytes: number): Record<string, unknown> {
  const base = bookinfoInput() as unknown as Record<string, unknown>;
  const labels: Record<string, string> = { ...(base.workloadLabels as Record<string, string>) };
  const body = () => JSON.stringify({ ...base, workloadLabels: labels });
  // `,"key":"value"` costs key + value + 6 bytes: count instead of serialising on every step.
  let size = Buffer.byteLength(body());
  for (let i = 0; size < bytes - 400; i++) {
    labels[`pad-${i}`] = 'v'.repeat(63);
    size += `pad-${i}`.length + 63 + 6;
  }
  const growable = Array.from({ length: 8 }, (_, i) => `grow-${i}`);
  for (const k of growable) {
    labels[k] = 'v';
    size += k.length + 1 + 6;
  }
  for (const k of growable) {
    while (size < bytes && (labels[k]?.length ?? 63) < 63) {
      labels[k] += 'v';
      size += 1;
    }
  }
  if (Buffer.byteLength(body()) !== bytes) throw new Error(`could not pad the request to ${bytes} bytes`);
  return JSON.parse(body()) as Record<string, unknown>;
}

describe('onboarding API: Step Functions input limit at the edge', () => {
  it('answers 413 naming the limit, and starts nothing, for a body over 262144 bytes', async () => {
    // Prepare
    const backend = recordingBackend();
    const body = JSON.stringify(requestOfSize(LIMIT + 1));

    // Act
    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body }, backend);

    // Assess
    expect(res.status).toBe(413);
    expect((res.body as { message: string }).message).toMatch(/262144 bytes.*Nothing was started/);
    expect((res.body as { message: string }).message).toContain('Step Functions');
    expect(backend.started).toEqual([]);
  });

  it('answers 413 when the body fits but the execution input (defaults applied) does not', async () => {
    // The body leaves out the defaults (port, desiredCount, ...), which the execution input carries.
    const backend = recordingBackend();
    const input = requestOfSize(LIMIT - 10);
    expect(Buffer.byteLength(executionInputOf(parseRequest(input)))).toBeGreaterThan(LIMIT);

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(input) }, backend);

    expect(res.status).toBe(413);
    expect((res.body as { message: string }).message).toContain('execution input');
    expect(backend.started).toEqual([]);
  });

  it('accepts a request whose execution input is within the limit', async () => {
    const backend = recordingBackend();
    const input = requestOfSize(LIMIT - 2000);
    expect(Buffer.byteLength(executionInputOf(parseRequest(input)))).toBeLessThanOrEqual(LIMIT);

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(input) }, backend);

    expect(res.status).toBe(202);
    expect(backend.started).toHaveLength(1);
  });

  it('answers 400 naming $.rootCaPem for a CA bundle over the Secrets Manager limit, before starting anything', async () => {
    const backend = recordingBackend();
    const pem = bookinfoInput().rootCaPem;
    const big = { ...bookinfoInput(), rootCaPem: pem.repeat(Math.ceil(65537 / Buffer.byteLength(pem))) };

    const res = await handleApiRequest({ method: 'POST', path: '/onboardings', body: JSON.stringify(big) }, backend);

    expect(res.status).toBe(400);
    expect((res.body as { problems: { path: string; message: string }[] }).problems).toEqual([{ path: '$.rootCaPem', message: expect.stringContaining('Secrets Manager stores at most 65536 bytes') as string }]);
    expect(backend.started).toEqual([]);
  });
});
