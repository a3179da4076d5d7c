/**
 * A stand-in for the mesh cluster's Kubernetes API (local sandbox and tests): a node:http
 * server speaking the subset of the REST API the orchestrator and `kubectl` use, with the real
 * shapes (lists with `limit`/`continue` and label/field selectors, `Table`s for `kubectl get`,
 * `Status` objects for errors, API discovery documents) and EKS-style bearer token checks.
 * Objects live in an in-memory store that tests, the simulated onboarding plane and HTTP writes
 * fill: create (POST), update (PUT, resourceVersion conflicts), patch (JSON merge, JSON patch,
 * strategic merge on built-in kinds approximated as a merge patch, server-side apply approximated
 * as create-or-merge) and delete (a namespace terminates and takes its objects; owners take their
 * dependents), with dry runs.
 *
 * Like a real API server it serves only the group/versions it knows (404 "the server could not
 * find the requested resource" for any other path, discovery included), serves discovery
 * (`/api`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`) to every authenticated caller
 * (the default `system:discovery` binding, kubernetes.io/docs/reference/access-authn-authz/rbac/
 * #discovery-roles), and can stop serving a group (workload onboarding not enabled) or serve a
 * kind under another plural (tests proving the client reads plurals from discovery).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
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
import { isObject, jsonPatch, mergePatch, PatchError, withoutDirectives, type Json } from './kube-patch.ts';
import { table, tableVersionAsked } from './kube-table.ts';
import { selfSignedCert } from './self-signed-cert.ts';

/** Any Kubernetes object: only apiVersion/kind/metadata are looked at. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    generateName?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { uid?: string }[];
  };
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
      // Whole seconds, as the API server writes metav1.Time.
      creationTimestamp: prev?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
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

  /** Removes every namespaced object of `namespace` (not the namespace itself). */
  deleteNamespaceContents(namespace: string): void {
    for (const [k, o] of this.objects) if (o.kind !== 'Namespace' && o.metadata.namespace === namespace) this.objects.delete(k);
  }

  /** Whether `namespace` holds no namespaced object. */
  namespaceEmpty(namespace: string): boolean {
    return ![...this.objects.values()].some((o) => o.kind !== 'Namespace' && o.metadata.namespace === namespace);
  }

  /** The objects of `namespace` whose ownerReferences name `uid`. */
  ownedBy(namespace: string, uid: string): KubeObject[] {
    return [...this.objects.values()].filter((o) => o.metadata.namespace === namespace && o.metadata.ownerReferences?.some((r) => r.uid === uid)).map((o) => structuredClone(o));
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
  /** Plain HTTP: what the orchestrator's client is pointed at (MESH_KUBE_API_URL). */
  url: string;
  /** HTTPS with a self-signed certificate (`caPem`): what kubectl is pointed at. */
  httpsUrl: string;
  /** PEM of the HTTPS certificate, its own CA. */
  caPem: string;
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

/** Optional parts of a Status object (`details`), as the API server fills them. */
interface StatusDetails {
  name?: string;
  group?: string;
  /** The resource (plural) for most errors, the Kind for Invalid, as the API server does. */
  kind?: string;
  causes?: { reason: string; message: string; field?: string }[];
}

/** An answer the API server gives as a `Status` object (kind Status, apiVersion v1, status Failure). */
class StatusError extends Error {
  override readonly name = 'StatusError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: StatusDetails): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code }));
}

function send(res: ServerResponse, body: unknown, code = 200): void {
  res.writeHead(code, { 'content-type': 'application/json' });
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
      { name: t.plural, singularName: t.kind.toLowerCase(), namespaced: t.namespaced, kind: t.kind, verbs: ['delete', 'get', 'list', 'patch', 'create', 'update', 'watch'], ...(t.shortNames ? { shortNames: t.shortNames } : {}) },
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

/** A request path resolved to the resource type it addresses (served versions only). */
interface Route {
  type: ResourceType;
  version: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Maps a request path to the resource type, namespace, name and subresource it addresses; no namespace on a namespaced type = all namespaces. */
function route(served: Served, path: string): Route | undefined {
  const core = /^\/api\/v1\/namespaces(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
  if (core) {
    const type = servedTypes(served, '', 'v1').find((t) => t.kind === 'Namespace');
    return type && (core[2] === undefined || type.subresources?.includes(core[2])) ? { type, version: 'v1', name: core[1], subresource: core[2] } : undefined;
  }
  const all = /^\/apis\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (all && all[3] !== 'namespaces') {
    const type = servedTypes(served, all[1]!, all[2]!).find((t) => t.plural === all[3]);
    return type ? { type, version: all[2]! } : undefined;
  }
  const m = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
  if (!m) return undefined;
  const type = servedTypes(served, m[1]!, m[2]!).find((t) => t.plural === m[4] && t.namespaced);
  if (!type || (m[6] !== undefined && !type.subresources?.includes(m[6]))) return undefined;
  return { type, version: m[2]!, namespace: m[3], name: m[5], subresource: m[6] };
}

/** `plural` or `plural.group`, as API server messages name a resource. */
function resourceLabel(t: ResourceType): string {
  return t.group ? `${t.plural}.${t.group}` : t.plural;
}

function groupVersionOf(t: ResourceType, version: string): string {
  return t.group ? `${t.group}/${version}` : version;
}

const notFound = (t: ResourceType, name: string) => new StatusError(404, 'NotFound', `${resourceLabel(t)} "${name}" not found`, { name, ...(t.group ? { group: t.group } : {}), kind: t.plural });
const namespaceNotFound = (ns: string) => new StatusError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
const badRequest = (message: string) => new StatusError(400, 'BadRequest', message);

function invalid(t: ResourceType, name: string, field: string, reason: string, message: string): StatusError {
  const what = t.group ? `${t.kind}.${t.group}` : t.kind;
  return new StatusError(422, 'Invalid', `${what} "${name}" is invalid: ${field}: ${message}`, { name, ...(t.group ? { group: t.group } : {}), kind: t.kind, causes: [{ reason, message, field }] });
}

// apimachinery's validation: namespaces are RFC 1123 labels, the other kinds here RFC 1123 subdomains.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkName(t: ResourceType, name: string): void {
  const label = t.kind === 'Namespace';
  const ok = label ? DNS1123_LABEL.test(name) && name.length <= 63 : DNS1123_SUBDOMAIN.test(name) && name.length <= 253;
  if (ok) return;
  const what = label
    ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc')"
    : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  throw invalid(t, name, 'metadata.name', 'FieldValueInvalid', `Invalid value: "${name}": ${what}`);
}

/** A Kubernetes object as read from a request body or the store. */
type Obj = KubeObject & Record<string, unknown>;

const MAX_BODY_BYTES = 3 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new StatusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    // kubectl and client libraries send JSON (kubectl turns YAML files into JSON before sending).
    throw badRequest(`the request body is not JSON (the stand-in reads JSON only): ${(e as Error).message}`);
  }
}

/** Checks a body is an object of the route's kind and version and its namespace matches the URL's. */
function asObject(body: Json, r: Route): Obj {
  if (!isObject(body) || !isObject(body.metadata)) throw badRequest(`the object provided is unrecognized (must be of type ${r.type.kind}): no metadata`);
  const gv = groupVersionOf(r.type, r.version);
  if (body.kind !== r.type.kind) throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${r.type.kind})`);
  if (body.apiVersion !== gv) throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${gv})`);
  const meta = body.metadata;
  if (r.type.namespaced) {
    if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== r.namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    meta.namespace = r.namespace!;
  } else delete meta.namespace;
  return body as unknown as Obj;
}

