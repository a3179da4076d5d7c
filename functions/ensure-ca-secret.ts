import { CA_SECRET_PERMISSIONS, caSecretSpec, checkCaSecretVersion, ensureCaSecret as ensureSecret } from '#lib/aws/ca-secret.ts';
import { InvalidRequestError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { need } from '#lib/state.ts';
import type { CaSecretResult, WorkflowState } from '#lib/workflow.ts';

/**
 * Ensure CA secret: the onboarding endpoint's root CA bundle, injected into the agent by ECS.
 * Started through the API, the bundle is already stored and the input names the version: it is
 * checked, not written. Started by hand with the PEM, the secret is made or updated here.
 */
export async function ensureCaSecret(state: WorkflowState): Promise<CaSecretResult> {
  const { request, caBundle } = need(state, 'caBundle');
  let s;
  if (caBundle.secret) s = await checkCaSecretVersion(caBundle.secret, request);
  else if (caBundle.pem !== undefined) s = await ensureSecret(caSecretSpec(request, caBundle.pem));
  else throw new InvalidRequestError([{ path: '$.caBundle', message: 'holds neither the PEM nor the secret the API stored it in' }]);
  return {
    secretName: s.secretName,
    secretArn: s.secretArn,
    versionId: s.versionId,
    updated: s.updated,
    ledger: [{ kind: 'secret', id: s.secretName, arn: s.secretArn, created: s.created, ...(s.updated ? { updated: true } : {}) }],
  };
}

export const permissions: StepPermissions = CA_SECRET_PERMISSIONS;

export const handler = wrap('Ensure CA secret', ensureCaSecret);
