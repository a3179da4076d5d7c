/**
 * Bookkeeping for the state machine's bounded wait loops. The check step computes the
 * next Wait (short polls around the resource's typical readiness, then a growing interval) and
 * the deadline; the ASL Wait state reads `nextWaitSeconds` with SecondsPath, so the schedule
 * lives in one tested function.
 */
import { DEFAULTS } from './settings.ts';

export interface Poll {
  attempt: number;
  startedAt: string;
  deadline: string;
  nextWaitSeconds: number;
}

/**
 * How a loop polls after its first check: every `pollSeconds` while less than `shortForSeconds`
 * have passed since the first check, then ×1.5 each time up to DEFAULTS.pollMaxWaitSeconds.
 * settings.ts READINESS holds the onboarding's shapes.
 */
export interface PollShape {
  pollSeconds: number;
  shortForSeconds: number;
}

/** No short phase: 5 s, then growing (the teardown's and re-verification's loops). */
export const GROWING: PollShape = { pollSeconds: DEFAULTS.pollFirstWaitSeconds, shortForSeconds: 0 };

/** The poll after one more check; starts a new one (deadline = now + timeout) when `prev` is absent. */
export function nextPoll(prev: Poll | undefined, timeoutSeconds: number, now = new Date(), shape: PollShape = GROWING): Poll {
  if (!prev) {
    return {
      attempt: 1,
      startedAt: now.toISOString(),
      deadline: new Date(now.getTime() + timeoutSeconds * 1000).toISOString(),
      nextWaitSeconds: shape.pollSeconds,
    };
  }
  const remaining = Math.max(1, Math.ceil((Date.parse(prev.deadline) - now.getTime()) / 1000));
  const short = now.getTime() - Date.parse(prev.startedAt) < shape.shortForSeconds * 1000;
  const next = short ? shape.pollSeconds : Math.min(DEFAULTS.pollMaxWaitSeconds, Math.ceil(prev.nextWaitSeconds * 1.5));
  return { ...prev, attempt: prev.attempt + 1, nextWaitSeconds: Math.min(next, remaining) };
}

/** True when the poll's deadline has passed. */
export function pastDeadline(p: Poll, now = new Date()): boolean {
  return now.getTime() >= Date.parse(p.deadline);
}
