/**
 * The pure half of `npm run bench` (bench/report.ts): what a "state transition" counts, which
 * calls are mutating and which are the registry's bookkeeping, how a figure meets its target,
 * and the README block it rewrites. No timings: the benchmark's figures are not asserted here.
 */
import { describe, expect, it } from 'vitest';
import {
  allOf,
  atMost,
  bundleRatioText,
  countTransitions,
  exactly,
  figure,
  figureTable,
  hasSdkClients,
  kubeRequestName,
  README_BEGIN,
  README_END,
  replaceReadmeBlock,
  splitAwsCalls,
  summarize,
  tallyKubeRequests,
  worstBundle,
  type EngineEventLike,
} from '../../bench/report.ts';

const task = (name: string) => ({ name, type: 'Task' });
const ev = (type: string, state?: { name: string; type: string }): EngineEventLike => ({ type, ...(state ? { state } : {}) });

describe('countTransitions', () => {
  it('counts every state entered (Map iterations included) and every retry; Lambda invocations are Task entries and Task retries', () => {
    // Prepare: a Task retried once, a Choice, a Wait, a Map of two iterations of one Task, a Succeed.
    const events: EngineEventLike[] = [
      ev('ExecutionStarted'),
      ev('StateEntered', task('Ensure NAT gateway')),
      ev('StateFailed', task('Ensure NAT gateway')),
      ev('StateRetried', task('Ensure NAT gateway')),
      ev('StateExited', task('Ensure NAT gateway')),
      ev('StateEntered', { name: 'NAT gateway available?', type: 'Choice' }),
      ev('StateExited', { name: 'NAT gateway available?', type: 'Choice' }),
      ev('StateEntered', { name: 'Wait for NAT gateway', type: 'Wait' }),
      ev('StateEntered', { name: 'Reverify each workload', type: 'Map' }),
      ev('MapIterationStarted'),
      ev('StateEntered', task('Reverify workload')),
      ev('MapIterationStarted'),
      ev('StateEntered', task('Reverify workload')),
      ev('StateEntered', { name: 'Reverified', type: 'Succeed' }),
      ev('ExecutionSucceeded'),
    ];

    // Act
    const c = countTransitions(events);

    // Assess
    expect(c).toEqual({ transitions: 8, statesEntered: 7, retries: 1, lambdaInvocations: 4, repeated: { 'Reverify workload': 2 } });
  });

  it('an empty log is no transition', () => {
    expect(countTransitions([]).transitions).toBe(0);
  });
});

describe('splitAwsCalls', () => {
  const table = 'mesh-registry';
  const calls = [
    { service: 'ec2', command: 'DescribeSubnets', input: {} },
    { service: 'ec2', command: 'CreateSubnet', input: {} },
    { service: 'ec2', command: 'CreateTags', input: {} },
    { service: 'iam', command: 'GetRole', input: {} },
    { service: 'dynamodb', command: 'UpdateItem', input: { TableName: table, Key: { workload: 'bookinfo/ratings' } } },
    { service: 'dynamodb', command: 'TransactWriteItems', input: { TransactItems: [{ Put: { TableName: table } }] } },
    { service: 'dynamodb', command: 'GetItem', input: { TableName: table } },
    { service: 'dynamodb', command: 'GetItem', input: { TableName: 'someone-elses' } },
  ];

  it('keeps the registry table apart from resource calls, and splits each into mutating and read-only', () => {
    const s = splitAwsCalls(calls, table);
    expect(s.resource).toMatchObject({ total: 5, mutating: 2, readOnly: 3 });
    expect(s.resource.mutatingOperations).toEqual({ 'ec2:CreateSubnet': 1, 'ec2:CreateTags': 1 });
    expect(s.registry).toMatchObject({ total: 3, mutating: 2, readOnly: 1 });
  });

  it('lists mutating operations first, then by count', () => {
    const s = splitAwsCalls([...calls, { service: 'iam', command: 'GetRole', input: {} }], table);
    expect(Object.keys(s.resource.byOperation)).toEqual(['ec2:CreateSubnet', 'ec2:CreateTags', 'iam:GetRole', 'dynamodb:GetItem', 'ec2:DescribeSubnets']);
  });
});

describe('Kubernetes requests', () => {
  it('names each by verb and resource', () => {
    expect(kubeRequestName('GET /apis/onboarding.tetrate.io/v1alpha1/namespaces/bookinfo/workloadgroups/ratings')).toEqual({ name: 'get workloadgroups', mutating: false });
    expect(kubeRequestName('GET /apis/runtime.onboarding.tetrate.io/v1alpha1/namespaces/bookinfo/workloadautoregistrations?labelSelector=x')).toEqual({ name: 'list workloadautoregistrations', mutating: false });
    expect(kubeRequestName('GET /api/v1/namespaces/bookinfo')).toEqual({ name: 'get namespaces', mutating: false });
    expect(kubeRequestName('PATCH /apis/apps/v1/namespaces/istio-system/deployments/x/status')).toEqual({ name: 'patch deployments/status', mutating: true });
    expect(kubeRequestName('POST /api/v1/namespaces/bookinfo/serviceaccounts')).toEqual({ name: 'create serviceaccounts', mutating: true });
    expect(kubeRequestName('GET /apis/networking.istio.io/v1alpha3')).toEqual({ name: 'discover apis/networking.istio.io/v1alpha3', mutating: false });
  });

  it('tallies them', () => {
    const t = tallyKubeRequests(['GET /api/v1/namespaces/a', 'GET /api/v1/namespaces/b', 'DELETE /api/v1/namespaces/a']);
    expect(t).toMatchObject({ total: 3, mutating: 1, readOnly: 2, byOperation: { 'delete namespaces': 1, 'get namespaces': 2 } });
  });
});

