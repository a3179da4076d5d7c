import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesAccessDeniedError, KubernetesUnavailableError, MeshPrerequisiteError, UnexpectedError } from '../../functions/lib/errors.ts';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { freePort } from '../../local/free-port.ts';
import { MeshKube, resolveKubeTarget } from '../../functions/lib/kube/client.ts';
import { rbacYaml } from '../../functions/lib/kube/rbac.ts';
import { preflightMesh } from '../../functions/preflight-mesh.ts';
import { seedMesh } from '../../local/kube-api-standin.ts';
import { useEmulator } from '../support/emulator.ts';
import { createEksCluster, useKubeStandin } from '../support/kube.ts';
import { bookinfoRequest } from '../support/requests.ts';

const emu = useEmulator();
const kube = useKubeStandin();

async function awsCounts() {
  const [roles, clusters, subnets, vpcs] = await Promise.all([
    new IAMClient({ endpoint: emu.endpoint, region: 'us-east-1' }).send(new ListRolesCommand({})),
    new ECSClient({ endpoint: emu.endpoint, region: 'us-east-1' }).send(new ListClustersCommand({})),
    new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1' }).send(new DescribeSubnetsCommand({})),
    new EC2Client({ endpoint: emu.endpoint, region: 'us-east-1' }).send(new DescribeVpcsCommand({})),
  ]);
  return { roles: roles.Roles?.length, clusters: clusters.clusterArns?.length, subnets: subnets.Subnets?.length, vpcs: vpcs.Vpcs?.length };
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the pre-flight to fail');
}

const policyApi = 'authorization.onboarding.tetrate.io/v1alpha1';
function putPolicy(name: string, aws: Record<string, unknown>, workloadGroupSelector: Record<string, unknown> = {}) {
  kube.standin.store.put({ apiVersion: policyApi, kind: 'OnboardingPolicy', metadata: { name, namespace: 'bookinfo' }, spec: { allow: [{ workloads: [{ aws }], onboardTo: [{ workloadGroupSelector }] }] } });
}

