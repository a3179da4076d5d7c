/**
 * Bookkeeping for the state machine's bounded wait loops. The check step computes the
 * next Wait (growing interval) and the deadline; the ASL Wait state reads
 * `nextWaitSeconds` with SecondsPath, so the backoff lives in one tested function.
 */
import { DEFAULTS } from './settings.ts';

export interface Poll {
  attempt: number;
  startedAt: string;
  deadline: string;
  nextWaitSeconds: number;
}

/** The poll after one more check; starts a new one (deadline = now + timeout) when `prev` is absent. */
export function nextPoll(prev: Poll | undefined, timeoutSeconds: number, now = new Date()): Poll {
  if (!prev) {
    return {
      attempt: 1,
      startedAt: now.toISOString(),
      deadline: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
      nextWaitSeconds: DEFAULTS.pollFirstWaitSeconds,
    };
  }
  const remaining = Math.max(1, Math.ceil((Date.parse(prev.deadline) - now.getTime()) / 1000));
  const grown = Math.min(DEFAULTS.pollMaxWaitSeconds, Math.ceil(prev.nextWaitSeconds * 1.5));
  return { ...prev, attempt: prev.attempt + 1, nextWaitSeconds: Math.min(grown, remaining) };
}

/** True when the poll's deadline has passed. */
export function pastDeadline(p: Poll, now = new Date()): boolean {
  return now.getTime() >= Date.parse(p.deadline);
}
