import { describe, expect, it } from 'vitest';
import { recordFailure } from '../../functions/record-failure.ts';
import { bookinfoRequest } from '../support/requests.ts';

const request = bookinfoRequest();

describe('Record failure', () => {
  it('unwraps the Lambda error payload: the message, never the stack trace', async () => {
    const cause = JSON.stringify({ errorType: 'NetworkConfigurationError', errorMessage: 'VPC vpc-1 has no internet gateway', trace: ['NetworkConfigurationError: VPC', '    at ensureNatGateway (/var/task/index.js:1:2)'] });
    const r = await recordFailure({ request, failure: { step: 'Ensure NAT gateway', error: 'NetworkConfigurationError', cause } });
    expect(r).toMatchObject({ step: 'Ensure NAT gateway', error: 'NetworkConfigurationError', cause: 'VPC vpc-1 has no internet gateway', summary: 'Ensure NAT gateway: VPC vpc-1 has no internet gateway' });
    expect(JSON.stringify(r)).not.toContain('/var/task');
  });

  it('takes the failed step and what its branch made from a failed Parallel branch', async () => {
    // What "Network branch failed" puts in the Cause: the branch's clean failure state as JSON.
    const branch = JSON.stringify({
      failure: {
        step: 'Ensure security group',
        error: 'QuotaExceededError',
        cause: JSON.stringify({ errorType: 'QuotaExceededError', errorMessage: 'SecurityGroupLimitExceeded: too many groups' }),
      },
      ledgers: {
        natGateway: [{ kind: 'nat-gateway', id: 'nat-1', created: true }],
        taskSubnet: [
          { kind: 'vpc-subnet', id: 'subnet-1', created: true },
          { kind: 'route-table', id: 'rtb-1', created: false },
        ],
      },
      execution: { id: 'arn:aws:states:us-east-1:123456789012:execution:onboard-workload:x' },
    });
    const r = await recordFailure({
      request,
      ledgers: {},
      failure: { step: 'Provision identity and network', error: 'QuotaExceededError', cause: branch },
    });
    expect(r).toMatchObject({ step: 'Ensure security group', error: 'QuotaExceededError', cause: 'SecurityGroupLimitExceeded: too many groups' });
    expect(r.resourcesSoFar).toEqual([
      { kind: 'nat-gateway', id: 'nat-1', created: true },
      { kind: 'vpc-subnet', id: 'subnet-1', created: true },
    ]);
  });

  it('lists what the steps before the failure made, once each', async () => {
    const r = await recordFailure({
      request,
      ledgers: {
        cluster: [{ kind: 'ecs-cluster', id: 'bookinfo', created: true }],
        natGateway: [{ kind: 'nat-gateway', id: 'nat-1', created: true }],
        taskDefinition: [{ kind: 'task-definition', id: 'arn:td', created: false }],
        // The same NAT gateway seen twice (found, then checked) is one entry.
        again: [{ kind: 'nat-gateway', id: 'nat-1', created: true }],
      },
      failure: { step: 'Ensure service', error: 'ResourceConflictError', cause: 'ECS service "ratings" exists and is not ours' },
    });
    expect(r.resourcesSoFar).toEqual([
      { kind: 'ecs-cluster', id: 'bookinfo', created: true },
      { kind: 'nat-gateway', id: 'nat-1', created: true },
    ]);
    expect(r.summary).toBe('Ensure service: ECS service "ratings" exists and is not ours');
  });
});
