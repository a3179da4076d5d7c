/**
 * Feasibility before any mutation, on the sandbox: a request whose network cannot be built as
 * asked (a block outside the VPC, a block overlapping a subnet, a given subnet that is public)
 * fails in the workflow at Resolve network with not one mutating AWS call (the registry's own
 * records aside), and gets a 400 with the field's path from the local API, which then stores no
 * CA bundle and starts nothing.
 */
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { onCommand, type SentCommand } from '../../functions/lib/clients.ts';
import { currentStep } from '../../functions/lib/middleware.ts';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import { runWorkflow } from '../../local/engine/run-workflow.ts';
import { bookinfoInput } from '../support/requests.ts';
import { useLocalApi } from '../support/local-api.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
const local = useLocalApi();

const READ = /^(Describe|Get|List|Query|Scan|BatchGet)/;
const withNetwork = (network: Partial<OnboardingRequestInput['network']>): OnboardingRequestInput => {
  const base = bookinfoInput();
  return { ...base, network: { ...base.network, ...network } };
};
/** The three infeasible requests, each with the path its problem names. */
const cases = () => [
  { what: 'a task subnet block outside the VPC', input: withNetwork({ subnetCidrs: ['10.0.8.0/24', '10.9.0.0/24'] }), path: '$.network.subnetCidrs[1]', message: /10.9.0.0\/24 is not inside the VPC's CIDR block\(s\) 10.0.0.0\/16/ },
  { what: 'a task subnet block overlapping a subnet', input: withNetwork({ subnetCidrs: ['10.0.0.0/25', '10.0.8.0/24'] }), path: '$.network.subnetCidrs[0]', message: /10.0.0.0\/25 overlaps subnet subnet-\w+ \(10.0.0.0\/24\)/ },
  {
    what: 'a given subnet that is public',
    input: withNetwork({ subnetIds: [sandbox().vpc.publicSubnetIds[0]] }),
    path: '$.network.subnetIds[0]',
    message: /sends 0.0.0.0\/0 to igw-\w+, not to a NAT gateway/,
  },
];

async function awsInventory() {
  const cfg = { endpoint: sandbox().moto.endpoint, region: 'us-east-1', maxAttempts: 1 };
  const ec2 = new EC2Client(cfg);
  const vpcId = sandbox().vpc.vpcId;
  return {
    subnets: ((await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? []).length,
    natGateways: ((await ec2.send(new DescribeNatGatewaysCommand({}))).NatGateways ?? []).length,
    addresses: ((await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []).length,
    clusters: ((await new ECSClient(cfg).send(new ListClustersCommand({}))).clusterArns ?? []).length,
    roles: ((await new IAMClient(cfg).send(new ListRolesCommand({}))).Roles ?? []).length,
    secrets: ((await new SecretsManagerClient(cfg).send(new ListSecretsCommand({}))).SecretList ?? []).length,
  };
}

describe('feasibility before any mutation', () => {
  it('fails the workflow at Resolve network with the path, and not one mutating AWS call, for each infeasible request', async () => {
    const before = await awsInventory();
    for (const c of cases()) {
      const sent: (SentCommand & { step?: string })[] = [];
      const stop = onCommand((s) => void sent.push({ ...s, step: currentStep() }));
      const o = await runWorkflow(c.input, { waitMs: 20, retryIntervalMs: 5 }).finally(stop);

      expect(o.status, c.what).toBe('FAILED');
      expect(o.error, c.what).toBe('InvalidRequestError');
      expect(o.cause, c.what).toMatch(new RegExp(`^Resolve network: .*${c.path.replace(/[$[\]]/g, '\\$&')}: `));
      expect(o.cause, c.what).toMatch(c.message);
      // The registry's records (the run started, the run failed, the end-of-execution check of the lock) are the only writes.
      const mutating = sent.filter((s) => !READ.test(s.command));
      expect(mutating.filter((s) => s.service !== 'dynamodb').map((s) => `${s.step}: ${s.service}:${s.command}`), c.what).toEqual([]);
      expect(new Set(mutating.map((s) => s.step)), c.what).toEqual(new Set(['Validate request', 'Record failure', 'Execution ended']));
    }
    expect(await awsInventory()).toEqual(before);
  });

  it('answers 400 from the local API with the precise path, storing and starting nothing', async () => {
    const before = await awsInventory();
    for (const c of cases()) {
      const res = await fetch(`${local().api.url}/onboardings`, { method: 'POST', body: JSON.stringify(c.input), headers: { 'content-type': 'application/json' } });
      const body = (await res.json()) as { message: string; problems: { path: string; message: string }[] };
      expect(res.status, c.what).toBe(400);
      expect(body.message).toMatch(/invalid: 1 problem\(s\). Nothing was started./);
      expect(body.problems, c.what).toEqual([{ path: c.path, message: expect.stringMatching(c.message) as string }]);
    }
    expect(await awsInventory()).toEqual(before);
  });
});
