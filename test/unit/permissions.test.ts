/** The permissions DSL (compose, render) and the harness's policy evaluation the least-privilege test relies on. */
import { describe, expect, it } from 'vitest';
import { composePermissions, renderPermission, requestTaggedByUs, type Permission } from '../../functions/lib/permissions.ts';
import { allowingStatement, conditionsHold, globMatches } from '../support/record-actions.ts';

const describeVpcs: Permission = { sid: 'DescribeVpcNetwork', actions: ['ec2:DescribeVpcs'], resources: ['*'] };
const describeSubnets: Permission = { sid: 'DescribeVpcNetwork', actions: ['ec2:DescribeSubnets'], resources: ['*'] };

describe('composePermissions', () => {
  it('joins the actions of statements sharing a sid, once each, and keeps the others', () => {
    const create: Permission = { sid: 'CreateOurSubnet', actions: ['ec2:CreateSubnet'], resources: ['arn:${Partition}:ec2:${Region}:${Account}:subnet/*'], conditions: requestTaggedByUs() };
    expect(composePermissions(describeVpcs, [describeSubnets, create], describeVpcs)).toEqual([{ ...describeVpcs, actions: ['ec2:DescribeSubnets', 'ec2:DescribeVpcs'] }, create]);
  });

  it('refuses one sid with two different scopes', () => {
    expect(() => composePermissions(describeVpcs, { ...describeSubnets, resources: ['arn:x'] })).toThrow(/DescribeVpcNetwork is declared twice/);
  });
});

describe('renderPermission', () => {
  it('fills placeholders in resources and condition values; a list gives one value each', () => {
    const p: Permission = {
      sid: 'S',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: ['arn:${Partition}:ec2:${Region}:${Account}:security-group/*'],
      conditions: { StringEquals: { 'aws:ResourceTag/aws:eks:cluster-name': ['${EksClusterName}'], 'iam:PolicyARN': 'arn:${Partition}:iam::aws:policy/P' } },
    };
    expect(renderPermission(p, { Partition: 'aws-cn', Region: 'cn-north-1', Account: '1', EksClusterName: ['a', 'b'] })).toEqual({
      sid: 'S',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: ['arn:aws-cn:ec2:cn-north-1:1:security-group/*'],
      conditions: { StringEquals: { 'aws:ResourceTag/aws:eks:cluster-name': ['a', 'b'], 'iam:PolicyARN': 'arn:aws-cn:iam::aws:policy/P' } },
    });
  });
});

describe('policy evaluation of the harness', () => {
  it('matches IAM wildcards across / and :', () => {
    expect(globMatches('arn:aws:iam::1:role/mesh-onboarding/*', 'arn:aws:iam::1:role/mesh-onboarding/a.b-ecs-task-role')).toBe(true);
    expect(globMatches('arn:aws:iam::1:role/mesh-onboarding/*', 'arn:aws:iam::1:role/a.b-ecs-task-role')).toBe(false);
    expect(globMatches('arn:aws:logs:r:1:log-group:/ecs/*', 'arn:aws:logs:r:1:log-group:/ecs/x:log-stream:y')).toBe(true);
  });

  it('fails a condition whose key the request does not carry, as IAM does', () => {
    expect(conditionsHold(requestTaggedByUs(), {})).toBe(false);
    expect(conditionsHold(requestTaggedByUs(), { 'aws:RequestTag/mesh-onboarding/managed-by': 'ecs-mesh-onboarding' })).toBe(true);
    expect(conditionsHold(requestTaggedByUs(), { 'aws:RequestTag/mesh-onboarding/managed-by': 'someone-else' })).toBe(false);
    expect(conditionsHold({ ArnLike: { 'ecs:cluster': 'arn:aws:ecs:r:1:cluster/*' } }, { 'ecs:cluster': 'arn:aws:ecs:r:1:cluster/bookinfo' })).toBe(true);
  });

  it('allows an authorization only when action, resource and conditions all match one statement', () => {
    const create: Permission = { sid: 'C', actions: ['ec2:CreateSubnet'], resources: ['arn:aws:ec2:r:1:subnet/*'], conditions: requestTaggedByUs() };
    const tagged = { 'aws:RequestTag/mesh-onboarding/managed-by': 'ecs-mesh-onboarding' };
    expect(allowingStatement({ action: 'ec2:CreateSubnet', resource: 'arn:aws:ec2:r:1:subnet/(new)', context: tagged }, [create])).toBe(create);
    expect(allowingStatement({ action: 'ec2:CreateSubnet', resource: 'arn:aws:ec2:r:1:vpc/vpc-1', context: tagged }, [create])).toBeUndefined();
    expect(allowingStatement({ action: 'ec2:CreateSubnet', resource: 'arn:aws:ec2:r:1:subnet/(new)', context: {} }, [create])).toBeUndefined();
  });
});
