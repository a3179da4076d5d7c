/**
 * Making an onboarded workload drift in the local sandbox, so the re-verification has
 * something to find: stop its tasks (and keep the simulated Fargate from replacing them),
 * disconnect its agents from the simulated onboarding plane, or scale its service to zero;
 * `restore` undoes all three. `driftRoute` serves the same as `POST /sandbox/drift` for the
 * local API server.
 */
import { StopTaskCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import { describeService, listServiceTasks } from '../functions/lib/aws/ecs-service.ts';
import { ecs } from '../functions/lib/clients.ts';
import { getWorkload } from '../functions/lib/registry.ts';
import type { FargateScheduler } from './fargate-scheduler.ts';
import type { OnboardingPlane } from './onboarding-plane.ts';

export const SANDBOX_DRIFT_KINDS = ['stop-task', 'disconnect-agent', 'scale-to-zero', 'restore'] as const;
export type SandboxDriftKind = (typeof SANDBOX_DRIFT_KINDS)[number];

export interface DriftApplied {
  workload: string;
  kind: SandboxDriftKind;
  cluster: string;
  service: string;
  /** Tasks stopped by `stop-task`. */
  stoppedTasks?: string[];
}

export class UnknownWorkloadError extends Error {
  override readonly name = 'UnknownWorkloadError';
}

/**
 * Applies one drift to a workload of the registry and returns once the simulated Fargate
 * and onboarding plane show it (each has synced after the change).
 */
export async function applyDrift(sim: { scheduler: FargateScheduler; plane: OnboardingPlane }, workload: string, kind: SandboxDriftKind): Promise<DriftApplied> {
  const record = await getWorkload(workload);
  if (!record) throw new UnknownWorkloadError(`"${workload}" is not in the workload registry: onboard it first`);
  const { cluster, service } = record.request.ecs;
  const applied: DriftApplied = { workload, kind, cluster, service };
  switch (kind) {
    case 'stop-task': {
      // Held first, and a sync let through, so no pass that started before the hold replaces the tasks stopped next.
      sim.scheduler.hold(cluster, service, true);
      await sim.scheduler.syncOnce();
      const running = (await listServiceTasks(cluster, service)).filter((t) => t.desiredStatus === 'RUNNING' && t.taskArn);
      for (const t of running) await ecs().send(new StopTaskCommand({ cluster, task: t.taskArn, reason: 'Stopped in the local sandbox (drift stop-task)' }));
      applied.stoppedTasks = running.map((t) => (t.taskArn ?? '').split('/').pop() ?? '');
      break;
    }
    case 'disconnect-agent':
      sim.plane.setWorkloadDisconnected(workload, true);
      break;
    case 'scale-to-zero':
      await ecs().send(new UpdateServiceCommand({ cluster, service, desiredCount: 0 }));
      break;
    case 'restore': {
      sim.scheduler.hold(cluster, service, false);
      sim.plane.setWorkloadDisconnected(workload, false);
      const svc = await describeService(cluster, service);
      if (svc?.status === 'ACTIVE' && svc.desiredCount === 0) await ecs().send(new UpdateServiceCommand({ cluster, service, desiredCount: record.request.ecs.desiredCount }));
      break;
    }
  }
  await sim.scheduler.syncOnce();
  await sim.plane.syncOnce();
  return applied;
}

/** A request as the local API server hands it on, and its answer (the shapes of functions/lib/onboarding-api.ts). */
export interface RouteRequest {
  method: string;
  path: string;
  body?: string;
}
export interface RouteResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const DriftRequest = z.object({
  workload: z.string().regex(/^[^/\s]+\/[^/\s]+$/, 'must be "<namespace>/<name>" of an onboarded workload'),
  kind: z.enum(SANDBOX_DRIFT_KINDS),
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}): RouteResponse => ({ status, headers: { 'content-type': 'application/json', ...headers }, body });

/**
 * `POST /sandbox/drift` with `{"workload": "<namespace>/<name>", "kind": "stop-task" |
 * "disconnect-agent" | "scale-to-zero" | "restore"}`; undefined for any other path (the
 * server's other routes answer those). 200 with what was done, 400 for a bad body, 404 for
 * a workload the registry does not hold.
 */
export function driftRoute(sandbox: { drift(workload: string, kind: SandboxDriftKind): Promise<DriftApplied> }): (req: RouteRequest) => Promise<RouteResponse | undefined> {
  return async (req) => {
    if (req.path !== '/sandbox/drift') return undefined;
    if (req.method !== 'POST') return json(405, { message: 'use POST' }, { allow: 'POST' });
    let raw: unknown;
    try {
      raw = JSON.parse(req.body ?? '');
    } catch {
      return json(400, { message: 'the body must be JSON: {"workload": "<namespace>/<name>", "kind": "stop-task"}' });
    }
    const parsed = DriftRequest.safeParse(raw);
    if (!parsed.success) {
      return json(400, { message: 'invalid drift request', problems: parsed.error.issues.map((i) => ({ path: `$.${i.path.join('.')}`, message: i.message })) });
    }
    try {
      return json(200, await sandbox.drift(parsed.data.workload, parsed.data.kind));
    } catch (e) {
      if (e instanceof UnknownWorkloadError) return json(404, { message: e.message });
      throw e;
    }
  };
}
