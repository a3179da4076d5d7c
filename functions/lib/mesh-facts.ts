/**
 * Facts about Tetrate's onboarding resources, kept in one place so that a wrong
 * assumption is corrected here only. Each fact says where it comes from:
 * - CONFIRMED <page>: written in Tetrate's public TSB reference docs (docs.tetrate.io,
 *   `service-bridge/.../<page>`), or in the Kubernetes/Istio docs named;
 * - INFERRED: not found written down; our best reading (see ../shared/notes/mesh-onboarding.md).
 *
 * Pages cited (relative to docs.tetrate.io/service-bridge/):
 * - AWS_MATCHER_PAGE   refs/onboarding/config/authorization/aws/v1alpha1/aws
 * - POLICY_PAGE        refs/onboarding/config/authorization/v1alpha1/policy
 * - WAR_PAGE           refs/onboarding/config/runtime/v1alpha1/registration (Workload Auto Registration)
 * - REGISTRATION_PAGE  refs/onboarding/config/types/registration/v1alpha1/registration
 * - ECS_GUIDE          setup/workload-onboarding/guides/ecs-workloads
 * - ECS_QUICKSTART     setup/workload-onboarding/quickstart/aws-ecs/onboard-ecs-task ("Onboard AWS ECS task")
 */

/** CONFIRMED ECS_GUIDE (the `ONBOARDING_CONFIG` example). */
export const ONBOARDING_CONFIG_API_VERSION = 'config.agent.onboarding.tetrate.io/v1alpha1';
export const ONBOARDING_CONFIG_KIND = 'OnboardingConfiguration';

/** CONFIRMED WAR_PAGE (example `apiVersion: runtime.onboarding.tetrate.io/v1alpha1`, `kind: WorkloadAutoRegistration`). */
export const WAR_GROUP = 'runtime.onboarding.tetrate.io';
export const WAR_VERSION = 'v1alpha1';
export const WAR_KIND = 'WorkloadAutoRegistration';
/**
 * INFERRED: no page or public CRD names the plural. The client never uses it to address the
 * API (it reads the name from API discovery, kube/client.ts); only the RBAC text and the local
 * stand-in's default use it.
 */
export const WAR_PLURAL = 'workloadautoregistrations';
/**
 * CONFIRMED WAR_PAGE: `status.conditions[].type: AgentConnected` (example: status True, reason
 * ConnectionEstablished). The `AGENT CONNECTED` column of `kubectl get war` is CONFIRMED too
 * (ECS_QUICKSTART, "Verify the Workload": `AGENT CONNECTED True`), but that the column shows this
 * condition's status stays INFERRED: no page or CRD with its additionalPrinterColumns was found.
 */
export const WAR_CONNECTED_CONDITION = 'AgentConnected';
/** CONFIRMED WAR_PAGE: the reason in the example of a connected agent. */
export const WAR_CONNECTED_REASON = 'ConnectionEstablished';
/**
 * CONFIRMED WAR_PAGE: `status.activeAgentConnection.connectedTo` is the "Identifier of the
 * Workload Onboarding Plane instance the Agent is connected to"; the example value is a pod
 * name of the onboarding-plane deployment.
 */
export const CONNECTED_TO_EXAMPLE = 'onboarding-plane-745bf76677-974tq';
/** CONFIRMED REGISTRATION_PAGE: `settings.connectedOver` "When unspecified, workload is assumed connected to the mesh over VPC". */
export const DEFAULT_CONNECTED_OVER = 'VPC';

/** CONFIRMED POLICY_PAGE (every example: `apiVersion: authorization.onboarding.tetrate.io/v1alpha1`). */
export const POLICY_GROUP = 'authorization.onboarding.tetrate.io';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_KIND = 'OnboardingPolicy';
/** INFERRED (no page names it); read from API discovery like WAR_PLURAL. */
export const POLICY_PLURAL = 'onboardingpolicies';

/**
 * Istio's WorkloadGroup. v1alpha3 is what the seed uses (WAR_PAGE's example owner is
 * `networking.istio.io/v1beta1`; Istio serves both). The plural is read from API discovery.
 */
