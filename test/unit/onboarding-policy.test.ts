import { describe, expect, it } from 'vitest';
import type { OnboardingPolicy } from '../../functions/lib/kube/resources.ts';
import { evaluatePolicy, findAllowingPolicy, selectorMatches, type EcsWorkloadIdentity } from '../../functions/lib/onboarding-policy.ts';

const task: EcsWorkloadIdentity = { partition: 'aws', account: '123456789012', region: 'us-east-1', zone: 'us-east-1a', ecs: { cluster: 'bookinfo', iamRoleName: 'bookinfo.ratings-ecs-task-role' } };
const wgLabels = { app: 'ratings' };

function policy(allow: NonNullable<OnboardingPolicy['spec']['allow']>, name = 'p'): OnboardingPolicy {
  return { apiVersion: 'authorization.onboarding.tetrate.io/v1alpha1', kind: 'OnboardingPolicy', metadata: { name, namespace: 'bookinfo' }, spec: { allow } };
}
const any = [{ workloadGroupSelector: {} }];

describe('selectorMatches', () => {
  it('{} matches everything, an absent selector nothing', () => {
    expect(selectorMatches({}, {})).toBe(true);
    expect(selectorMatches({}, { a: 'b' })).toBe(true);
    expect(selectorMatches(undefined, { a: 'b' })).toBe(false);
  });
  it('matchLabels needs every pair', () => {
    expect(selectorMatches({ matchLabels: { app: 'ratings' } }, { app: 'ratings', x: 'y' })).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'ratings', x: 'z' } }, { app: 'ratings', x: 'y' })).toBe(false);
    expect(selectorMatches({ matchLabels: { app: 'ratings' } }, undefined)).toBe(false);
  });
  it.each([
    ['In', ['ratings', 'reviews'], { app: 'ratings' }, true],
    ['In', ['reviews'], { app: 'ratings' }, false],
    ['In', ['ratings'], {}, false],
    ['NotIn', ['reviews'], { app: 'ratings' }, true],
    ['NotIn', ['ratings'], { app: 'ratings' }, false],
    ['NotIn', ['ratings'], {}, true],
    ['Exists', undefined, { app: '' }, true],
    ['Exists', undefined, {}, false],
    ['DoesNotExist', undefined, {}, true],
    ['DoesNotExist', undefined, { app: 'x' }, false],
    ['Gt', ['1'], { app: '2' }, false],
  ] as const)('%s %j against %j -> %s', (operator, values, labels, expected) => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator, values: values ? [...values] : undefined }] }, labels)).toBe(expected);
  });
  it('matchLabels and matchExpressions are ANDed', () => {
    const s = { matchLabels: { app: 'ratings' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] };
    expect(selectorMatches(s, { app: 'ratings' })).toBe(true);
    expect(selectorMatches(s, { app: 'ratings', tier: 'x' })).toBe(false);
  });
});

