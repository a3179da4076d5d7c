/**
 * Ready-to-apply YAML for the mesh prerequisites the pre-flight finds missing, so the
 * mesh operator can fix a MeshPrerequisiteError by copying its message.
 */
import { POLICY_GROUP, POLICY_KIND, POLICY_VERSION, WORKLOAD_GROUP_GROUP, WORKLOAD_GROUP_VERSION } from '../mesh-facts.ts';

function labelsYaml(labels: Record<string, string>, indent: string): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? ' {}' : entries.map(([k, v]) => `\n${indent}${k}: ${JSON.stringify(v)}`).join('');
}

export function namespaceYaml(namespace: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
  labels:
    istio-injection: enabled
`;
}

export function workloadGroupYaml(namespace: string, name: string): string {
  return `apiVersion: ${WORKLOAD_GROUP_GROUP}/${WORKLOAD_GROUP_VERSION}
kind: WorkloadGroup
metadata:
  name: ${name}
  namespace: ${namespace}
  labels:
    app: ${name}
spec:
  template:
    labels:
      app: ${name}
      class: ecs
      cloud: aws
    serviceAccount: ${namespace}-${name}
`;
}

/**
 * A policy allowing exactly this account, region, ECS cluster and task role into the WorkloadGroup(s)
 * with these labels. `accounts` is required (docs.tetrate.io refs/onboarding/config/authorization/aws/
 * v1alpha1/aws: at least one item, each ^[0-9]{12}$), quoted so YAML keeps it a string.
 */
export function onboardingPolicyYaml(p: {
  namespace: string;
  name: string;
  account: string;
  region: string;
  cluster: string;
  taskRoleName: string;
  workloadGroupLabels: Record<string, string>;
}): string {
  const selector = Object.keys(p.workloadGroupLabels).length === 0 ? ' {}' : `\n        matchLabels:${labelsYaml(p.workloadGroupLabels, '          ')}`;
  return `apiVersion: ${POLICY_GROUP}/${POLICY_VERSION}
kind: ${POLICY_KIND}
metadata:
  name: ${p.name}
  namespace: ${p.namespace}
spec:
  allow:
  - workloads:
    - aws:
        accounts: ["${p.account}"]
        regions: ["${p.region}"]
        ecs:
          clusters: ["${p.cluster}"]
          iamRoleNames: ["${p.taskRoleName}"]
    onboardTo:
    - workloadGroupSelector:${selector}
`;
}
