/**
 * The seed's procedure (../shared/seed/PROCEDURE.md steps 1-8), run handler by handler
 * against moto, twice. The end state is checked with independent describe calls: the
 * resources the seed's CLI commands create, once each, with this project's secure defaults.
 */
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, ListClustersCommand, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkNatGateway } from '../../functions/check-nat-gateway.ts';
import { ensureCaSecret } from '../../functions/ensure-ca-secret.ts';
import { ensureCluster } from '../../functions/ensure-cluster.ts';
import { ensureExecutionRole } from '../../functions/ensure-execution-role.ts';
import { ensureLogGroup } from '../../functions/ensure-log-group.ts';
import { ensureNatGateway } from '../../functions/ensure-nat-gateway.ts';
import { ensureSecurityGroup } from '../../functions/ensure-security-group.ts';
import { ensureService } from '../../functions/ensure-service.ts';
import { ensureTaskRole } from '../../functions/ensure-task-role.ts';
import { ensureTaskSubnet } from '../../functions/ensure-task-subnet.ts';
import type { WorkflowState } from '../../functions/lib/workflow.ts';
import { registerTaskDefinition } from '../../functions/register-task-definition.ts';
import { resolveNetworkAfterPreflight as resolveNetwork } from '../support/steps.ts';
import { validateRequest } from '../../functions/validate-request.ts';
import { createEksCluster, createMeshVpc, type MeshVpc } from '../../local/aws-fixtures.ts';
import { useEmulator } from '../support/emulator.ts';
import { bookinfoInput, bookinfoPreflight } from '../support/requests.ts';

const emu = useEmulator();
const AGENT_IMAGE = 'registry.example/tetrate/onboarding-agent:1.11.0';

/** Every provisioning step in the state machine's order, each result placed as its ResultPath does. */
async function runSeedSteps(): Promise<WorkflowState> {
  let s: WorkflowState = await validateRequest(bookinfoInput());
  // Pre-flight is the mesh's side (its own tests); here its result is given as it would return it.
  s.preflight = bookinfoPreflight({ agentImage: AGENT_IMAGE });
  s.cluster = await ensureCluster(s);
  s.taskRole = await ensureTaskRole(s);
  s.executionRole = await ensureExecutionRole(s);
  s.caSecret = await ensureCaSecret(s);
  s.logGroup = await ensureLogGroup(s);
  s.network = await resolveNetwork(s);
  s.natGateway = await ensureNatGateway(s);
  if (s.natGateway.state !== 'available') s.natGateway = await checkNatGateway(s);
  s.taskSubnet = await ensureTaskSubnet(s);
  s.securityGroup = await ensureSecurityGroup(s);
  s.taskDefinition = await registerTaskDefinition(s);
  s.service = await ensureService(s);
  s = { ...s };
  return s;
}

