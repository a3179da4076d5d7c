import { InvalidRequestError } from './errors.ts';
import type { WorkflowState, With } from './workflow.ts';

/**
 * Asserts the keys a step depends on were set by earlier steps. A missing key means the
 * workflow was wired wrongly (or a step was started by hand with a partial input).
 */
export function need<K extends keyof WorkflowState>(state: WorkflowState, ...keys: K[]): With<K> {
  const missing = keys.filter((k) => state[k] === undefined);
  if (missing.length > 0) {
    throw new InvalidRequestError(missing.map((k) => ({ path: `$.${String(k)}`, message: 'is required: an earlier step should have set it' })));
  }
  return state as With<K>;
}
