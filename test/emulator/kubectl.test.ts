/**
 * The real `kubectl` binary against the Kubernetes stand-in, through the kubeconfig the sandbox
 * writes (HTTPS + self-signed CA, exec plugin making EKS tokens): the mesh operator's way of
 * preparing a workload (apply, get, delete of examples/mesh-prerequisites.yaml). Needs kubectl
 * (client only) on PATH; fails, not skips, without it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAR_GROUP, WAR_VERSION } from '../../functions/lib/mesh-facts.ts';
import { seedMesh, startKubeStandin, type KubeStandin } from '../../local/kube-api-standin.ts';
import { writeKubeconfig } from '../../local/kubeconfig.ts';

const PREREQUISITES = fileURLToPath(new URL('../../examples/mesh-prerequisites.yaml', import.meta.url));

describe('kubectl against the Kubernetes stand-in', () => {
  let standin: KubeStandin;
  let dir: string;
  /** Runs kubectl with the sandbox kubeconfig; resolves with stdout, or rejects with stderr. */
  const kubectl = async (...args: string[]): Promise<string> => {
    const env = { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') };
    try {
      return (await promisify(execFile)('kubectl', [...args, '--cache-dir', join(dir, 'cache')], { env, timeout: 30_000 })).stdout;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`kubectl ${args.join(' ')} failed: ${err.stderr || err.message}`);
    }
  };

  beforeAll(async () => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`kubectl (client) is needed on PATH for this test: ${(e as Error).message}`);
    }
    standin = await startKubeStandin({ namespaceTerminationMs: 200 });
    seedMesh(standin.store);
    dir = mkdtempSync(join(tmpdir(), 'kubectl-test-'));
    writeKubeconfig(join(dir, 'kubeconfig'), { server: standin.httpsUrl, caPem: standin.caPem, clusterName: 'mesh-eks', region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' });
  });
  afterAll(async () => {
    await standin?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`kubectl apply -f` creates the namespace, WorkloadGroup and OnboardingPolicy (with plain validation on), and a second apply changes nothing', async () => {
    const out = await kubectl('apply', '-f', PREREQUISITES);
    expect(out.trim().split('\n')).toEqual([
      'namespace/bookstore created',
      'workloadgroup.networking.istio.io/details created',
      'onboardingpolicy.authorization.onboarding.tetrate.io/allow-ecs-bookstore created',
    ]);
    expect(standin.store.get('WorkloadGroup', 'bookstore', 'details')).toMatchObject({ spec: { template: { labels: { app: 'details' }, serviceAccount: 'bookstore-details' } } });
    expect(standin.store.get('OnboardingPolicy', 'bookstore', 'allow-ecs-bookstore')).toMatchObject({ spec: { allow: [{ workloads: [{ aws: { accounts: ['123456789012'], ecs: { clusters: ['bookstore'] } } }] }] } });
    expect(standin.requests.some((r) => r.startsWith('POST /apis/networking.istio.io/v1alpha3/namespaces/bookstore/workloadgroups'))).toBe(true);
    expect(await kubectl('apply', '-f', PREREQUISITES)).toContain('workloadgroup.networking.istio.io/details unchanged');
  });

  it('`kubectl apply` of a changed file patches the objects (merge patch computed from the last-applied annotation); label and annotate patch too', async () => {
    const changed = join(dir, 'changed.yaml');
    writeFileSync(changed, readFileSync(PREREQUISITES, 'utf8').replace('serviceAccount: bookstore-details', 'serviceAccount: bookstore-details-v2'));
    const out = await kubectl('apply', '-f', changed);
    expect(out).toContain('workloadgroup.networking.istio.io/details configured');
    expect(out).toContain('onboardingpolicy.authorization.onboarding.tetrate.io/allow-ecs-bookstore unchanged');
    expect(standin.requests.some((r) => r.startsWith('PATCH /apis/networking.istio.io/v1alpha3/namespaces/bookstore/workloadgroups/details'))).toBe(true);
    const wg = standin.store.get<{ apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: { template: { serviceAccount: string } } }>('WorkloadGroup', 'bookstore', 'details');
    expect(wg?.spec.template.serviceAccount).toBe('bookstore-details-v2');
    expect(wg?.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('bookstore-details-v2');
    await kubectl('apply', '-f', PREREQUISITES);

    await kubectl('label', 'namespace', 'bookstore', 'team=books');
    expect(await kubectl('annotate', '-n', 'bookstore', 'wg', 'details', 'note=prepared')).toContain('annotated');
    expect(await kubectl('get', 'wg', 'details', '-n', 'bookstore', '-o', 'jsonpath={.metadata.annotations.note}')).toBe('prepared');
    expect(await kubectl('get', 'ns', 'bookstore', '--show-labels')).toContain('team=books');
  });

  it('`kubectl get wg`, `get ns` and `get war -A` print rows', async () => {
    const wg = await kubectl('get', 'wg', '-n', 'bookstore');
    expect(wg.split('\n')[0]).toMatch(/^NAME\s+AGE$/);
    expect(wg).toMatch(/^details\s+\d+s$/m);
    expect(await kubectl('get', 'ns')).toMatch(/^bookstore\s+Active\s+\d+s$/m);
    standin.store.put({
      apiVersion: `${WAR_GROUP}/${WAR_VERSION}`,
      kind: 'WorkloadAutoRegistration',
      metadata: { name: 'details-aws-aws-123456789012-us-east-1a-ecs-bookstore-abc', namespace: 'bookstore' },
      status: { conditions: [{ type: 'AgentConnected', status: 'True', reason: 'ConnectionEstablished' }] },
    });
    const wars = await kubectl('get', 'war', '-A');
    expect(wars.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME\s+AGENT CONNECTED\s+AGE$/);
    expect(wars).toMatch(/^bookstore\s+details-aws-aws-123456789012-us-east-1a-ecs-bookstore-abc\s+True\s+\d+s$/m);
    expect(await kubectl('get', 'war', '-n', 'bookinfo')).toBe('');
  });

  it('reports a missing object as a real server does', async () => {
    await expect(kubectl('get', 'wg', 'nope', '-n', 'bookstore')).rejects.toThrow('Error from server (NotFound): workloadgroups.networking.istio.io "nope" not found');
    await expect(kubectl('create', '-f', PREREQUISITES)).rejects.toThrow('Error from server (AlreadyExists)');
  });

  it('`kubectl delete -f` removes them all (the namespace terminates, taking what is left in it)', async () => {
    const out = await kubectl('delete', '-f', PREREQUISITES);
    expect(out).toContain('namespace "bookstore" deleted');
    expect(out).toContain('workloadgroup.networking.istio.io "details" deleted');
    expect(standin.store.get('Namespace', undefined, 'bookstore')).toBeUndefined();
    expect(standin.store.list('WorkloadAutoRegistration', 'bookstore')).toEqual([]);
    expect(standin.store.get('WorkloadGroup', 'bookinfo', 'ratings')).toBeDefined();
  });
});
