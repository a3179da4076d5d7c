/**
 * A workload the seed knows nothing about (bookstore/details, examples/bookstore-details.json),
 * prepared as on a real cluster: its namespace, WorkloadGroup and OnboardingPolicy written through
 * the Kubernetes API, then onboarded by the local engine in the sandbox until its agent connects,
 * and seen with kubectl through the kubeconfig the sandbox writes.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { OnboardingRequestInput } from '../../functions/lib/request.ts';
import type { OnboardingResult } from '../../functions/record-result.ts';
import { runWorkflow, type RunOptions } from '../../local/engine/run-workflow.ts';
import { kubeCall } from '../support/kube.ts';
import { useSandbox } from '../support/sandbox.ts';

const sandbox = useSandbox();
const FAST: RunOptions = { waitMs: 20, retryIntervalMs: 5 };
const request = JSON.parse(readFileSync(new URL('../../examples/bookstore-details.json', import.meta.url), 'utf8')) as OnboardingRequestInput;

describe('onboarding a workload whose mesh prerequisites were written through the Kubernetes API', () => {
  it('fails in Pre-flight mesh while the namespace and WorkloadGroup are missing', async () => {
    const o = await runWorkflow(request, FAST);
    expect(o.status).toBe('FAILED');
    expect(o.error).toBe('MeshPrerequisiteError');
    expect(o.cause).toContain('bookstore');
  });

  it('onboards it once they are created with POSTs, and its task ends AgentConnected True', async () => {
    const api = sandbox().kube.url;
    const created = [
      await kubeCall(api, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bookstore', labels: { 'istio-injection': 'enabled' } } } }),
      await kubeCall(api, 'POST', '/apis/networking.istio.io/v1alpha3/namespaces/bookstore/workloadgroups', {
        body: {
          apiVersion: 'networking.istio.io/v1alpha3',
          kind: 'WorkloadGroup',
          metadata: { name: 'details', labels: { app: 'details' } },
          spec: { template: { labels: { app: 'details', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookstore-details' } },
        },
      }),
      await kubeCall(api, 'POST', '/apis/authorization.onboarding.tetrate.io/v1alpha1/namespaces/bookstore/onboardingpolicies', {
        body: {
          apiVersion: 'authorization.onboarding.tetrate.io/v1alpha1',
          kind: 'OnboardingPolicy',
          metadata: { name: 'allow-ecs-bookstore' },
          spec: { allow: [{ workloads: [{ aws: { accounts: ['123456789012'], ecs: { clusters: ['bookstore'] } } }], onboardTo: [{ workloadGroupSelector: { matchLabels: { app: 'details' } } }] }] },
        },
      }),
    ];
    expect(created.map((c) => c.status)).toEqual([201, 201, 201]);

    const o = await runWorkflow(request, FAST);
    expect(o.status, `${o.error}: ${o.cause}`).toBe('SUCCEEDED');
    const result = o.output as OnboardingResult;
    expect(result.workload).toBe('bookstore/details');
    expect(result.tasks).toHaveLength(1);
    for (const t of result.tasks) expect(t).toMatchObject({ agentConnected: 'True', warName: expect.stringMatching(/^details-aws-aws-123456789012-.*-ecs-bookstore-/) });
    const wars = sandbox().kube.store.list('WorkloadAutoRegistration', 'bookstore');
    expect(wars.map((w) => w.metadata.name)).toEqual(result.tasks.map((t) => t.warName));
  });

  it('`kubectl get war -n bookstore` with the sandbox kubeconfig shows the agent connected', async () => {
    const { stdout } = await promisify(execFile)('kubectl', ['get', 'war', '-n', 'bookstore'], { env: { ...process.env, KUBECONFIG: sandbox().kubeconfig }, timeout: 30_000 });
    expect(stdout.split('\n')[0]).toMatch(/^NAME\s+AGENT CONNECTED\s+AGE$/);
    expect(stdout).toMatch(/^details-aws-aws-123456789012-\S+\s+True\s+\d+s$/m);
  });
});
