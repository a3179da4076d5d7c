/**
 * Test harness for the mesh side: the Kubernetes API stand-in (one per test file), wired
 * through MESH_KUBE_API_URL, plus the EKS cluster in moto whose DescribeCluster the code calls.
 */
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, beforeAll } from 'vitest';
import { KUBE_API_URL_OVERRIDE_ENV } from '../../functions/lib/kube/client.ts';
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