describe('Pre-flight mesh (emulator + Kubernetes stand-in)', () => {
  beforeAll(() => createEksCluster(emu.endpoint));
  beforeEach(() => {
    const { store } = kube.standin;
    for (const kind of ['Namespace', 'Deployment', 'WorkloadGroup', 'OnboardingPolicy']) for (const o of store.list(kind)) store.delete(kind, o.metadata.namespace, o.metadata.name);
    seedMesh(store, { account: '123456789012' });
    kube.standin.setDeny(undefined);
  });

  it('passes for the seed mesh, derives the agent image, and creates nothing in AWS', async () => {
    const before = await awsCounts();
    const request = bookinfoRequest();
    const first = await preflightMesh({ request });
    const second = await preflightMesh({ request });

    expect(first).toEqual({
      account: '123456789012',
      partition: 'aws',
      region: 'us-east-1',
      agentImage: 'registry.example/tetrate/onboarding-agent:1.11.0',
      workloadGroup: { namespace: 'bookinfo', name: 'ratings', templateLabels: { app: 'ratings', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookinfo-ratings' },
      onboardingPolicy: 'allow-ecs',
    });
    expect(second).toEqual(first);
    expect(await awsCounts()).toEqual(before);
    // Every request carried an EKS token the stand-in accepted (it answers 401 otherwise).
    expect(kube.standin.requests.some((r) => r.startsWith('GET /apis/networking.istio.io/v1alpha3/namespaces/bookinfo/workloadgroups/ratings'))).toBe(true);
  });

  it('uses request.agentImage and then does not need the onboarding-operator', async () => {
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-operator');
    const r = await preflightMesh({ request: bookinfoRequest({ agentImage: 'registry.example/tetrate/onboarding-agent:1.10.0' }) });
    expect(r.agentImage).toBe('registry.example/tetrate/onboarding-agent:1.10.0');
  });

  it('needs network.eksClusterName', async () => {
    const request = bookinfoRequest({ network: { eksClusterName: undefined, vpcId: 'vpc-0123456789abcdef0' } });
    const e = await failure(preflightMesh({ request }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('network.eksClusterName is required for the mesh checks');
  });

  it('reports an EKS cluster that does not exist', async () => {
    const e = await failure(preflightMesh({ request: bookinfoRequest({ network: { eksClusterName: 'no-such-eks' } }) }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('EKS cluster "no-such-eks" (network.eksClusterName) was not found');
  });

  it('reports a missing namespace with the YAML to create it', async () => {
    kube.standin.store.delete('Namespace', undefined, 'bookinfo');
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('Namespace "bookinfo" does not exist');
    expect(e.message).toContain('kind: Namespace\nmetadata:\n  name: bookinfo\n  labels:\n    istio-injection: enabled');
  });

  it('reports a missing WorkloadGroup with the YAML to create it', async () => {
    kube.standin.store.delete('WorkloadGroup', 'bookinfo', 'ratings');
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('WorkloadGroup bookinfo/ratings does not exist');
    expect(e.message).toContain('kind: WorkloadGroup\nmetadata:\n  name: ratings\n  namespace: bookinfo');
    expect(e.message).not.toContain('OnboardingPolicy');
  });

  it('reports a missing OnboardingPolicy with a policy for this account, cluster and task role', async () => {
    kube.standin.store.delete('OnboardingPolicy', 'bookinfo', 'allow-ecs');
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('No OnboardingPolicy exists in namespace "bookinfo"');
    expect(e.message).toContain('kind: OnboardingPolicy');
    expect(e.message).toContain('accounts: ["123456789012"]');
    expect(e.message).toContain('clusters: ["bookinfo"]');
    expect(e.message).toContain('iamRoleNames: ["bookinfo.ratings-ecs-task-role"]');
    expect(e.message).toContain('matchLabels:\n          app: "ratings"');
  });

  it.each([
    ['another account', { accounts: ['111111111111'], ecs: {} }, {}, 'aws.accounts ["111111111111"] does not include "123456789012"'],
    ['another ECS cluster', { accounts: ['123456789012'], ecs: { clusters: ['other'] } }, {}, 'aws.ecs.clusters ["other"] does not include "bookinfo"'],
    ['another task role', { accounts: ['123456789012'], ecs: { iamRoleNames: ['bookinfoECSTaskRole'] } }, {}, 'aws.ecs.iamRoleNames ["bookinfoECSTaskRole"] does not include the task role "bookinfo.ratings-ecs-task-role"'],
    ['a selector not matching the WorkloadGroup', { accounts: ['123456789012'], ecs: {} }, { matchLabels: { app: 'reviews' } }, 'does not select a WorkloadGroup with labels {"app":"ratings"}'],
  ])('reports a policy for %s, naming the field that did not match', async (_what, aws, selector, reason) => {
    kube.standin.store.delete('OnboardingPolicy', 'bookinfo', 'allow-ecs');
    putPolicy('narrow', aws, selector);
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('No OnboardingPolicy in namespace "bookinfo" allows account 123456789012');
    expect(e.message).toContain(`bookinfo/narrow allow[0]`);
    expect(e.message).toContain(reason);
  });

  it('passes with a zones list, reporting it as a warning', async () => {
    kube.standin.store.delete('OnboardingPolicy', 'bookinfo', 'allow-ecs');
    putPolicy('zoned', { accounts: ['123456789012'], zones: ['us-east-1a'], ecs: { clusters: ['bookinfo'] } });
    const r = await preflightMesh({ request: bookinfoRequest() });
    expect(r.onboardingPolicy).toBe('zoned');
    expect(r.warnings?.[0]).toContain('aws.zones ["us-east-1a"]');
  });

  it('reports a missing onboarding-operator when no agentImage is given', async () => {
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-operator');
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('deployment istio-system/onboarding-operator was not found');
    expect(e.message).toContain('"agentImage"');
  });

  it.each([401, 403] as const)('turns %i into KubernetesAccessDeniedError with the access entry and RBAC', async (status) => {
    kube.standin.setDeny({ status, principals: 'all' });
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(KubernetesAccessDeniedError);
    expect(e.message).toContain(`answered ${status}`);
    expect(e.message).toContain('aws eks create-access-entry --cluster-name mesh-eks --principal-arn arn:aws:sts::123456789012:user/moto --kubernetes-groups mesh-onboarding-readers');
    expect(e.message).toContain('resources: ["workloadautoregistrations"]');
    expect(e.message).toContain(rbacYaml('bookinfo'));
  });

  it('documents the same RBAC for the mesh operator (README and docs/mesh-operator.md)', () => {
    expect(readFileSync(new URL('../../docs/mesh-operator.md', import.meta.url), 'utf8')).toContain(rbacYaml('bookinfo'));
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(rbacYaml('bookinfo'));
    expect(readme).toContain('aws eks create-access-entry --cluster-name <eks-cluster>');
  });

  it('refuses only the chosen principals', async () => {
    kube.standin.setDeny({ status: 403, principals: ['someone-else'] });
    await expect(preflightMesh({ request: bookinfoRequest() })).resolves.toMatchObject({ onboardingPolicy: 'allow-ecs' });
    kube.standin.setDeny({ status: 403, principals: ['testing'] });
    await expect(preflightMesh({ request: bookinfoRequest() })).rejects.toThrow(KubernetesAccessDeniedError);
  });

  it('a client with no valid token gets 401 -> KubernetesAccessDeniedError', async () => {
    const target = await resolveKubeTarget('mesh-eks');
    const bad = new MeshKube(target, { namespace: 'bookinfo', token: async () => 'k8s-aws-v1.bm90LWEtdXJs' });
    const e = await failure(bad.getNamespace('bookinfo'));
    expect(e).toBeInstanceOf(KubernetesAccessDeniedError);
    expect(e.message).toContain('401 Unauthorized');
    const raw = await fetch(`${kube.standin.url}/api/v1/namespaces/bookinfo`);
    expect(raw.status).toBe(401);
    expect(await raw.json()).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
  });
});

describe('Kubernetes client error mapping', () => {
  const token = async () => 'k8s-aws-v1.x';
  it.each([
    [503, KubernetesUnavailableError],
    [500, KubernetesUnavailableError],
    [429, KubernetesUnavailableError],
    [400, UnexpectedError],
  ] as const)('maps HTTP %i to %s', async (code, type) => {
    const server = createServer((_req, res) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'etcdserver: request timed out', code }));
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    try {
      const client = new MeshKube({ clusterName: 'c', server: `http://127.0.0.1:${port}` }, { namespace: 'bookinfo', token });
      const e = await failure(client.listWorkloadAutoRegistrations('bookinfo'));
      expect(e).toBeInstanceOf(type);
      expect(e.message).toContain(`answered ${code}`);
      expect(e.message).toContain('etcdserver: request timed out');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('maps a refused connection to KubernetesUnavailableError', async () => {
    const port = await freePort();
    const client = new MeshKube({ clusterName: 'c', server: `http://127.0.0.1:${port}` }, { namespace: 'bookinfo', token });
    const e = await failure(client.getNamespace('bookinfo'));
    expect(e).toBeInstanceOf(KubernetesUnavailableError);
    expect(e.message).toContain('could not be reached');
  });
});