/** Equality-based label selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`); set-based ones are refused. */
function labelMatcher(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((req) => {
    const t = req.trim();
    let m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(t);
    if (m) {
      const [, key = '', op, value = ''] = m;
      return (l: Record<string, string>) => (op === '!=' ? l[key] !== value : l[key] === value);
    }
    m = /^(!?)([^!=\s(),]+)$/.exec(t);
    if (m) {
      const [, not, key = ''] = m;
      return (l: Record<string, string>) => (key in l) !== (not === '!');
    }
    throw badRequest(`unable to parse requirement: the stand-in understands equality-based label selectors only, not "${t}"`);
  });
  return (o) => tests.every((test) => test((o.metadata as { labels?: Record<string, string> }).labels ?? {}));
}

/** `metadata.name=` / `metadata.namespace=` field selectors (what kubectl's wait and `--field-selector` use). */
function fieldMatcher(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((req) => {
    const m = /^(metadata\.name|metadata\.namespace)\s*(==|=|!=)\s*(.*)$/.exec(req.trim());
    if (!m) throw badRequest(`field label not supported: the stand-in filters on metadata.name and metadata.namespace only, not "${req}"`);
    const [, field, op, value] = m;
    return (o: Obj) => ((field === 'metadata.name' ? o.metadata.name : (o.metadata.namespace ?? '')) === value) !== (op === '!=');
  });
  return (o) => tests.every((t) => t(o));
}