describe("the seed's procedure through the handlers (emulator)", () => {
  let vpc: MeshVpc;
  let first: WorkflowState;
  let second: WorkflowState;

  beforeAll(async () => {
    vpc = await createMeshVpc({ endpoint: emu.endpoint, name: 'mesh' });
    await createEksCluster({ endpoint: emu.endpoint, name: 'mesh-eks', vpcId: vpc.vpcId, subnetIds: vpc.publicSubnetIds, clusterSecurityGroupId: vpc.clusterSecurityGroupId });
    first = await runSeedSteps();
    second = await runSeedSteps();
  }, 120_000);

  const ec2 = () => new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1' });
  const ecs = () => new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1' });
  const iam = () => new IAMClient({ endpoint: emu.endpoint, region: 'us-east-1' });
  const vpcFilter = () => [{ Name: 'vpc-id', Values: [vpc.vpcId] }];

  it('the second run creates nothing and returns the same ids', () => {
    const ledger2 = Object.values(second).flatMap((v) => (v as { ledger?: { created: boolean }[] })?.ledger ?? []);
    expect(ledger2.filter((e) => e.created)).toEqual([]);
    expect(second.cluster?.clusterArn).toBe(first.cluster?.clusterArn);
    expect(second.taskRole?.roleArn).toBe(first.taskRole?.roleArn);
    expect(second.natGateway?.natGatewayId).toBe(first.natGateway?.natGatewayId);
    expect(second.taskSubnet?.subnets).toEqual(first.taskSubnet?.subnets);
    expect(second.securityGroup?.groupId).toBe(first.securityGroup?.groupId);
    expect(second.taskDefinition?.taskDefinitionArn).toBe(first.taskDefinition?.taskDefinitionArn);
    expect(second.service?.serviceArn).toBe(first.service?.serviceArn);
  });

  it('step 1: one ECS cluster "bookinfo" with FARGATE', async () => {
    const { clusterArns } = await ecs().send(new ListClustersCommand({}));
    expect(clusterArns).toEqual([first.cluster?.clusterArn]);
  });

  it('steps 2-3: the task role and the execution role, trusted by ECS tasks of this account only', async () => {
    const task = await iam().send(new GetRoleCommand({ RoleName: first.taskRole!.roleName }));
    const trust = JSON.parse(decodeURIComponent(task.Role!.AssumeRolePolicyDocument!)) as { Statement: { Principal: { Service: string }; Condition: unknown }[] };
    expect(trust.Statement[0]?.Principal.Service).toBe('ecs-tasks.amazonaws.com');
    expect(trust.Statement[0]?.Condition).toEqual({ StringEquals: { 'aws:SourceAccount': '123456789012' } });
    // enableExecuteCommand is true in the example: the ssmmessages policy is there.
    expect((await iam().send(new ListRolePoliciesCommand({ RoleName: first.taskRole!.roleName }))).PolicyNames).toHaveLength(1);
    const attached = await iam().send(new ListAttachedRolePoliciesCommand({ RoleName: first.executionRole!.roleName }));
    expect(attached.AttachedPolicies?.map((p) => p.PolicyName)).toEqual(['AmazonECSTaskExecutionRolePolicy']);
  });

  it('step 4: one task definition revision with the agent sidecar and the app, the CA delivered as a secret', async () => {
    const { taskDefinitionArns } = await ecs().send(new ListTaskDefinitionsCommand({ familyPrefix: 'bookinfo_ratings' }));
    expect(taskDefinitionArns).toHaveLength(1);
    const { taskDefinition: td } = await ecs().send(new DescribeTaskDefinitionCommand({ taskDefinition: 'bookinfo_ratings' }));
    expect(td).toMatchObject({ networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512' });
    const agent = td?.containerDefinitions?.find((c) => c.name === 'onboarding-agent');
    const app = td?.containerDefinitions?.find((c) => c.name === 'ratings');
    expect(agent?.image).toBe(AGENT_IMAGE);
    expect(agent?.user).toBe('0');
    const config = JSON.parse(agent?.environment?.find((e) => e.name === 'ONBOARDING_CONFIG')?.value ?? '{}') as Record<string, unknown>;
    expect(config).toMatchObject({
      apiVersion: 'config.agent.onboarding.tetrate.io/v1alpha1',
      kind: 'OnboardingConfiguration',
      onboardingEndpoint: { host: bookinfoInput().onboardingEndpoint.host, transportSecurity: { tls: { sni: 'onboarding-endpoint.example' } } },
      workload: { labels: { version: 'v5' } },
      workloadGroup: { name: 'ratings', namespace: 'bookinfo' },
    });
    // Pinned to the secret's current version, so a new CA is a new revision (and a new deployment).
    expect(first.caSecret?.versionId).toMatch(/\S/);
    expect(agent?.secrets).toEqual([{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: `${first.caSecret?.secretArn}:::${first.caSecret?.versionId}` }]);
    expect(JSON.stringify(td)).not.toContain('BEGIN CERTIFICATE');
    expect(app).toMatchObject({ image: 'docker.io/tetrate/tetrate-examples-bookinfo-ratings-localhost-v1:1.16.4', essential: true, portMappings: [expect.objectContaining({ containerPort: 9080 })] });
    for (const c of [agent, app]) expect(c?.logConfiguration).toMatchObject({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/bookinfo_ratings', 'awslogs-stream-prefix': 'ecs' } });
  });

  it('step 5: one log group /ecs/bookinfo_ratings with a retention', async () => {
    const logs = new CloudWatchLogsClient({ endpoint: emu.endpoint, region: 'us-east-1' });
    const { logGroups } = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/bookinfo_ratings' }));
    expect(logGroups?.map((g) => [g.logGroupName, g.retentionInDays])).toEqual([['/ecs/bookinfo_ratings', 30]]);
    const secrets = await new SecretsManagerClient({ endpoint: emu.endpoint, region: 'us-east-1' }).send(new ListSecretsCommand({}));
    expect(secrets.SecretList).toHaveLength(1);
  });

  it('step 6: one NAT gateway with one Elastic IP in a public subnet, and a private task subnet in each of two zones routed through it', async () => {
    const nats = await ec2().send(new DescribeNatGatewaysCommand({ Filter: vpcFilter() }));
    expect(nats.NatGateways?.filter((n) => n.State !== 'deleted')).toHaveLength(1);
    expect((await ec2().send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(1);
    const { Subnets } = await ec2().send(new DescribeSubnetsCommand({ Filters: vpcFilter() }));
    // The VPC's two public subnets + the NAT subnet + a task subnet per zone; CIDRs chosen automatically.
    expect(Subnets?.map((s) => s.CidrBlock).sort()).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24', '10.0.4.0/24']);
    expect(first.taskSubnet?.subnets.map((s) => s.availabilityZone)).toEqual(['us-east-1a', 'us-east-1b']);
    for (const task of first.taskSubnet!.subnets) {
      const { RouteTables } = await ec2().send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [task.subnetId] }] }));
      expect(RouteTables).toHaveLength(1);
      expect(RouteTables?.[0]?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')?.NatGatewayId).toBe(first.natGateway?.natGatewayId);
    }
  });

  it('step 7: one security group, app port open to the VPC only (never 0.0.0.0/0), and the EKS group open to it', async () => {
    const { SecurityGroups } = await ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [first.securityGroup!.groupId] }));
    const rules = SecurityGroups?.[0]?.IpPermissions ?? [];
    expect(rules.map((r) => [r.FromPort, r.ToPort, r.IpRanges?.map((x) => x.CidrIp)])).toEqual([[9080, 9080, ['10.0.0.0/16']]]);
    expect(JSON.stringify(rules)).not.toContain('0.0.0.0/0');
    const eksSg = await ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [vpc.clusterSecurityGroupId] }));
    const fromOurs = eksSg.SecurityGroups?.[0]?.IpPermissions?.filter((r) => r.UserIdGroupPairs?.some((p) => p.GroupId === first.securityGroup?.groupId));
    expect(fromOurs?.map((r) => [r.FromPort, r.ToPort])).toEqual([[9080, 9080]]);
  });

  // moto does not echo deploymentConfiguration: the circuit breaker is asserted on the CreateService call in test/unit/ecs-steps.test.ts.
  it('step 8: one ECS service on FARGATE in the private subnets of both zones, no public IP', async () => {
    const { serviceArns } = await ecs().send(new ListServicesCommand({ cluster: 'bookinfo' }));
    expect(serviceArns).toEqual([first.service?.serviceArn]);
    const { services } = await ecs().send(new DescribeServicesCommand({ cluster: 'bookinfo', services: ['ratings'] }));
    expect(services?.[0]).toMatchObject({
      launchType: 'FARGATE',
      desiredCount: 1,
      taskDefinition: first.taskDefinition?.taskDefinitionArn,
      networkConfiguration: { awsvpcConfiguration: { subnets: first.taskSubnet?.subnets.map((x) => x.subnetId), securityGroups: [first.securityGroup?.groupId], assignPublicIp: 'DISABLED' } },
    });
  });
});
