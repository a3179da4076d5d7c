/**
 * The handler bundles, as Lambda runs them (infra/bundle.ts's options; issue 11): each holds only
 * the SDK clients its step calls (checked against the IAM permissions it declares), zod only where
 * a request is validated, never @kubernetes/client-node, and stays within 1.3 × the floor, a
 * minimal handler making the same clients (bench/bundles.ts). Sizes only: load times are the
 * benchmark's, too noisy for a test on a shared machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFloors, buildHandlers, floorKey, handlerEntries, TARGET_RATIO, type BuiltBundle } from '../../bench/bundles.ts';
import type { StepPermissions } from '../../functions/lib/permissions.ts';
import { loadStepPermissions } from '../../infra/step-permissions.ts';

/** The SDK client package (`@aws-sdk/client-<x>`) of each IAM service prefix the steps use. */
const CLIENT_OF_IAM_PREFIX: Record<string, string> = {
  cloudwatch: 'cloudwatch',
  dynamodb: 'dynamodb',
  ec2: 'ec2',
  ecs: 'ecs',
  eks: 'eks',
  events: 'eventbridge',
  iam: 'iam',
  logs: 'cloudwatch-logs',
  secretsmanager: 'secrets-manager',
  states: 'sfn',
  sts: 'sts',
};
/** STS is called for GetCallerIdentity (and its credentials sign the EKS token), which needs no IAM permission: `permissions` cannot tell. */
const NO_PERMISSION_CLIENTS = new Set(['sts']);
/** The edge, where requests are validated with zod (STYLE.md 4): the API, Validate request, Start teardown. */
const VALIDATING = new Set(['api/onboardings', 'validate-request', 'start-teardown']);
/**
 * The X-Ray SDK under Powertools Tracer (tracing is active on every function) and what it
 * requires: ~120 KiB that no minimal handler carries and that this check leaves out, as it does
 * zod where a request is validated. Everything else counts against the 1.3 bound.
 */
const TRACING_PACKAGES = ['aws-xray-sdk-core', '@aws-lambda-powertools/tracer', 'cls-hooked', 'semver', 'shimmer', 'emitter-listener', 'async-hook-jl', 'stack-chain', 'atomic-batcher'];

const handlers = handlerEntries();
const outdir = mkdtempSync(join(tmpdir(), 'bundles-test-'));
let built: Map<string, BuiltBundle>;
let floors: Map<string, { bytes: number }>;
let permissions: Map<string, StepPermissions>;

beforeAll(async () => {
  const bundles = await buildHandlers(handlers, outdir, { sourcemap: false });
  built = new Map(bundles.map((b) => [b.handler, b]));
  floors = await buildFloors(bundles.map((b) => b.clients), outdir, { sourcemap: false });
  permissions = new Map(Object.entries((await loadStepPermissions(handlers)).byFile));
}, 180_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe.each(handlers)('the bundle of %s', (handler) => {
  it('holds only the SDK clients its step has permissions for', () => {
    const granted = new Set(permissions.get(handler)!.flatMap((p) => p.actions.map((a) => CLIENT_OF_IAM_PREFIX[a.split(':')[0]!])));
    const unused = built.get(handler)!.clients.filter((c) => !granted.has(c) && !NO_PERMISSION_CLIENTS.has(c));
    expect(unused).toEqual([]);
  });

  it('holds no zod unless it validates a request, and never @kubernetes/client-node', () => {
    const packages = Object.keys(built.get(handler)!.packages);
    expect(packages).not.toContain('@kubernetes/client-node');
    if (!VALIDATING.has(handler)) expect(packages).not.toContain('zod');
  });

  it(`is at most ${TARGET_RATIO} × a minimal handler making the same clients (tracing and validation aside)`, () => {
    const b = built.get(handler)!;
    // A handler with no SDK client has an empty module for a floor: there is nothing to compare.
    if (b.clients.length === 0) return;
    const set = (names: readonly string[]) => names.reduce((n, p) => n + (b.packages[p] ?? 0), 0);
    const counted = b.bytes - set(TRACING_PACKAGES) - (VALIDATING.has(handler) ? set(['zod']) : 0);
    const floor = floors.get(floorKey(b.clients))!.bytes;
    expect(counted / floor, `${(counted / 1024).toFixed(0)} KiB counted against a floor of ${(floor / 1024).toFixed(0)} KiB`).toBeLessThanOrEqual(TARGET_RATIO);
  });
});
