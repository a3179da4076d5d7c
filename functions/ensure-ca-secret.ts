import { CA_SECRET_PERMISSIONS, caSecretSpec, checkCaSecretVersion, ensureCaSecret as ensureSecret, planCaSecretValue, sha256Of, type PlannedSecret } from '#lib/aws/ca-secret.ts';
import { InvalidRequestError, ResourceConflictError } from '#lib/errors.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { need } from '#lib/state.ts';
import type { CaSecretResult, WorkflowState } from '#lib/workflow.ts';

const NO_BUNDLE = [{ path: '$.caBundle', message: 'holds neither the PEM nor the secret the API stored it in' }];

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
  else throw new InvalidRequestError(NO_BUNDLE);
  return {
    secretName: s.secretName,
    secretArn: s.secretArn,
    versionId: s.versionId,
    updated: s.updated,
    // Restoring a secret pending deletion changed it too, even when its value stays.
    ledger: [{ kind: 'secret', id: s.secretName, arn: s.secretArn, created: s.created, ...(s.updated || s.restored ? { updated: true } : {}) }],
  };
}

/**
 * The dry run of Ensure CA secret. With the PEM's SHA-256 (Validate request keeps only that in a
 * dry run) or the PEM: create, update (`value` as `sha256:<12 hex>` fingerprints, `deletedDate` of
 * a secret pending deletion), reuse or conflict, as planCaSecretValue decides. With the version
 * the API stored: checkCaSecretVersion itself (read-only), its refusal a conflict.
 */
export async function planCaSecret(state: WorkflowState): Promise<CaSecretResult> {
  const { request, caBundle } = need(state, 'caBundle');
  const name = names.caSecret(request);
  let p: PlannedSecret;
  if (caBundle.secret) {
    try {
      const s = await checkCaSecretVersion(caBundle.secret, request);
      p = { entry: { kind: 'secret', name, id: name, action: 'reuse' }, secretArn: s.secretArn, versionId: s.versionId, updated: false };
    } catch (e) {
      if (!(e instanceof ResourceConflictError)) throw e;
      p = { entry: { kind: 'secret', name, id: name, action: 'conflict', detail: e.message }, secretArn: caBundle.secret.arn, updated: false };
    }
  } else {
    const sha256 = caBundle.sha256 ?? (caBundle.pem !== undefined ? sha256Of(caBundle.pem) : undefined);
    if (sha256 === undefined) throw new InvalidRequestError(NO_BUNDLE);
    p = await planCaSecretValue({ name, owner: request }, sha256);
  }
  return { secretName: name, secretArn: p.secretArn, ...(p.versionId ? { versionId: p.versionId } : {}), updated: p.updated, ledger: [], plan: [p.entry] };
}

export const permissions: StepPermissions = CA_SECRET_PERMISSIONS;

export const handler = wrap('Ensure CA secret', ensureCaSecret, { plan: planCaSecret });
