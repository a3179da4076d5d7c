/**
 * A stand-in for the mesh cluster's Kubernetes API (local sandbox and tests): a node:http
 * server speaking the small subset of the REST API the orchestrator uses, with the real
 * shapes (lists with `limit`/`continue`, `Status` objects for errors, API discovery documents)
 * and EKS-style bearer token checks. Objects live in an in-memory store that tests and the
 * simulated onboarding plane fill.
 *
 * Like a real API server it serves only the group/versions it knows (404 "the server could not
 * find the requested resource" for any other path, discovery included), serves discovery
 * (`/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`) to every authenticated caller
 * (the default `system:discovery` binding, kubernetes.io/docs/reference/access-authn-authz/rbac/
 * #discovery-roles), and can stop serving a group (workload onboarding not enabled) or serve a
 * kind under another plural (tests proving the client reads plurals from discovery).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  AGENT_IMAGE_NAMESPACE,
  POLICY_GROUP,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_VERSION,
  WAR_GROUP,
  WAR_KIND,
  WAR_PLURAL,
  WAR_VERSION,
  WORKLOAD_GROUP_GROUP,
  WORKLOAD_GROUP_PLURAL,
  WORKLOAD_GROUP_VERSION,
} from '../functions/lib/mesh-facts.ts';
import { freePort } from './free-port.ts';

/** Any Kubernetes object: only apiVersion/kind/metadata are looked at. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string };
}

interface ResourceType {
  group: string;
  versions: string[];
  plural: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources listed in discovery as `<plural>/<sub>` (CRDs with a status subresource). */
  subresources?: string[];
}

const TYPES: ResourceType[] = [
  { group: '', versions: ['v1'], plural: 'namespaces', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['status'] },
  { group: 'apps', versions: ['v1'], plural: 'deployments', kind: 'Deployment', namespaced: true, shortNames: ['deploy'], subresources: ['scale', 'status'] },
  // Istio serves WorkloadGroup in three versions; the seed uses v1alpha3.
  { group: WORKLOAD_GROUP_GROUP, versions: [WORKLOAD_GROUP_VERSION, 'v1beta1', 'v1'], plural: WORKLOAD_GROUP_PLURAL, kind: 'WorkloadGroup', namespaced: true, shortNames: ['wg'], subresources: ['status'] },
  { group: POLICY_GROUP, versions: [POLICY_VERSION], plural: POLICY_PLURAL, kind: POLICY_KIND, namespaced: true },
  // `kubectl get war` (docs.tetrate.io quickstart) gives the short name.
  { group: WAR_GROUP, versions: [WAR_VERSION], plural: WAR_PLURAL, kind: WAR_KIND, namespaced: true, shortNames: ['war'], subresources: ['status'] },
];

function typeOfKind(kind: string): ResourceType {
  const t = TYPES.find((x) => x.kind === kind);
  if (!t) throw new Error(`kube stand-in: unsupported kind ${kind} (supported: ${TYPES.map((x) => x.kind).join(', ')})`);
  return t;
}

/** The in-memory object store behind the stand-in. */
export class KubeStore {
  private readonly objects = new Map<string, KubeObject>();
  private version = 1;

  private key(kind: string, namespace: string | undefined, name: string): string {
    const t = typeOfKind(kind);
    return `${t.kind}/${t.namespaced ? (namespace ?? 'default') : ''}/${name}`;
  }

  /** Creates or replaces an object; fills uid, resourceVersion and creationTimestamp like the API server. */
  put<T extends KubeObject>(obj: T): T {
    const k = this.key(obj.kind, obj.metadata.namespace, obj.metadata.name);
    const prev = this.objects.get(k);
    const stored = structuredClone(obj);
    stored.metadata = {
      ...stored.metadata,
      uid: prev?.metadata.uid ?? stored.metadata.uid ?? randomUUID(),
      creationTimestamp: prev?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp ?? new Date().toISOString(),
      resourceVersion: String(++this.version),
    };
    this.objects.set(k, stored);
    return structuredClone(stored);
  }

