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
