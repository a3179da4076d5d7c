/**
 * A read-only client for the mesh's Kubernetes API on EKS. The endpoint and CA come from
 * eks:DescribeCluster, the credentials from an EKS bearer token (eks-token.ts) refreshed
 * by a custom authenticator, so nothing is read from a kubeconfig file.
 */
import { DescribeClusterCommand } from '@aws-sdk/client-eks';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Deployment, type V1Namespace } from '@kubernetes/client-node';
import { eks, sts } from '../clients.ts';
import { isAwsError, KubernetesAccessDeniedError, KubernetesUnavailableError, MeshPrerequisiteError, UnexpectedError } from '../errors.ts';
import { POLICY_GROUP, POLICY_PLURAL, POLICY_VERSION, WAR_GROUP, WAR_PLURAL, WAR_VERSION, WORKLOAD_GROUP_GROUP, WORKLOAD_GROUP_PLURAL, WORKLOAD_GROUP_VERSION } from '../mesh-facts.ts';
import { runtimeSettings } from '../settings.ts';
import { eksTokenSource } from './eks-token.ts';
import { accessInstructions } from './rbac.ts';
import type { KubeList, OnboardingPolicy, WorkloadAutoRegistration, WorkloadGroup } from './resources.ts';

/**
 * LOCAL SANDBOX / TESTS ONLY: replaces the API server URL from DescribeCluster (moto's is a
 * random fake) with the local stand-in's plain-HTTP URL. Never set it on AWS.
 */
export const KUBE_API_URL_OVERRIDE_ENV = 'MESH_KUBE_API_URL';
export const DEFAULT_LIST_PAGE_SIZE = 100;

export interface KubeTarget {
  clusterName: string;
  server: string;
  /** Base64 PEM of the cluster CA; absent for the plain-HTTP local stand-in. */
  caData?: string;
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
  return { clusterName, server, caData: server.startsWith('http://') || !caData ? undefined : caData };
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

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);
function isConnectionError(e: unknown): boolean {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  const code = (e as { code?: unknown } | null)?.code ?? cause?.code;
  return (typeof code === 'string' && CONNECTION_CODES.has(code)) || (e instanceof TypeError && /fetch failed/i.test(e.message));
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

export interface MeshKubeOptions {
  /** The workload's namespace: used to print the RBAC the mesh operator must apply. */
  namespace: string;
  /** Overrides the EKS token (tests). */
  token?: () => Promise<string>;
}

/** Typed, read-only helpers over the few Kubernetes resources the orchestrator reads. */
export class MeshKube {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(
    readonly target: KubeTarget,
    private readonly opts: MeshKubeOptions,
  ) {
    const token = opts.token ?? (() => eksTokenSource(runtimeSettings.region).token(target.clusterName));
    const kc = new KubeConfig();
    const plainHttp = target.server.startsWith('http://');
    kc.loadFromOptions({
      clusters: [{ name: target.clusterName, server: target.server, caData: target.caData, skipTLSVerify: plainHttp }],
      users: [{ name: 'eks-token', authProvider: { name: 'eks-token', config: {} } }],
      contexts: [{ name: 'mesh', cluster: target.clusterName, user: 'eks-token' }],
      currentContext: 'mesh',
    });
    // A custom authenticator asks for the token on every request, so a cached one is refreshed in place.
    kc.addAuthenticator({
      isAuthProvider: (user) => (user.authProvider as { name?: string } | undefined)?.name === 'eks-token',
      applyAuthentication: async (_user, o) => {
        o.headers = { ...o.headers, Authorization: `Bearer ${await token()}` };
      },
    });
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  /** Runs one API call, mapping HTTP failures to the project's typed errors; 404 -> undefined. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiException) {
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
    }
  }

  getNamespace(name: string): Promise<V1Namespace | undefined> {
    return this.call(`get namespace ${name}`, () => this.core.readNamespace({ name }));
  }

  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    return this.call(`get deployment ${namespace}/${name}`, () => this.apps.readNamespacedDeployment({ namespace, name }));
  }

  getWorkloadGroup(namespace: string, name: string): Promise<WorkloadGroup | undefined> {
    return this.call(`get workloadgroup ${namespace}/${name}`, async () =>
      (await this.custom.getNamespacedCustomObject({ group: WORKLOAD_GROUP_GROUP, version: WORKLOAD_GROUP_VERSION, namespace, plural: WORKLOAD_GROUP_PLURAL, name })) as WorkloadGroup,
    );
  }

  listOnboardingPolicies(namespace: string): Promise<OnboardingPolicy[]> {
    return this.listAll<OnboardingPolicy>(POLICY_GROUP, POLICY_VERSION, POLICY_PLURAL, namespace);
  }

  listWorkloadAutoRegistrations(namespace: string, pageSize = DEFAULT_LIST_PAGE_SIZE): Promise<WorkloadAutoRegistration[]> {
    return this.listAll<WorkloadAutoRegistration>(WAR_GROUP, WAR_VERSION, WAR_PLURAL, namespace, pageSize);
  }

  /** Every item of a namespaced custom resource, page by page with `continue`. */
  private async listAll<T>(group: string, version: string, plural: string, namespace: string, limit = DEFAULT_LIST_PAGE_SIZE): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined;
    do {
      const cont = next;
      const page = (await this.call(`list ${plural}.${group} in namespace ${namespace}`, () =>
        this.custom.listNamespacedCustomObject({ group, version, namespace, plural, limit, _continue: cont }),
      )) as KubeList<T> | undefined;
      items.push(...(page?.items ?? []));
      next = page?.metadata?.continue || undefined;
    } while (next);
    return items;
  }
}

/** A client for the mesh's EKS cluster; `namespace` is the workload's (used in access-denied help). */
export async function meshKube(clusterName: string, opts: MeshKubeOptions): Promise<MeshKube> {
  return new MeshKube(await resolveKubeTarget(clusterName), opts);
}