  get<T extends KubeObject = KubeObject>(kind: string, namespace: string | undefined, name: string): T | undefined {
    const o = this.objects.get(this.key(kind, namespace, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  delete(kind: string, namespace: string | undefined, name: string): boolean {
    return this.objects.delete(this.key(kind, namespace, name));
  }

  /** Objects of a kind (in one namespace, or all), sorted by namespace then name like etcd keys. */
  list<T extends KubeObject = KubeObject>(kind: string, namespace?: string): T[] {
    const t = typeOfKind(kind);
    return [...this.objects.values()]
      .filter((o) => o.kind === t.kind && (namespace === undefined || !t.namespaced || o.metadata.namespace === namespace))
      .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`))
      .map((o) => structuredClone(o) as T);
  }

  get resourceVersion(): string {
    return String(this.version);
  }
}

/** The principal a token was signed for (the stand-in cannot ask STS; the access key id stands in). */
export interface TokenPrincipal {
  accessKeyId: string;
  region: string;
}

/** Who is refused: 403 (authenticated but no RBAC) or 401 (no access entry). */
export interface DenyRule {
  status: 401 | 403;
  principals: 'all' | string[];
}

export interface KubeStandin {
  url: string;
  store: KubeStore;
  /** Refuse chosen principals (access key ids) or everyone; `undefined` allows all again. */
  setDeny(rule: DenyRule | undefined): void;
  /** Stop (false) or resume (true) serving an API group, as when its CRDs are removed or installed. */
  setServed(group: string, served: boolean): void;
  /** Every request served, for assertions (method + path + query). */
  requests: string[];
  stop(): Promise<void>;
}

const TOKEN_PREFIX = 'k8s-aws-v1.';
const TOKEN_LIFETIME_MS = 15 * 60_000;

/** Checks an EKS bearer token's form (not its signature); returns the principal or why it is refused. */
export function parseEksToken(authorization: string | undefined, now = new Date()): TokenPrincipal | string {
  const m = /^Bearer (.+)$/.exec(authorization ?? '');
  if (!m) return 'no bearer token';
  const token = m[1]!;
  if (!token.startsWith(TOKEN_PREFIX)) return `token does not start with ${TOKEN_PREFIX}`;
  const b64 = token.slice(TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(b64)) return 'token is not base64url without padding';
  let url: URL;
  try {
    url = new URL(Buffer.from(b64, 'base64url').toString('utf8'));
  } catch {
    return 'token does not hold a URL';
  }
  const host = /^sts\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname);
  if (url.protocol !== 'https:' || !host) return `token URL is not https://sts.<region>.amazonaws.com/ (${url.protocol}//${url.hostname})`;
  const q = url.searchParams;
  if (q.get('Action') !== 'GetCallerIdentity' || q.get('Version') !== '2011-06-15') return 'token URL is not a GetCallerIdentity call';
  if (!q.get('X-Amz-Signature')) return 'token URL is not signed';
  if (!(q.get('X-Amz-SignedHeaders') ?? '').split(';').includes('x-k8s-aws-id')) return 'token URL does not sign x-k8s-aws-id';
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '');
  if (!date) return 'token URL has no X-Amz-Date';
  const signedAt = Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!);
  if (now.getTime() - signedAt > TOKEN_LIFETIME_MS) return 'token expired';
  const accessKeyId = (q.get('X-Amz-Credential') ?? '').split('/')[0];
  if (!accessKeyId) return 'token URL has no X-Amz-Credential';
  return { accessKeyId, region: host[1]! };
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function send(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const NOT_FOUND = 'the server could not find the requested resource';

/** What this stand-in serves: the types (plurals may be overridden) and the groups switched off. */
interface Served {
  types: ResourceType[];
  offGroups: Set<string>;
}

function servedTypes(served: Served, group: string, version?: string): ResourceType[] {
  if (served.offGroups.has(group)) return [];
  return served.types.filter((t) => t.group === group && (version === undefined || t.versions.includes(version)));
}

function groupVersions(served: Served, group: string): string[] {
  const versions: string[] = [];
  for (const t of servedTypes(served, group)) for (const v of t.versions) if (!versions.includes(v)) versions.push(v);
  return versions;
}

function apiGroup(served: Served, name: string) {
  const versions = groupVersions(served, name).map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions, preferredVersion: versions[0] };
}

function resourceList(types: ResourceType[], groupVersion: string) {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.flatMap((t) => [
      { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'], ...(t.shortNames ? { shortNames: t.shortNames } : {}) },
      ...(t.subresources ?? []).map((sub) => ({ name: `${t.plural}/${sub}`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] })),
    ]),
  };
}

/** The discovery document at `path`, `null` for a discovery path not served, undefined for a non-discovery path. */
function discovery(served: Served, path: string): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:443' }] };
  if (path === '/api/v1') return resourceList(servedTypes(served, '', 'v1'), 'v1');
  if (path === '/apis') {
    const groups = [...new Set(served.types.map((t) => t.group))].filter((g) => g !== '' && !served.offGroups.has(g));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => apiGroup(served, g)) };
  }
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const [, group = '', version] = m;
  if (version === undefined) return groupVersions(served, group).length > 0 ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(served, group) } : null;
  const types = servedTypes(served, group, version);
  return types.length > 0 ? resourceList(types, `${group}/${version}`) : null;
}

