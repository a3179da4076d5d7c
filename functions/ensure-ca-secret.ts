import { CA_SECRET_PERMISSIONS, ensureCaSecret as ensureSecret } from '#lib/aws/ca-secret.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { need } from '#lib/state.ts';
import { workloadKey, workloadTags } from '#lib/tags.ts';
import type { CaSecretResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure CA secret: the onboarding endpoint's root CA bundle, injected into the agent by ECS. */
export async function ensureCaSecret(state: WorkflowState): Promise<CaSecretResult> {
  const { request, caBundle } = need(state, 'caBundle');
  const s = await ensureSecret({
    name: names.caSecret(request),
    value: caBundle.pem,
    tags: workloadTags(request),
    description: `Root CA of the mesh onboarding endpoint for workload ${workloadKey(request)}`,
    owner: request,
  });
  return {
    secretName: s.secretName,
    secretArn: s.secretArn,
    versionId: s.versionId,
    updated: s.updated,
    ledger: [{ kind: 'secret', id: s.secretName, arn: s.secretArn, created: s.created }],
  };
}

export const permissions: StepPermissions = CA_SECRET_PERMISSIONS;

export const handler = wrap('Ensure CA secret', ensureCaSecret);
