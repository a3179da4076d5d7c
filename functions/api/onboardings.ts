/**
 * The deployed onboarding API: API Gateway (REST, AWS_IAM, Lambda proxy) → this function → the
 * contract in functions/lib/onboarding-api.ts with Step Functions behind it. It maps the proxy
 * event to the contract's request and the answer back; an error becomes its name and message
 * (never a stack) and the function keeps serving.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { logger, tracer } from '#lib/middleware.ts';
import { errorResponse, handleApiRequest, type ApiDeps, type ApiRequest, type ApiResponse, type ExecutionBackend } from '#lib/onboarding-api.ts';
import { CA_SECRET_WRITE_PERMISSIONS } from '#lib/aws/ca-secret.ts';
import { FEASIBILITY_PERMISSIONS } from '#lib/feasibility.ts';
import { arnTemplate, type StepPermissions } from '#lib/permissions.ts';
import { ENV } from '#lib/settings.ts';
import { isStateMachineArn, StepFunctionsExecutions } from '#lib/sfn-backend.ts';

/**
 * Exactly what the API sends: StartExecution of both machines; DescribeExecution and
 * GetExecutionHistory of onboarding executions; a Scan of the registry (GET /onboardings), a
 * record read and the workload lock's conditional write (POST /onboardings);
 * and the CA secret writes of functions/lib/aws/ca-secret.ts `ensureCaSecret` on this tool's
 * secrets; and the reads of the network feasibility check (functions/lib/feasibility.ts). CreateSecret with Tags also needs secretsmanager:TagResource
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
 */
export const permissions: StepPermissions = [
  { sid: 'StartExecutions', actions: ['states:StartExecution'], resources: ['${OnboardStateMachineArn}', '${ReverifyStateMachineArn}', '${OffboardStateMachineArn}'] },
  {
    sid: 'ReadOnboardingExecutions',
    actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
    resources: [arnTemplate('states', 'execution:${OnboardStateMachineName}:*'), arnTemplate('states', 'execution:${OffboardStateMachineName}:*')],
  },
  { sid: 'ListWorkloadRegistry', actions: ['dynamodb:Scan'], resources: ['${RegistryTableArn}'] },
  // POST /onboardings/{id}/verify reads the workload's record (only onboarded workloads are re-verified); POST and DELETE read a lock's holder (DELETE: whether there is a record).
  { sid: 'ReadWorkloadRecord', actions: ['dynamodb:GetItem'], resources: ['${RegistryTableArn}'] },
  // POST /onboardings and DELETE /onboardings/{workload} take the workload's lock (a conditional UpdateItem), or free it when the start fails.
  { sid: 'LockWorkload', actions: ['dynamodb:UpdateItem'], resources: ['${RegistryTableArn}'] },
  // The same grants as Ensure CA secret's writes (create only tagged as ours, change only ours), not a copy.
  ...CA_SECRET_WRITE_PERMISSIONS,
  // POST /onboardings checks the request's network against the account before it writes anything: the same reads as Resolve network.
  ...FEASIBILITY_PERMISSIONS,
];

export interface ApiSettings {
  onboardStateMachineArn: string;
  reverifyStateMachineArn: string;
  /** The teardown machine; when unset, DELETE /onboardings/{workload} answers 501. */
  offboardStateMachineArn?: string;
  registryTable: string;
}

export class ApiConfigurationError extends Error {
  override readonly name = 'ApiConfigurationError';
}

/** The API's settings from the environment (the CDK construct sets them); throws naming every one missing or malformed. */
export function readApiSettings(env: NodeJS.ProcessEnv = process.env): ApiSettings {
  const problems: string[] = [];
  const arn = (key: string): string => {
    const v = env[key];
    if (!v) problems.push(`${key} is not set`);
    else if (!isStateMachineArn(v)) problems.push(`${key} is not a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>): "${v}"`);
    return v ?? '';
  };
  const offboard = env[ENV.offboardStateMachineArn] ? arn(ENV.offboardStateMachineArn) : undefined;
  const settings = {
    onboardStateMachineArn: arn(ENV.onboardStateMachineArn),
    reverifyStateMachineArn: arn(ENV.reverifyStateMachineArn),
    ...(offboard ? { offboardStateMachineArn: offboard } : {}),
    registryTable: env[ENV.registryTable] ?? '',
  };
  if (!settings.registryTable) problems.push(`${ENV.registryTable} is not set`);
  if (problems.length > 0) throw new ApiConfigurationError(`The onboarding API is misconfigured: ${problems.join('; ')} (the CDK construct sets these variables)`);
  return settings;
}

/**
 * The contract's request from a REST API proxy event
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format).
 * The path is rebuilt from the resource template and path parameters: behind a custom domain's
 * base path mapping `event.path` carries that base path as well.
 */
export function apiRequestOf(event: APIGatewayProxyEvent): ApiRequest {
  const resource = event.resource;
  const path = resource && !resource.includes('+}') ? resource.replace(/\{([^}]+)\}/g, (_, key: string) => event.pathParameters?.[key] ?? '') : event.path;
  const query: Record<string, string | undefined> = { ...(event.queryStringParameters ?? {}) };
  const body = event.body == null ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  return { method: event.httpMethod, path, query, headers: { ...(event.headers ?? {}) }, ...(body !== undefined ? { body } : {}) };
}

/** The proxy integration's answer for a contract response (a JSON body). */
export function proxyResultOf(r: ApiResponse): APIGatewayProxyResult {
  return { statusCode: r.status, headers: r.headers, body: JSON.stringify(r.body) };
}

/**
 * The handler for given settings (or the error reading them) and backend; the deployed one
 * reads the environment once, at cold start. Missing settings fail every request with a 500
 * naming them, rather than the module's import: the function still loads, so its
 * `permissions` stay readable and the caller sees what is wrong instead of a bare 502.
 */
export function createApiHandler(settings: ApiSettings | Error, backend?: ExecutionBackend, deps: Partial<ApiDeps> = {}) {
  const executions =
    settings instanceof Error ? undefined : (backend ??
        new StepFunctionsExecutions({
          onboard: settings.onboardStateMachineArn,
          reverify: settings.reverifyStateMachineArn,
          ...(settings.offboardStateMachineArn ? { offboard: settings.offboardStateMachineArn } : {}),
        }));
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    try {
      if (!executions) throw settings;
      return proxyResultOf(await handleApiRequest(apiRequestOf(event), executions, deps));
    } catch (err) {
      logger.error('onboarding API request failed', { method: event.httpMethod, resource: event.resource, error: err as Error });
      return proxyResultOf(errorResponse(err));
    }
  };
}

/** Read once; a missing setting is logged with each request it fails, not at import (the CDK app imports this module for its `permissions`). */
function settingsAtColdStart(): ApiSettings | Error {
  try {
    return readApiSettings();
  } catch (e) {
    return e as Error;
  }
}

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
  // Never the event, even with POWERTOOLS_LOGGER_LOG_EVENT set: it may carry the CA bundle.
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .handler(createApiHandler(settingsAtColdStart()));
