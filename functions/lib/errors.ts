/**
 * Typed errors. Each class's `name` equals the class name, which is also the string the
 * state machine's Retry/Catch `ErrorEquals` match (Lambda reports `errorType` = `name`).
 * Retryable errors can pass on their own; terminal errors always recur until a person acts.
 */

/** Errors the state machine retries with backoff. */
export abstract class RetryableError extends Error {
  readonly retryable = true;
}

/** Errors that end the run: retrying cannot help. */
export abstract class TerminalError extends Error {
  readonly retryable = false;
}

// Each class names itself with a string literal, never `new.target.name` or `constructor.name`:
// Lambda runs minified bundles, where class names are mangled, and the literal is the contract
// with the ASL's ErrorEquals (test/unit/error-names-bundle.test.ts checks it on a bundle).

// ---- retryable -------------------------------------------------------------

/** AWS throttled us (Throttling, RequestLimitExceeded, TooManyRequests...). */
export class AwsThrottledError extends RetryableError {
  override readonly name = 'AwsThrottledError';
}
/** IAM eventual consistency: a role just made "cannot be assumed", is not visible yet, or NoSuchEntity right after CreateRole. */
export class IamPropagationError extends RetryableError {
  override readonly name = 'IamPropagationError';
}
/** AWS answered 5xx: a passing fault on its side. */
export class AwsTransientError extends RetryableError {
  override readonly name = 'AwsTransientError';
}
/** A resource exists but is not usable yet (dependency still being created). */
export class ResourceNotReadyError extends RetryableError {
  override readonly name = 'ResourceNotReadyError';
}
/** The Kubernetes API could not be reached or answered 5xx/429. */
export class KubernetesUnavailableError extends RetryableError {
  override readonly name = 'KubernetesUnavailableError';
}
/**
 * A same-named resource is still being deleted (an ECS service DRAINING until INACTIVE takes
 * minutes): retried on a slow, bounded schedule of its own, longer than the other retries.
 */
export class ResourceDrainingError extends RetryableError {
  override readonly name = 'ResourceDrainingError';
}

// ---- terminal --------------------------------------------------------------

export interface Problem {
  /** JSON path of the offending field, e.g. `$.ecs.memory`. */
  path: string;
  message: string;
}

