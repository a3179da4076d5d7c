import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { recordStarted, registryTable, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import { parseRequest } from '#lib/request.ts';
import type { WorkflowState } from '#lib/workflow.ts';

/**
 * Validate request: the workflow's first state. The state machine passes
 * `{input, executionId}` (the execution input beside `$$.Execution.Id`); a manual invoke may
 * pass the plain request (as typed in the Step Functions console) or `{request}`. Returns the
 * workflow state: the validated request (defaults applied), the execution id every later step
 * logs and, apart, the CA bundle (or the API's reference to the secret holding it) that only
 * Ensure CA secret reads. Records the start in the workload registry (without the CA bundle).
 * Throws InvalidRequestError naming every problem.
 */
export async function validateRequest(input: unknown): Promise<WorkflowState> {
  const { raw, executionId } = fromStateMachine(input);
  const { rootCaPem, rootCaSecret, ...request } = parseRequest(isWrapped(raw) ? raw.request : raw);
  // The registry keeps one record per workload from its first execution on; a manual invoke outside an execution has nothing to record.
  if (registryTable() && executionId) await recordStarted(request, executionId);
  // Through the API the input holds only where the PEM was stored (rootCaSecret); by hand, the PEM.
  const caBundle = rootCaSecret ? { secret: rootCaSecret } : { pem: rootCaPem };
  return { request, caBundle, ...(executionId ? { execution: { id: executionId } } : {}) };
}

function fromStateMachine(input: unknown): { raw: unknown; executionId?: string } {
  if (typeof input === 'object' && input !== null && 'input' in input && 'executionId' in input && Object.keys(input).length === 2) {
    const { input: raw, executionId } = input as { input: unknown; executionId: unknown };
    if (typeof executionId === 'string') return { raw, executionId };
  }
  return { raw: input };
}

function isWrapped(input: unknown): input is { request: unknown } {
  return typeof input === 'object' && input !== null && Object.keys(input).length === 1 && 'request' in input;
}

export const permissions: StepPermissions = REGISTRY_WRITE_PERMISSIONS;

export const handler = wrap('Validate request', validateRequest);