/** Maps a request path to the resource type, namespace and optional name it addresses (served versions only). */
function route(served: Served, path: string): { type: ResourceType; version: string; namespace?: string; name?: string } | undefined {
  const core = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
  if (core) {
    const type = servedTypes(served, '', 'v1').find((t) => t.kind === 'Namespace');
    return type ? { type, version: 'v1', name: core[1] } : undefined;
  }
  const m = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  const type = servedTypes(served, m[1]!, m[2]!).find((t) => t.plural === m[4] && t.namespaced);
  return type ? { type, version: m[2]!, namespace: m[3], name: m[5] } : undefined;
}

function handle(store: KubeStore, served: Served, deny: () => DenyRule | undefined, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://standin');
  const who = parseEksToken(req.headers.authorization);
  if (typeof who === 'string') return status(res, 401, 'Unauthorized', `Unauthorized: ${who}`);
  const doc = req.method === 'GET' ? discovery(served, url.pathname) : undefined;
  const rule = deny();
  // 401 (no access entry) refuses everything; 403 (no RBAC) leaves discovery readable, as system:discovery does.
  if (rule && (rule.principals === 'all' || rule.principals.includes(who.accessKeyId)) && (rule.status === 401 || doc === undefined)) {
    return rule.status === 401
      ? status(res, 401, 'Unauthorized', 'Unauthorized')
      : status(res, 403, 'Forbidden', `forbidden: User "${who.accessKeyId}" cannot ${req.method?.toLowerCase()} resource at ${url.pathname}`);
  }
  if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `the stand-in serves GET only, not ${req.method}`);
  if (doc === null) return status(res, 404, 'NotFound', NOT_FOUND);
  if (doc !== undefined) return send(res, doc);
  const r = route(served, url.pathname);
  if (!r) return status(res, 404, 'NotFound', NOT_FOUND);
  const groupLabel = r.type.group ? `${r.type.plural}.${r.type.group}` : r.type.plural;
  if (r.name) {
    const obj = store.get(r.type.kind, r.namespace, r.name);
    return obj ? send(res, obj) : status(res, 404, 'NotFound', `${groupLabel} "${r.name}" not found`);
  }
  const all = store.list(r.type.kind, r.namespace);
  const limit = Number(url.searchParams.get('limit') ?? 0);
  let offset = 0;
  const cont = url.searchParams.get('continue');
  if (cont) {
    const parsed = Number(Buffer.from(cont, 'base64url').toString('utf8').replace(/^offset:/, ''));
    if (!Number.isInteger(parsed) || parsed < 0) return status(res, 400, 'BadRequest', 'invalid continue token');
    offset = parsed;
  }
  const end = limit > 0 ? offset + limit : all.length;
  const items = all.slice(offset, end);
  const more = end < all.length;
  send(res, {
    apiVersion: r.type.group ? `${r.type.group}/${r.version}` : 'v1',
    kind: `${r.type.kind}List`,
    metadata: {
      resourceVersion: store.resourceVersion,
      ...(more ? { continue: Buffer.from(`offset:${end}`).toString('base64url'), remainingItemCount: all.length - end } : {}),
    },
    items,
  });
}