describe('figures and targets', () => {
  it('meets a maximum at the bound, misses above it; exact targets; no value is not measured', () => {
    expect(figure('s', 'a', 45, undefined, atMost(45)).met).toBe(true);
    expect(figure('s', 'a', 45.5, undefined, atMost(45)).met).toBe(false);
    expect(figure('s', 'b', 0, undefined, exactly(0)).met).toBe(true);
    expect(figure('s', 'b', 1, undefined, exactly(0)).met).toBe(false);
    expect(figure('s', 'c', null, undefined, atMost(1)).met).toBeNull();
    expect(figure('s', 'd', 3).met).toBeNull();
  });

  it('renders figure | measured | target | met?, and summarizes', () => {
    const fs = [figure('s', 'State transitions', 31, '31 ($0.00078)', atMost(45)), figure('s', 'AWS calls', 98, undefined, atMost(40)), figure('s', 'Latency', null, undefined, atMost(1.1, '≤ 1.10')), figure('s', 'Invocations', 19)];
    expect(figureTable(fs).split('\n')).toEqual([
      '| figure | measured | target | met? |',
      '|---|---|---|---|',
      '| State transitions | 31 ($0.00078) | ≤ 45 | yes |',
      '| AWS calls | 98 | ≤ 40 | **no** |',
      '| Latency | not measured | ≤ 1.10 | – |',
      '| Invocations | 19 | – | – |',
    ]);
    expect(summarize(fs)).toEqual({ met: 1, missed: 1, unchecked: 1, missedLabels: ['AWS calls'] });
  });

  it('one row for several figures: met when all are, missed when one is, not measured otherwise', () => {
    const ok = figure('c', '50 at once: succeeded', 50, '50/50', exactly(50, 'all succeed'));
    const slow = figure('c', '50 at once: wall time', 62.3, '62.3 s', atMost(60, '≤ 60 s'));
    const unmeasured = figure('c', 'x', null, undefined, atMost(1));
    expect(allOf('c', '50 at once', [ok, figure('c', 'w', 48.4, '48.4 s', atMost(60, '≤ 60 s'))])).toMatchObject({ display: '50/50, 48.4 s', target: { text: 'all succeed, ≤ 60 s' }, met: true });
    expect(allOf('c', '50 at once', [ok, slow]).met).toBe(false);
    expect(allOf('c', '50 at once', [ok, unmeasured]).met).toBeNull();
  });

  it('the figures survive a JSON round trip as results.json holds them', () => {
    const f = figure('Concurrency', '50 at once: NAT gateways', 1, undefined, exactly(1));
    expect(JSON.parse(JSON.stringify(f))).toEqual({ section: 'Concurrency', label: '50 at once: NAT gateways', value: 1, display: '1', target: { equals: 1, text: '1' }, met: true });
  });
});

describe('replaceReadmeBlock', () => {
  it('replaces only what is between the markers, and again on a second run', () => {
    const readme = `# x\n\n## Performance\n\n${README_BEGIN}\nold\n${README_END}\n\n## Next\n`;
    const once = replaceReadmeBlock(readme, 'new table\n');
    expect(once).toBe(`# x\n\n## Performance\n\n${README_BEGIN}\nnew table\n${README_END}\n\n## Next\n`);
    expect(replaceReadmeBlock(once, 'newer')).toBe(`# x\n\n## Performance\n\n${README_BEGIN}\nnewer\n${README_END}\n\n## Next\n`);
  });

  it('refuses a README without the markers', () => {
    expect(() => replaceReadmeBlock('# x\n', 'y')).toThrow(/bench:begin/);
  });
});

describe('bundle ratios', () => {
  const rows = [
    { handler: 'ensure-nat-gateway', clients: ['ec2', 'dynamodb'], sizeRatio: 1.12, loadRatio: 1.05 },
    // No SDK client: its floor is an empty module, so its ratios are huge and meaningless.
    { handler: 'record-plan', clients: [], sizeRatio: 40, loadRatio: 6 },
    { handler: 'ensure-service', clients: ['ecs'], sizeRatio: 1.2, loadRatio: 1.01 },
  ];

  it('leaves a handler with no SDK client out of the worst, and says how many were compared', () => {
    expect(worstBundle(rows, 'sizeRatio')).toEqual({ worst: rows[2], compared: 2 });
    expect(worstBundle(rows, 'loadRatio')).toEqual({ worst: rows[0], compared: 2 });
    expect(worstBundle([rows[1]!], 'sizeRatio')).toEqual({ worst: undefined, compared: 0 });
  });

  it('shows n/a for a handler with no SDK client, and flags a ratio over the bound', () => {
    expect(bundleRatioText(rows[1]!, 'sizeRatio')).toBe('n/a');
    expect(bundleRatioText(rows[0]!, 'sizeRatio')).toBe('1.12');
    expect(bundleRatioText({ ...rows[0]!, loadRatio: 1.31 }, 'loadRatio')).toBe('1.31 **over**');
  });

  it('reads clients as bench/bundles.ts gives them: a list, or a string', () => {
    expect(hasSdkClients([])).toBe(false);
    expect(hasSdkClients(['ecs'])).toBe(true);
    expect(hasSdkClients('')).toBe(false);
    expect(hasSdkClients('none')).toBe(false);
    expect(hasSdkClients('ecs')).toBe(true);
  });
});