/** How often a watch compares the store with what it last sent. */
const WATCH_POLL_MS = 100;
const VERBS: Record<string, string> = { GET: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

/** The stand-in's request handling, over one store: reads, writes and the namespace lifecycle. */
class Handler {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** Open watches, each by the function that ends it. */
  private readonly watches = new Set<() => void>();
  constructor(
    private readonly store: KubeStore,
    private readonly served: Served,
    private readonly deny: () => DenyRule | undefined,
    private readonly namespaceTerminationMs: number,
  ) {}

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const end of [...this.watches]) end();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://standin');
    const method = req.method ?? 'GET';
    // /version is public on a real cluster (system:public-info-viewer); kubectl asks it before anything else.
    if (url.pathname === '/version' && method === 'GET') return send(res, VERSION);
    const who = parseEksToken(req.headers.authorization);
    if (typeof who === 'string') return status(res, 401, 'Unauthorized', `Unauthorized: ${who}`);
    const doc = method === 'GET' ? discovery(this.served, url.pathname) : undefined;
    const openapi = method === 'GET' && url.pathname === '/openapi/v2';
    const rule = this.deny();
    // 401 (no access entry) refuses everything; 403 (no RBAC) leaves discovery and OpenAPI readable, as system:discovery does.
    if (rule && (rule.principals === 'all' || rule.principals.includes(who.accessKeyId)) && (rule.status === 401 || (doc === undefined && !openapi))) {
      return rule.status === 401
        ? status(res, 401, 'Unauthorized', 'Unauthorized')
        : status(res, 403, 'Forbidden', `forbidden: User "${who.accessKeyId}" cannot ${VERBS[method] ?? method.toLowerCase()} resource at ${url.pathname}`);
    }
    if (doc === null) return status(res, 404, 'NotFound', NOT_FOUND);
    if (doc !== undefined) return send(res, doc);
    if (openapi) {
      res.writeHead(200, { 'content-type': OPENAPI_V2_PROTOBUF });
      return void res.end(EMPTY_OPENAPI_V2);
    }
    const r = route(this.served, url.pathname);
    if (!r) return status(res, 404, 'NotFound', NOT_FOUND);
    const dryRun = url.searchParams.getAll('dryRun').includes('All');
    if (r.name === undefined) {
      if (method === 'GET') return this.list(r, url, req, res);
      if (method === 'POST' && (r.namespace !== undefined || !r.type.namespaced)) return send(res, this.create(r, asObject(parseJson(await readBody(req)), r), dryRun), 201);
      throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    switch (method) {
      case 'GET': {
        const obj = this.existing(r);
        const tv = tableVersionAsked(req.headers.accept);
        return send(res, tv ? table([obj], r.type.kind, tv, url.searchParams.get('includeObject') ?? 'Metadata', { resourceVersion: obj.metadata.resourceVersion }) : obj);
      }
      case 'PUT':
        return send(res, this.update(r, asObject(parseJson(await readBody(req)), r), dryRun));
      case 'PATCH': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        const { obj, created } = this.patch(r, contentType, parseJson(await readBody(req)), dryRun);
        return send(res, obj, created ? 201 : 200);
      }
      case 'DELETE':
        return send(res, this.remove(r, dryRun));
      default:
        throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private existing(r: Route): Obj {
    const obj = this.store.get<Obj>(r.type.kind, r.namespace, r.name!);
    if (!obj) throw notFound(r.type, r.name!);
    obj.apiVersion = groupVersionOf(r.type, r.version);
    return obj;
  }

  private list(r: Route, url: URL, req: IncomingMessage, res: ServerResponse): void {
    const byLabels = labelMatcher(url.searchParams.get('labelSelector'));
    const byFields = fieldMatcher(url.searchParams.get('fieldSelector'));
    if (['true', '1'].includes(url.searchParams.get('watch') ?? '')) return this.watch(r, url, req, res, (o) => byLabels(o) && byFields(o));
    const gv = groupVersionOf(r.type, r.version);
    const all = this.store
      .list<Obj>(r.type.kind, r.namespace)
      .filter((o) => byLabels(o) && byFields(o))
      .map((o) => ({ ...o, apiVersion: gv }));
    const limit = Number(url.searchParams.get('limit') ?? 0);
    let offset = 0;
    const cont = url.searchParams.get('continue');
    if (cont) {
      const parsed = Number(Buffer.from(cont, 'base64url').toString('utf8').replace(/^offset:/, ''));
      if (!Number.isInteger(parsed) || parsed < 0) throw badRequest('invalid continue token');
      offset = parsed;
    }
    const end = limit > 0 ? offset + limit : all.length;
    const items = all.slice(offset, end);
    const more = end < all.length;
    const metadata = {
      resourceVersion: this.store.resourceVersion,
      ...(more ? { continue: Buffer.from(`offset:${end}`).toString('base64url'), remainingItemCount: all.length - end } : {}),
    };
    const tv = tableVersionAsked(req.headers.accept);
    if (tv) return send(res, table(items, r.type.kind, tv, url.searchParams.get('includeObject') ?? 'Metadata', metadata));
    send(res, { apiVersion: gv, kind: `${r.type.kind}List`, metadata, items });
  }

  /**
   * A watch (`?watch=true`), as a stream of JSON events found by comparing snapshots of the store:
   * without a resourceVersion (or "0") every current object comes as ADDED first, as on a real
   * server; with one, only what changes from now on (the stand-in keeps no history to replay).
   */
  private watch(r: Route, url: URL, req: IncomingMessage, res: ServerResponse, match: (o: Obj) => boolean): void {
    const gv = groupVersionOf(r.type, r.version);
    const tv = tableVersionAsked(req.headers.accept);
    const includeObject = url.searchParams.get('includeObject') ?? 'Metadata';
    const snapshot = () => new Map(this.store.list<Obj>(r.type.kind, r.namespace).filter(match).map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, { ...o, apiVersion: gv }]));
    const since = url.searchParams.get('resourceVersion');
    let known = since && since !== '0' ? snapshot() : new Map<string, Obj>();
    res.writeHead(200, { 'content-type': 'application/json' });
    const emit = (type: string, o: Obj) => res.write(`${JSON.stringify({ type, object: tv ? table([o], r.type.kind, tv, includeObject, { resourceVersion: o.metadata.resourceVersion }) : o })}\n`);
    const look = () => {
      const now = snapshot();
      for (const [k, o] of now) {
        const before = known.get(k);
        if (!before) emit('ADDED', o);
        else if (before.metadata.resourceVersion !== o.metadata.resourceVersion) emit('MODIFIED', o);
      }
      for (const [k, o] of known) if (!now.has(k)) emit('DELETED', o);
      known = now;
    };
    look();
    const poll = setInterval(look, WATCH_POLL_MS);
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const deadline = setTimeout(() => end(), (timeoutSeconds > 0 ? timeoutSeconds : 1800) * 1000);
    const end = () => {
      clearInterval(poll);
      clearTimeout(deadline);
      this.watches.delete(end);
      res.end();
    };
    this.watches.add(end);
    res.on('close', end);
  }

  /** The namespace a namespaced write goes to must exist and not be terminating. */
  private checkNamespace(r: Route, name: string): void {
    if (!r.type.namespaced) return;
    const ns = this.store.get<Obj>('Namespace', undefined, r.namespace!);
    if (!ns) throw namespaceNotFound(r.namespace!);
    if (ns.metadata.deletionTimestamp) {
      const message = `unable to create new content in namespace ${r.namespace!} because it is being terminated`;
      throw new StatusError(403, 'Forbidden', `${resourceLabel(r.type)} "${name}" is forbidden: ${message}`, {
        name,
        ...(r.type.group ? { group: r.type.group } : {}),
        kind: r.type.plural,
        causes: [{ reason: 'NamespaceTerminating', message, field: 'metadata.namespace' }],
      });
    }
  }

  /** Stores `next` (or only computes it, for a dry run) with the server-set fields an API server owns. */
  private commit(r: Route, prev: Obj | undefined, next: Obj, dryRun: boolean): Obj {
    next.apiVersion = groupVersionOf(r.type, r.version);
    next.kind = r.type.kind;
    const meta = next.metadata;
    meta.name = r.name ?? meta.name;
    if (prev) {
      meta.uid = prev.metadata.uid;
      meta.creationTimestamp = prev.metadata.creationTimestamp;
      if (prev.metadata.deletionTimestamp) meta.deletionTimestamp = prev.metadata.deletionTimestamp;
      else delete meta.deletionTimestamp;
    } else {
      delete meta.uid;
      delete meta.creationTimestamp;
      delete meta.deletionTimestamp;
    }
    delete meta.resourceVersion;
    // With a status subresource, writes to the object leave its status alone, and writes to /status change only the status.
    if (r.subresource === 'status' && prev) {
      next = { ...structuredClone(prev), status: next.status };
    } else if (r.type.subresources?.includes('status')) {
      if (prev?.status !== undefined) next.status = prev.status;
      else delete next.status;
    }
    if (r.type.kind === 'Namespace') {
      next.metadata.labels = { ...next.metadata.labels, 'kubernetes.io/metadata.name': meta.name };
      next.spec = { finalizers: ['kubernetes'], ...(isObject(next.spec) ? next.spec : {}) };
      next.status = { phase: 'Active', ...(isObject(next.status) ? next.status : {}) };
    }
    if (!dryRun) return this.store.put(next);
    const preview = structuredClone(next);
    preview.metadata = { ...preview.metadata, uid: meta.uid ?? randomUUID(), creationTimestamp: meta.creationTimestamp ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), resourceVersion: prev?.metadata.resourceVersion ?? this.store.resourceVersion };
    return preview;
  }

  private create(r: Route, obj: Obj, dryRun: boolean): Obj {
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      const suffix = Array.from(randomBytes(5), (b) => GENERATE_NAME_CHARS[b % GENERATE_NAME_CHARS.length]).join('');
      meta.name = `${meta.generateName}${suffix}`;
    }
    if (!meta.name) throw invalid(r.type, '', 'metadata.name', 'FieldValueRequired', 'Required value: name or generateName is required');
    checkName(r.type, meta.name);
    this.checkNamespace(r, meta.name);
    if (this.store.get(r.type.kind, r.namespace, meta.name)) {
      throw new StatusError(409, 'AlreadyExists', `${resourceLabel(r.type)} "${meta.name}" already exists`, { name: meta.name, ...(r.type.group ? { group: r.type.group } : {}), kind: r.type.plural });
    }
    return this.commit({ ...r, name: meta.name }, undefined, obj, dryRun);
  }

  private conflictCheck(r: Route, prev: Obj, resourceVersion: unknown): void {
    if (resourceVersion === undefined || resourceVersion === '' || resourceVersion === prev.metadata.resourceVersion) return;
    throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceLabel(r.type)} "${r.name!}": the object has been modified; please apply your changes to the latest version and try again`, {
      name: r.name,
      ...(r.type.group ? { group: r.type.group } : {}),
      kind: r.type.plural,
    });
  }

  private update(r: Route, obj: Obj, dryRun: boolean): Obj {
    if (obj.metadata.name !== r.name) throw badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${r.name!})`);
    const prev = this.existing(r);
    // Custom resources refuse an unconditional update; built-in kinds (namespaces, deployments) allow it.
    if (!obj.metadata.resourceVersion && !BUILT_IN_GROUPS.has(r.type.group)) {
      throw invalid(r.type, r.name!, 'metadata.resourceVersion', 'FieldValueInvalid', 'Invalid value: 0x0: must be specified for an update');
    }
    this.conflictCheck(r, prev, obj.metadata.resourceVersion);
    return this.commit(r, prev, obj, dryRun);
  }

  private patch(r: Route, contentType: string, patch: Json, dryRun: boolean): { obj: Obj; created: boolean } {
    const prev = this.store.get<Obj>(r.type.kind, r.namespace, r.name!);
    if (contentType === 'application/apply-patch+yaml' && r.subresource === undefined) {
      // Server-side apply, approximated: create when missing, else a JSON merge patch (no field managers, no conflicts).
      if (!prev) return { obj: this.create(r, asObject(patch, r), dryRun), created: true };
      asObject(patch, r);
      return { obj: this.commit(r, prev, mergePatch(prev as unknown as Json, patch) as unknown as Obj, dryRun), created: false };
    }
    if (!prev) throw notFound(r.type, r.name!);
    let next: Json;
    if (contentType === 'application/merge-patch+json') next = mergePatch(prev as unknown as Json, patch);
    else if (contentType === 'application/json-patch+json') next = jsonPatch(prev as unknown as Json, patch);
    else if (contentType === 'application/strategic-merge-patch+json' && BUILT_IN_GROUPS.has(r.type.group)) {
      // Approximated as a JSON merge patch: lists are replaced, not merged by their patchMergeKey.
      next = mergePatch(prev as unknown as Json, withoutDirectives(patch));
    } else {
      // As a real server: custom resources have no strategic merge patch.
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml${BUILT_IN_GROUPS.has(r.type.group) ? ', application/strategic-merge-patch+json' : ''}`,
      );
    }
    if (!isObject(next) || !isObject(next.metadata)) throw badRequest('the patch leaves no object');
    this.conflictCheck(r, prev, isObject(patch) && isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined);
    if (next.metadata.name !== r.name || (r.type.namespaced && next.metadata.namespace !== r.namespace)) throw badRequest('a patch cannot change metadata.name or metadata.namespace');
    return { obj: this.commit(r, prev, next as unknown as Obj, dryRun), created: false };
  }

  private remove(r: Route, dryRun: boolean): Obj {
    const obj = this.existing(r);
    if (dryRun) return obj;
    if (r.type.kind === 'Namespace') {
      // A namespace terminates: its objects go (a real namespace controller) once they are deleted or after a moment.
      if (!obj.metadata.deletionTimestamp) {
        obj.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        (obj as { status?: unknown }).status = { phase: 'Terminating' };
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.finalizeNamespace(r.name!);
        }, this.namespaceTerminationMs);
        this.timers.add(timer);
        const stored = this.store.put(obj);
        if (this.store.namespaceEmpty(r.name!)) this.finalizeNamespace(r.name!);
        return stored;
      }
      return obj;
    }
    this.store.delete(r.type.kind, r.namespace, r.name!);
    this.collectGarbage(r.namespace, obj.metadata.uid);
    const ns = r.namespace === undefined ? undefined : this.store.get<Obj>('Namespace', undefined, r.namespace);
    if (ns?.metadata.deletionTimestamp && this.store.namespaceEmpty(r.namespace!)) this.finalizeNamespace(r.namespace!);
    return obj;
  }

  /** Background cascading deletion: objects whose ownerReferences name a deleted owner go too. */
  private collectGarbage(namespace: string | undefined, uid: string | undefined): void {
    if (!uid || namespace === undefined) return;
    for (const dependent of this.store.ownedBy(namespace, uid)) {
      this.store.delete(dependent.kind, namespace, dependent.metadata.name);
      this.collectGarbage(namespace, dependent.metadata.uid);
    }
  }

  private finalizeNamespace(name: string): void {
    if (!this.store.get<Obj>('Namespace', undefined, name)?.metadata.deletionTimestamp) return;
    this.store.deleteNamespaceContents(name);
    this.store.delete('Namespace', undefined, name);
  }
}

/** Groups of Kubernetes' own kinds (strategic merge patch, unconditional updates); the others are custom resources. */
const BUILT_IN_GROUPS = new Set(['', 'apps']);

/**
 * kubectl downloads the OpenAPI v2 document (protobuf only) before it validates a file it applies,
 * and gives up without it. A document describing no kind ({swagger: "2.0", info: {title, version}}
 * as a gnostic openapi_v2.Document) makes it skip client-side schema validation for every kind,
 * as it does for a kind a server's document leaves out; /openapi/v3 stays 404, which kubectl
 * tolerates (it then neither asks for server-side field validation nor computes strategic merge
 * patches from OpenAPI, using its built-in types instead).
 */
// The type a real server answers with (kubectl asks for the `@v1.0` spelling, which Go's mime parser refuses in a reply).
const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
const EMPTY_OPENAPI_V2 = (() => {
  const field = (n: number, bytes: Buffer) => Buffer.concat([Buffer.from([(n << 3) | 2, bytes.length]), bytes]);
  const info = Buffer.concat([field(1, Buffer.from('Kubernetes')), field(2, Buffer.from('v1.32.0'))]);
  return Buffer.concat([field(1, Buffer.from('2.0')), field(2, info)]);
})();

/** What `GET /version` answers (kubectl's version skew check reads it). */
const VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-kube-api-standin', gitCommit: '', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23.0', compiler: 'gc', platform: 'linux/amd64' };

export interface KubeStandinOptions {
  store?: KubeStore;
  deny?: DenyRule;
  /** Serve kinds under other plurals than the usual ones (by kind), e.g. `{ WorkloadAutoRegistration: 'wars' }`. */
  plurals?: Record<string, string>;
  /** API groups not served at start (e.g. workload onboarding not enabled). */
  unservedGroups?: string[];
  /** How long a deleted namespace stays Terminating while it still holds objects (default 1000 ms). */
  namespaceTerminationMs?: number;
}

/** Listens on a port the OS picks (no window in which another process can take it), returning it. */
async function listen(server: HttpServer | HttpsServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts the stand-in on two free 127.0.0.1 ports, one store: plain HTTP (`url`, what the
 * orchestrator's client is pointed at) and HTTPS with a fresh self-signed certificate
 * (`httpsUrl` + `caPem`, for kubectl, which sends a kubeconfig's token only over TLS).
 */
export async function startKubeStandin(opts: KubeStandinOptions = {}): Promise<KubeStandin> {
  const store = opts.store ?? new KubeStore();
  let denyRule = opts.deny;
  const served: Served = { types: TYPES.map((t) => ({ ...t, plural: opts.plurals?.[t.kind] ?? t.plural })), offGroups: new Set(opts.unservedGroups) };
  const requests: string[] = [];
  const handler = new Handler(store, served, () => denyRule, opts.namespaceTerminationMs ?? 1000);
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    handler.handle(req, res).catch((e: unknown) => {
      if (e instanceof StatusError) status(res, e.code, e.reason, e.message, e.details);
      else if (e instanceof PatchError) status(res, e.code, e.code === 400 ? 'BadRequest' : 'Invalid', e.message);
      else status(res, 500, 'InternalError', (e as Error).message);
    });
  };
  const cert = selfSignedCert();
  const servers = [createServer(onRequest), createHttpsServer({ cert: cert.cert, key: cert.key }, onRequest)] as const;
  const [port, tlsPort] = [await listen(servers[0]), await listen(servers[1])];
  return {
    url: `http://127.0.0.1:${port}`,
    httpsUrl: `https://127.0.0.1:${tlsPort}`,
    caPem: cert.cert,
    store,
    requests,
    setDeny: (r) => {
      denyRule = r;
    },
    setServed: (group, on) => {
      if (on) served.offGroups.delete(group);
      else served.offGroups.add(group);
    },
    stop: async () => {
      handler.stop();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
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
