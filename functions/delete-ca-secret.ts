import { CA_SECRET_DELETE_PERMISSIONS, deleteCaSecret as deleteSecret } from '#lib/aws/ca-secret.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { entry, teardownState, type TeardownState, type TeardownStepResult } from '#lib/teardown.ts';

/** Delete CA secret: the workload's CA bundle secret, deleted at once (no recovery window: it holds a public CA certificate). */
export async function deleteCaSecret(state: Partial<TeardownState>): Promise<TeardownStepResult> {
  const { request } = teardownState(state);
  const name = names.caSecret(request);
  const r = await deleteSecret(name, request);
  return { ledger: [entry('secret', name, r.outcome, r.outcome === 'kept' ? { reason: r.reason } : {})] };
}

export const permissions: StepPermissions = CA_SECRET_DELETE_PERMISSIONS;

export const handler = wrap('Delete CA secret', deleteCaSecret);
