import { DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesAccessDeniedError, KubernetesUnavailableError, MeshPrerequisiteError, UnexpectedError } from '../../functions/lib/errors.ts';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { freePort } from '../../local/free-port.ts';
import { KUBE_API_URL_OVERRIDE_ENV, MeshKube, resetDiscoveryCache, resolveKubeTarget } from '../../functions/lib/kube/client.ts';
import { makeEksToken } from '../../functions/lib/kube/eks-token.ts';
import { rbacYaml } from '../../functions/lib/kube/rbac.ts';
import { POLICY_GROUP, WAR_GROUP, WAR_TYPE } from '../../functions/lib/mesh-facts.ts';
import { preflightMesh } from '../../functions/preflight-mesh.ts';
import { seedMesh, startKubeStandin } from '../../local/kube-api-standin.ts';
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
    for (const g of [POLICY_GROUP, WAR_GROUP]) kube.standin.setServed(g, true);
    resetDiscoveryCache();
  });

  it('passes for the seed mesh, derives the agent image from deployment/onboarding-plane, and creates nothing in AWS', async () => {
    const before = await awsCounts();
    const request = bookinfoRequest();
    const first = await preflightMesh({ request });
    const second = await preflightMesh({ request });

    expect(first).toEqual({
      account: '123456789012',
      partition: 'aws',
      region: 'us-east-1',
      agentImage: 'registry.example/tetrate/onboarding-agent:1.11.0',
      agentImageSource: 'deployment/onboarding-plane',
      workloadGroup: { namespace: 'bookinfo', name: 'ratings', templateLabels: { app: 'ratings', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookinfo-ratings' },
      onboardingPolicy: 'allow-ecs',
      // Where the Kubernetes API is (the stand-in, plain HTTP: no CA), for the later steps to reuse.
      kube: { clusterName: 'mesh-eks', server: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown },
    });
    expect(second).toEqual(first);
    expect(await awsCounts()).toEqual(before);
    // Every request carried an EKS token the stand-in accepted (it answers 401 otherwise).
    expect(kube.standin.requests.some((r) => r.startsWith('GET /apis/networking.istio.io/v1alpha3/namespaces/bookinfo/workloadgroups/ratings'))).toBe(true);
  });

  it('uses request.agentImage and then needs neither deployment', async () => {
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-operator');
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-plane');
    const r = await preflightMesh({ request: bookinfoRequest({ agentImage: 'registry.example/tetrate/onboarding-agent:1.10.0' }) });
    expect(r).toMatchObject({ agentImage: 'registry.example/tetrate/onboarding-agent:1.10.0', agentImageSource: 'request' });
  });

  // Two documented ways to find the agent image (same registry and tag as the other TSB images):
  // docs.tetrate.io setup/workload-onboarding/guides/ecs-workloads reads deployment/onboarding-plane
  // containers[0] (/onboarding-plane-server: -> /onboarding-agent:); the ECS quickstart "Onboard AWS
  // ECS task" reads deployment/onboarding-operator's container onboarding-operator
  // (/onboarding-operator-server: -> /onboarding-agent:).
  it.each([
    ['onboarding-plane', 'registry.example/tetrate/onboarding-agent:1.10.2', 'deployment/onboarding-plane'],
    ['onboarding-operator', 'registry.example/tetrate/onboarding-agent:1.9.1', 'deployment/onboarding-operator'],
  ] as const)('derives the agent image when only deployment/%s exists', async (only, image, source) => {
    const { store } = kube.standin;
    for (const d of ['onboarding-plane', 'onboarding-operator']) store.delete('Deployment', 'istio-system', d);
    seedMesh(store, { agentImageDeployments: [only], planeImage: 'registry.example/tetrate/onboarding-plane-server:1.10.2', operatorImage: 'registry.example/tetrate/onboarding-operator-server:1.9.1' });
    const r = await preflightMesh({ request: bookinfoRequest() });
    expect(r).toMatchObject({ agentImage: image, agentImageSource: source });
  });

  it('reads containers[0] of onboarding-plane but the container named onboarding-operator of the operator', async () => {
    const { store } = kube.standin;
    store.delete('Deployment', 'istio-system', 'onboarding-plane');
    const labels = { app: 'onboarding-operator' };
    store.put({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'onboarding-operator', namespace: 'istio-system', labels },
      spec: {
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'proxy', image: 'registry.example/tetrate/proxyv2:1.19.5' }, { name: 'onboarding-operator', image: 'registry.example/tetrate/onboarding-operator-server:1.9.1' }] } },
      },
    });
    expect((await preflightMesh({ request: bookinfoRequest() })).agentImage).toBe('registry.example/tetrate/onboarding-agent:1.9.1');
  });

  it('falls back to onboarding-operator when the onboarding-plane image has another name', async () => {
    const { store } = kube.standin;
    store.delete('Deployment', 'istio-system', 'onboarding-plane');
    seedMesh(store, { agentImageDeployments: ['onboarding-plane'], planeImage: 'registry.example/tetrate/some-other-server:1.11.0' });
    const r = await preflightMesh({ request: bookinfoRequest() });
    expect(r).toMatchObject({ agentImage: 'registry.example/tetrate/onboarding-agent:1.11.0', agentImageSource: 'deployment/onboarding-operator' });
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

  it('reports both deployments missing when no agentImage is given', async () => {
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-operator');
    kube.standin.store.delete('Deployment', 'istio-system', 'onboarding-plane');
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toContain('deployment istio-system/onboarding-plane was not found; deployment istio-system/onboarding-operator was not found');
    expect(e.message).toContain('spec.meshExpansion.onboarding');
    expect(e.message).toContain('"agentImage"');
  });

  it('prints RBAC that can read both deployments the agent image comes from', () => {
    expect(rbacYaml('bookinfo')).toContain('  namespace: istio-system\nrules:\n- apiGroups: ["apps"]\n  resources: ["deployments"]\n  resourceNames: ["onboarding-plane", "onboarding-operator"]\n  verbs: ["get"]');
  });

  // API discovery (GET /apis/<group>/<version> -> APIResourceList) instead of guessed plurals; a
  // group/version the cluster does not serve is a 404 there, as for any unknown path.
  it('fails with a MeshPrerequisiteError when workload onboarding is not served', async () => {
    kube.standin.setServed(WAR_GROUP, false);
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message).toBe(
      'runtime.onboarding.tetrate.io/v1alpha1 is not served by the Kubernetes API of EKS cluster "mesh-eks": is workload onboarding enabled in the ControlPlane (spec.meshExpansion.onboarding)?',
    );
  });

  it('names every onboarding group/version that is not served, in one error', async () => {
    kube.standin.setServed(WAR_GROUP, false);
    kube.standin.setServed(POLICY_GROUP, false);
    const e = await failure(preflightMesh({ request: bookinfoRequest() }));
    expect(e).toBeInstanceOf(MeshPrerequisiteError);
    expect(e.message.split('\n')).toEqual([
      expect.stringMatching(/^authorization\.onboarding\.tetrate\.io\/v1alpha1 is not served/),
      expect.stringMatching(/^runtime\.onboarding\.tetrate\.io\/v1alpha1 is not served/),
    ]);
  });

  it('asks discovery once per process and API server', async () => {
    await preflightMesh({ request: bookinfoRequest() });
    const before = kube.standin.requests.length;
    await preflightMesh({ request: bookinfoRequest() });
    const discovery = kube.standin.requests.slice(before).filter((r) => /^GET \/apis\/[^/]+\/[^/]+$/.test(r));
    expect(discovery).toEqual([]);
  });

  it('uses the plurals the cluster serves, not guessed ones', async () => {
    const other = await startKubeStandin({ plurals: { OnboardingPolicy: 'onboardpolicies', WorkloadAutoRegistration: 'wars' } });
    const saved = process.env[KUBE_API_URL_OVERRIDE_ENV];
    process.env[KUBE_API_URL_OVERRIDE_ENV] = other.url;
    try {
      seedMesh(other.store);
      const r = await preflightMesh({ request: bookinfoRequest() });
      expect(r.onboardingPolicy).toBe('allow-ecs');
      expect(other.requests).toContain('GET /apis/authorization.onboarding.tetrate.io/v1alpha1');
      expect(other.requests.some((q) => q.startsWith('GET /apis/authorization.onboarding.tetrate.io/v1alpha1/namespaces/bookinfo/onboardpolicies?'))).toBe(true);
      expect(other.requests.some((q) => q.includes('/onboardingpolicies'))).toBe(false);
    } finally {
      process.env[KUBE_API_URL_OVERRIDE_ENV] = saved;
      await other.stop();
    }
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

  it('documents the same RBAC for the mesh operator (docs/mesh-operator.md and README.md)', () => {
    for (const doc of ['../../docs/mesh-operator.md', '../../README.md']) expect(readFileSync(new URL(doc, import.meta.url), 'utf8')).toContain(rbacYaml('bookinfo'));
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain('aws eks create-access-entry --cluster-name <eks-cluster>');
  });

  it('leaves discovery readable to an authenticated principal without RBAC (403), like system:discovery', async () => {
    kube.standin.setDeny({ status: 403, principals: 'all' });
    const client = new MeshKube(await resolveKubeTarget('mesh-eks'), { namespace: 'bookinfo' });
    await expect(client.resource(WAR_TYPE)).resolves.toMatchObject({ plural: 'workloadautoregistrations' });
    await expect(client.listWorkloadAutoRegistrations('bookinfo')).rejects.toThrow(KubernetesAccessDeniedError);
  });

  it('answers discovery like an API server: APIResourceList for a served group/version, 404 Status otherwise', async () => {
    const token = await makeEksToken({ clusterName: 'mesh-eks', region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const get = (path: string) => fetch(`${kube.standin.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const served = await get('/apis/runtime.onboarding.tetrate.io/v1alpha1');
    expect(served.status).toBe(200);
    expect(await served.json()).toMatchObject({
      kind: 'APIResourceList',
      groupVersion: 'runtime.onboarding.tetrate.io/v1alpha1',
      resources: [
        { name: 'workloadautoregistrations', kind: 'WorkloadAutoRegistration', namespaced: true, shortNames: ['war'] },
        { name: 'workloadautoregistrations/status', kind: 'WorkloadAutoRegistration' },
      ],
    });
    for (const path of ['/apis/runtime.onboarding.tetrate.io/v1', '/apis/no-such.example.com/v1', '/apis/no-such.example.com']) {
      const r = await get(path);
      expect(r.status).toBe(404);
      expect(await r.json()).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });
    }
    const group = await (await get('/apis/networking.istio.io')).json();
    expect(group).toMatchObject({ kind: 'APIGroup', name: 'networking.istio.io', preferredVersion: { groupVersion: 'networking.istio.io/v1alpha3' } });
    kube.standin.setServed(WAR_GROUP, false);
    expect((await get('/apis/runtime.onboarding.tetrate.io/v1alpha1')).status).toBe(404);
    expect((await get('/apis/runtime.onboarding.tetrate.io/v1alpha1/namespaces/bookinfo/workloadautoregistrations')).status).toBe(404);
    const groups = (await (await get('/apis')).json()) as { groups: { name: string }[] };
    expect(groups.groups.map((g) => g.name)).not.toContain(WAR_GROUP);
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
