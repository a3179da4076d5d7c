/**
 * The deployed API function (functions/api/onboardings.ts, as Lambda runs it) with its Step
 * Functions backend against the emulator: moto serves StartExecution (a stub: executions stay
 * RUNNING), DescribeExecution, the name rules of a running execution, Secrets Manager and the
 * registry's DynamoDB. What moto cannot answer (a real history, a closed execution's name) is in
 * test/unit/sfn-backend.test.ts.
 */
import { readFileSync } from 'node:fs';
import { CreateStateMachineCommand, DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCaSecret } from '../../functions/ensure-ca-secret.ts';
import { InvalidRequestError, ResourceConflictError } from '../../functions/lib/errors.ts';
import { longestCaReference } from '../../functions/lib/onboarding-api.ts';
import { getWorkload, putWorkloadRecord, recordOnboarded, releaseWorkloadLock } from '../../functions/lib/registry.ts';
import { parseRequest, type CaSecretRef } from '../../functions/lib/request.ts';
import { ENV } from '../../functions/lib/settings.ts';
import { executionArnOf, StepFunctionsExecutions } from '../../functions/lib/sfn-backend.ts';
import { validateRequest } from '../../functions/validate-request.ts';
import { createEksCluster, createMeshVpc } from '../../local/aws-fixtures.ts';
import { createRegistryTable } from '../../local/registry-table.ts';
import { aslPath, placeholderOf, substitute, taskSteps, loadDefinition, type MachineName } from '../../statemachine/definition.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoInput, bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const SECRET_NAME = 'mesh-onboarding/bookinfo/ratings/root-ca';
const saved = { ...process.env };
let sfn: SFNClient;
let sm: SecretsManagerClient;
let machines: { onboard: string; reverify: string; offboard: string };
let handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** The committed ASL of a machine with fake function ARNs, as CDK would deploy it. */
function definitionOf(machine: MachineName): string {
  const values = Object.fromEntries(taskSteps(loadDefinition(machine)).map((s) => [placeholderOf(s.state), `arn:aws:lambda:us-east-1:123456789012:function:${s.file}`]));
  return substitute(readFileSync(aslPath(machine), 'utf8'), values);
}

