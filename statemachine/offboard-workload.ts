/**
 * The teardown (offboarding) workflow, described once: removes what onboarding made for one
 * workload, found from the registry's ledger and this tool's tags, then the registry record.
 * `npm run workflow` renders it with the onboarding's builder into offboard-workload.asl.json.
 * Every step looks up what is still there and deletes only that (NotFound = done), so an
 * interrupted teardown run again finishes the job; shared resources go last, and only when no
 * other registered workload uses them.
 */
import { MAX_WAIT_SECONDS } from '../functions/lib/settings.ts';
import { buildWorkflow, parallel, task, waitLoop, type WorkflowSpec } from './builder.ts';
import type { AslMachine } from './definition.ts';
import { RETRY_POLICY } from './onboard-workload.ts';

export const OFFBOARD_WORKLOAD: WorkflowSpec = {
  comment:
    'Tears down one onboarded workload (offboarding). Generated from statemachine/offboard-workload.ts by `npm run workflow`: edit that file, not this one. CDK deploys it with the ${...FunctionArn} placeholders filled, and the local engine runs the same file in-process.',
  retry: RETRY_POLICY,
  taskTimeoutSeconds: 60,
  timeoutRoundingSeconds: 3600,
  steps: [
    // The execution id goes in beside the input: the lock is taken in this execution's name.
    task('Start teardown', { parameters: { 'input.$': '$', 'executionId.$': '$$.Execution.Id' }, provides: ['request', 'execution', 'target'] }),
    task('Scale service down', { resultKey: 'scaleDown', ledger: true }),
    waitLoop({
      check: task('Check tasks stopped', { resultKey: 'drain' }),
      choice: 'Tasks stopped?',
      until: { Variable: '$.drain.stopped', BooleanEquals: true },
      wait: 'Wait for tasks to stop',
      enter: 'check',
      maxWaitSeconds: MAX_WAIT_SECONDS,
    }),
    task('Delete service', { resultKey: 'service', ledger: true }),
    parallel('Delete workload resources', {
      comment: "The workload's own resources: none needs another gone first, except its security group after the rule that refers to it.",
      failedName: 'Workload deletion failed',
      checkName: 'Workload resources deleted?',
      doneName: 'Workload resources deleted',
      branches: [
        { name: 'Definitions', steps: [task('Deregister task definitions', { resultKey: 'taskDefinitions', ledger: true })] },
        {
          name: 'Identity',
          steps: [
            task('Delete roles', { resultKey: 'roles', ledger: true }),
            task('Delete CA secret', { resultKey: 'caSecret', ledger: true }),
            task('Delete log group', { resultKey: 'logGroup', ledger: true }),
          ],
        },
        {
          name: 'Workload network',
          steps: [task('Revoke EKS ingress', { resultKey: 'eksIngress', ledger: true }), task('Delete security group', { resultKey: 'securityGroup', ledger: true })],
        },
      ],
    }),
    parallel('Delete shared resources', {
      comment: 'Shared resources, each only when this tool made it and no other registered workload uses it: the network (subnets before the NAT gateway that routes them, its Elastic IP once it is deleted) beside the cluster.',
      failedName: 'Shared deletion failed',
      checkName: 'Shared resources handled?',
      doneName: 'Shared resources handled',
      branches: [
        {
          name: 'Shared network',
          steps: [
            task('Delete task subnets', { resultKey: 'taskSubnets', ledger: true }),
            task('Delete NAT gateway', { resultKey: 'natGateway', ledger: true }),
            waitLoop({
              choice: 'NAT gateway deleted?',
              until: { Variable: '$.natGateway.done', BooleanEquals: true },
              wait: 'Wait for NAT gateway deletion',
              check: task('Check NAT gateway deleted', { resultKey: 'natGateway', ledger: true }),
              enter: 'choice',
              maxWaitSeconds: MAX_WAIT_SECONDS,
            }),
            task('Delete NAT network', { resultKey: 'natNetwork', ledger: true }),
          ],
        },
        { name: 'Cluster', steps: [task('Delete cluster', { resultKey: 'cluster', ledger: true })] },
      ],
    }),
    task('Finish teardown', { resultKey: 'summary' }),
  ],
  succeed: { name: 'Torn down', outputPath: '$.summary' },
  failure: {
    record: task('Record teardown failure', { resultKey: 'failureRecord' }),
    carry: ['target'],
    failed: { name: 'Teardown failed', comment: 'Error and Cause of the failed step, as recorded.', errorPath: '$.failureRecord.error', causePath: '$.failureRecord.summary' },
    unrecorded: {
      name: 'Teardown failed (unrecorded)',
      comment: "Recording the failure failed too: still end with the step's own error.",
      errorPath: '$.failure.error',
      causePath: '$.failure.cause',
      resultPath: '$.recordFailureError',
    },
  },
};

export function offboardWorkload(): AslMachine {
  return buildWorkflow(OFFBOARD_WORKLOAD);
}

/** The text of statemachine/offboard-workload.asl.json. */
export function renderOffboardWorkload(): string {
  return `${JSON.stringify(offboardWorkload(), null, 2)}\n`;
}
