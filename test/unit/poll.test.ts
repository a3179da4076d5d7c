/**
 * functions/lib/poll.ts: the wait loops' schedule. Without a shape it grows ×1.5 from 5 s (the
 * teardown's loops); with the onboarding's READINESS shapes it polls briefly while the resource
 * is typically becoming ready, then grows; the deadline always caps the wait.
 */
import { describe, expect, it } from 'vitest';
import { GROWING, nextPoll, pastDeadline, type Poll } from '../../functions/lib/poll.ts';
import { DEFAULTS, READINESS } from '../../functions/lib/settings.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);

/** The waits of `n` checks, each made right after the previous wait. */
function schedule(n: number, timeout: number, shape = GROWING): number[] {
  let p: Poll | undefined;
  let t = 0;
  const waits: number[] = [];
  for (let i = 0; i < n; i++) {
    p = nextPoll(p, timeout, at(t), shape);
    waits.push(p.nextWaitSeconds);
    t += p.nextWaitSeconds;
  }
  return waits;
}

describe('nextPoll', () => {
  it('grows ×1.5 from 5 s up to the largest wait without a shape', () => {
    expect(schedule(9, 3600)).toEqual([5, 8, 12, 18, 27, 41, 62, 60, 60].map((w) => Math.min(w, DEFAULTS.pollMaxWaitSeconds)));
  });

  it('polls every pollSeconds during the short phase, then grows from there', () => {
    const shape = { pollSeconds: 5, shortForSeconds: 20 };
    // Checks at 0, 5, 10, 15 s are in the short phase; the one at 20 s grows.
    expect(schedule(7, 3600, shape)).toEqual([5, 5, 5, 5, 8, 12, 18]);
  });

  it('never waits past the deadline, and reports the deadline passed', () => {
    const first = nextPoll(undefined, 12, at(0), READINESS.natGateway);
    expect(first.deadline).toBe(at(12).toISOString());
    expect(nextPoll(first, 12, at(10), READINESS.natGateway).nextWaitSeconds).toBe(2);
    expect(pastDeadline(first, at(11))).toBe(false);
    expect(pastDeadline(first, at(12))).toBe(true);
  });

  it('shapes the onboarding waits: short polls after a first wait of about the typical readiness', () => {
    for (const r of Object.values(READINESS)) {
      expect(r.pollSeconds).toBeLessThanOrEqual(5);
      expect(r.firstWaitSeconds).toBeGreaterThan(r.pollSeconds);
    }
  });
});
