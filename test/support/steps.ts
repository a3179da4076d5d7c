/** Steps as the workflow runs them, for tests that call one handler function directly. */
import { resolveKubeTarget } from '../../functions/lib/kube/client.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { resolveNetwork } from '../../functions/resolve-network.ts';

/**
 * Resolve network after Pre-flight mesh: the workflow hands it the EKS cluster Pre-flight mesh
 * described (`preflight.kube`), and Pre-flight mesh is where an unknown cluster fails.
 */
export async function resolveNetworkAfterPreflight(state: WorkflowState): ReturnType<typeof resolveNetwork> {
  const name = state.request.network.eksClusterName;
  const kube = name && state.preflight?.kube?.clusterName !== name ? await resolveKubeTarget(name) : undefined;
  return resolveNetwork(kube ? ({ ...state, preflight: { ...state.preflight, kube } } as WorkflowState) : state);
}
