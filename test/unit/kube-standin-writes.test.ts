/**
 * The Kubernetes stand-in's write API and what kubectl reads (Tables, watches, selectors), over
 * HTTP as a client sends it: answers and Status objects shaped like a real API server's.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WAR_GROUP, WAR_VERSION } from '../../functions/lib/mesh-facts.ts';
import { seedMesh, startKubeStandin, type KubeStandin } from '../../local/kube-api-standin.ts';
import { humanAge } from '../../local/kube-table.ts';
import { kubeconfigYaml } from '../../local/kubeconfig.ts';
import { selfSignedCert } from '../../local/self-signed-cert.ts';
import { kubeCall, standinToken } from '../support/kube.ts';

const WG = '/apis/networking.istio.io/v1alpha3/namespaces/shop/workloadgroups';
const POLICIES = '/apis/authorization.onboarding.tetrate.io/v1alpha1/namespaces/shop/onboardingpolicies';
const WARS = `/apis/${WAR_GROUP}/${WAR_VERSION}/namespaces/shop/workloadautoregistrations`;
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio-injection': 'enabled' } } });
const workloadGroup = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'networking.istio.io/v1alpha3',
  kind: 'WorkloadGroup',
  metadata: { name, namespace: 'shop', labels: { app: name }, ...extra },
  spec: { template: { labels: { app: name, class: 'ecs' }, serviceAccount: `shop-${name}` } },
});

/** Polls until `check` passes or the deadline is over (then its last failure is thrown). */
async function eventually(check: () => void | Promise<void>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('Kubernetes stand-in: writes', () => {
  let standin: KubeStandin;
  const call = (method: string, path: string, opts?: Parameters<typeof kubeCall>[3]) => kubeCall(standin.url, method, path, opts);
  beforeAll(async () => {
    standin = await startKubeStandin({ namespaceTerminationMs: 100 });
  });
  afterAll(() => standin.stop());
  beforeEach(() => {
    const { store } = standin;
    for (const kind of ['Namespace', 'Deployment', 'WorkloadGroup', 'OnboardingPolicy', 'WorkloadAutoRegistration']) for (const o of store.list(kind)) store.delete(kind, o.metadata.namespace, o.metadata.name);
    standin.setDeny(undefined);
  });

  it('creates a namespace and a WorkloadGroup in it with server-set fields; a second create is 409 AlreadyExists', async () => {
    const ns = await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    expect(ns.status).toBe(201);
    expect(ns.body).toMatchObject({ kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio-injection': 'enabled', 'kubernetes.io/metadata.name': 'shop' } }, status: { phase: 'Active' } });
    const wg = await call('POST', WG, { body: workloadGroup('details') });
    expect(wg.status).toBe(201);
    expect(wg.body.metadata).toMatchObject({ name: 'details', namespace: 'shop', uid: expect.stringMatching(/^[0-9a-f-]{36}$/), resourceVersion: expect.stringMatching(/^\d+$/) });
    expect(wg.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(standin.store.get('WorkloadGroup', 'shop', 'details')).toMatchObject({ spec: { template: { serviceAccount: 'shop-details' } } });

    const again = await call('POST', WG, { body: workloadGroup('details') });
    expect(again).toEqual({
      status: 409,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'workloadgroups.networking.istio.io "details" already exists',
        reason: 'AlreadyExists',
        details: { name: 'details', group: 'networking.istio.io', kind: 'workloadgroups' },
        code: 409,
      },
    });
  });

  it('refuses a namespaced create in a namespace that does not exist (404 like a real server), a missing or invalid name (422) and a namespace mismatch (400)', async () => {
    const missing = await call('POST', WG, { body: workloadGroup('details') });
    expect(missing).toMatchObject({ status: 404, body: { kind: 'Status', status: 'Failure', reason: 'NotFound', message: 'namespaces "shop" not found', details: { name: 'shop', kind: 'namespaces' }, code: 404 } });
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    const noName = await call('POST', WG, { body: { ...workloadGroup('x'), metadata: { namespace: 'shop' } } });
    expect(noName).toMatchObject({
      status: 422,
      body: { reason: 'Invalid', message: 'WorkloadGroup.networking.istio.io "" is invalid: metadata.name: Required value: name or generateName is required', details: { kind: 'WorkloadGroup', causes: [{ reason: 'FieldValueRequired', field: 'metadata.name' }] } },
    });
    expect((await call('POST', WG, { body: workloadGroup('Not_Valid') })).body).toMatchObject({ code: 422, reason: 'Invalid', details: { causes: [{ reason: 'FieldValueInvalid', field: 'metadata.name' }] } });
    const elsewhere = await call('POST', WG, { body: { ...workloadGroup('x'), metadata: { name: 'x', namespace: 'other' } } });
    expect(elsewhere).toMatchObject({ status: 400, body: { reason: 'BadRequest', message: 'the namespace of the provided object does not match the namespace sent on the request' } });
    const wrongKind = await call('POST', WG, { body: { ...namespace('y'), metadata: { name: 'y' } } });
    expect(wrongKind).toMatchObject({ status: 400, body: { reason: 'BadRequest' } });
  });

  it('names an object from generateName, and a dry run stores nothing', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    const made = await call('POST', WG, { body: { ...workloadGroup('x'), metadata: { generateName: 'canary-', namespace: 'shop' } } });
    expect(made.status).toBe(201);
    expect(made.body.metadata.name).toMatch(/^canary-[a-z0-9]{5}$/);
    const dry = await call('POST', `${WG}?dryRun=All`, { body: workloadGroup('dry') });
    expect(dry.status).toBe(201);
    expect(standin.store.get('WorkloadGroup', 'shop', 'dry')).toBeUndefined();
  });

  it('updates with PUT: a stale resourceVersion is 409 Conflict, a custom resource without one is 422, the current one passes and keeps uid and creation time', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    const created = (await call('POST', WG, { body: workloadGroup('details') })).body;
    const changed = { ...workloadGroup('details'), spec: { template: { labels: { app: 'details' }, serviceAccount: 'other' } } };
    const noVersion = await call('PUT', `${WG}/details`, { body: changed });
    expect(noVersion).toMatchObject({ status: 422, body: { reason: 'Invalid', details: { causes: [{ field: 'metadata.resourceVersion' }] } } });
    const stale = await call('PUT', `${WG}/details`, { body: { ...changed, metadata: { ...changed.metadata, resourceVersion: '1' } } });
    expect(stale).toMatchObject({
      status: 409,
      body: {
        kind: 'Status',
        status: 'Failure',
        reason: 'Conflict',
        code: 409,
        message: 'Operation cannot be fulfilled on workloadgroups.networking.istio.io "details": the object has been modified; please apply your changes to the latest version and try again',
        details: { name: 'details', group: 'networking.istio.io', kind: 'workloadgroups' },
      },
    });
    const ok = await call('PUT', `${WG}/details`, { body: { ...changed, metadata: { ...changed.metadata, resourceVersion: created.metadata.resourceVersion } } });
    expect(ok.status).toBe(200);
    expect(ok.body.metadata).toMatchObject({ uid: created.metadata.uid, creationTimestamp: created.metadata.creationTimestamp });
    expect(Number(ok.body.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(ok.body.spec).toMatchObject({ template: { serviceAccount: 'other' } });
    expect((await call('PUT', `${WG}/missing`, { body: workloadGroup('missing') })).body).toMatchObject({ code: 404, message: 'workloadgroups.networking.istio.io "missing" not found' });
    // Built-in kinds take an unconditional update.
    expect((await call('PUT', '/api/v1/namespaces/shop', { body: namespace('shop') })).status).toBe(200);
  });

  it('patches: JSON merge patch, JSON patch, strategic merge on built-in kinds only (415 on custom resources, as a real server), server-side apply creates then merges', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    await call('POST', WG, { body: workloadGroup('details') });
    const merged = await call('PATCH', `${WG}/details`, { body: { metadata: { labels: { tier: 'back', app: null } } }, contentType: 'application/merge-patch+json' });
    expect(merged.status).toBe(200);
    expect(merged.body.metadata.labels).toEqual({ tier: 'back' });
    const patched = await call('PATCH', `${WG}/details`, { body: [{ op: 'replace', path: '/spec/template/serviceAccount', value: 'sa2' }, { op: 'add', path: '/metadata/labels/x~1y', value: 'z' }], contentType: 'application/json-patch+json' });
    expect(patched.body).toMatchObject({ metadata: { labels: { tier: 'back', 'x/y': 'z' } }, spec: { template: { serviceAccount: 'sa2' } } });
    const failedTest = await call('PATCH', `${WG}/details`, { body: [{ op: 'test', path: '/spec/template/serviceAccount', value: 'other' }], contentType: 'application/json-patch+json' });
    expect(failedTest).toMatchObject({ status: 422, body: { kind: 'Status', status: 'Failure', reason: 'Invalid', code: 422 } });
    expect((await call('PATCH', `${WG}/details`, { body: { op: 'add' }, contentType: 'application/json-patch+json' })).body).toMatchObject({ code: 400, reason: 'BadRequest' });
    const smp = await call('PATCH', `${WG}/details`, { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/strategic-merge-patch+json' });
    expect(smp).toMatchObject({ status: 415, body: { kind: 'Status', reason: 'UnsupportedMediaType', code: 415 } });
    const nsPatch = await call('PATCH', '/api/v1/namespaces/shop', { body: { metadata: { labels: { 'istio-injection': 'disabled' } } }, contentType: 'application/strategic-merge-patch+json' });
    expect(nsPatch.body.metadata.labels).toMatchObject({ 'istio-injection': 'disabled' });
    const stale = await call('PATCH', `${WG}/details`, { body: { metadata: { resourceVersion: '1', labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
    expect(stale.body).toMatchObject({ code: 409, reason: 'Conflict' });
    expect((await call('PATCH', `${WG}/missing`, { body: {}, contentType: 'application/merge-patch+json' })).status).toBe(404);

    const applied = await call('PATCH', `${WG}/ssa?fieldManager=kubectl&force=true`, { body: workloadGroup('ssa'), contentType: 'application/apply-patch+yaml' });
    expect(applied.status).toBe(201);
    const reapplied = await call('PATCH', `${WG}/ssa?fieldManager=kubectl&force=true`, { body: { ...workloadGroup('ssa'), metadata: { name: 'ssa', labels: { app: 'ssa', v: '2' } } }, contentType: 'application/apply-patch+yaml' });
    expect(reapplied).toMatchObject({ status: 200, body: { metadata: { uid: applied.body.metadata.uid, labels: { app: 'ssa', v: '2' } } } });
  });

  it('creates and patches a deployment (strategic merge patch approximated as a merge patch on built-in kinds)', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('istio-system') });
    const labels = { app: 'onboarding-plane' };
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'onboarding-plane' },
      spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'onboarding-plane', image: 'registry.example/tetrate/onboarding-plane-server:1.11.0' }] } } },
    };
    expect((await call('POST', '/apis/apps/v1/namespaces/istio-system/deployments', { body: deployment })).status).toBe(201);
    const scaled = await call('PATCH', '/apis/apps/v1/namespaces/istio-system/deployments/onboarding-plane', { body: { spec: { replicas: 2, $retainKeys: ['replicas'] } }, contentType: 'application/strategic-merge-patch+json' });
    expect(scaled.body.spec).toMatchObject({ replicas: 2, template: { spec: { containers: [{ name: 'onboarding-plane' }] } } });
    expect(scaled.body.spec).not.toHaveProperty('$retainKeys');
  });

  it('keeps status out of writes to an object with a status subresource, and writes it through /status', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    const war = { apiVersion: `${WAR_GROUP}/${WAR_VERSION}`, kind: 'WorkloadAutoRegistration', metadata: { name: 'w1', namespace: 'shop' }, spec: {}, status: { conditions: [{ type: 'AgentConnected', status: 'True' }] } };
    const created = await call('POST', WARS, { body: war });
    expect(created.body.status).toBeUndefined();
    const status = await call('PATCH', `${WARS}/w1/status`, { body: { status: war.status }, contentType: 'application/merge-patch+json' });
    expect(status.body.status).toEqual(war.status);
  });

  it('deletes: 200 with the object, then 404; an owner takes its dependents; a namespace terminates, refuses new content and goes with its objects', async () => {
    await call('POST', '/api/v1/namespaces', { body: namespace('shop') });
    const wg = (await call('POST', WG, { body: workloadGroup('details') })).body;
    await call('POST', POLICIES, { body: { apiVersion: 'authorization.onboarding.tetrate.io/v1alpha1', kind: 'OnboardingPolicy', metadata: { name: 'allow' }, spec: { allow: [] } } });
    standin.store.put({ apiVersion: `${WAR_GROUP}/${WAR_VERSION}`, kind: 'WorkloadAutoRegistration', metadata: { name: 'w1', namespace: 'shop', ownerReferences: [{ uid: wg.metadata.uid }] } });

    const deleted = await call('DELETE', `${WG}/details`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
    expect(deleted).toMatchObject({ status: 200, body: { kind: 'WorkloadGroup', metadata: { name: 'details' } } });
    expect((await call('GET', `${WG}/details`)).status).toBe(404);
    expect(standin.store.get('WorkloadAutoRegistration', 'shop', 'w1')).toBeUndefined();
    expect((await call('DELETE', `${WG}/details`)).body).toMatchObject({ code: 404, reason: 'NotFound' });

    const ns = await call('DELETE', '/api/v1/namespaces/shop');
    expect(ns).toMatchObject({ status: 200, body: { metadata: { name: 'shop', deletionTimestamp: expect.any(String) }, status: { phase: 'Terminating' } } });
    const refused = await call('POST', WG, { body: workloadGroup('late') });
    expect(refused).toMatchObject({ status: 403, body: { reason: 'Forbidden', message: 'workloadgroups.networking.istio.io "late" is forbidden: unable to create new content in namespace shop because it is being terminated' } });
    await eventually(() => {
      expect(standin.store.get('Namespace', undefined, 'shop')).toBeUndefined();
      expect(standin.store.list('OnboardingPolicy', 'shop')).toEqual([]);
    });
  });

  it('keeps the bearer-token check and the deny rules for writes', async () => {
    const none = await call('POST', '/api/v1/namespaces', { body: namespace('shop'), token: null });
    expect(none).toMatchObject({ status: 401, body: { kind: 'Status', reason: 'Unauthorized' } });
    const expired = await call('POST', '/api/v1/namespaces', { body: namespace('shop'), token: 'k8s-aws-v1.bm90LWEtdXJs' });
    expect(expired.status).toBe(401);
    standin.setDeny({ status: 403, principals: ['AKIAREADONLY'] });
    const denied = await call('POST', '/api/v1/namespaces', { body: namespace('shop'), token: await standinToken('AKIAREADONLY') });
    expect(denied).toMatchObject({ status: 403, body: { reason: 'Forbidden', message: 'forbidden: User "AKIAREADONLY" cannot create resource at /api/v1/namespaces' } });
    expect(standin.store.get('Namespace', undefined, 'shop')).toBeUndefined();
    // What system:discovery lets anyone authenticated read, kubectl apply's OpenAPI download included.
    const readOnly = await standinToken('AKIAREADONLY');
    expect((await fetch(`${standin.url}/openapi/v2`, { headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(200);
    expect((await call('GET', '/api/v1', { token: readOnly })).status).toBe(200);
    expect((await call('POST', '/api/v1/namespaces', { body: namespace('shop') })).status).toBe(201);
  });
});

describe('Kubernetes stand-in: what kubectl reads', () => {
  let standin: KubeStandin;
  const call = (method: string, path: string, opts?: Parameters<typeof kubeCall>[3]) => kubeCall(standin.url, method, path, opts);
  beforeAll(async () => {
    standin = await startKubeStandin();
    seedMesh(standin.store);
    const war = (name: string, connected: string) => ({
      apiVersion: `${WAR_GROUP}/${WAR_VERSION}`,
      kind: 'WorkloadAutoRegistration',
      metadata: { name, namespace: 'bookinfo', labels: { app: 'ratings' } },
      status: { conditions: [{ type: 'AgentConnected', status: connected }] },
    });
    standin.store.put(war('ratings-a', 'True'));
    standin.store.put(war('ratings-b', 'False'));
  });
  afterAll(() => standin.stop());

  it('answers a Table (NAME, AGENT CONNECTED, AGE) for WARs, in a namespace and across all of them', async () => {
    const inNs = await call('GET', `/apis/${WAR_GROUP}/${WAR_VERSION}/namespaces/bookinfo/workloadautoregistrations?limit=500`, { accept: TABLE });
    expect(inNs.body).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1', columnDefinitions: [{ name: 'Name' }, { name: 'Agent Connected' }, { name: 'Age' }] });
    expect(inNs.body.rows?.map((r) => r.cells.slice(0, 2))).toEqual([
      ['ratings-a', 'True'],
      ['ratings-b', 'False'],
    ]);
    expect(inNs.body.rows?.[0]?.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'ratings-a', namespace: 'bookinfo' } });
    const all = await call('GET', `/apis/${WAR_GROUP}/${WAR_VERSION}/workloadautoregistrations`);
    expect(all.body).toMatchObject({ kind: 'WorkloadAutoRegistrationList', items: [{ metadata: { name: 'ratings-a' } }, { metadata: { name: 'ratings-b' } }] });
    const ns = await call('GET', '/api/v1/namespaces', { accept: TABLE });
    expect(ns.body.rows?.map((r) => r.cells.slice(0, 2))).toEqual([
      ['bookinfo', 'Active'],
      ['istio-system', 'Active'],
    ]);
  });

  it('filters lists by label and field selectors', async () => {
    const byName = await call('GET', '/api/v1/namespaces?fieldSelector=metadata.name%3Dbookinfo');
    expect(byName.body.items?.map((o) => o.metadata.name)).toEqual(['bookinfo']);
    const byLabel = await call('GET', '/api/v1/namespaces?labelSelector=istio-injection%3Denabled');
    expect(byLabel.body.items?.map((o) => o.metadata.name)).toEqual(['bookinfo']);
    expect((await call('GET', '/api/v1/namespaces?labelSelector=a+in+(b)')).body).toMatchObject({ code: 400, reason: 'BadRequest' });
  });

  it('streams watch events: the objects there first, then what changes', async () => {
    const token = await standinToken();
    const ctl = new AbortController();
    const res = await fetch(`${standin.url}/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3Dbookinfo`, { headers: { authorization: `Bearer ${token}` }, signal: ctl.signal });
    const reader = res.body!.getReader();
    let text = '';
    const events = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; object: { metadata: { labels?: Record<string, string> } } });
    const read = async (n: number) => {
      while (events().length < n) {
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`the watch ended after ${events().length} event(s)`);
        text += new TextDecoder().decode(chunk.value);
      }
    };
    await read(1);
    expect(events()[0]).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'bookinfo' } } });
    await call('PATCH', '/api/v1/namespaces/bookinfo', { body: { metadata: { labels: { watched: 'yes' } } }, contentType: 'application/merge-patch+json' });
    await read(2);
    expect(events()[1]).toMatchObject({ type: 'MODIFIED', object: { metadata: { labels: { watched: 'yes' } } } });
    ctl.abort();
  });

  it('serves /version without a token and an empty OpenAPI v2 document (protobuf) that makes kubectl skip client-side validation', async () => {
    expect(await kubeCall(standin.url, 'GET', '/version', { token: null })).toMatchObject({ status: 200, body: { major: '1', gitVersion: expect.stringContaining('standin') } });
    const token = await standinToken();
    const v2 = await fetch(`${standin.url}/openapi/v2`, { headers: { authorization: `Bearer ${token}` } });
    expect(v2.headers.get('content-type')).toBe('application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    expect(Buffer.from(await v2.arrayBuffer()).includes('Kubernetes')).toBe(true);
    expect((await call('GET', '/openapi/v3')).status).toBe(404);
  });

  it('serves the same API over HTTPS with a self-signed certificate that is its own CA', async () => {
    const token = await standinToken();
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${standin.httpsUrl}/api/v1/namespaces/bookinfo`, { ca: standin.caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => resolve(data));
      });
      req.on('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toMatchObject({ kind: 'Namespace', metadata: { name: 'bookinfo' } });
  });
});

describe('sandbox kubeconfig pieces', () => {
  it('makes a certificate for 127.0.0.1 and localhost, signed by its own key, valid now', () => {
    const { cert } = selfSignedCert();
    const x = new X509Certificate(cert);
    expect(x.ca).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkHost('localhost')).toBe('localhost');
    expect(Date.parse(x.validFrom)).toBeLessThan(Date.now());
    expect(Date.parse(x.validTo)).toBeGreaterThan(Date.now() + 86_400_000);
  });

  it('writes the HTTPS server, its CA and an exec plugin that makes EKS tokens', () => {
    const yaml = kubeconfigYaml({ server: 'https://127.0.0.1:1234', caPem: 'PEM', clusterName: 'mesh-eks', region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' });
    expect(yaml).toContain('server: "https://127.0.0.1:1234"');
    expect(yaml).toContain(`certificate-authority-data: ${Buffer.from('PEM').toString('base64')}`);
    expect(yaml).toMatch(/command: ".*node.*"/);
    expect(yaml).toMatch(/args: \["--import", "file:\/\/.*tsx.*", ".*local\/kube-token\.ts", "--cluster", "mesh-eks", "--region", "us-east-1"\]/);
  });

  it('prints ages as kubectl does', () => {
    expect([5_000, 150_000, 1_800_000, 5 * 3_600_000 + 60_000, 30 * 3_600_000, 3 * 86_400_000 + 3_600_000, 40 * 86_400_000].map(humanAge)).toEqual(['5s', '2m30s', '30m', '5h1m', '30h', '3d1h', '40d']);
  });
});
