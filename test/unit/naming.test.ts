import { describe, expect, it } from 'vitest';
import { ResourceConflictError } from '../../functions/lib/errors.ts';
import { names } from '../../functions/lib/naming.ts';
import { TAG_MANAGED_BY, TAG_WORKLOAD, TOOL_NAME } from '../../functions/lib/settings.ts';
import { assertOwnedByWorkload, ownershipOf, sharedTags } from '../../functions/lib/tags.ts';

const req = (namespace: string, name: string) => ({ workloadGroup: { namespace, name }, ecs: { cluster: 'c', service: 's', family: 'f' } }) as Parameters<typeof names.taskRole>[0];
const perWorkload = ['taskRole', 'executionRole', 'caSecret', 'securityGroup'] as const;

describe('names are injective over workloads', () => {
  it.each(perWorkload)('%s differs for a-b/c and a/b-c (a "-" join would make both a-b-c)', (kind) => {
    expect(names[kind](req('a-b', 'c'))).not.toBe(names[kind](req('a', 'b-c')));
  });

  it('execution names differ too, and stay within [A-Za-z0-9_-]{1,80}', () => {
    const a = names.execution(req('a-b', 'c'), '0'.repeat(64));
    const b = names.execution(req('a', 'b-c'), '0'.repeat(64));
    expect(a).not.toBe(b);
    for (const n of [a, b, names.execution(req('x'.repeat(63), 'y'.repeat(63)), 'f'.repeat(64))]) expect(n).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('long names are cut with a hash of the full name, so they stay distinct and within IAM\'s 64 characters', () => {
    const long = (suffix: string) => names.taskRole(req('n'.repeat(40), `${'w'.repeat(40)}${suffix}`));
    expect(long('a')).not.toBe(long('b'));
    expect(long('a').length).toBeLessThanOrEqual(64);
  });

  it('a security group name never starts with "sg-", which EC2 rejects (namespace sg-apps)', () => {
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html: "Constraints: ... Cannot start with sg-."
    expect(names.securityGroup(req('sg-apps', 'web'))).not.toMatch(/^sg-/);
  });
});

describe('ownership of per-workload resources', () => {
  const ours = [
    { Key: TAG_MANAGED_BY, Value: TOOL_NAME },
    { Key: TAG_WORKLOAD, Value: 'bookinfo/ratings' },
  ];
  it('tells ours, another workload\'s and a foreign resource apart', () => {
    expect(ownershipOf(ours, req('bookinfo', 'ratings'))).toEqual({ owner: 'ours' });
    expect(ownershipOf(ours, req('bookinfo', 'reviews'))).toEqual({ owner: 'other-workload', workload: 'bookinfo/ratings' });
    expect(ownershipOf([{ Key: 'team', Value: 'x' }], req('bookinfo', 'ratings'))).toEqual({ owner: 'foreign' });
    expect(ownershipOf({ [TAG_MANAGED_BY]: TOOL_NAME, [TAG_WORKLOAD]: 'bookinfo/ratings' }, req('bookinfo', 'ratings'))).toEqual({ owner: 'ours' });
  });

  it('a resource of another workload is a conflict naming that workload', () => {
    expect(() => assertOwnedByWorkload(ours, req('bookinfo', 'reviews'), 'IAM role "r"')).toThrow(ResourceConflictError);
    expect(() => assertOwnedByWorkload(ours, req('bookinfo', 'reviews'), 'IAM role "r"')).toThrow(/belongs to workload bookinfo\/ratings/);
    expect(() => assertOwnedByWorkload(ours, req('bookinfo', 'ratings'), 'IAM role "r"')).not.toThrow();
  });

  it('shared resources carry no workload tag', () => {
    expect(sharedTags('nat-gateway').map((t) => t.Key)).not.toContain(TAG_WORKLOAD);
  });
});

describe('resume names (-r2, -r3...)', () => {
  it('stay within 80 characters, end in -r<n>, and differ per request at the length limit (cut with a hash of the whole name)', async () => {
    const { retryNameOf } = await import('../../functions/lib/onboarding-api.ts');
    const long = (hash: string) => names.execution(req('n'.repeat(40), 'w'.repeat(40)), hash);
    const a = long('a'.repeat(64));
    const b = long('b'.repeat(64));
    expect(a).toHaveLength(80);
    for (const attempt of [2, 12]) {
      expect(retryNameOf(a, attempt)).not.toBe(retryNameOf(b, attempt));
      expect(retryNameOf(a, attempt)).toMatch(new RegExp(`^[A-Za-z0-9_-]{1,80}-r${attempt}$`.replace('{1,80}-', '+-')));
      expect(retryNameOf(a, attempt).length).toBeLessThanOrEqual(80);
    }
    expect(retryNameOf('onboard-bookinfo_ratings-0123456789abcdef', 2)).toBe('onboard-bookinfo_ratings-0123456789abcdef-r2');
  });
});
