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

/** List workloads: the workloads the re-verification checks, from the registry. */
export async function listWorkloadsStep(input: ListWorkloadsInput = {}): Promise<ListWorkloadsResult> {
  const maxConcurrency = Number(process.env[REVERIFY_CONCURRENCY_ENV] ?? DEFAULT_REVERIFY_CONCURRENCY);
  if (input.workloads) return { workloads: input.workloads.map((workload) => ({ workload })), maxConcurrency };
  const workloads: { workload: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await listWorkloads({ nextToken });
    workloads.push(...page.items.map((i) => ({ workload: i.workload })));
    nextToken = page.nextToken;
  } while (nextToken);
  return { workloads, maxConcurrency };
}

export const permissions: StepPermissions = REGISTRY_LIST_PERMISSIONS;

export const handler = wrap('List workloads', listWorkloadsStep);