describe('evaluatePolicy', () => {
  it("allows the seed's policy (one account, ecs: {}, selector {})", () => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws: { accounts: ['123456789012'], ecs: {} } }], onboardTo: any }], 'allow-ecs'), task, wgLabels);
    expect(d).toEqual({ allowed: true, rule: 'bookinfo/allow-ecs allow[0]', mismatches: [], warnings: [] });
  });

  it('empty or absent lists other than accounts match any value', () => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws: { partitions: [], accounts: ['123456789012'], regions: [], zones: [], ecs: { clusters: [], iamRoleNames: [] } } }], onboardTo: any }]), task, wgLabels);
    expect(d.allowed).toBe(true);
  });

  // docs.tetrate.io refs/onboarding/config/authorization/aws/v1alpha1/aws: accounts is REQUIRED,
  // "Cannot be empty", min_items 1, items ^[0-9]{12}$ -- a matcher without it is invalid.
  it.each([
    ['absent', { ecs: {} }, 'workloads[0].aws.accounts is empty or absent: it is required'],
    ['empty', { accounts: [], ecs: {} }, 'workloads[0].aws.accounts is empty or absent: it is required'],
    ['not 12 digits', { accounts: ['12345678901'], ecs: {} }, 'workloads[0].aws.accounts ["12345678901"] is not a 12-digit AWS account'],
  ])('an aws matcher with accounts %s is invalid and matches nothing', (_what, aws, reason) => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws }], onboardTo: any }]), task, wgLabels);
    expect(d.allowed).toBe(false);
    expect(d.mismatches.join('\n')).toContain(reason);
    expect(d.mismatches.join('\n')).toContain('matches nothing');
  });

  it('an invalid matcher does not stop a valid one in the same rule from allowing', () => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws: { ecs: {} } }, { aws: { accounts: ['123456789012'], ecs: {} } }], onboardTo: any }]), task, wgLabels);
    expect(d).toMatchObject({ allowed: true, rule: 'bookinfo/p allow[0]' });
  });

  it.each([
    [{ accounts: ['123456789012'], partitions: ['aws-cn'], ecs: {} }, 'workloads[0].aws.partitions ["aws-cn"] does not include "aws"'],
    [{ accounts: ['111111111111'], ecs: {} }, 'workloads[0].aws.accounts ["111111111111"] does not include "123456789012"'],
    [{ accounts: ['123456789012'], regions: ['eu-west-1'], ecs: {} }, 'workloads[0].aws.regions ["eu-west-1"] does not include "us-east-1"'],
    [{ accounts: ['123456789012'], zones: ['us-east-1b'], ecs: {} }, 'workloads[0].aws.zones ["us-east-1b"] does not include "us-east-1a"'],
    [{ accounts: ['123456789012'], ecs: { clusters: ['other'] } }, 'workloads[0].aws.ecs.clusters ["other"] does not include "bookinfo"'],
    [{ accounts: ['123456789012'], ecs: { iamRoleNames: ['otherRole'] } }, 'workloads[0].aws.ecs.iamRoleNames ["otherRole"] does not include the task role "bookinfo.ratings-ecs-task-role"'],
    [{ accounts: ['123456789012'] }, 'workloads[0].aws.ecs is absent, so ECS tasks are not allowed'],
  ])('denies %j naming the field', (aws, reason) => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws }], onboardTo: any }]), task, wgLabels);
    expect(d.allowed).toBe(false);
    expect(d.mismatches.join('\n')).toContain(reason);
  });

  // refs/onboarding/config/authorization/v1alpha1/policy: WorkloadIdentityMatcher is a oneof aws | jwt.
  it('a jwt matcher does not match ECS tasks', () => {
    const d = evaluatePolicy(policy([{ workloads: [{ jwt: { issuer: 'https://mycompany.corp', subjects: ['vm007'] } }], onboardTo: any }]), task, wgLabels);
    expect(d.allowed).toBe(false);
    expect(d.mismatches[0]).toContain('no "aws" matcher ("jwt" matches OIDC ID tokens, not ECS tasks)');
  });

  it('empty workloads, onboardTo or allow match nothing', () => {
    expect(evaluatePolicy(policy([{ workloads: [], onboardTo: any }]), task, wgLabels).mismatches).toContain('bookinfo/p allow[0].workloads is empty');
    expect(evaluatePolicy(policy([{ workloads: [{ aws: { accounts: ['123456789012'], ecs: {} } }] }]), task, wgLabels).mismatches).toContain('bookinfo/p allow[0].onboardTo is empty');
    expect(evaluatePolicy(policy([]), task, wgLabels).allowed).toBe(false);
  });

  it('denies when the selector does not select the WorkloadGroup', () => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws: { accounts: ['123456789012'], ecs: {} } }], onboardTo: [{ workloadGroupSelector: { matchLabels: { app: 'reviews' } } }] }]), task, wgLabels);
    expect(d.allowed).toBe(false);
    expect(d.mismatches[0]).toContain('does not select a WorkloadGroup with labels {"app":"ratings"}');
  });

  it('any workload entry and any rule may allow', () => {
    const p = policy([
      { workloads: [{ aws: { accounts: ['111111111111'], ecs: {} } }], onboardTo: any },
      { workloads: [{ aws: { accounts: ['123456789012'], regions: ['eu-west-1'], ecs: {} } }, { aws: { accounts: ['123456789012'], ecs: { clusters: ['bookinfo'] } } }], onboardTo: [{ workloadGroupSelector: { matchLabels: { app: 'x' } } }, { workloadGroupSelector: { matchLabels: { app: 'ratings' } } }] },
    ]);
    expect(evaluatePolicy(p, task, wgLabels)).toMatchObject({ allowed: true, rule: 'bookinfo/p allow[1]' });
  });

  it('an unknown zone (pre-flight) passes with a warning when zones are listed', () => {
    const d = evaluatePolicy(policy([{ workloads: [{ aws: { accounts: ['123456789012'], zones: ['us-east-1b'], ecs: {} } }], onboardTo: any }]), { ...task, zone: undefined }, wgLabels);
    expect(d.allowed).toBe(true);
    expect(d.warnings).toEqual(['bookinfo/p allow[0].workloads[0].aws.zones ["us-east-1b"]: the task\'s availability zone must be one of these (checked when the task runs)']);
  });
});

describe('findAllowingPolicy', () => {
  it('returns the first allowing policy by name, or every reason', () => {
    const deny = policy([{ workloads: [{ aws: { accounts: ['111111111111'], ecs: {} } }], onboardTo: any }], 'a-deny');
    const allow = policy([{ workloads: [{ aws: { accounts: ['123456789012'], ecs: {} } }], onboardTo: any }], 'b-allow');
    expect(findAllowingPolicy([allow, deny], task, wgLabels).policy?.metadata.name).toBe('b-allow');
    const none = findAllowingPolicy([deny], task, wgLabels);
    expect(none.policy).toBeUndefined();
    expect(none.mismatches).toHaveLength(1);
  });
});
