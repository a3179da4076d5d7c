/**
 * The deployed API function (functions/api/onboardings.ts): API Gateway REST proxy events in
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format),
 * proxy results out, settings read once and checked, errors answered without a stack while
 * the function keeps serving. The Step Functions side is in sfn-backend.test.ts and the
 * emulator test api-function.test.ts.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { CA_SECRET_WRITE_PERMISSIONS } from '../../functions/lib/aws/ca-secret.ts';
import type { WorkloadRecord } from '../../functions/lib/registry.ts';
import { describe, expect, it } from 'vitest';
import { apiRequestOf, createApiHandler, permissions, readApiSettings, type ApiSettings } from '../../functions/api/onboardings.ts';
import type { ApiDeps, ExecutionBackend, ExecutionView } from '../../functions/lib/onboarding-api.ts';
import { FEASIBILITY_PERMISSIONS } from '../../functions/lib/feasibility.ts';
import type { OnboardingRequest } from '../../functions/lib/request.ts';
import { bookinfoInput } from '../support/requests.ts';

const SETTINGS: ApiSettings = {
  onboardStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:onboard-workload',
  reverifyStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:reverify-workloads',
  registryTable: 'mesh-onboarding-registry',
};
const REF = { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf', versionId: '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f' };

/** A REST API (v1) proxy event as API Gateway sends it, here behind a custom domain whose base path mapping is `mesh`. */
function proxyEvent(over: Partial<APIGatewayProxyEvent> & Pick<APIGatewayProxyEvent, 'httpMethod' | 'resource'>): APIGatewayProxyEvent {
  const pathParameters = over.pathParameters ?? null;
  const path = `/mesh${over.resource.replace(/\{(\w+)\}/g, (_, k: string) => pathParameters?.[k] ?? '')}`;
  return {
    body: null,
    headers: { 'content-type': 'application/json', Host: 'api.example.com' },
    multiValueHeaders: { 'content-type': ['application/json'], Host: ['api.example.com'] },
    isBase64Encoded: false,
    path,
    pathParameters,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {
      accountId: '123456789012',
      apiId: 'a1b2c3d4e5',
      authorizer: null,
      httpMethod: over.httpMethod,
      identity: {
        accessKey: null,
        accountId: '123456789012',
        apiKey: null,
        apiKeyId: null,
        caller: 'AROAEXAMPLE:operator',
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '203.0.113.7',
        user: 'AROAEXAMPLE:operator',
        userAgent: 'curl/8',
        userArn: 'arn:aws:sts::123456789012:assumed-role/operator/operator',
      },
      path: `/prod${path}`,
      protocol: 'HTTP/1.1',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTimeEpoch: 1764410400000,
      resourceId: 'abc123',
      resourcePath: over.resource,
      stage: 'prod',
    },
    ...over,
  };
}

function fakeBackend(): ExecutionBackend & { started: OnboardingRequest[]; failDescribe?: Error } {
  const views = new Map<string, ExecutionView>();
  const b: ExecutionBackend & { started: OnboardingRequest[]; failDescribe?: Error } = {
    started: [],
    start(name, request) {
      b.started.push(request);
      views.set(name, { executionId: name, status: 'RUNNING', workload: 'bookinfo/ratings', startedAt: '2026-11-29T10:00:00.000Z', steps: [] });
      return Promise.resolve({ started: true });
    },
    describe(id) {
      if (b.failDescribe) return Promise.reject(b.failDescribe);
      return Promise.resolve(views.get(id));
    },
    verify: () => Promise.resolve(),
  };
  return b;
}

const deps: Partial<ApiDeps> = {
  acquireWorkloadLock: () => Promise.resolve(),
  releaseWorkloadLock: () => Promise.resolve(true),
  storeCaBundle: () => Promise.resolve(REF),
  checkFeasibility: () => Promise.resolve([]),
  getWorkload: (workload) => Promise.resolve({ workload, status: 'ONBOARDED' } as WorkloadRecord),
  listWorkloads: (page) => Promise.resolve({ items: [], ...(page.nextToken ? {} : { nextToken: 'eyJ3b3JrbG9hZCI6ImEvYiJ9' }) }),
};