/** The request failed validation; `problems` lists every issue with its path. */
export class InvalidRequestError extends TerminalError {
  override readonly name = 'InvalidRequestError';
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(`Invalid onboarding request: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    this.problems = problems;
  }
}
/** A resource with our deterministic name exists but is not tagged as ours (or as this workload's). */
export class ResourceConflictError extends TerminalError {
  override readonly name = 'ResourceConflictError';
}
/** An AWS service quota or limit was reached. */
export class QuotaExceededError extends TerminalError {
  override readonly name = 'QuotaExceededError';
}
/** A resource reached a failed state (NAT gateway `failed`, ...). */
export class ResourceFailedError extends TerminalError {
  override readonly name = 'ResourceFailedError';
}
/** The NAT gateway went to `failed`; the message carries AWS's failure code and message. */
export class NatGatewayFailedError extends TerminalError {
  override readonly name = 'NatGatewayFailedError';
}
/** The VPC cannot host the workload as asked (no internet gateway, subnet outside the VPC, no free CIDR...). */
export class NetworkConfigurationError extends TerminalError {
  override readonly name = 'NetworkConfigurationError';
}
/** A task of the service stopped; the message carries `stoppedReason` and container exit codes. */
export class TaskStoppedError extends TerminalError {
  override readonly name = 'TaskStoppedError';
}
/** A bounded wait ran out; the message names what was still not ready. */
export class WaitDeadlineExceededError extends TerminalError {
  override readonly name = 'WaitDeadlineExceededError';
}
/** AWS refused the call for lack of permission; the message says which permission to add. */
export class AwsAccessDeniedError extends TerminalError {
  override readonly name = 'AwsAccessDeniedError';
}
/** A mesh prerequisite is missing or denies the workload (namespace, WorkloadGroup, OnboardingPolicy, operator). */
export class MeshPrerequisiteError extends TerminalError {
  override readonly name = 'MeshPrerequisiteError';
}
/** The Kubernetes API answered 401/403: the message says which access entry and RBAC to add. */
export class KubernetesAccessDeniedError extends TerminalError {
  override readonly name = 'KubernetesAccessDeniedError';
}
/**
 * Another execution holds the workload's lock in the registry (one run per workload: an
 * onboarding or a teardown). The message names the running execution.
 */
export class WorkloadBusyError extends TerminalError {
  override readonly name = 'WorkloadBusyError';
  constructor(
    message: string,
    /** The execution (name) that holds the lock. */
    readonly heldBy?: string,
  ) {
    super(message);
  }
}
/** The workload is not in the registry: nothing onboarded it (or a teardown already removed it). */
export class WorkloadNotFoundError extends TerminalError {
  override readonly name = 'WorkloadNotFoundError';
}
/** Something failed that no rule above covers; kept terminal so it is looked at, not retried forever. */
export class UnexpectedError extends TerminalError {
  override readonly name = 'UnexpectedError';
}

/** Every retryable class: the state machine's Retry lists are built from these names. */
export const RETRYABLE_ERRORS = [AwsThrottledError, IamPropagationError, AwsTransientError, ResourceNotReadyError, KubernetesUnavailableError, ResourceDrainingError] as const;
/** Every terminal class: never retried. */
export const TERMINAL_ERRORS = [
  InvalidRequestError,
  ResourceConflictError,
  QuotaExceededError,
  ResourceFailedError,
  NatGatewayFailedError,
  NetworkConfigurationError,
  TaskStoppedError,
  WaitDeadlineExceededError,
  AwsAccessDeniedError,
  MeshPrerequisiteError,
  KubernetesAccessDeniedError,
  WorkloadBusyError,
  WorkloadNotFoundError,
  UnexpectedError,
] as const;

export type RetryableErrorName = InstanceType<(typeof RETRYABLE_ERRORS)[number]>['name'];
export type TerminalErrorName = InstanceType<(typeof TERMINAL_ERRORS)[number]>['name'];

/** The `name` an instance of `cls` carries (read off an instance: the literal, not the mangled class name). */
export function errorNameOf(cls: abstract new (...args: never[]) => Error): string {
  const C = cls as unknown as new (m: string | Problem[]) => Error;
  return new C(cls === InvalidRequestError ? [] : '').name;
}

export const RETRYABLE_ERROR_NAMES = RETRYABLE_ERRORS.map(errorNameOf) as RetryableErrorName[];
export const TERMINAL_ERROR_NAMES = TERMINAL_ERRORS.map(errorNameOf) as TerminalErrorName[];

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
]);
const QUOTA = new Set(['LimitExceededException', 'LimitExceeded', 'AddressLimitExceeded', 'NatGatewayLimitExceeded', 'SubnetLimitExceeded', 'VpcLimitExceeded', 'RulesPerSecurityGroupLimitExceeded', 'SecurityGroupLimitExceeded', 'ServiceQuotaExceededException']);
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnrecognizedClientException']);

function awsErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: unknown; Code?: unknown; code?: unknown };
  for (const v of [e.name, e.Code, e.code]) if (typeof v === 'string') return v;
  return undefined;
}

/** True when an AWS SDK error has one of the given names/codes. */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  const n = awsErrorName(err);
  return n !== undefined && names.includes(n);
}

/**
 * Maps an error thrown anywhere in a step to one of the typed errors above, so the
 * state machine's ErrorEquals see a stable, small vocabulary.
 */
export function classifyError(err: unknown): RetryableError | TerminalError {
  if (err instanceof RetryableError || err instanceof TerminalError) return err;
  const name = awsErrorName(err) ?? 'Error';
  const message = err instanceof Error ? err.message : String(err);
  const text = `${name}: ${message}`;
  if (THROTTLING.has(name)) return new AwsThrottledError(text, { cause: err });
  // The orchestrator's own role lacks iam:PassRole: a missing grant, not propagation, so it always recurs.
  const passRole = ACCESS_DENIED.has(name) ? PASS_ROLE_DENIED.exec(message) : null;
  if (passRole) return new AwsAccessDeniedError(`${text}. ${passRoleFix(passRole[1] ?? '?', passRole[2] ?? '?')}`, { cause: err });
  // IAM eventual consistency before access denied: a role made seconds ago is "not valid" to
  // ECS, or "cannot be assumed", until it has propagated.
  if (IAM_PROPAGATION.test(message)) return new IamPropagationError(text, { cause: err });
  if (QUOTA.has(name)) return new QuotaExceededError(text, { cause: err });
  if (ACCESS_DENIED.has(name)) return new AwsAccessDeniedError(text, { cause: err });
  // A resource made moments ago that a read-after-write does not see yet.
  if (NOT_FOUND_YET.has(name) || CONCURRENT.has(name) || /scheduled for deletion|another operation is in progress/i.test(message)) {
    return new ResourceNotReadyError(text, { cause: err });
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return new AwsTransientError(`${name} (HTTP ${status}): ${message}`, { cause: err });
  return new UnexpectedError(text, { cause: err });
}

/**
 * Symptoms of a role that exists but has not propagated yet: ECS RegisterTaskDefinition's
 * ClientException "Role is not valid", ECS's "unable to assume the role ... provided for this
 * task", "cannot be assumed", IAM's "Invalid principal in policy". iam:PassRole is not here: AWS
 * words a caller's missing grant "User: <caller> is not authorized to perform: iam:PassRole on
 * resource: <role>" (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html),
 * which recurs until someone grants it (PASS_ROLE_DENIED).
 */
const IAM_PROPAGATION =
  /cannot be assumed|role .* (is )?(not )?valid|Role is not valid|not authorized to perform: sts:AssumeRole|ECS was unable to assume the role|Unable to assume the service linked role|Invalid principal in policy/i;

/** AccessDenied for iam:PassRole: group 1 is the caller, group 2 the role it may not pass. */
const PASS_ROLE_DENIED = /User: (\S+) is not authorized to perform: iam:PassRole on resource: ([^\s,;]+)/i;

/**
 * What to grant: ECS needs the caller to pass the task and execution roles to ecs-tasks
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html,
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html).
 */
function passRoleFix(caller: string, role: string): string {
  const assumed = /^arn:[^:]+:sts::\d+:assumed-role\/([^/]+)\//.exec(caller);
  const who = assumed ? `the orchestrator's role "${assumed[1]}"` : `the orchestrator's principal ${caller}`;
  return `Fix: grant ${who} iam:PassRole on ${role} with the condition StringEquals iam:PassedToService = ecs-tasks.amazonaws.com; retrying will not help until then`;
}

/**
 * EC2/ECS/Logs "not found" codes seen right after a create (eventual consistency). Steps that
 * look up an id the user gave map its absence to a terminal error themselves, before this.
 */
const NOT_FOUND_YET = new Set([
  'InvalidGroup.NotFound',
  'InvalidSubnetID.NotFound',
  'InvalidRouteTableID.NotFound',
  'InvalidAllocationID.NotFound',
  'InvalidNetworkInterfaceID.NotFound',
  'NatGatewayNotFound',
  'InvalidNatGatewayID.NotFound',
]);
/** Another change to the same resource is under way: trying again later succeeds. */
const CONCURRENT = new Set(['ConcurrentModification', 'ConcurrentModificationException', 'IncorrectState', 'InvalidSubnet.Conflict']);

/** The name of any typed error: the ASL's ErrorEquals vocabulary. */
export type ErrorName = RetryableErrorName | TerminalErrorName;

/**
 * What each error means and how to fix it, next to the classes so a new error cannot be added
 * without its row (a test checks every class has one). `npm run docs` renders it as
 * docs/troubleshooting.md; write from what the code that throws it does.
 */
export const TROUBLESHOOTING: Record<ErrorName, { means: string; fix: string }> = {
  AwsThrottledError: {
    means: 'AWS throttled a call (Throttling, RequestLimitExceeded, TooManyRequests...). The step is retried with exponential backoff and full jitter, up to 6 times.',
    fix: 'Nothing, usually. If a run fails with it after the retries, other tooling is using the same API quota in the account and region: run again later, or ask AWS for a higher request rate.',
  },
  IamPropagationError: {
    means: 'A role made moments ago is not usable yet (ECS "Role is not valid", "cannot be assumed", IAM NoSuchEntity right after CreateRole). IAM takes seconds to show a new role everywhere; retried on a slower schedule (from 5 s, up to 8 times).',
    fix: 'Nothing, usually. If it persists, check the role\'s trust policy names ecs-tasks.amazonaws.com (the tool writes it so) and that nobody edited or deleted the role meanwhile.',
  },
  AwsTransientError: {
    means: 'AWS answered 5xx: a passing fault on its side. Retried with backoff.',
    fix: 'Nothing, usually. If a run fails with it, look at the AWS Health Dashboard for the service named in the message and run again.',
  },
  ResourceNotReadyError: {
    means: 'A resource is not usable yet: one just made that a read-after-write does not show (a NAT gateway, a service, a log group, a subnet or group), a concurrent change to the same resource, a same-named secret still scheduled for deletion, a role still attached during a teardown, or another run holding the VPC\'s network lease (named in the message). Retried with backoff.',
    fix: 'Nothing, usually. If it persists, the message names the resource or the lease holder: wait for that run to end, or look at the resource in the console.',
  },
  KubernetesUnavailableError: {
    means: 'The EKS cluster\'s Kubernetes API could not be reached or answered 429/5xx. Retried with backoff.',
    fix: 'If it persists: the API endpoint must be reachable from the orchestrator\'s Lambda functions (a private-only endpoint needs the functions in the VPC, or the public endpoint enabled), and the cluster must be ACTIVE.',
  },
  ResourceDrainingError: {
    means: 'A same-named resource is still being deleted: an ECS service DRAINING after a delete (ECS answers "Creation of service was not idempotent"), or, in a teardown, network interfaces of stopped tasks still attached. Retried every 30 s, up to 20 times (about 10 minutes).',
    fix: 'Nothing, usually. If it persists, look at the service (or the network interfaces named in the message) in the console; run again once it is gone.',
  },
  InvalidRequestError: {
    means: 'The onboarding request failed validation (the JSON Schema in schema/, and the cross-field rules: Fargate cpu/memory pairs, eksClusterName or vpcId, subnetIds or subnetCidrs). The message lists every problem with its JSON path; nothing was touched.',
    fix: 'Correct each field the message names (e.g. `$.ecs.memory`) and send the request again. Through the API the same problems come back as a 400 with a `problems` list.',
  },
  ResourceConflictError: {
    means: 'A resource with the name this tool would use (role, CA secret, log group, task definition family, service, security group, subnet...) exists but is not tagged as made by this tool, or carries another workload\'s tag. The tool never adopts it. The message names the resource and its owner.',
    fix: 'Delete or rename the foreign resource, or choose other names in the request. Tagging it as this tool\'s hands it over: the tool then changes it, and a teardown may delete it.',
  },
  QuotaExceededError: {
    means: 'An AWS service quota was reached (Elastic IPs, NAT gateways, subnets, VPCs, security groups or rules per group...). The AWS error code is in the message.',
    fix: 'Free some of that resource in the account and region, or raise the quota in Service Quotas, then run again: finished steps are reused.',
  },
  ResourceFailedError: {
    means: 'A resource the run waits on reached a failed or final state: the ECS service was deleted (or made INACTIVE) while the run waited for it to be ready.',
    fix: 'Find who deleted the service (CloudTrail), then run the onboarding again: the service is made again.',
  },
  NatGatewayFailedError: {
    means: 'The NAT gateway went to `failed`; the message carries AWS\'s failure code and message (e.g. no free Elastic IP, the subnet out of addresses).',
    fix: 'Fix what AWS names, delete the failed NAT gateway, and run again: a new one is made (its client token has a new generation).',
  },
  NetworkConfigurationError: {
    means: 'The VPC cannot host the workload as asked: no internet gateway, a subnetIds entry outside the VPC or without a default route through a NAT gateway, a subnetCidrs block outside the VPC or overlapping a subnet, no free /24 left, fewer zones than network.zones, an ingressSources group that does not exist, the EKS cluster or VPC not found. It is raised by Resolve network before anything is made; the message names the field (`network.subnetIds[0]`, `network.zones`...).',
    fix: 'Change the field the message names (another subnet or block, fewer zones, vpcId / eksClusterName that agree), or fix the VPC (an internet gateway, a route to a NAT gateway), then send the request again.',
  },
  TaskStoppedError: {
    means: 'A task of the service stopped while the run waited for it to be ready; the message carries ECS\'s stoppedReason and each container\'s exit code. Start-up failures ECS retries by itself (secret or image pull, role assumption while IAM propagates) are tolerated up to 3 per deployment.',
    fix: 'Read the stoppedReason and the containers\' logs in `/ecs/<family>` (the agent\'s and the app\'s): a wrong image, an app that exits, an agent that cannot reach the onboarding endpoint. Fix the request (ecs.image, app.port...) and send it again.',
  },
  WaitDeadlineExceededError: {
    means: 'A bounded wait ran out; the message names what was still not ready: the NAT gateway not available, the service not steady (running vs desired, deployment state), tasks without a WorkloadAutoRegistration or whose agent is not connected; in a teardown, tasks not stopped or a NAT gateway not deleted.',
    fix: 'Look at what the message names. A slow but healthy resource: raise `timeouts.natGatewaySeconds`, `timeouts.serviceSeconds` or `timeouts.meshSeconds` (defaults 600, 900, 600; at most 7200). An agent that never connects: check the onboarding endpoint is reachable from the task subnet, the OnboardingPolicy allows the task role, and the agent\'s log in `/ecs/<family>`.',
  },
  AwsAccessDeniedError: {
    means: 'AWS refused a call for lack of permission; the message names the action and the resource (for a missing iam:PassRole, the exact grant; for the drift event, events:PutEvents on the bus).',
    fix: 'Grant the permission the message names to the orchestrator\'s role (deployed: the step function\'s role from the CDK stack, whose policy each step\'s `permissions` define; a changed policy or a permissions boundary may have removed it), then run again.',
  },
  MeshPrerequisiteError: {
    means: 'Something the mesh must have is missing or refuses the workload: network.eksClusterName absent (the mesh is reached through it), the EKS cluster or its API endpoint, an onboarding API group the cluster does not serve, the namespace, the WorkloadGroup, an OnboardingPolicy that allows this account, region, cluster and task role, the onboarding-plane or onboarding-operator deployment. For a missing namespace, WorkloadGroup or policy the message carries ready-to-apply YAML.',
    fix: 'Give the message to the mesh operator: apply the YAML it prints (docs/mesh-operator.md explains each resource), or enable workload onboarding on the ControlPlane; or set network.eksClusterName. Then run again: Pre-flight mesh reads only, so nothing was made in AWS when it raised it.',
  },
  KubernetesAccessDeniedError: {
    means: 'The Kubernetes API answered 401 or 403 to the orchestrator\'s role: the role has no EKS access entry, or its Kubernetes group lacks the RBAC to read the onboarding resources.',
    fix: 'The mesh operator runs the commands the message prints with the real role ARN: an EKS access entry for the role (deployed: the stack output MeshReaderRoleArn) and the Role/RoleBinding YAML for the workload\'s namespace (docs/deploy.md).',
  },
  WorkloadBusyError: {
    means: 'Another execution (an onboarding or a teardown) holds the workload\'s lock: one run per workload. The message names it. Through the API it is a 409 with `error: "WorkloadBusy"` and the `executionId`.',
    fix: 'Wait for the named execution to end (GET /onboardings/{executionId}), or stop it in the Step Functions console, then send the request again. A lock whose execution ended is taken over on the next request.',
  },
  WorkloadNotFoundError: {
    means: 'A teardown named a workload the registry does not hold: it was never onboarded, or a teardown already removed it.',
    fix: 'Check the workload name (`<namespace>/<name>`; GET /onboardings lists the registry). If resources remain without a record, delete them by their mesh-onboarding tags.',
  },
  UnexpectedError: {
    means: 'An error no rule above covers (an AWS validation error, an unclassified Kubernetes answer, a bug). Kept terminal so it is looked at, not retried forever; the message carries the original error name and text.',
    fix: 'Read the message and the step\'s Lambda log (the execution id is the correlation key). If the input was right, it is a bug: report it with the message.',
  },
};
