/**
 * A read-only client for the mesh's Kubernetes API on EKS. The endpoint and CA come from
 * eks:DescribeCluster, the credentials from an EKS bearer token (eks-token.ts) asked for on
 * every request, so nothing is read from a kubeconfig file.
 *
 * It makes five kinds of GET (discovery of a group/version, a namespace, a deployment, one
 * custom object, a page of custom objects) over node:https itself: @kubernetes/client-node
 * added 1.2 MiB to each handler bundle that reads the mesh and most of its cold load (issue 11).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { eks, sts } from '../clients.ts';
import { isAwsError, KubernetesAccessDeniedError, KubernetesUnavailableError, MeshPrerequisiteError, UnexpectedError } from '../errors.ts';
import { arnTemplate, type StepPermissions } from '../permissions.ts';
import { POLICY_TYPE, WAR_TYPE, WORKLOAD_GROUP_TYPE, type MeshResourceType } from '../mesh-facts.ts';
import { runtimeSettings } from '../settings.ts';
import { eksTokenSource } from './eks-token.ts';
import { logger, metrics } from '../middleware.ts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { accessInstructions } from './rbac.ts';
import type { APIResourceList, Deployment, KubeList, Namespace, OnboardingPolicy, WorkloadAutoRegistration, WorkloadGroup } from './resources.ts';

/**
 * LOCAL SANDBOX / TESTS ONLY: replaces the API server URL from DescribeCluster (moto's is a
 * random fake) with the local stand-in's plain-HTTP URL. Never set it on AWS.
 */
export const KUBE_API_URL_OVERRIDE_ENV = 'MESH_KUBE_API_URL';
export const DEFAULT_LIST_PAGE_SIZE = 100;

/**
 * meshKube: eks:DescribeCluster on the mesh's EKS clusters (the construct's list). Nothing
 * else in IAM: the bearer token is a presigned sts:GetCallerIdentity, which needs no
 * permission (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html:
 * "No permissions are required to perform this operation") and which EKS, not this code,
 * sends; what the Kubernetes API lets the orchestrator read is the cluster's access entry
 * and RBAC (rbac.ts), not IAM. The 401/403 help's GetCallerIdentity needs nothing either.
 */
export const MESH_KUBE_PERMISSIONS: StepPermissions = [
  { sid: 'DescribeEksCluster', actions: ['eks:DescribeCluster'], resources: [arnTemplate('eks', 'cluster/${EksClusterName}')] },
];

/** A mesh resource type as the cluster serves it (from API discovery). */
export interface ServedResource extends MeshResourceType {
  plural: string;
}

// Per process and API server: a Lambda container asks discovery once, then reuses the answer.
const discoveryCache = new Map<string, ServedResource>();

/** Forgets what API discovery said (tests that change what the stand-in serves). */
export function resetDiscoveryCache(): void {
  discoveryCache.clear();
}

export interface KubeTarget {
  clusterName: string;
  server: string;
  /** Base64 PEM of the cluster CA; absent for the plain-HTTP local stand-in. */
  caData?: string;
  /** The cluster's VPC and cluster security group (the same DescribeCluster): Resolve network reuses them. */
  vpcId?: string;
  clusterSecurityGroupId?: string;
}

/** Where the EKS cluster's API server is (DescribeCluster), or the local override. */
export async function resolveKubeTarget(clusterName: string): Promise<KubeTarget> {
  let cluster;
  try {
    ({ cluster } = await eks().send(new DescribeClusterCommand({ name: clusterName })));
  } catch (e) {
    if (isAwsError(e, 'ResourceNotFoundException')) {
      throw new MeshPrerequisiteError(`EKS cluster "${clusterName}" (network.eksClusterName) was not found in ${runtimeSettings.region}: the mesh cannot be checked`, { cause: e });
    }
    throw e;
  }
  const override = process.env[KUBE_API_URL_OVERRIDE_ENV];
  const server = override || cluster?.endpoint;
  if (!server) throw new MeshPrerequisiteError(`EKS cluster "${clusterName}" has no API endpoint yet (status ${cluster?.status ?? 'unknown'})`);
  const caData = cluster?.certificateAuthority?.data;
  const vpc = cluster?.resourcesVpcConfig;
  return {
    clusterName,
    server,
    ...(server.startsWith('http://') || !caData ? {} : { caData }),
    ...(vpc?.vpcId ? { vpcId: vpc.vpcId } : {}),
    ...(vpc?.clusterSecurityGroupId ? { clusterSecurityGroupId: vpc.clusterSecurityGroupId } : {}),
  };
}

