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
    const branch = JSON.stringify({
      step: 'Ensure security group',
      error: 'QuotaExceededError',
      cause: JSON.stringify({ errorType: 'QuotaExceededError', errorMessage: 'SecurityGroupLimitExceeded: too many groups' }),
      resources: {
        natGateway: [{ kind: 'nat-gateway', id: 'nat-1', created: true }],
        taskSubnet: [
          { kind: 'vpc-subnet', id: 'subnet-1', created: true },
          { kind: 'route-table', id: 'rtb-1', created: false },
        ],
      },
    });
    const r = await recordFailure({
      request,
      preflight: undefined,
      failure: { step: 'Provision identity and network', error: 'QuotaExceededError', cause: branch },
    });
    expect(r).toMatchObject({ step: 'Ensure security group', error: 'QuotaExceededError', cause: 'SecurityGroupLimitExceeded: too many groups' });
    expect(r.resourcesSoFar).toEqual([
      { kind: 'nat-gateway', id: 'nat-1', created: true },
      { kind: 'vpc-subnet', id: 'subnet-1', created: true },
    ]);
  });

  it('lists what the top-level state made, once each', async () => {
    const r = await recordFailure({
      request,
      cluster: { clusterName: 'bookinfo', clusterArn: 'arn:c', ledger: [{ kind: 'ecs-cluster', id: 'bookinfo', created: true }] },
      taskDefinition: { taskDefinitionArn: 'arn:td', family: 'f', revision: 1, ledger: [{ kind: 'task-definition', id: 'arn:td', created: false }] },
      failure: { step: 'Ensure service', error: 'ResourceConflictError', cause: 'ECS service "ratings" exists and is not ours' },
    });
    expect(r.resourcesSoFar).toEqual([{ kind: 'ecs-cluster', id: 'bookinfo', created: true }]);
    expect(r.summary).toBe('Ensure service: ECS service "ratings" exists and is not ours');
  });
});
