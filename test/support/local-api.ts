/** The local onboarding API (the deployed API's contract over the in-process engine), one per test file. */
import { afterAll, beforeAll } from 'vitest';
import type { ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { startApiServer, type ApiServer } from '../../local/api-server.ts';
import { LocalExecutions } from '../../local/local-executions.ts';
import { eventually } from './emulator.ts';

export interface LocalApi {
  api: ApiServer;
  backend: LocalExecutions;
  /** POST /onboardings with `body` as JSON; the status and the JSON answer. */
  post(body: unknown, query?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** GET /onboardings/{id} until the execution is no longer RUNNING. */
  ended(executionId: string, timeoutMs?: number): Promise<ExecutionView>;
}

/** Starts the API on a free port before the file's tests (inside a sandbox: use after useSandbox), and stops it after them once its executions ended. */
export function useLocalApi(opts: { waitMs?: number; retryIntervalMs?: number } = {}): () => LocalApi {
  let api: ApiServer | undefined;
  let backend: LocalExecutions | undefined;
  beforeAll(async () => {
    backend = new LocalExecutions({ waitMs: opts.waitMs ?? 20, retryIntervalMs: opts.retryIntervalMs ?? 5 });
    api = await startApiServer(backend, 0);
  });
  afterAll(async () => {
    await backend?.settle();
    await api?.stop();
  });
  return () => {
    if (!api || !backend) throw new Error('local API not started yet: use it inside a test or hook');
    const url = api.url;
    return {
      api,
      backend,
      post: async (body, query = '') => {
        const res = await fetch(`${url}/onboardings${query}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      },
      ended: (executionId, timeoutMs = 60_000) =>
        eventually(async () => {
          const view = (await (await fetch(`${url}/onboardings/${executionId}`)).json()) as ExecutionView;
          if (view.status === 'RUNNING') throw new Error(`${executionId} still running at ${view.currentStep ?? '?'}`);
          return view;
        }, timeoutMs),
    };
  };
}
