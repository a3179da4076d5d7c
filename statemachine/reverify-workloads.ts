/**
 * The re-verification workflow, described once: list the registered workloads, then re-check
 * each (read-only) in a Map with bounded concurrency. `npm run workflow` writes
 * reverify-workloads.asl.json. It runs as an EXPRESS workflow on AWS (short, read-only, run
 * hourly for every workload: Standard transitions would cost far more), so the whole run must
 * fit in Express's 5 minutes; a failure of one workload's check never stops the others.
 */
import type { AslMachine } from './definition.ts';
import { placeholderOf } from './definition.ts';
import { LAMBDA_TRANSIENT_ERRORS, RETRY_POLICY } from './onboard-workload.ts';
import { RETRYABLE_ERROR_NAMES } from '../functions/lib/errors.ts';
import type { Retrier } from './definition.ts';

/** Express workflows end after 5 minutes; the execution timeout says so explicitly. */
export const REVERIFY_TIMEOUT_SECONDS = 300;
const TASK_TIMEOUT_SECONDS = 60;

/**
 * One workload's check retries briefly: the whole run has 5 minutes, and a check that keeps
 * failing (an EKS API down) must not use them up for every other workload; the next scheduled
 * run checks it again.
 */
export const REVERIFY_ITEM_RETRY: Retrier[] = [
  { ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS, ...RETRYABLE_ERROR_NAMES], IntervalSeconds: 2, MaxAttempts: 2, BackoffRate: 2, MaxDelaySeconds: 10, JitterStrategy: 'FULL' },
];

export function reverifyWorkloads(): AslMachine {
  return {
    Comment:
      'Re-verifies every onboarded workload (read-only) and reports drift. Generated from statemachine/reverify-workloads.ts by `npm run workflow`: edit that file, not this one.',
    StartAt: 'List workloads',
    TimeoutSeconds: REVERIFY_TIMEOUT_SECONDS,
    States: {
      'List workloads': {
        Type: 'Task',
        Comment: 'The workloads to check (all of the registry, or the ones the input names) and the Map concurrency.',
        Resource: `\${${placeholderOf('List workloads')}}`,
        TimeoutSeconds: TASK_TIMEOUT_SECONDS,
        ResultPath: '$.list',
        Retry: RETRY_POLICY,
        Next: 'Reverify each workload',
      },
      'Reverify each workload': {
        Type: 'Map',
        ItemsPath: '$.list.workloads',
        // A number set at deploy time (the construct's prop) reaches the Map through the list step's output.
        MaxConcurrencyPath: '$.list.maxConcurrency',
        // Each check gets this run's execution id beside its workload: the drift event and the registry name the run that saw the drift.
        ItemSelector: { 'workload.$': '$$.Map.Item.Value.workload', 'executionId.$': '$$.Execution.Id' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'INLINE' },
          StartAt: 'Reverify workload',
          States: {
            'Reverify workload': {
              Type: 'Task',
              Resource: `\${${placeholderOf('Reverify workload')}}`,
              TimeoutSeconds: TASK_TIMEOUT_SECONDS,
              Retry: REVERIFY_ITEM_RETRY,
              Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Verification failed' }],
              End: true,
            },
            'Verification failed': {
              Type: 'Pass',
              Comment: 'One workload that cannot be checked is reported, and the others go on.',
              Parameters: { 'workload.$': '$.workload', checked: false, 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' },
              End: true,
            },
          },
        },
        ResultPath: '$.results',
        Next: 'Reverified',
      },
      Reverified: { Type: 'Succeed', OutputPath: '$.results' },
    },
  };
}

export function renderReverifyWorkloads(): string {
  return `${JSON.stringify(reverifyWorkloads(), null, 2)}\n`;
}