export const WORKLOAD_GROUP_GROUP = 'networking.istio.io';
export const WORKLOAD_GROUP_VERSION = 'v1alpha3';
export const WORKLOAD_GROUP_KIND = 'WorkloadGroup';
export const WORKLOAD_GROUP_PLURAL = 'workloadgroups';

/** A namespaced kind the orchestrator reads, found through `GET /apis/<group>/<version>`. */
export interface MeshResourceType {
  group: string;
  version: string;
  kind: string;
  /** What it means when the cluster does not serve group/version. */
  notServedHint: string;
}

const ONBOARDING_NOT_SERVED = 'is workload onboarding enabled in the ControlPlane (spec.meshExpansion.onboarding)?';
export const WORKLOAD_GROUP_TYPE: MeshResourceType = {
  group: WORKLOAD_GROUP_GROUP,
  version: WORKLOAD_GROUP_VERSION,
  kind: WORKLOAD_GROUP_KIND,
  notServedHint: 'is Istio (the TSB control plane) installed on this cluster?',
};
export const POLICY_TYPE: MeshResourceType = { group: POLICY_GROUP, version: POLICY_VERSION, kind: POLICY_KIND, notServedHint: ONBOARDING_NOT_SERVED };
export const WAR_TYPE: MeshResourceType = { group: WAR_GROUP, version: WAR_VERSION, kind: WAR_KIND, notServedHint: ONBOARDING_NOT_SERVED };

/** Both documented sources of the agent image live here. */
export const AGENT_IMAGE_NAMESPACE = 'istio-system';
export const AGENT_IMAGE_SEGMENT = '/onboarding-agent:';

/** Where the agent image can be derived from: the image of one deployment with one path segment swapped. */
export interface AgentImageSource {
  deployment: string;
  /** The container to read; undefined = `containers[0]`. */
  container?: string;
  imageSegment: string;
}

/**
 * The agent image has the same registry and tag as the other TSB images, derived from:
 * - CONFIRMED ECS_GUIDE: `deployment/onboarding-plane` in istio-system, `containers[0]`,
 *   `/onboarding-plane-server:` -> `/onboarding-agent:`;
 * - CONFIRMED ECS_QUICKSTART: `deployment/onboarding-operator`, container `onboarding-operator`,
 *   `/onboarding-operator-server:` -> `/onboarding-agent:`.
 * INFERRED order: onboarding-plane first, since it runs only where onboarding is enabled, while a
 * public TSB 1.8 cluster listing shows onboarding-operator running without an onboarding-plane.
 */
export const AGENT_IMAGE_SOURCES: readonly AgentImageSource[] = [
  { deployment: 'onboarding-plane', imageSegment: '/onboarding-plane-server:' },
  { deployment: 'onboarding-operator', container: 'onboarding-operator', imageSegment: '/onboarding-operator-server:' },
];
/** The deployments the RBAC must let the orchestrator read. */
export const AGENT_IMAGE_DEPLOYMENTS = AGENT_IMAGE_SOURCES.map((s) => s.deployment);

/**
 * INFERRED from ECS_QUICKSTART's example `ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-3a15...`
 * (and WAR_PAGE's EC2 example `ratings-aws-aws-123456789012-ca-central-1b-ec2-i-...`):
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
 * OnboardingPolicy semantics (functions/lib/onboarding-policy.ts implements them):
 * - CONFIRMED AWS_MATCHER_PAGE: `aws.accounts` is REQUIRED ("Cannot be empty", min_items 1, each
 *   `^[0-9]{12}$`); empty `partitions`/`regions`/`zones` match any value.
 * - CONFIRMED POLICY_PAGE: `allow`, `workloads` and `onboardTo` need at least one item; a matcher is
 *   a oneof `aws` | `jwt`; `workloadGroupSelector` is required and `{}` selects all; by default
 *   no workload may join.
 * - INFERRED: an absent `aws.ecs` does not match ECS tasks (ECS_GUIDE says to create the policy
 *   "with the `ecs` field set"; `ecs: {}` matches any task).
 */
export const POLICY_ABSENT_ECS_MATCHES_ECS = false;
/** CONFIRMED AWS_MATCHER_PAGE: the validation pattern of each `aws.accounts` item. */
export const AWS_ACCOUNT_PATTERN = /^[0-9]{12}$/;
