/**
 * Names, tags and defaults that make every run find what an earlier run made.
 * Changing any of these orphans resources made by earlier versions: treat them as public API.
 */
export const TOOL_NAME = 'ecs-mesh-onboarding';

/** Tag keys put on every resource this tool makes (and used to find them again). */
export const TAG_WORKLOAD = 'mesh-onboarding/workload';
export const TAG_MANAGED_BY = 'mesh-onboarding/managed-by';
/** Marks the role a resource plays when several of one type exist per VPC (nat-subnet, task-subnet...). */
export const TAG_ROLE = 'mesh-onboarding/role';

/**
 * The IAM path of every role this tool makes (`arn:aws:iam::<account>:role/mesh-onboarding/<name>`),
 * so the orchestrator's policies can name exactly those roles. Names stay unique across paths
 * and GetRole finds a role by name alone; the mesh matches the task role by NAME
 * (OnboardingPolicy `iamRoleNames`; the assumed-role ARN carries no path), so it is unaffected.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-friendly-names
 */
export const ROLE_PATH = '/mesh-onboarding/';

export const DEFAULTS = {
  onboardingPort: 15443,
  desiredCount: 1,
  logRetentionDays: 30,
  timeouts: {
    natGatewaySeconds: 600,
    serviceSeconds: 900,
    meshSeconds: 600,
  },
  /** First and largest wait between polls of a slow resource (the state machine's Wait states) when it has no READINESS shape. */
  pollFirstWaitSeconds: 5,
  pollMaxWaitSeconds: 60,
  /** Subnet size chosen automatically when the request gives no CIDR. */
  autoSubnetPrefixLength: 24,
  /** Zones that get a task subnet by default: the service survives the loss of one. */
  zones: 2,
} as const;

/**
 * How the onboarding's wait loops poll each resource, shaped by when it is typically ready: a
 * first Wait of about that time (a fixed `Seconds` in the ASL, so no check runs that cannot
 * succeed yet), then checks every `pollSeconds` for `shortForSeconds`, then the growing interval
 * (×1.5 up to pollMaxWaitSeconds) so a slow one does not cost three transitions every few
 * seconds until its deadline (a longer short phase notices a late resource sooner but costs
 * transitions: with a 150 s NAT gateway and 90 s tasks, 60 s phases took 90 transitions). The deadline (request `timeouts.*Seconds`) counts from the first
 * check. bench/latency-model.ts measures the effect; the sandbox scales every Wait (`waitMs`).
 */
export const READINESS = {
  /**
   * A new NAT gateway is `pending` for one to a few minutes: the SDKs' NatGatewayAvailable waiter
   * polls every 15 s up to 40 times (aws/aws-sdk-ruby#1039), kops waits up to 5-10 min
   * (kubernetes/kops#944), and issue 11 measured 90 s. The loop is entered after the task subnet and
   * the security group (a few seconds after CreateNatGateway), so 80 s first.
   */
  natGateway: { firstWaitSeconds: 80, pollSeconds: 5, shortForSeconds: 30 },
  /**
   * A new Fargate task runs about a minute after CreateService (provisioning, image pulls through
   * the NAT gateway, container start): issue 11 measured 60 s. First check at 55 s.
   */
  service: { firstWaitSeconds: 55, pollSeconds: 5, shortForSeconds: 30 },
  /** The onboarding agent connects about 15 s after its task runs (issue 11); a check right after the service is ready cannot succeed. */
  mesh: { firstWaitSeconds: 12, pollSeconds: 3, shortForSeconds: 15 },
} as const;

/** Longest deadline a request may give any one wait (`timeouts.*Seconds`); the state machine's execution timeout is derived from it. */
export const MAX_WAIT_SECONDS = 7200;

/** The container name of the onboarding agent sidecar in the task definition. */
export const AGENT_CONTAINER_NAME = 'onboarding-agent';

/** `awslogs-stream-prefix` of both containers (the seed's `ecs`): streams are `<prefix>/<container>/<taskId>`. */
export const LOG_STREAM_PREFIX = 'ecs';

/** Settings read once at start-up from the environment (Lambda or local sandbox). */
export const runtimeSettings = {
  region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
} as const;

/**
 * Environment variables the deployed functions read (the CDK construct sets them; the local
 * sandbox sets the same ones against the emulator). One place, so infra and code agree.
 */
export const ENV = {
  /** DynamoDB table of onboarded workloads (functions/lib/registry.ts). */
  registryTable: 'REGISTRY_TABLE_NAME',
  /** EventBridge bus that receives MeshWorkloadDrift events (default bus when unset). */
  driftEventBus: 'DRIFT_EVENT_BUS_NAME',
  /** ARN of the onboarding state machine (the API starts it). */
  onboardStateMachineArn: 'ONBOARD_STATE_MACHINE_ARN',
  /** ARN of the re-verification state machine (the API starts it for one workload). */
  reverifyStateMachineArn: 'REVERIFY_STATE_MACHINE_ARN',
  /** ARN of the teardown (offboarding) state machine (the API starts it for DELETE /onboardings/{workload}). */
  offboardStateMachineArn: 'OFFBOARD_STATE_MACHINE_ARN',
} as const;

/** EventBridge `source` and `detail-type` of a drift event. */
export const DRIFT_EVENT_SOURCE = 'ecs-mesh-onboarding';
export const DRIFT_EVENT_DETAIL_TYPE = 'MeshWorkloadDrift';
/** The metric (count, in METRICS_NAMESPACE) a drifted workload adds to; the construct's alarm watches it. */
export const DRIFT_METRIC_NAME = 'WorkloadDrift';
/** CloudWatch namespace of the project's metrics (also used by the step middleware). */
export const METRICS_NAMESPACE = 'EcsMeshOnboarding';