/** The IAM role ARN an access entry needs, from the caller's STS identity (assumed-role ARN -> role ARN). */
export function principalArnOf(callerArn: string): string {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}

async function callerPrincipalArn(): Promise<string> {
  try {
    const id = await sts().send(new GetCallerIdentityCommand({}));
    return id.Arn ? principalArnOf(id.Arn) : '<the orchestrator role ARN>';
  } catch {
    return '<the orchestrator role ARN>';
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
function isConnectionError(e: unknown): boolean {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  const code = (e as { code?: unknown } | null)?.code ?? cause?.code;
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** A non-2xx answer of the API server: its status, body (a `Status` object, as text) and headers. */
export class KubeHttpError extends Error {
  override readonly name = 'KubeHttpError';
  constructor(
    readonly code: number,
    readonly body: string,
    readonly headers: IncomingHttpHeaders,
  ) {
    super(`HTTP ${code}`);
  }
}

function statusMessage(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300);
    }
  }
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : '';
}

/** Attempts per Kubernetes API read inside one step invocation. */
export const KUBE_ATTEMPTS = 3;
/** The longest `Retry-After` honoured inside a step; a longer one is left to the state machine's Retry. */
const KUBE_RETRY_AFTER_CAP_MS = 2_000;

/** `Retry-After` (seconds) of a 429/503 when given, capped; else full-jitter backoff from 100 ms. */
function kubeRetryDelayMs(cause: unknown, attempt: number): number {
  const header = cause instanceof KubeHttpError ? cause.headers['retry-after'] : undefined;
  const after = header === undefined ? NaN : Number(header);
  if (Number.isFinite(after) && after >= 0) return Math.min(after * 1000, KUBE_RETRY_AFTER_CAP_MS);
  return Math.round(Math.random() * 100 * 2 ** (attempt - 1));
}

/**
 * How long one Kubernetes request may take. The API server answers a read in milliseconds; one
 * that holds the connection open (an overloaded server, a black-holed route) would otherwise hold
 * the step until the Task's 60 s timeout, a `States.Timeout` no Retry lists. Three attempts of
 * 10 s stay well inside it, and what still hangs goes to the state machine's Retry.
 */
export const KUBE_REQUEST_TIMEOUT_MS = 10_000;

export interface MeshKubeOptions {
  /** The workload's namespace: used to print the RBAC the mesh operator must apply. */
  namespace: string;
  /** Overrides the EKS token (tests). */
  token?: () => Promise<string>;
  /** Overrides KUBE_REQUEST_TIMEOUT_MS (tests). */
  requestTimeoutMs?: number;
}

/** Typed, read-only helpers over the few Kubernetes resources the orchestrator reads. */
export class MeshKube {
  private readonly token: () => Promise<string>;
  private readonly ca: Buffer | undefined;

  constructor(
    readonly target: KubeTarget,
    private readonly opts: MeshKubeOptions,
  ) {
    // Asked for on every request: the source hands out its cached token until it is 14 minutes old.
    this.token = opts.token ?? (() => eksTokenSource(runtimeSettings.region).token(target.clusterName));
    // The cluster's own CA only (DescribeCluster); without one (not on EKS), the system's.
    this.ca = target.caData ? Buffer.from(target.caData, 'base64') : undefined;
  }

