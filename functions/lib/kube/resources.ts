/**
 * The shapes of the mesh resources the orchestrator reads, as far as it reads them
 * (see ../shared/notes/mesh-onboarding.md). Fields the code never looks at are left out.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid?: string; controller?: boolean }[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface WorkloadGroup {
  apiVersion: string;
  kind: 'WorkloadGroup';
  metadata: ObjectMeta;
  spec: { template?: { labels?: Record<string, string>; serviceAccount?: string }; probe?: unknown };
}

export interface AwsWorkloadMatcher {
  partitions?: string[];
  accounts?: string[];
  regions?: string[];
  zones?: string[];
  ecs?: { clusters?: string[]; iamRoleNames?: string[] };
  ec2?: { iamRoleNames?: string[] };
}

export interface OnboardingPolicy {
  apiVersion: string;
  kind: 'OnboardingPolicy';
  metadata: ObjectMeta;
  spec: {
    allow?: { workloads?: { aws?: AwsWorkloadMatcher; jvm?: unknown }[]; onboardTo?: { workloadGroupSelector?: LabelSelector }[] }[];
  };
}

export interface WarCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface WorkloadAutoRegistration {
  apiVersion: string;
  kind: 'WorkloadAutoRegistration';
  metadata: ObjectMeta;
  spec: {
    identity?: {
      aws?: {
        partition?: string;
        account?: string;
        region?: string;
        zone?: string;
        ecs?: { taskId?: string; cluster?: string; iamRole?: { name?: string } };
      };
    };
    registration?: {
      agent?: { version?: string };
      sidecar?: { istio?: { version?: string; revision?: string } };
      host?: { addresses?: { ip: string; type?: string }[] };
      workload?: { labels?: Record<string, string> };
      settings?: { connectedOver?: string };
    };
  };
  status?: { conditions?: WarCondition[]; activeAgentConnection?: { connectedTo?: string } };
}

/** A Kubernetes list response (`metadata.continue` set while more pages remain). */
export interface KubeList<T> {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}
