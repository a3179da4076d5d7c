/**
 * The workflow's data, typed in one place. The state machine carries one flat object:
 * `request` (validated) plus one key per step, each placed there by the step's
 * `ResultPath` (e.g. `"ResultPath": "$.natGateway"`). A step reads what it needs from
 * this object and returns only its own result.
 */
import type { NatGateway, RouteTable, Subnet } from '@aws-sdk/client-ec2';
import type { CaSecretRef, WorkloadRequest } from './request.ts';
import type { KubeTarget } from './kube/client.ts';
import type { OnboardingPlan, PlanEntry, PlanProblem } from './plan.ts';
import type { Poll } from './poll.ts';

/** Kinds of resources this tool makes; teardown deletes them in reverse order of this list. */
export type ResourceKind =
  | 'ecs-cluster'
  | 'iam-role'
  | 'iam-role-policy'
  | 'secret'
  | 'log-group'
  | 'vpc-subnet'
  | 'route-table'
  | 'elastic-ip'
  | 'nat-gateway'
  | 'security-group'
  | 'security-group-ingress'
  | 'task-definition'
  | 'ecs-service';

/** One line of the ledger: what a step found or made. `created` is true only when this run made it. */
export interface LedgerEntry {
  kind: ResourceKind;
  id: string;
  arn?: string;
  created: boolean;
  /**
   * True when the resource existed and this run changed it (a service's task definition or desired
   * count, a log group's retention, the CA secret's value, a role's policies, a security group's
   * rules). A new task definition revision is `created` (it is a new resource). Absent: reused as found.
   */
  updated?: boolean;
  /**
   * True for a resource every workload of the VPC or ECS cluster uses (NAT gateway, its
   * Elastic IP, the NAT and task subnets and their route tables): it carries no workload tag,
   * and removing one workload must not delete it while another still uses it.
   */
  shared?: boolean;
}

export interface StepResult {
  ledger: LedgerEntry[];
  /** Dry run only (functions/lib/plan.ts): what the apply would do with each resource; the ledger is then empty. */
  plan?: PlanEntry[];
  /** Dry run only: what would stop the apply at this step. */
  problems?: PlanProblem[];
}

export interface AwsContext {
  account: string;
  region: string;
  partition: string;
}

export interface PreflightResult extends AwsContext {
  agentImage: string;
  workloadGroup: { namespace: string; name: string; templateLabels: Record<string, string>; serviceAccount?: string };
  onboardingPolicy: string;
  /** Policy conditions that can only be checked once tasks run (e.g. `zones`). */
  warnings?: string[];
  /** Where `agentImage` came from: the request, or the deployment whose image it was derived from. */
  agentImageSource?: 'request' | 'deployment/onboarding-plane' | 'deployment/onboarding-operator';
  /**
   * Where the mesh's Kubernetes API is (DescribeCluster's endpoint and CA, public data) and the EKS
   * cluster's VPC: later steps and every poll reuse it instead of describing the cluster again.
   */
  kube?: KubeTarget;
  /** Dry run only: what the mesh lacks (each with the YAML to add it); the apply would stop here with MeshPrerequisiteError. */
  problems?: PlanProblem[];
}

export interface ClusterResult extends StepResult {
  clusterName: string;
  clusterArn: string;
}

export interface RoleResult extends StepResult {
  roleName: string;
  roleArn: string;
}

export interface CaSecretResult extends StepResult {
  secretName: string;
  secretArn: string;
  /** True when the stored value was replaced because `rootCaPem` changed. */
  updated: boolean;
  /** The secret's AWSCURRENT version (the one holding this run's PEM): the task definition references it, so a new CA rolls the tasks. */
  versionId?: string;
}

export interface LogGroupResult extends StepResult {
  logGroupName: string;
  retentionDays: number;
}

export interface SubnetInfo {
  subnetId: string;
  cidr: string;
  availabilityZone: string;
  name?: string;
}

export interface NetworkResult {
  vpcId: string;
  vpcCidrs: string[];
  subnets: SubnetInfo[];
  internetGatewayId?: string;
  availableNatGatewayIds: string[];
  eksClusterSecurityGroupId?: string;
  /**
   * The availability zones that get a task subnet, in order (the shared NAT gateway goes in the
   * first): the zones of the VPC's existing subnets by address, then the region's others by name.
   * Empty with network.subnetIds (the given subnets' zones are used).
   */
  zones: string[];
  /** Dry run only: every feasibility problem (a taken block, a subnet without a NAT route); the apply would stop here. */
  problems?: PlanProblem[];
  /**
   * What Resolve network read of the VPC, trimmed (functions/lib/aws/network.ts VpcView): the
   * network steps decide their read-only path (and their dry run) from it without a call, and
   * read again under the network lease before they create anything. Absent: they read.
   */
  seen?: VpcSnapshot;
}

/** The VPC's subnets, route tables (0.0.0.0/0 routes only) and NAT gateways (any state), as EC2 describes them, with only our tags and Name. */
export interface VpcSnapshot {
  subnets: Subnet[];
  routeTables: RouteTable[];
  natGateways: NatGateway[];
}

export type NatGatewayState = 'pending' | 'available';