describe('API function: the proxy event', () => {
  it('routes on the resource and its path parameters, not the path (which carries a custom domain base path)', () => {
    const req = apiRequestOf(proxyEvent({ httpMethod: 'POST', resource: '/onboardings/{id}/verify', pathParameters: { id: 'onboard-bookinfo_ratings-0123' } }));

    expect(req).toEqual({ method: 'POST', path: '/onboardings/onboard-bookinfo_ratings-0123/verify', query: {}, headers: { 'content-type': 'application/json', Host: 'api.example.com' } });
  });

  it('passes the query string and decodes a base64 body', () => {
    const body = JSON.stringify(bookinfoInput());
    const req = apiRequestOf(
      proxyEvent({ httpMethod: 'POST', resource: '/onboardings', body: Buffer.from(body).toString('base64'), isBase64Encoded: true, queryStringParameters: { limit: '5' }, multiValueQueryStringParameters: { limit: ['5'] } }),
    );

    expect(req).toEqual({ method: 'POST', path: '/onboardings', query: { limit: '5' }, body, headers: { 'content-type': 'application/json', Host: 'api.example.com' } });
  });

  it('answers 415 naming the expected type to a POST sent as a form, whatever its header case', async () => {
    const backend = fakeBackend();
    const handle = createApiHandler(SETTINGS, backend, deps);

    const res = await handle(proxyEvent({ httpMethod: 'POST', resource: '/onboardings', body: JSON.stringify(bookinfoInput()), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }));

    expect(res.statusCode).toBe(415);
    expect(backend.started).toEqual([]);
    expect(JSON.parse(res.body)).toEqual({ message: expect.stringContaining('expected "application/json"') as string });
  });

  it('falls back to the path for a greedy {proxy+} resource', () => {
    expect(apiRequestOf(proxyEvent({ httpMethod: 'GET', resource: '/{proxy+}', pathParameters: { proxy: 'onboardings' }, path: '/onboardings' })).path).toBe('/onboardings');
  });
});

describe('API function: answers', () => {
  it('accepts a base64-encoded submit with 202, a Location and a JSON body', async () => {
    // Prepare
    const backend = fakeBackend();
    const handle = createApiHandler(SETTINGS, backend, deps);

    // Act
    const res = await handle(proxyEvent({ httpMethod: 'POST', resource: '/onboardings', body: Buffer.from(JSON.stringify(bookinfoInput())).toString('base64'), isBase64Encoded: true }));

    // Assess
    expect(res.statusCode).toBe(202);
    const body = JSON.parse(res.body) as { executionId: string; location: string };
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', location: body.location });
    expect(body.location).toBe(`/onboardings/${body.executionId}`);
    expect(backend.started[0]?.rootCaSecret).toEqual(REF);
  });

  it('answers 400 with every problem, 404 and 405 as the contract says', async () => {
    const handle = createApiHandler(SETTINGS, fakeBackend(), deps);

    const bad = await handle(proxyEvent({ httpMethod: 'POST', resource: '/onboardings', body: '{"workloadGroup": ' }));
    const unknown = await handle(proxyEvent({ httpMethod: 'GET', resource: '/onboardings/{id}', pathParameters: { id: 'onboard-nobody-00' } }));
    const verifyUnknown = await handle(proxyEvent({ httpMethod: 'POST', resource: '/onboardings/{id}/verify', pathParameters: { id: 'onboard-nobody-00' } }));
    const wrongMethod = await handle(proxyEvent({ httpMethod: 'DELETE', resource: '/onboardings' }));
    const list = await handle(proxyEvent({ httpMethod: 'GET', resource: '/onboardings', queryStringParameters: { limit: '1' } }));

    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ problems: [{ path: '$' }] });
    expect(unknown.statusCode).toBe(404);
    expect(verifyUnknown.statusCode).toBe(404);
    expect(wrongMethod).toMatchObject({ statusCode: 405, headers: { allow: 'GET, POST' } });
    expect(JSON.parse(list.body)).toEqual({ onboardings: [], nextToken: 'eyJ3b3JrbG9hZCI6ImEvYiJ9' });
  });

  it('answers an unexpected error with its name and message, never a stack, and serves the next request', async () => {
    const backend = fakeBackend();
    const handle = createApiHandler(SETTINGS, backend, deps);
    backend.failDescribe = new TypeError("Cannot read properties of undefined (reading 'status')");

    const failed = await handle(proxyEvent({ httpMethod: 'GET', resource: '/onboardings/{id}', pathParameters: { id: 'x' } }));
    backend.failDescribe = undefined;
    const next = await handle(proxyEvent({ httpMethod: 'GET', resource: '/onboardings/{id}', pathParameters: { id: 'x' } }));

    expect(failed.statusCode).toBe(500);
    expect(JSON.parse(failed.body)).toEqual({ message: "internal error: TypeError: Cannot read properties of undefined (reading 'status')" });
    expect(failed.body).not.toMatch(/\s+at\s|\.ts:\d+/);
    expect(next.statusCode).toBe(404);
  });

  it('answers throttling from AWS with 503 and Retry-After', async () => {
    const backend = fakeBackend();
    backend.failDescribe = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });

    const res = await createApiHandler(SETTINGS, backend, deps)(proxyEvent({ httpMethod: 'GET', resource: '/onboardings/{id}', pathParameters: { id: 'x' } }));

    expect(res).toMatchObject({ statusCode: 503, headers: { 'retry-after': '5' } });
  });
});

