/**
 * A stand-in for the mesh cluster's Kubernetes API (local sandbox and tests): a node:http
 * server speaking the small subset of the REST API the orchestrator uses, with the real
 * shapes (lists with `limit`/`continue`, `Status` objects for errors) and EKS-style bearer
 * token checks. Objects live in an in-memory store that tests and the simulated onboarding
 * plane fill.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  OPERATOR_CONTAINER,
  OPERATOR_DEPLOYMENT,
  OPERATOR_NAMESPACE,
  POLICY_GROUP,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_VERSION,
  WAR_GROUP,
  WAR_KIND,
  WAR_PLURAL,
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
  plural: string;
  kind: string;
  namespaced: boolean;
}

const TYPES: ResourceType[] = [
  { group: '', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: 'apps', plural: 'deployments', kind: 'Deployment', namespaced: true },
  { group: WORKLOAD_GROUP_GROUP, plural: WORKLOAD_GROUP_PLURAL, kind: 'WorkloadGroup', namespaced: true },
  { group: POLICY_GROUP, plural: POLICY_PLURAL, kind: POLICY_KIND, namespaced: true },
  { group: WAR_GROUP, plural: WAR_PLURAL, kind: WAR_KIND, namespaced: true },
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

/** Maps a request path to the resource type, namespace and optional name it addresses. */
function route(path: string): { type: ResourceType; namespace?: string; name?: string } | undefined {
  const core = /^\/api\/v1\/namespaces(?:\/([^/]+))?$/.exec(path);
  if (core) return { type: TYPES[0]!, name: core[1] };
  const m = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (!m) return undefined;
  // Any served version of a group is accepted (WorkloadGroup is served as v1alpha3, v1beta1 and v1).
  const type = TYPES.find((t) => t.group === m[1] && t.plural === m[4]);
  return type ? { type, namespace: m[3], name: m[5] } : undefined;
}

function handle(store: KubeStore, deny: () => DenyRule | undefined, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://standin');
  const who = parseEksToken(req.headers.authorization);
  if (typeof who === 'string') return status(res, 401, 'Unauthorized', `Unauthorized: ${who}`);
  const rule = deny();
  if (rule && (rule.principals === 'all' || rule.principals.includes(who.accessKeyId))) {
    return rule.status === 401
      ? status(res, 401, 'Unauthorized', 'Unauthorized')
      : status(res, 403, 'Forbidden', `forbidden: User "${who.accessKeyId}" cannot ${req.method?.toLowerCase()} resource at ${url.pathname}`);
  }
  if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `the stand-in serves GET only, not ${req.method}`);
  const r = route(url.pathname);
  if (!r) return status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
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
  const apiVersion = r.type.group ? `${r.type.group}/${url.pathname.split('/')[3]}` : 'v1';
  send(res, {
    apiVersion,
    kind: `${r.type.kind}List`,
    metadata: {
      resourceVersion: store.resourceVersion,
      ...(more ? { continue: Buffer.from(`offset:${end}`).toString('base64url'), remainingItemCount: all.length - end } : {}),
    },
    items,
  });
}

/** Starts the stand-in on a free 127.0.0.1 port. */
export async function startKubeStandin(opts: { store?: KubeStore; deny?: DenyRule } = {}): Promise<KubeStandin> {
  const store = opts.store ?? new KubeStore();
  let denyRule = opts.deny;
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    try {
      handle(store, () => denyRule, req, res);
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
  operatorImage?: string;
}

/** Puts the seed's mesh prerequisites (namespace, WorkloadGroup, OnboardingPolicy, operator) into the store. */
export function seedMesh(store: KubeStore, o: SeedMeshOptions = {}): void {
  const namespace = o.namespace ?? 'bookinfo';
  const wg = o.workloadGroup ?? 'ratings';
  store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'istio-injection': 'enabled' } }, spec: {}, status: { phase: 'Active' } });
  store.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE }, spec: {}, status: { phase: 'Active' } });
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
  const labels = { app: OPERATOR_DEPLOYMENT };
  store.put({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: OPERATOR_DEPLOYMENT, namespace: OPERATOR_NAMESPACE, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: OPERATOR_CONTAINER, image: o.operatorImage ?? 'registry.example/tetrate/onboarding-operator-server:1.11.0' }] },
      },
    },
  });
}
