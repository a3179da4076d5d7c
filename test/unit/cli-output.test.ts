import { afterEach, describe, expect, it, vi } from 'vitest';
import { Progress, renderSummary, renderWarTable } from '../../local/cli-output.ts';
import { KubeStore } from '../../local/kube-api-standin.ts';

afterEach(() => vi.restoreAllMocks());

describe('npm start output', () => {
  it('prints one plain line per finished step when stdout is not a terminal', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((l: string) => void lines.push(l));
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const p = new Progress(10, false);
    const at = new Date().toISOString();
    p.event({ type: 'entered', state: 'Ensure cluster', stateType: 'Task', at });
    p.event({ type: 'succeeded', state: 'Ensure cluster', stateType: 'Task', at, durationMs: 12 });
    p.event({ type: 'retried', state: 'Ensure task role', stateType: 'Task', at, attempt: 1, error: 'IamPropagationError' });
    p.event({ type: 'failed', state: 'Ensure task role', stateType: 'Task', at, durationMs: 900, error: 'ResourceConflictError' });
    p.event({ type: 'succeeded', state: 'Ensure task role failed', stateType: 'Pass', at, durationMs: 0 });
    p.finish();
    expect(lines).toEqual([
      expect.stringMatching(/^ {2}ok +Ensure cluster +12 ms$/),
      expect.stringMatching(/^ {2}retry +Ensure task role +IamPropagationError, attempt 2$/),
      expect.stringMatching(/^ {2}FAIL +Ensure task role +900 ms +ResourceConflictError$/),
    ]);
    // No progress bar (no carriage returns) on a pipe.
    expect(write).not.toHaveBeenCalled();
  });

  it('draws a progress bar on a terminal', () => {
    const writes: string[] = [];
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => (writes.push(String(c)), true));
    const p = new Progress(4, true);
    p.event({ type: 'entered', state: 'Ensure cluster', stateType: 'Task', at: '' });
    expect(writes.join('')).toContain('[........................] 0/4 Ensure cluster...');
  });

  it('renders `kubectl get war` columns and an empty namespace like kubectl', () => {
    const store = new KubeStore();
    expect(renderWarTable(store, 'bookinfo')).toBe('No resources found in bookinfo namespace.');
    store.put({
      apiVersion: 'runtime.onboarding.tetrate.io/v1alpha1',
      kind: 'WorkloadAutoRegistration',
      metadata: { name: 'ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-abc', namespace: 'bookinfo' },
      status: { conditions: [{ type: 'AgentConnected', status: 'True' }] },
    } as never);
    const out = renderWarTable(store, 'bookinfo', Date.now() + 5000).split('\n');
    expect(out[0]).toMatch(/^NAME +AGENT CONNECTED +AGE$/);
    expect(out[1]).toMatch(/^ratings-aws-aws-123456789012-us-east-1a-ecs-bookinfo-abc +True +\d+s$/);
  });

  it('summarises what was created, updated and reused, in that order', () => {
    const text = renderSummary({
      workload: 'bookinfo/ratings',
      cluster: 'bookinfo',
      service: 'ratings',
      taskDefinitionArn: 'arn:td',
      tasks: [{ taskId: 't', privateIp: '10.0.3.4', availabilityZone: 'us-east-1a' }],
      created: [{ kind: 'ecs-service', id: 'arn:svc', created: true }],
      updated: [{ kind: 'log-group', id: '/ecs/ratings', created: false, updated: true }],
      reused: [{ kind: 'nat-gateway', id: 'nat-1', created: false, shared: true }],
    });
    expect(text).toMatch(/created +ecs-service +workload +arn:svc\nupdated +log-group +workload +\/ecs\/ratings\nreused +nat-gateway +shared +nat-1/);
  });

  it('says why no traffic may show (access logging off) and where the agent image came from', () => {
    const text = renderSummary({
      workload: 'bookinfo/ratings',
      cluster: 'bookinfo',
      service: 'ratings',
      taskDefinitionArn: 'arn:td',
      tasks: [],
      created: [],
      updated: [],
      reused: [],
      traffic: { trafficSeen: false, inbound: { total: 0, byStatusClass: {} }, outbound: { total: 0, byStatusClass: {} }, accessLogSeen: false, hint: 'access logging may be off in the mesh' },
      agentImageSource: 'deployment/onboarding-plane',
    });
    expect(text).toContain('Note: access logging may be off in the mesh');
    expect(text).toContain('Agent image from: deployment/onboarding-plane.');
  });
});