beforeAll(async () => {
  const cfg = { endpoint: emu.endpoint, region: 'us-east-1', maxAttempts: 1 };
  sfn = new SFNClient(cfg);
  sm = new SecretsManagerClient(cfg);
  const create = async (name: MachineName) =>
    (await sfn.send(new CreateStateMachineCommand({ name, roleArn: 'arn:aws:iam::123456789012:role/sfn', definition: definitionOf(name) }))).stateMachineArn!;
  machines = { onboard: await create('onboard-workload'), reverify: await create('reverify-workloads'), offboard: await create('offboard-workload') };
  process.env[ENV.onboardStateMachineArn] = machines.onboard;
  process.env[ENV.reverifyStateMachineArn] = machines.reverify;
  process.env[ENV.offboardStateMachineArn] = machines.offboard;
  process.env[ENV.registryTable] = await createRegistryTable('api-registry');
  // POST checks the request's network against the account (the example names EKS cluster mesh-eks) before it writes anything.
  const vpc = await createMeshVpc({ endpoint: emu.endpoint, name: 'api' });
  await createEksCluster({ endpoint: emu.endpoint, name: 'mesh-eks', vpcId: vpc.vpcId, subnetIds: vpc.publicSubnetIds, clusterSecurityGroupId: vpc.clusterSecurityGroupId });
  // The function reads its settings once, at cold start: import it only now.
  handler = (await import('../../functions/api/onboardings.ts')).handler as unknown as typeof handler;
});
afterAll(() => {
  for (const k of [ENV.onboardStateMachineArn, ENV.reverifyStateMachineArn, ENV.offboardStateMachineArn, ENV.registryTable]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

const context = { awsRequestId: 'req-1', functionName: 'onboarding-api', functionVersion: '$LATEST', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:onboarding-api', memoryLimitInMB: '256', getRemainingTimeInMillis: () => 29_000 } as Context;

/** Calls the function with a REST API proxy event for `method resource` and parses the JSON answer. */
async function call(method: string, resource: string, opts: { id?: string; body?: unknown; base64?: boolean; query?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }> {
  const text = opts.body === undefined ? null : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const event = {
    httpMethod: method,
    resource,
    path: resource.replace('{id}', opts.id ?? ''),
    pathParameters: opts.id ? { id: opts.id } : null,
    queryStringParameters: opts.query ?? null,
    multiValueQueryStringParameters: opts.query ? Object.fromEntries(Object.entries(opts.query).map(([k, v]) => [k, [v]])) : null,
    headers: { 'content-type': 'application/json' },
    multiValueHeaders: {},
    stageVariables: null,
    isBase64Encoded: opts.base64 === true,
    body: text !== null && opts.base64 ? Buffer.from(text).toString('base64') : text,
    requestContext: { requestId: 'api-req-1', stage: 'prod', httpMethod: method, resourcePath: resource } as APIGatewayProxyEvent['requestContext'],
  } as APIGatewayProxyEvent;
  const res = await handler(event, context);
  return { status: res.statusCode, headers: res.headers ?? {}, json: JSON.parse(res.body) as Record<string, unknown> };
}

async function executionInput(machineArn: string, name: string): Promise<{ text: string; status: string | undefined }> {
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArnOf(machineArn, name) }));
  return { text: d.input ?? '', status: d.status };
}

describe('API function on the emulator: POST /onboardings', () => {
  let executionId: string;
  let ref: CaSecretRef;

  it('stores the CA bundle in the workload secret, then starts the onboarding machine with only a reference to it', async () => {
    // Act
    const r = await call('POST', '/onboardings', { body: bookinfoInput(), base64: true });

    // Assess
    expect(r.status, JSON.stringify(r.json)).toBe(202);
    executionId = String(r.json.executionId);
    expect(r.json).toMatchObject({ status: 'RUNNING', duplicate: false, location: `/onboardings/${executionId}` });
    const secret = await sm.send(new DescribeSecretCommand({ SecretId: SECRET_NAME }));
    expect(secret.Tags).toEqual(expect.arrayContaining([{ Key: 'mesh-onboarding/workload', Value: 'bookinfo/ratings' }, { Key: 'mesh-onboarding/managed-by', Value: 'ecs-mesh-onboarding' }]));
    const value = await sm.send(new GetSecretValueCommand({ SecretId: SECRET_NAME }));
    expect(value.SecretString).toBe(bookinfoInput().rootCaPem);

    const input = await executionInput(machines.onboard, executionId);
    expect(input.status).toBe('RUNNING');
    expect(input.text).not.toContain('BEGIN CERTIFICATE');
    const started = JSON.parse(input.text) as { rootCaSecret: CaSecretRef; rootCaPem?: string };
    expect(started.rootCaPem).toBeUndefined();
    // `stored` says what the API's write did, so the run's ledger reports the secret as created.
    expect(started.rootCaSecret).toEqual({ arn: secret.ARN, versionId: value.VersionId, stored: 'created' });
    ref = started.rootCaSecret;
    // The 413 check before storing used a reference at least this long.
    const bound = longestCaReference(parseRequest(bookinfoInput()));
    expect(bound.arn.length).toBeGreaterThanOrEqual(ref.arn.length);
    expect(bound.versionId.length).toBeGreaterThanOrEqual(ref.versionId.length);
  });

  it('runs Validate request and Ensure CA secret on that input: the version is checked, not written, and handed to the task definition', async () => {
    const { text } = await executionInput(machines.onboard, executionId);
    const state = await validateRequest({ input: JSON.parse(text), executionId: executionArnOf(machines.onboard, executionId) });
    expect(state.caBundle).toEqual({ secret: ref });
    expect(state.request).not.toHaveProperty('rootCaSecret');

    const result = await ensureCaSecret(state);

    // Not written here; the ledger says created because the API's write (for this run) made it.
    expect(result).toMatchObject({ secretName: SECRET_NAME, secretArn: ref.arn, versionId: ref.versionId, updated: false, ledger: [{ kind: 'secret', id: SECRET_NAME, arn: ref.arn, created: true }] });
    const secret = await sm.send(new DescribeSecretCommand({ SecretId: SECRET_NAME }));
    expect(Object.keys(secret.VersionIdsToStages ?? {})).toEqual([ref.versionId]);
  });

  it("refuses a reference to a version the secret does not have, or to another workload's secret", async () => {
    const { text } = await executionInput(machines.onboard, executionId);
    const input = JSON.parse(text) as Record<string, unknown>;
    const missing = await validateRequest({ ...input, rootCaSecret: { ...ref, versionId: '00000000-0000-4000-8000-000000000000' } });

    await expect(ensureCaSecret(missing)).rejects.toThrow(ResourceConflictError);
    await expect(ensureCaSecret(missing)).rejects.toThrow(/no longer has version 00000000-0000-4000-8000-000000000000/);
    const other = { ...input, workloadGroup: { namespace: 'bookinfo', name: 'reviews' } };
    await expect(validateRequest(other)).rejects.toThrow(InvalidRequestError);
    await expect(validateRequest(other)).rejects.toThrow(/rootCaSecret\.arn: must name this workload's CA secret "mesh-onboarding\/bookinfo\/reviews\/root-ca"/);
  });

  it('answers a second submit of the same request with the same execution, writing no new secret version', async () => {
    const r = await call('POST', '/onboardings', { body: bookinfoInput() });

    expect(r.json).toMatchObject({ executionId, duplicate: true, status: 'RUNNING' });
    const secret = await sm.send(new DescribeSecretCommand({ SecretId: SECRET_NAME }));
    expect(Object.keys(secret.VersionIdsToStages ?? {})).toEqual([ref.versionId]);
  });

  it('StartExecution of that name: the same input is the running execution (AWS and moto agree), another input ExecutionAlreadyExists → not started', async () => {
    const backend = new StepFunctionsExecutions(machines);
    const request = { ...bookinfoRequest(), rootCaPem: undefined, rootCaSecret: ref };
    const { rootCaPem: _none, ...sameInput } = request;

    expect(await backend.start(executionId, sameInput)).toEqual({ started: true });
    expect(await backend.start(executionId, { ...sameInput, logRetentionDays: 90 })).toEqual({ started: false });
  });

  it('answers 400 with the problems and starts nothing, storing nothing, for an invalid request', async () => {
    const r = await call('POST', '/onboardings', { body: { ...bookinfoInput(), workloadGroup: { namespace: 'bookinfo', name: 'Details' } } });

    expect(r.status).toBe(400);
    expect(r.json.problems).toEqual([{ path: '$.workloadGroup.name', message: expect.stringContaining('DNS-1123') as string }]);
    await expect(sm.send(new DescribeSecretCommand({ SecretId: 'mesh-onboarding/bookinfo/Details/root-ca' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('GET /onboardings/{id} describes the execution; an unknown id is 404 (ExecutionDoesNotExist)', async () => {
    const found = await call('GET', '/onboardings/{id}', { id: executionId });
    const unknown = await call('GET', '/onboardings/{id}', { id: 'onboard-nobody_here-0000000000000000' });

    expect(found.status).toBe(200);
    expect(found.json).toMatchObject({ executionId, status: 'RUNNING', workload: 'bookinfo/ratings' });
    expect(JSON.stringify(found.json)).not.toContain('BEGIN CERTIFICATE');
    expect(unknown).toMatchObject({ status: 404, json: { message: 'no onboarding with id onboard-nobody_here-0000000000000000' } });
  });

  it("POST /onboardings/{id}/verify starts the re-verification machine for that onboarding's workload, once it is onboarded", async () => {
    // Only ONBOARDING so far (Validate request ran above; moto's Step Functions runs no step): 409, nothing started.
    expect((await call('POST', '/onboardings/{id}/verify', { id: executionId })).status).toBe(409);
    await recordOnboarded(bookinfoRequest(), executionId, []);

    const r = await call('POST', '/onboardings/{id}/verify', { id: executionId });

    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ workload: 'bookinfo/ratings', onboarding: executionId, status: 'RUNNING' });
    const input = await executionInput(machines.reverify, String(r.json.executionId));
    expect(JSON.parse(input.text)).toEqual({ workloads: ['bookinfo/ratings'] });
    expect((await call('POST', '/onboardings/{id}/verify', { id: 'onboard-nobody_here-0000000000000000' })).status).toBe(404);
  });

  it('DELETE /onboardings/{workload} takes the lock and starts the teardown machine; GET describes it; a second DELETE is the same execution; an unknown workload is 404', async () => {
    expect((await call('DELETE', '/onboardings/{id}', { id: 'bookinfo.nobody' })).status).toBe(404);

    // The onboarding (a stub in moto: it stays RUNNING) holds the workload's lock: 409 naming it, nothing started.
    const busy = await call('DELETE', '/onboardings/{id}', { id: 'bookinfo.ratings' });
    expect(busy).toMatchObject({ status: 409, json: { executionId } });
    // Once it ended (its last state, or Execution ended, frees the lock):
    await releaseWorkloadLock('bookinfo/ratings', executionId);

    // API Gateway hands the path parameter decoded: `bookinfo%2Fratings` arrives as `bookinfo/ratings`.
    const r = await call('DELETE', '/onboardings/{id}', { id: 'bookinfo/ratings', query: { retainLogs: 'true' } });

    expect(r.status, JSON.stringify(r.json)).toBe(202);
    const teardownId = String(r.json.executionId);
    expect(r.json).toMatchObject({ workload: 'bookinfo/ratings', status: 'RUNNING', duplicate: false });
    expect(JSON.parse((await executionInput(machines.offboard, teardownId)).text)).toEqual({ workload: 'bookinfo/ratings', retainLogs: true });
    expect((await getWorkload('bookinfo/ratings'))?.lock).toMatchObject({ executionId: teardownId, machine: 'offboard-workload' });
    const view = await call('GET', '/onboardings/{id}', { id: teardownId });
    expect(view).toMatchObject({ status: 200, json: { executionId: teardownId, status: 'RUNNING', workload: 'bookinfo/ratings' } });
    const again = await call('DELETE', '/onboardings/{id}', { id: 'bookinfo.ratings' });
    expect(again).toMatchObject({ status: 202, json: { executionId: teardownId, duplicate: true } });
  });
});

describe('API function on the emulator: GET /onboardings lists the registry', () => {
  it('pages through every workload of the registry with limit and nextToken, and refuses a token it did not give', async () => {
    // Prepare: what the workflow's record steps write.
    for (const name of ['a', 'b', 'c']) {
      await putWorkloadRecord({
        workload: `apps/${name}`,
        request: bookinfoRequest({ workloadGroup: { namespace: 'apps', name } }),
        status: name === 'b' ? 'FAILED' : 'ONBOARDED',
        executionId: `${machines.onboard.replace(':stateMachine:', ':execution:')}:onboard-apps_${name}-0123456789abcdef`,
        updatedAt: '2026-11-29T10:00:00.000Z',
        ledger: [],
      });
    }

    // Act: every page, two at a time.
    const all: { workload: string; status: string }[] = [];
    const sizes: number[] = [];
    let nextToken: string | undefined;
    do {
      const page = await call('GET', '/onboardings', { query: { limit: '2', ...(nextToken ? { nextToken } : {}) } });
      expect(page.status).toBe(200);
      sizes.push((page.json.onboardings as unknown[]).length);
      all.push(...(page.json.onboardings as typeof all));
      nextToken = page.json.nextToken as string | undefined;
    } while (nextToken && sizes.length < 10);
    const bad = await call('GET', '/onboardings', { query: { nextToken: 'eyJub3QiOiJhIGtleSJ9' } });

    // Assess: the three records, and the workload recorded above (started, then marked onboarded for verify).
    expect(sizes[0]).toBe(2);
    expect(all.map((o) => o.workload).sort()).toEqual(['apps/a', 'apps/b', 'apps/c', 'bookinfo/ratings']);
    expect(all.find((o) => o.workload === 'bookinfo/ratings')?.status).toBe('ONBOARDED');
    expect(all.find((o) => o.workload === 'apps/b')).toEqual({
      workload: 'apps/b',
      status: 'FAILED',
      executionId: 'onboard-apps_b-0123456789abcdef',
      updatedAt: '2026-11-29T10:00:00.000Z',
      location: '/onboardings/onboard-apps_b-0123456789abcdef',
    });
    expect(bad).toMatchObject({ status: 400, json: { problems: [{ path: '?nextToken' }] } });
  });
});
