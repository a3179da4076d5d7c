import { wrap } from '#lib/middleware.ts';
import { listWorkloads, REGISTRY_LIST_PERMISSIONS } from '#lib/registry.ts';
import type { StepPermissions } from '#lib/permissions.ts';

/** The Map's concurrency when the deployment does not set one. */
export const DEFAULT_REVERIFY_CONCURRENCY = 10;
export const REVERIFY_CONCURRENCY_ENV = 'REVERIFY_MAX_CONCURRENCY';

export interface ListWorkloadsInput {
  /** Only these workloads (`namespace/name`); default: every workload in the registry. */
  workloads?: string[];
}

export interface ListWorkloadsResult {
  workloads: { workload: string }[];
  maxConcurrency: number;
}

/** List workloads: the workloads the re-verification checks, from the registry (except those a teardown holds). */
export async function listWorkloadsStep(input: ListWorkloadsInput = {}): Promise<ListWorkloadsResult> {
  const maxConcurrency = concurrencySetting(process.env[REVERIFY_CONCURRENCY_ENV]);
  if (input.workloads) return { workloads: input.workloads.map((workload) => ({ workload })), maxConcurrency };
  const workloads: { workload: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listWorkloads({ nextToken });
    // A workload being torn down is meant to lose its service and tasks: checking it would report that as drift.
    workloads.push(...page.items.filter((i) => i.lock?.machine !== 'offboard-workload').map((i) => ({ workload: i.workload })));
    nextToken = page.nextToken;
  } while (nextToken);
  return { workloads, maxConcurrency };
}

/** The Map's concurrency from the environment; a malformed value falls back to the default (NaN would reach MaxConcurrencyPath as null). */
export function concurrencySetting(value: string | undefined): number {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n >= 1 && n <= 40 ? n : DEFAULT_REVERIFY_CONCURRENCY;
}

export const permissions: StepPermissions = REGISTRY_LIST_PERMISSIONS;

export const handler = wrap('List workloads', listWorkloadsStep);
