/**
 * Test harness for the mesh side: the Kubernetes API stand-in (one per test file), wired
 * through MESH_KUBE_API_URL, plus the EKS cluster in moto whose DescribeCluster the code calls,
 * and raw REST calls to the stand-in as a Kubernetes client makes them.
 */
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll } from 'vitest';
import { KUBE_API_URL_OVERRIDE_ENV } from '../../functions/lib/kube/client.ts';
import { makeEksToken } from '../../functions/lib/kube/eks-token.ts';
import { startKubeStandin, type KubeStandin } from '../../local/kube-api-standin.ts';

export function useKubeStandin(): { readonly standin: KubeStandin } {
  let standin: KubeStandin | undefined;
  beforeAll(async () => {
    standin = await startKubeStandin();
    process.env[KUBE_API_URL_OVERRIDE_ENV] = standin.url;
  });
  afterAll(async () => {
    delete process.env[KUBE_API_URL_OVERRIDE_ENV];
    await standin?.stop();
  });
  return {
    get standin() {
      if (!standin) throw new Error('kube stand-in not started yet: use it inside a test or hook');
      return standin;
    },
  };
}

/** Creates the mesh's EKS cluster in moto (its endpoint is random; MESH_KUBE_API_URL replaces it). */
export async function createEksCluster(endpoint: string, name = 'mesh-eks'): Promise<void> {
  const eks = new EKSClient({ endpoint, region: 'us-east-1' });
  await eks.send(new CreateClusterCommand({ name, roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: { subnetIds: [] } }));
}

/** A bearer token the stand-in accepts (signed with the emulator's dummy credentials). */
export function standinToken(accessKeyId = 'testing'): Promise<string> {
  return makeEksToken({ clusterName: 'mesh-eks', region: 'us-east-1', credentials: { accessKeyId, secretAccessKey: 'testing' } });
}

/** What the stand-in answers, as far as tests read it: an object, a list, a Table or a Status. */
export interface KubeBody {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string; deletionTimestamp?: string; labels?: Record<string, string>; continue?: string };
  spec?: Record<string, unknown>;
  status?: unknown;
  items?: KubeBody[];
  columnDefinitions?: { name: string }[];
  rows?: { cells: unknown[]; object?: KubeBody }[];
  reason?: string;
  message?: string;
  code?: number;
  details?: unknown;
}

export interface KubeAnswer {
  status: number;
  body: KubeBody;
}

/**
 * One call to the stand-in's REST API as a client library makes it: JSON body, bearer token,
 * `content-type` (default application/json; PATCH needs a patch type) and optional `accept`.
 */
export async function kubeCall(baseUrl: string, method: string, path: string, opts: { body?: unknown; contentType?: string; accept?: string; token?: string | null } = {}): Promise<KubeAnswer> {
  const token = opts.token === undefined ? await standinToken() : opts.token;
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      ...(opts.accept ? { accept: opts.accept } : {}),
    },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as KubeBody };
}
