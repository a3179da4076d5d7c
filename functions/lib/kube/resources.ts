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

/** An OIDC ID token matcher (refs/onboarding/config/authorization/jwt/v1alpha1/jwt); never matches an ECS task. */
export interface JwtWorkloadMatcher {
  issuer?: string;
  subjects?: string[];
  attributes?: { name: string; values?: string[] }[];
}

/** A oneof: `aws` or `jwt` (refs/onboarding/config/authorization/v1alpha1/policy, WorkloadIdentityMatcher). */
export interface WorkloadIdentityMatcher {
  aws?: AwsWorkloadMatcher;
  jwt?: JwtWorkloadMatcher;
}

export interface OnboardingPolicy {
  apiVersion: string;
  kind: 'OnboardingPolicy';
  metadata: ObjectMeta;
  spec: {
    allow?: { workloads?: WorkloadIdentityMatcher[]; onboardTo?: { workloadGroupSelector?: LabelSelector }[] }[];
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

/** One entry of an API discovery document (`GET /apis/<group>/<version>`); `name` is the plural, or `<plural>/<subresource>`. */
export interface APIResource {
  name: string;
  singularName?: string;
  namespaced: boolean;
  kind: string;
  verbs?: string[];
  shortNames?: string[];
}

/** The discovery document of one group/version. */
export interface APIResourceList {
  kind: 'APIResourceList';
  apiVersion?: string;
  groupVersion: string;
  resources: APIResource[];
}

/** A core/v1 Namespace, as far as the orchestrator reads it (that it exists). */
export interface Namespace {
  apiVersion?: string;
  kind?: 'Namespace';
  metadata?: Partial<ObjectMeta>;
  status?: { phase?: string };
}

/** An apps/v1 Deployment, as far as the orchestrator reads it (its containers' images). */
export interface Deployment {
  apiVersion?: string;
  kind?: 'Deployment';
  metadata?: Partial<ObjectMeta>;
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
}