describe('API function: settings', () => {
  it('reads the machine ARNs and the registry table', () => {
    const env = { ONBOARD_STATE_MACHINE_ARN: SETTINGS.onboardStateMachineArn, REVERIFY_STATE_MACHINE_ARN: SETTINGS.reverifyStateMachineArn, REGISTRY_TABLE_NAME: SETTINGS.registryTable };
    expect(readApiSettings(env)).toEqual(SETTINGS);
  });

  it('names every missing or malformed setting at once', () => {
    expect(() => readApiSettings({ REVERIFY_STATE_MACHINE_ARN: 'reverify-workloads' })).toThrow(
      /misconfigured: ONBOARD_STATE_MACHINE_ARN is not set; REVERIFY_STATE_MACHINE_ARN is not a state machine ARN .*"reverify-workloads"; REGISTRY_TABLE_NAME is not set/,
    );
  });

  it('without its settings answers every request 500 naming them, and keeps serving', async () => {
    let settings: Error | undefined;
    try {
      readApiSettings({});
    } catch (e) {
      settings = e as Error;
    }
    const handle = createApiHandler(settings!);

    for (let i = 0; i < 2; i++) {
      const res = await handle(proxyEvent({ httpMethod: 'GET', resource: '/onboardings' }));
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ message: expect.stringContaining('ApiConfigurationError: The onboarding API is misconfigured: ONBOARD_STATE_MACHINE_ARN is not set') as string });
    }
  });
});

describe('API function: permissions', () => {
  it('grants only named actions on the three machines, their executions, the registry, this tool’s secrets and the network reads', () => {
    const resources = permissions.flatMap((p) => p.resources);
    expect(permissions.flatMap((p) => p.actions).every((a) => /^[a-z0-9]+:[A-Za-z]+$/.test(a))).toBe(true);
    expect(resources).toEqual([
      '${OnboardStateMachineArn}',
      '${ReverifyStateMachineArn}',
      '${OffboardStateMachineArn}',
      'arn:${Partition}:states:${Region}:${Account}:execution:${OnboardStateMachineName}:*',
      'arn:${Partition}:states:${Region}:${Account}:execution:${OffboardStateMachineName}:*',
      '${RegistryTableArn}',
      '${RegistryTableArn}',
      '${RegistryTableArn}',
      ...CA_SECRET_WRITE_PERMISSIONS.flatMap((p) => p.resources),
      // The network feasibility check's reads: the EKS cluster, and EC2's Describe* (which have no resource type).
      ...FEASIBILITY_PERMISSIONS.flatMap((p) => p.resources),
    ]);
    // Secrets: created only tagged as this tool's, changed only when they carry its tag.
    expect(permissions.filter((p) => p.actions.some((a) => /^secretsmanager:(Create|Put|Restore|GetSecretValue)/.test(a))).every((p) => p.conditions !== undefined)).toBe(true);
  });
});
