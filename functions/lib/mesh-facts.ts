/**
 * Facts about Tetrate's onboarding resources, kept in one place so that a wrong
 * assumption is corrected here only. Each INFERRED item was not found written down
 * in the public docs (see ../shared/notes/mesh-onboarding.md) and is our best reading.
 */
export const ONBOARDING_CONFIG_API_VERSION = 'config.agent.onboarding.tetrate.io/v1alpha1';
export const ONBOARDING_CONFIG_KIND = 'OnboardingConfiguration';

export const WAR_GROUP = 'runtime.onboarding.tetrate.io';
export const WAR_VERSION = 'v1alpha1';
/** INFERRED: the plural of WorkloadAutoRegistration. */
export const WAR_PLURAL = 'workloadautoregistrations';
export const WAR_KIND = 'WorkloadAutoRegistration';
/** INFERRED: the `AGENT CONNECTED` column of `kubectl get war` is this condition's status. */
export const WAR_CONNECTED_CONDITION = 'AgentConnected';

export const POLICY_GROUP = 'authorization.onboarding.tetrate.io';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_PLURAL = 'onboardingpolicies';
export const POLICY_KIND = 'OnboardingPolicy';

export const WORKLOAD_GROUP_GROUP = 'networking.istio.io';
export const WORKLOAD_GROUP_VERSION = 'v1alpha3';
export const WORKLOAD_GROUP_PLURAL = 'workloadgroups';

export const OPERATOR_NAMESPACE = 'istio-system';
export const OPERATOR_DEPLOYMENT = 'onboarding-operator';
export const OPERATOR_CONTAINER = 'onboarding-operator';
/** The agent image is the operator's image with this path segment swapped. */
export const OPERATOR_IMAGE_SEGMENT = '/onboarding-operator-server:';
export const AGENT_IMAGE_SEGMENT = '/onboarding-agent:';

/**
 * INFERRED from the example `ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-3a15...`:
 * the name the onboarding plane gives a WorkloadAutoRegistration.
 */
export function warName(p: {
  workloadGroup: string;
  partition: string;
  account: string;
  zone: string;
  cluster: string;
  taskId: string;
}): string {
  return `${p.workloadGroup}-aws-${p.partition}-${p.account}-${p.zone}-ecs-${p.cluster}-${p.taskId}`;
}

/**
 * INFERRED OnboardingPolicy semantics (functions/lib/onboarding-policy.ts implements them):
 * an absent `workloads[].aws.ecs` does not match ECS tasks (only `ecs: {}` matches any task);
 * an empty `allow[].workloads` / `allow[].onboardTo` or an absent `workloadGroupSelector`
 * matches nothing (the CRD marks them required; we deny by default).
 */
export const POLICY_ABSENT_ECS_MATCHES_ECS = false;
