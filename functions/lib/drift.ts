/**
 * What counts as drift for an onboarded workload, as a pure function of what the
 * re-verification observed (workload-observation.ts reads it). Drift is something that made
 * the onboarding true and no longer holds; facts worth knowing that are not drift (no traffic,
 * a task that started moments ago and is still registering) are notes.
 */
import type { DriftFinding } from './registry.ts';
import type { TaskRegistration } from './workflow.ts';

export type DriftKind =
  /** DescribeServices does not know the service (or its cluster is gone). */
  | 'service-missing'
  /** The service exists but is DRAINING or INACTIVE: it was deleted. */
  | 'service-inactive'
  /** The service's desired count is 0: it was scaled away. */
  | 'service-scaled-to-zero'
  /** Fewer tasks run than the service wants. */
  | 'tasks-below-desired'
  /** A running task has no WorkloadAutoRegistration: the mesh does not know it. */
  | 'war-missing'
  /** A running task's WorkloadAutoRegistration says AgentConnected is not True. */
  | 'agent-disconnected';

/**
 * How long a new task may run without a WAR (or with AgentConnected Unknown) before that is
 * drift: ECS replaces tasks at any time, and an agent takes seconds to a minute to connect.
 * An explicit AgentConnected False is drift at once.
 */
export const REGISTRATION_GRACE_SECONDS = 300;

export interface ObservedTask {
  taskId: string;
  /** When the task started (or was created), if ECS says. */
  startedAt?: string;
}

export interface Observation {
  cluster: string;
  service: string;
  /** Undefined when DescribeServices does not know the service. */
  ecsService?: { serviceArn?: string; status: string; desiredCount: number };
  /** Tasks of the service that run and are meant to. */
  running: ObservedTask[];
  /** Tasks meant to run that have not started yet (PROVISIONING, PENDING, ACTIVATING): named in the finding, still drift until they run. */
  starting?: number;
  /** The latest stopped task, described (why it stopped), when there is one. */
  lastStopped?: string;
  /** One per running task, WAR absent = no `warName`. */
  registrations: TaskRegistration[];
  traffic?: { trafficSeen: boolean; inbound: number; outbound: number; hint?: string };
}

export interface DriftAssessment {
  drift: (DriftFinding & { kind: DriftKind })[];
  notes: string[];
}

function ageSeconds(iso: string | undefined, now: Date): number | undefined {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? undefined : Math.max(0, Math.round((now.getTime() - t) / 1000));
}

/** The drift and notes of one observation; `now` decides which new tasks are still in their grace period. */
export function assessDrift(o: Observation, now = new Date()): DriftAssessment {
  const drift: DriftAssessment['drift'] = [];
  const notes: string[] = [];
  const svc = `ECS service "${o.service}" in cluster "${o.cluster}"`;
  if (!o.ecsService) {
    drift.push({ kind: 'service-missing', message: `${svc} does not exist` });
    return { drift, notes };
  }
  if (o.ecsService.status !== 'ACTIVE') {
    drift.push({ kind: 'service-inactive', message: `${svc} is ${o.ecsService.status}: it was deleted` });
    return { drift, notes };
  }
  const desired = o.ecsService.desiredCount;
  if (desired === 0) {
    drift.push({ kind: 'service-scaled-to-zero', message: `${svc} has a desired count of 0: no task runs in the mesh` });
    return { drift, notes };
  }
  if (o.running.length < desired) {
    drift.push({
      kind: 'tasks-below-desired',
      message: `${svc} runs ${o.running.length} of ${desired} desired tasks${o.starting ? ` (${o.starting} starting)` : ''}${o.lastStopped ? `; last stopped: ${o.lastStopped}` : ''}`,
    });
  }
  for (const task of o.running) {
    const reg = o.registrations.find((r) => r.taskId === task.taskId);
    const age = ageSeconds(task.startedAt, now);
    const settling = age !== undefined && age < REGISTRATION_GRACE_SECONDS;
    if (!reg?.warName) {
      if (settling) notes.push(`task ${task.taskId} started ${age} s ago and has no WorkloadAutoRegistration yet`);
      else drift.push({ kind: 'war-missing', taskId: task.taskId, message: `running task ${task.taskId} has no WorkloadAutoRegistration: the mesh does not know it` });
      continue;
    }
    const status = reg.agentConnected?.status ?? 'Unknown';
    if (status === 'True') continue;
    if (status === 'Unknown' && settling) {
      notes.push(`the agent of task ${task.taskId} (started ${age} s ago) is still connecting`);
      continue;
    }
    const why = [reg.agentConnected?.reason, reg.agentConnected?.since ? `since ${reg.agentConnected.since}` : undefined].filter(Boolean).join(', ');
    drift.push({ kind: 'agent-disconnected', taskId: task.taskId, message: `the agent of task ${task.taskId} is not connected: AgentConnected ${status}${why ? ` (${why})` : ''} on ${reg.warName}` });
  }
  if (o.traffic && !o.traffic.trafficSeen) notes.push(`no request through the agent in the traffic window${o.traffic.hint ? `: ${o.traffic.hint}` : ''}`);
  return { drift, notes };
}
