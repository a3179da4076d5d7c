/**
 * The one middleware stack every step handler uses: Powertools logger (with the
 * workload and execution as correlation keys), tracer, metrics, and error
 * normalisation into the typed errors the state machine's Retry/Catch match.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { classifyError } from './errors.ts';
import { isDryRun } from './plan.ts';
import { TOOL_NAME } from './settings.ts';

export const logger = new Logger({ serviceName: TOOL_NAME });
export const tracer = new Tracer({ serviceName: TOOL_NAME, captureHTTPsRequests: true });
export const metrics = new Metrics({ namespace: 'EcsMeshOnboarding', serviceName: TOOL_NAME });

type MaybeWorkloadGroup = { workloadGroup?: { namespace?: string; name?: string } };

/** The shapes a step's event takes: the workflow state, Validate request's `{input, executionId}`, or a plain request. */
interface MaybeWorkflowEvent extends MaybeWorkloadGroup {
  request?: MaybeWorkloadGroup;
  input?: MaybeWorkloadGroup & { request?: MaybeWorkloadGroup };
  execution?: { id?: string };
  executionId?: string;
  /** The re-verification's per-workload input: `namespace/name`. */
  workload?: unknown;
}

/** The execution id a step's event carries, if any. */
function executionIdOf(event: unknown): string | undefined {
  const ev = (event ?? {}) as MaybeWorkflowEvent;
  const id = ev.execution?.id ?? ev.executionId;
  return typeof id === 'string' ? id : undefined;
}

/** Error normalisation + correlation keys. Never logs the event: it carries the CA bundle. */
function stepMiddleware(step: string): middy.MiddlewareObj<unknown, unknown, Error, Context> {
  let started = 0;
  return {
    before: (req) => {
      started = Date.now();
      const ev = (req.event ?? {}) as MaybeWorkflowEvent;
      const wg = ev.request?.workloadGroup ?? ev.input?.workloadGroup ?? ev.input?.request?.workloadGroup ?? ev.workloadGroup;
      const executionId = executionIdOf(ev);
      const workload = wg?.namespace && wg.name ? `${wg.namespace}/${wg.name}` : typeof ev.workload === 'string' ? ev.workload : undefined;
      logger.appendKeys({ step, workload, executionId });
      tracer.putAnnotation('step', step);
      if (executionId) tracer.putAnnotation('executionId', executionId);
    },
    after: () => {
      metrics.addDimension('step', step);
      metrics.addMetric('StepSucceeded', MetricUnit.Count, 1);
      metrics.addMetric('StepDuration', MetricUnit.Milliseconds, Date.now() - started);
      logger.info('step finished', { durationMs: Date.now() - started });
    },
    onError: (req) => {
      const typed = classifyError(req.error);
      metrics.addDimension('step', step);
      metrics.addMetric('StepFailed', MetricUnit.Count, 1);
      // A retryable error is what the state machine's Retry will run the step again for (while attempts remain).
      if (typed.retryable) metrics.addMetric('StepFailedRetryable', MetricUnit.Count, 1);
      const log = typed.retryable ? logger.warn.bind(logger) : logger.error.bind(logger);
      // The original error (with its stack) goes to the operator's log only; the workflow sees the typed error.
      log('step failed', { errorName: typed.name, errorMessage: typed.message, retryable: typed.retryable, error: req.error });
      req.error = typed;
    },
  };
}

export type StepFn<I, O> = (input: I) => Promise<O>;

/**
 * The state whose handler runs in this async context. Per context, not a global: the local
 * engine runs the two Parallel branches' steps concurrently in one process.
 */
const stepScope = new AsyncLocalStorage<string>();

/** The state name of the step running in this async context (what the SDK call recorder attributes calls to), if any. */
export function currentStep(): string | undefined {
  return stepScope.getStore();
}

export interface StepOptions<I, P> {
  /**
   * The step's dry run (functions/lib/plan.ts): its look-ups only, no mutating call. Called
   * instead of the step when the state's `request.dryRun` is true. A step without one runs as
   * usual in a dry run, so only read-only steps (or steps that read `request.dryRun` themselves)
   * may leave it out.
   */
  plan?: StepFn<I, P>;
}

/**
 * Wraps a step function as a Lambda handler. The same wrapped handler is what Lambda
 * runs and what the local engine binds to each Task state.
 */
export function wrap<I, O, P = O>(step: string, fn: StepFn<I, O>, opts: StepOptions<I, P> = {}) {
  const run = (event: I): Promise<O | P> => (opts.plan && isDryRun(event) ? opts.plan(event) : fn(event));
  return middy<I, O | P, Error, Context>()
    // Never the event, even with POWERTOOLS_LOGGER_LOG_EVENT set: it may carry the CA bundle.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { throwOnEmptyMetrics: false }))
    .use(stepMiddleware(step) as middy.MiddlewareObj<I, O | P, Error, Context>)
    .handler((event: I) => stepScope.run(step, () => run(event)));
}