export interface KubeStandinOptions {
  store?: KubeStore;
  deny?: DenyRule;
  /** Serve kinds under other plurals than the usual ones (by kind), e.g. `{ WorkloadAutoRegistration: 'wars' }`. */
  plurals?: Record<string, string>;
  /** API groups not served at start (e.g. workload onboarding not enabled). */
  unservedGroups?: string[];
}

/** Starts the stand-in on a free 127.0.0.1 port. */
export async function startKubeStandin(opts: KubeStandinOptions = {}): Promise<KubeStandin> {
  const store = opts.store ?? new KubeStore();
  let denyRule = opts.deny;
  const served: Served = { types: TYPES.map((t) => ({ ...t, plural: opts.plurals?.[t.kind] ?? t.plural })), offGroups: new Set(opts.unservedGroups) };
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    try {
      handle(store, served, () => denyRule, req, res);
    } catch (e) {
      status(res, 500, 'InternalError', (e as Error).message);
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    requests,
    setDeny: (r) => {
      denyRule = r;
    },
    setServed: (group, on) => {
      if (on) served.offGroups.delete(group);
      else served.offGroups.add(group);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SeedMeshOptions {
  namespace?: string;
  workloadGroup?: string;
  account?: string;
  /** Which deployments the agent image can be derived from exist (default both, as with onboarding enabled). */
  agentImageDeployments?: ('onboarding-plane' | 'onboarding-operator')[];
  planeImage?: string;
  operatorImage?: string;
}

function deployment(name: string, containers: { name: string; image: string }[]) {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: AGENT_IMAGE_NAMESPACE, labels },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } },
  };
}

/**
 * Puts the seed's mesh prerequisites (namespace, WorkloadGroup, OnboardingPolicy, and the
 * onboarding-plane / onboarding-operator deployments) into the store.
 */
export function seedMesh(store: KubeStore, o: SeedMeshOptions = {}): void {
  const namespace = o.namespace ?? 'bookinfo';
  const wg = o.workloadGroup ?? 'ratings';
  store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'istio-injection': 'enabled' } }, spec: {}, status: { phase: 'Active' } });
  store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_IMAGE_NAMESPACE }, spec: {}, status: { phase: 'Active' } });
  store.put({
    apiVersion: `${WORKLOAD_GROUP_GROUP}/${WORKLOAD_GROUP_VERSION}`,
    kind: 'WorkloadGroup',
    metadata: { name: wg, namespace, labels: { app: wg } },
    spec: { template: { labels: { app: wg, class: 'ecs', cloud: 'aws' }, serviceAccount: `${namespace}-${wg}` } },
  });
  store.put({
    apiVersion: `${POLICY_GROUP}/${POLICY_VERSION}`,
    kind: POLICY_KIND,
    metadata: { name: 'allow-ecs', namespace },
    spec: { allow: [{ workloads: [{ aws: { accounts: [o.account ?? '123456789012'], ecs: {} } }], onboardTo: [{ workloadGroupSelector: {} }] }] },
  });
  const which = o.agentImageDeployments ?? ['onboarding-plane', 'onboarding-operator'];
  // The ECS guide reads containers[0] of onboarding-plane; the quickstart the container named onboarding-operator.
  if (which.includes('onboarding-plane')) {
    store.put(deployment('onboarding-plane', [{ name: 'onboarding-plane', image: o.planeImage ?? 'registry.example/tetrate/onboarding-plane-server:1.11.0' }]));
  }
  if (which.includes('onboarding-operator')) {
    store.put(deployment('onboarding-operator', [{ name: 'onboarding-operator', image: o.operatorImage ?? 'registry.example/tetrate/onboarding-operator-server:1.11.0' }]));
  }
}
