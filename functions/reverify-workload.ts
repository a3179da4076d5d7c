import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import type { DriftFinding } from '#lib/registry.ts';

export interface ReverifyResult {
  workload: string;
  checked: true;
  ok: boolean;
  drift: DriftFinding[];
}

/** Reverify workload: the read-only checks of one onboarded workload. (A skeleton: the checks come next.) */
export async function reverifyWorkload(input: { workload: string }): Promise<ReverifyResult> {
  return { workload: input.workload, checked: true, ok: true, drift: [] };
}

export const permissions: StepPermissions = [];

export const handler = wrap('Reverify workload', reverifyWorkload);
