/**
 * What the mesh operator must grant the orchestrator on the EKS cluster: one EKS access
 * entry (principal -> Kubernetes group) and read-only RBAC bound to that group. Kept in one
 * function so the README/docs and the KubernetesAccessDeniedError message print the same text.
 *
 * API discovery (`GET /apis/<group>/<version>`, used to find the onboarding resources' plurals)
 * needs no rule here: the default ClusterRole `system:discovery` is bound to the group
 * `system:authenticated`, which every EKS access entry's principal is in
 * (kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles). The plurals below are
 * the expected ones; `kubectl api-resources --api-group=<group>` shows the served ones.
 */
import { AGENT_IMAGE_DEPLOYMENTS, AGENT_IMAGE_NAMESPACE, POLICY_GROUP, POLICY_PLURAL, WAR_GROUP, WAR_PLURAL, WORKLOAD_GROUP_GROUP, WORKLOAD_GROUP_PLURAL } from '../mesh-facts.ts';
import { TOOL_NAME } from '../settings.ts';

/** The Kubernetes group the access entry maps the orchestrator's role to. */
export const KUBE_READER_GROUP = 'mesh-onboarding-readers';

/** The `aws eks create-access-entry` command that maps `principalArn` to the reader group. */
export function accessEntryCommand(clusterName: string, principalArn: string): string {
  return `aws eks create-access-entry --cluster-name ${clusterName} --principal-arn ${principalArn} --kubernetes-groups ${KUBE_READER_GROUP}`;
}

/**
 * Least-privilege read RBAC for one workload namespace: namespaces are cluster-scoped (so a
 * ClusterRole limited to that one name), the onboarding resources are read in the workload's
 * namespace, and in istio-system only the two deployments the agent image can be derived from
 * (onboarding-plane per the ECS guide, onboarding-operator per the quickstart).
 */
export function rbacYaml(namespace: string, group = KUBE_READER_GROUP): string {
  const name = `${TOOL_NAME}-reader`;
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: ${name}-${namespace}-namespace
rules:
- apiGroups: [""]
  resources: ["namespaces"]
  resourceNames: ["${namespace}"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: ${name}-${namespace}-namespace
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: ${name}-${namespace}-namespace
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: ${group}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${name}
  namespace: ${namespace}
rules:
- apiGroups: ["${WAR_GROUP}"]
  resources: ["${WAR_PLURAL}"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["${WORKLOAD_GROUP_GROUP}"]
  resources: ["${WORKLOAD_GROUP_PLURAL}"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["${POLICY_GROUP}"]
  resources: ["${POLICY_PLURAL}"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${name}
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: ${name}
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: ${group}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${name}
  namespace: ${AGENT_IMAGE_NAMESPACE}
rules:
- apiGroups: ["apps"]
  resources: ["deployments"]
  resourceNames: [${AGENT_IMAGE_DEPLOYMENTS.map((d) => `"${d}"`).join(', ')}]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${name}
  namespace: ${AGENT_IMAGE_NAMESPACE}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: ${name}
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: ${group}
`;
}

/** The full instructions for the mesh operator: access entry, then the RBAC to apply. */
export function accessInstructions(p: { clusterName: string; principalArn: string; namespace: string }): string {
  return [
    `1. Map the orchestrator's IAM role to the Kubernetes group "${KUBE_READER_GROUP}" (the cluster's authenticationMode must be API or API_AND_CONFIG_MAP):`,
    `   ${accessEntryCommand(p.clusterName, p.principalArn)}`,
    `2. Grant that group read access (kubectl apply -f - <<'EOF' ... EOF):`,
    rbacYaml(p.namespace),
  ].join('\n');
}
