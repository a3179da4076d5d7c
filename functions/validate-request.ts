import { wrap } from '#lib/middleware.ts';
import { sha256Of } from '#lib/plan.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { executionNameOf, recordStarted, registryTable, REGISTRY_READ_PERMISSIONS, REGISTRY_WRITE_PERMISSIONS } from '#lib/registry.ts';
import { parseRequest } from '#lib/request.ts';
import type { WorkflowState } from '#lib/workflow.ts';

/**
 * Validate request: the workflow's first state. The state machine passes
 * `{input, executionId}` (the execution input beside `$$.Execution.Id`); a manual invoke may
 * pass the plain request (as typed in the Step Functions console) or `{request}`. Returns the
 * workflow state: the validated request (defaults applied), the execution id every later step
 * logs and, apart, the CA bundle (or the API's reference to the secret holding it) that only
 * Ensure CA secret reads. Records the start in the workload registry (without the CA bundle) in
 * the same conditional write that takes the workload's lock for this execution (its name, the
 * last `:` segment of the execution ARN): re-entrant when the API took it for this name, and
 * WorkloadBusyError (terminal) naming the holder when another execution has it, so a run started
 * from the console is locked out too and leaves the holder's record alone.
 * A dry run (`dryRun: true`) writes nothing, takes no lock and keeps only the PEM's SHA-256:
 * no later step of a plan can store the PEM, nor does any state hold it.
 * Throws InvalidRequestError naming every problem.
 */
export async function validateRequest(input: unknown): Promise<WorkflowState> {
  const { raw, executionId } = fromStateMachine(input);
  const { rootCaPem, rootCaSecret, rootCaSha256, ...request } = parseRequest(isWrapped(raw) ? raw.request : raw);
  if (request.dryRun) {
    const sha256 = rootCaSha256 ?? (rootCaPem !== undefined ? sha256Of(rootCaPem) : undefined);
    // A plan of a request the API started with a stored secret compares against that version: none the API starts so.
    const caBundle = sha256 ? { sha256 } : { secret: rootCaSecret };
    return { request, caBundle, ...(executionId ? { execution: { id: executionId } } : {}) };
  }
  // The registry keeps one record per workload from its first execution on; a manual invoke outside an execution has nothing to record.
  if (registryTable() && executionId) {
    const lock = { executionId: executionNameOf(executionId), machine: 'onboard-workload' as const, acquiredAt: new Date().toISOString() };
    await recordStarted(request, executionId, new Date(lock.acquiredAt), { take: lock });
  }
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

/** The write; the read names the holder when the lock is taken (WorkloadBusyError). */
export const permissions: StepPermissions = [...REGISTRY_WRITE_PERMISSIONS, ...REGISTRY_READ_PERMISSIONS];

export const handler = wrap('Validate request', validateRequest);