/** One zone's own NAT gateway (network.natGateways per-zone). */
export interface ZonalNatGateway {
  zone: string;
  natGatewayId: string;
  subnetId: string;
  state: NatGatewayState;
}

export interface NatGatewayResult extends StepResult {
  /** The NAT gateway (per-zone: the first zone's). */
  natGatewayId: string;
  /** `available` once every NAT gateway is (the wait loop's Choice variable). */
  state: NatGatewayState;
  /** Per-zone: each task zone's own NAT gateway, in zone order. */
  zonal?: ZonalNatGateway[];
  /** The public subnet holding the NAT gateway. */
  subnetId: string;
  /** Set by the wait loop's check step. */
  poll?: Poll;
}

/** One task subnet: the ECS cluster's own in one zone, or one the request gave. */
export interface TaskSubnet {
  subnetId: string;
  cidr: string;
  availabilityZone: string;
  routeTableId: string;
}

/** The subnets the service's tasks run in, one per zone (or those of network.subnetIds): ECS spreads the tasks over their zones. */
export interface TaskSubnetResult extends StepResult {
  subnets: TaskSubnet[];
}

export interface SecurityGroupResult extends StepResult {
  groupId: string;
}

export interface TaskDefinitionResult extends StepResult {
  taskDefinitionArn: string;
  family: string;
  revision: number;
}

export interface ServiceResult extends StepResult {
  serviceArn: string;
  serviceName: string;
  clusterName: string;
  /** True when an existing service was updated (task definition, count, network or ECS Exec changed, or a FAILED deployment was forced again). */
  updated: boolean;
}

export interface RunningTask {
  taskId: string;
  taskArn: string;
  availabilityZone: string;
  privateIp: string;
  lastStatus: string;
}

export interface ReadinessResult {
  ready: boolean;
  tasks: RunningTask[];
  poll: Poll;
  /** Human summary of what is still missing, e.g. "running 0/1, deployment IN_PROGRESS". */
  status: string;
}

export interface TaskRegistration {
  taskId: string;
  /** The task's availability zone (from Check service readiness). */
  availabilityZone?: string;
  warName?: string;
  agentConnected?: { status: string; reason?: string; since?: string };
  /** The onboarding-plane instance (pod) the agent is connected to. */
  connectedTo?: string;
  /** The registered address whose type is `connectedOver`. */
  address?: string;
  /** The WAR's `spec.registration.settings.connectedOver` (default VPC): which address type the mesh uses. */
  connectedOver?: string;
}

export interface MeshVerificationResult {
  allConnected: boolean;
  connected: TaskRegistration[];
  disconnected: TaskRegistration[];
  missing: TaskRegistration[];
  poll: Poll;
}

export interface TrafficEvidenceResult {
  windowStart: string;
  windowEnd: string;
  logStreams: string[];
  inbound: { total: number; byStatusClass: Record<string, number> };
  outbound: { total: number; byStatusClass: Record<string, number> };
  samples: string[];
  trafficSeen: boolean;
  /** Log lines read from the agent streams in the window (access-log lines or not). */
  agentLogLines?: number;
  /** Whether any line was an Envoy access-log line (TEXT or JSON): false with agentLogLines > 0 means access logging may be off. */
  accessLogSeen?: boolean;
  /** Agent streams that do not exist (yet): those tasks have logged nothing. */
  missingLogStreams?: string[];
  /** What the finding means when it is not simply "traffic seen" (access logging off, no stream yet). */
  hint?: string;
}

/**
 * The CA bundle as Validate request hands it to Ensure CA secret: the PEM itself (a request
 * started by hand, e.g. from the console) or, exactly one of the two, the secret version the
 * API stored it in (a request started through the API).
 */
export interface CaBundle {
  pem?: string;
  secret?: CaSecretRef;
  /** Dry run only: the SHA-256 (hex) of the PEM, all a plan needs to tell whether the stored bundle would change; the PEM itself is not carried. */
  sha256?: string;
}

/** The state object as it grows through the workflow. */
export interface WorkflowState {
  request: WorkloadRequest;
  /**
   * The CA bundle, from Validate request to Ensure CA secret only: the provisioning
   * Parallel's ResultSelector does not carry it on, so no later state (nor the execution's
   * output) holds it; the task reads it from Secrets Manager.
   */
  caBundle?: CaBundle;
  /** The Step Functions execution (its id is every step's log correlation key); set by Validate request. */
  execution?: { id: string };
  preflight?: PreflightResult;
  cluster?: ClusterResult;
  taskRole?: RoleResult;
  executionRole?: RoleResult;
  caSecret?: CaSecretResult;
  logGroup?: LogGroupResult;
  network?: NetworkResult;
  natGateway?: NatGatewayResult;
  taskSubnet?: TaskSubnetResult;
  securityGroup?: SecurityGroupResult;
  taskDefinition?: TaskDefinitionResult;
  service?: ServiceResult;
  readiness?: ReadinessResult;
  mesh?: MeshVerificationResult;
  traffic?: TrafficEvidenceResult;
  /** Dry run only: Record plan's output. */
  plan?: OnboardingPlan;
}

/** A state in which the keys `K` are known to be present (what a step needs to run). */
export type With<K extends keyof WorkflowState> = WorkflowState & Required<Pick<WorkflowState, K>>;
