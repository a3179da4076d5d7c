/**
 * The onboarding workflow, described once. `npm run workflow` renders it with
 * statemachine/builder.ts into onboard-workload.asl.json, the file CDK deploys and the local
 * engine runs; a test fails when the committed file differs from this description.
 */
import { RETRYABLE_ERROR_NAMES } from '../functions/lib/errors.ts';
import { MAX_WAIT_SECONDS, READINESS } from '../functions/lib/settings.ts';
import { buildWorkflow, parallel, task, waitLoop, type ChoiceRule, type WorkflowSpec } from './builder.ts';
import type { AslMachine, Retrier } from './definition.ts';

/**
 * Lambda's own passing faults. `Lambda.Unknown` is left out: it is how Lambda reports an
 * out-of-memory or a crashed runtime, which recurs on every attempt.
 */
export const LAMBDA_TRANSIENT_ERRORS = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

/** Retryable errors with a schedule of their own; every other retryable error takes the common one. */
const SLOW_RETRIES = ['IamPropagationError', 'ResourceDrainingError'];

/** The one retry policy of every Task state. Terminal errors are never listed: they recur until a person acts. */
export const RETRY_POLICY: Retrier[] = [
  { ErrorEquals: LAMBDA_TRANSIENT_ERRORS, IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
  { ErrorEquals: RETRYABLE_ERROR_NAMES.filter((n) => !SLOW_RETRIES.includes(n)), IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: 'FULL' },
  // IAM eventual consistency: a new role is usually usable within seconds, at worst a minute or two: 3 s, then 1.5× up to 30 s, 10 attempts (about 2.5 min in all).
  { ErrorEquals: ['IamPropagationError'], IntervalSeconds: 3, MaxAttempts: 10, BackoffRate: 1.5, MaxDelaySeconds: 30, JitterStrategy: 'FULL' },
  // A same-named ECS service DRAINING → INACTIVE takes minutes: up to 20 × 30 s (about 5 min on average with full jitter, 10 at most).
  { ErrorEquals: ['ResourceDrainingError'], IntervalSeconds: 30, MaxAttempts: 20, BackoffRate: 1, JitterStrategy: 'FULL' },
];

/** A dry run (`request.dryRun`, functions/lib/plan.ts): absent means apply. */
export const DRY_RUN: ChoiceRule = { And: [{ Variable: '$.request.dryRun', IsPresent: true }, { Variable: '$.request.dryRun', BooleanEquals: true }] };

/** `path` is present and true (a Choice on a missing path fails the execution with States.Runtime). */
const isTrue = (path: string): ChoiceRule => ({ And: [{ Variable: path, IsPresent: true }, { Variable: path, BooleanEquals: true }] });

/**
 * Ensure service started new tasks (it made the service, or changed it so ECS deploys again): they
 * need about a minute to run and their agents about 15 s more, so the loops wait before the first
 * check. Otherwise (a re-run finding everything in place) they check at once.
 */
const NEW_TASKS: ChoiceRule = { Or: [isTrue('$.service.updated'), isTrue('$.service.ledger[0].created')] };

export const ONBOARD_WORKLOAD: WorkflowSpec = {
  comment:
    'Onboards one AWS ECS Fargate workload into an Istio / TSB mesh. Generated from statemachine/onboard-workload.ts by `npm run workflow`: edit that file, not this one. CDK deploys it with the ${...FunctionArn} placeholders filled, and the local engine runs the same file in-process.',
  retry: RETRY_POLICY,
  taskTimeoutSeconds: 60,
  timeoutRoundingSeconds: 3600,
  steps: [
    // The execution id goes in beside the request so every step can log it as a correlation key.
    task('Validate request', { parameters: { 'input.$': '$', 'executionId.$': '$$.Execution.Id' }, provides: ['request', 'execution'] }),
    task('Pre-flight mesh', { resultKey: 'preflight' }),
    // Every check of the network against the account, before the first mutating call: a request that cannot succeed fails with nothing made.
    task('Resolve network', { resultKey: 'network' }),
    parallel('Provision identity and network', {
      comment:
        'Everything that does not need an available NAT gateway overlaps its wait: identity, logging and the task definition in one branch; the NAT gateway, the task subnet (its default route may name a pending NAT gateway), the security group and the NAT wait in the other. Only the service, whose tasks pull images through the NAT gateway, waits for it.',
      failedName: 'Provisioning failed',
      checkName: 'Provisioning succeeded?',
      doneName: 'Provisioned',
      branches: [
        {
          name: 'Identity',
          steps: [
            task('Ensure cluster', { resultKey: 'cluster', ledger: true }),
            task('Ensure task role', { resultKey: 'taskRole', ledger: true }),
            task('Ensure execution role', { resultKey: 'executionRole', ledger: true }),
            task('Ensure CA secret', { resultKey: 'caSecret', ledger: true }),
            task('Ensure log group', { resultKey: 'logGroup', ledger: true }),
            // Needs only the pre-flight (agent image), the roles' ARNs, the CA secret and the log group; ECS stores the role ARNs without assuming them.
            // Given just those keys: the branch still carries the CA bundle, which no step after Ensure CA secret may see.
            task('Register task definition', {
              resultKey: 'taskDefinition',
              ledger: true,
              parameters: {
                'request.$': '$.request',
                'execution.$': '$.execution',
                'preflight.$': '$.preflight',
                'taskRole.$': '$.taskRole',
                'executionRole.$': '$.executionRole',
                'caSecret.$': '$.caSecret',
                'logGroup.$': '$.logGroup',
              },
            }),
          ],
        },
        {
          name: 'Network',
          steps: [
            // First: the longest wait of the run starts as early as it can.
            task('Ensure NAT gateway', { resultKey: 'natGateway', ledger: true }),
            // EC2 CreateRoute accepts a NAT gateway that is still pending (only a just-made one may be
            // InvalidNatGatewayID.NotFound for a moment, a retried ResourceNotReadyError): boto/boto3#779
            // (https://github.com/boto/boto3/issues/779) shows the route to a pending NAT gateway created on retry, and
            // kops retries exactly that error instead of waiting for `available` (kubernetes/kops#9637,
            // https://github.com/kubernetes/kops/pull/9637). The route carries traffic once the NAT gateway is available.
            task('Ensure task subnet', { resultKey: 'taskSubnet', ledger: true }),
            task('Ensure security group', { resultKey: 'securityGroup', ledger: true }),
            waitLoop({
              choice: 'NAT gateway available?',
              // A dry run never waits: nothing was made to wait for.
              until: { Or: [{ Variable: '$.natGateway.state', StringEquals: 'available' }, DRY_RUN] },
              wait: 'Wait for NAT gateway',
              firstWait: { name: 'First wait for NAT gateway', seconds: READINESS.natGateway.firstWaitSeconds },
              endName: 'NAT gateway ready',
              check: task('Check NAT gateway', { resultKey: 'natGateway', ledger: true }),
              enter: 'choice',
              maxWaitSeconds: MAX_WAIT_SECONDS,
            }),
          ],
        },
      ],
    }),
    task('Ensure service', { resultKey: 'service', ledger: true }),
    waitLoop({
      check: task('Check service readiness', { resultKey: 'readiness' }),
      choice: 'Service ready?',
      // A dry run ends here: every provisioning step has planned, nothing was made, so there is nothing to wait for or verify.
      exit: {
        when: DRY_RUN,
        steps: [task('Record plan', { resultKey: 'plan' })],
        succeed: { name: 'Planned', outputPath: '$.plan', comment: 'The plan: each resource to create, update, reuse or in conflict, and every problem found.' },
      },
      until: isTrue('$.readiness.ready'),
      wait: 'Wait for service',
      firstWait: { name: 'First wait for service', seconds: READINESS.service.firstWaitSeconds, when: NEW_TASKS },
      enter: 'choice',
      maxWaitSeconds: MAX_WAIT_SECONDS,
    }),
    waitLoop({
      check: task('Verify workload', { resultKey: 'mesh' }),
      choice: 'Workload connected?',
      until: isTrue('$.mesh.allConnected'),
      wait: 'Wait for mesh registration',
      firstWait: { name: 'First wait for mesh registration', seconds: READINESS.mesh.firstWaitSeconds, when: NEW_TASKS },
      enter: 'choice',
      maxWaitSeconds: MAX_WAIT_SECONDS,
    }),
    task('Traffic evidence', { resultKey: 'traffic' }),
    task('Record result', { resultKey: 'result' }),
  ],
  succeed: { name: 'Onboarded', outputPath: '$.result' },
  failure: {
    record: task('Record failure', { resultKey: 'failureRecord' }),
    // The validated request only: never the raw input (with rootCaPem) nor the CA bundle.
    carry: ['request'],
    failed: { name: 'Onboarding failed', comment: 'Error and Cause of the failed step, as recorded.', errorPath: '$.failureRecord.error', causePath: '$.failureRecord.summary' },
    unrecorded: {
      name: 'Onboarding failed (unrecorded)',
      comment: "Recording the failure failed too: still end with the step's own error.",
      errorPath: '$.failure.error',
      causePath: '$.failure.cause',
      resultPath: '$.recordFailureError',
    },
  },
};

/** The workflow as ASL. */
export function onboardWorkload(): AslMachine {
  return buildWorkflow(ONBOARD_WORKLOAD);
}

/** The text of statemachine/onboard-workload.asl.json. */
export function renderWorkflow(): string {
  return `${JSON.stringify(onboardWorkload(), null, 2)}\n`;
}
