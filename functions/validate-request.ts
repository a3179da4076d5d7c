import { wrap } from '#lib/middleware.ts';
import { parseRequest } from '#lib/request.ts';
import type { WorkflowState } from '#lib/workflow.ts';

/**
 * Validate request: the workflow's first state. Accepts the plain request (as typed in
 * the Step Functions console) or `{request}`, and returns the workflow state: the validated
 * request (defaults applied) and, apart, the CA bundle that only Ensure CA secret reads.
 * Throws InvalidRequestError naming every problem.
 */
export async function validateRequest(input: unknown): Promise<WorkflowState> {
  const raw = isWrapped(input) ? input.request : input;
  const { rootCaPem, ...request } = parseRequest(raw);
  return { request, caBundle: { pem: rootCaPem } };
}

function isWrapped(input: unknown): input is { request: unknown } {
  return typeof input === 'object' && input !== null && Object.keys(input).length === 1 && 'request' in input;
}

export const handler = wrap('Validate request', validateRequest);
