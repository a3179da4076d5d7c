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

export const DEFAULTS = {
  onboardingPort: 15443,
  desiredCount: 1,
  logRetentionDays: 30,
  timeouts: {
    natGatewaySeconds: 600,
    serviceSeconds: 900,
    meshSeconds: 600,
  },
  /** First and largest wait between polls of a slow resource (the state machine's Wait states). */
  pollFirstWaitSeconds: 5,
  pollMaxWaitSeconds: 60,
  /** Subnet size chosen automatically when the request gives no CIDR. */
  autoSubnetPrefixLength: 24,
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