  /** One GET of `path` (with its query), the answer's JSON; a non-2xx answer throws KubeHttpError. */
  private async get<T>(path: string, signal: AbortSignal): Promise<T> {
    const url = new URL(path, this.target.server.endsWith('/') ? this.target.server : `${this.target.server}/`);
    const headers = { Accept: 'application/json', Authorization: `Bearer ${await this.token()}` };
    const plainHttp = url.protocol === 'http:';
    return new Promise<T>((resolve, reject) => {
      const req = (plainHttp ? httpRequest : httpsRequest)(url, { method: 'GET', headers, signal, ...(plainHttp ? {} : { ca: this.ca }) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code < 200 || code >= 300) return reject(new KubeHttpError(code, text, res.headers));
          try {
            resolve(JSON.parse(text) as T);
          } catch (e) {
            reject(new UnexpectedError(`Kubernetes API answered ${url.pathname} with ${code} but not JSON: ${text.slice(0, 200)}`, { cause: e }));
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** `path` (from the API root) with its query parameters, the empty ones left out. */
  private static path(segments: readonly string[], query: Record<string, string | number | undefined> = {}): string {
    const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`);
    return segments.map(encodeURIComponent).join('/') + (q.length > 0 ? `?${q.join('&')}` : '');
  }

  /**
   * Runs one API call (every one is a read, safe to repeat), trying again at once a 429, a 5xx or
   * a dropped connection, up to KUBE_ATTEMPTS in all (after `Retry-After`, else a short jittered
   * backoff); what still fails goes to the state machine's Retry as KubernetesUnavailableError.
   */
  private async call<T>(what: string, path: string): Promise<T | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.callOnce<T>(what, path);
      } catch (e) {
        if (!(e instanceof KubernetesUnavailableError) || attempt >= KUBE_ATTEMPTS) throw e;
        const delayMs = kubeRetryDelayMs(e.cause, attempt);
        logger.warn('Kubernetes API call retried', { kubeRequest: what, attempt: attempt + 1, delayMs, error: e.message });
        metrics.addMetric('KubernetesCallRetried', MetricUnit.Count, 1);
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  /** One API call, mapping HTTP failures to the project's typed errors; 404 -> undefined. */
  private async callOnce<T>(what: string, path: string): Promise<T | undefined> {
    const timeoutMs = this.opts.requestTimeoutMs ?? KUBE_REQUEST_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    // A request given up on is aborted (it is a read), so its socket does not outlive the attempt.
    const abort = new AbortController();
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new KubernetesUnavailableError(`Kubernetes API ${this.target.server} of EKS cluster "${this.target.clusterName}" did not answer ${what} within ${timeoutMs} ms`));
        abort.abort();
      }, timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([this.get<T>(path, abort.signal), timedOut]);
    } catch (e) {
      if (e instanceof KubernetesUnavailableError) throw e;
      if (e instanceof KubeHttpError) {
        const code = e.code;
        const detail = statusMessage(e.body);
        if (code === 404) return undefined;
        if (code === 401 || code === 403) {
          const principalArn = await callerPrincipalArn();
          throw new KubernetesAccessDeniedError(
            `The Kubernetes API of EKS cluster "${this.target.clusterName}" answered ${code} ${code === 401 ? 'Unauthorized' : 'Forbidden'} to ${what} as ${principalArn}` +
              `${detail ? ` (${detail})` : ''}. The mesh operator must give the orchestrator read access:\n` +
              accessInstructions({ clusterName: this.target.clusterName, principalArn, namespace: this.opts.namespace }),
            { cause: e },
          );
        }
        if (code === 429 || code >= 500) throw new KubernetesUnavailableError(`Kubernetes API answered ${code} to ${what}${detail ? `: ${detail}` : ''}`, { cause: e });
        throw new UnexpectedError(`Kubernetes API answered ${code} to ${what}${detail ? `: ${detail}` : ''}`, { cause: e });
      }
      if (isConnectionError(e)) {
        throw new KubernetesUnavailableError(`Kubernetes API ${this.target.server} of EKS cluster "${this.target.clusterName}" could not be reached for ${what}: ${(e as Error).message}`, { cause: e });
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  getNamespace(name: string): Promise<Namespace | undefined> {
    return this.call(`get namespace ${name}`, MeshKube.path(['api', 'v1', 'namespaces', name]));
  }

  getDeployment(namespace: string, name: string): Promise<Deployment | undefined> {
    return this.call(`get deployment ${namespace}/${name}`, MeshKube.path(['apis', 'apps', 'v1', 'namespaces', namespace, 'deployments', name]));
  }

  /**
   * How the cluster serves `type`: its plural and scope from the discovery document
   * `GET /apis/<group>/<version>` (an APIResourceList), never a guessed plural. A group/version
   * the cluster does not serve (404, as for any unknown path) is a MeshPrerequisiteError. No RBAC
   * is needed: the default ClusterRole `system:discovery` is bound to `system:authenticated`
   * (kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles).
   */
  async resource(type: MeshResourceType): Promise<ServedResource> {
    const gv = `${type.group}/${type.version}`;
    const key = `${this.target.server}|${gv}|${type.kind}`;
    const cached = discoveryCache.get(key);
    if (cached) return cached;
    const list = await this.call<APIResourceList>(`discover ${gv}`, MeshKube.path(['apis', type.group, type.version]));
    if (!list) {
      throw new MeshPrerequisiteError(`${gv} is not served by the Kubernetes API of EKS cluster "${this.target.clusterName}": ${type.notServedHint}`);
    }
    // Subresources are listed as "<plural>/<sub>" with the same kind: skip them.
    const r = (list.resources ?? []).find((x) => x.kind === type.kind && !x.name.includes('/'));
    if (!r) {
      const kinds = [...new Set((list.resources ?? []).map((x) => x.kind))].join(', ') || 'none';
      throw new MeshPrerequisiteError(`${gv} is served by EKS cluster "${this.target.clusterName}" but has no kind ${type.kind} (it serves: ${kinds}): ${type.notServedHint}`);
    }
    if (!r.namespaced) throw new UnexpectedError(`${type.kind} (${r.name}.${type.group}) is cluster-scoped on EKS cluster "${this.target.clusterName}"; the orchestrator reads it per namespace`);
    const served: ServedResource = { ...type, plural: r.name };
    discoveryCache.set(key, served);
    return served;
  }

  /** Discovers every onboarding resource type at once, so one error names all that are not served. */
  async discoverMeshResources(): Promise<ServedResource[]> {
    const results = await Promise.allSettled([WORKLOAD_GROUP_TYPE, POLICY_TYPE, WAR_TYPE].map((t) => this.resource(t)));
    const missing = results.flatMap((r) => (r.status === 'rejected' && r.reason instanceof MeshPrerequisiteError ? [r.reason.message] : []));
    const other = results.find((r) => r.status === 'rejected' && !(r.reason instanceof MeshPrerequisiteError));
    if (other?.status === 'rejected') throw other.reason;
    if (missing.length > 0) throw new MeshPrerequisiteError(missing.join('\n'));
    return results.map((r) => (r as PromiseFulfilledResult<ServedResource>).value);
  }

  async getWorkloadGroup(namespace: string, name: string): Promise<WorkloadGroup | undefined> {
    const { group, version, plural } = await this.resource(WORKLOAD_GROUP_TYPE);
    return this.call<WorkloadGroup>(`get ${plural}.${group} ${namespace}/${name}`, MeshKube.path(['apis', group, version, 'namespaces', namespace, plural, name]));
  }

  listOnboardingPolicies(namespace: string): Promise<OnboardingPolicy[]> {
    return this.listAll<OnboardingPolicy>(POLICY_TYPE, namespace);
  }

  listWorkloadAutoRegistrations(namespace: string, pageSize = DEFAULT_LIST_PAGE_SIZE): Promise<WorkloadAutoRegistration[]> {
    return this.listAll<WorkloadAutoRegistration>(WAR_TYPE, namespace, pageSize);
  }

  /** Every item of a namespaced custom resource, page by page with `continue`. */
  private async listAll<T>(type: MeshResourceType, namespace: string, limit = DEFAULT_LIST_PAGE_SIZE): Promise<T[]> {
    const { group, version, plural } = await this.resource(type);
    const items: T[] = [];
    let next: string | undefined;
    do {
      const page = await this.call<KubeList<T>>(`list ${plural}.${group} in namespace ${namespace}`, MeshKube.path(['apis', group, version, 'namespaces', namespace, plural], { limit, continue: next }));
      items.push(...(page?.items ?? []));
      next = page?.metadata?.continue || undefined;
    } while (next);
    return items;
  }
}

/** A client for the mesh's EKS cluster (DescribeCluster first); `namespace` is the workload's (used in access-denied help). */
export async function meshKube(clusterName: string, opts: MeshKubeOptions): Promise<MeshKube> {
  return new MeshKube(await resolveKubeTarget(clusterName), opts);
}

/**
 * A client for a target an earlier step resolved (Pre-flight mesh passes it on in the workflow
 * state): a later step, and every poll of a wait loop, skips DescribeCluster, and its bundle
 * holds no EKS client.
 */
export function meshKubeAt(target: KubeTarget, opts: MeshKubeOptions): MeshKube {
  return new MeshKube(target, opts);
}
