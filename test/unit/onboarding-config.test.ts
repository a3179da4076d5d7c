import { describe, expect, it } from 'vitest';
import { onboardingConfig, onboardingConfigJson } from '../../functions/lib/onboarding-config.ts';
import { bookinfoRequest } from '../support/requests.ts';

describe('onboarding config', () => {
  it('matches the seed procedure for the bookinfo request, with the port spelled out', () => {
    expect(JSON.parse(onboardingConfigJson(bookinfoRequest()))).toEqual({
      apiVersion: 'config.agent.onboarding.tetrate.io/v1alpha1',
      kind: 'OnboardingConfiguration',
      onboardingEndpoint: { host: 'a1b2c3d4e5f6-123456789.us-east-1.elb.amazonaws.com', port: 15443, transportSecurity: { tls: { sni: 'onboarding-endpoint.example' } } },
      workloadGroup: { namespace: 'bookinfo', name: 'ratings' },
      workload: { labels: { version: 'v5' } },
    });
  });

  it('keeps TLS without an SNI and leaves out workload when there are no labels', () => {
    const base = bookinfoRequest();
    const config = onboardingConfig({ ...base, onboardingEndpoint: { host: '10.0.0.7', port: 443 }, workloadLabels: {} });

    expect(config.onboardingEndpoint).toEqual({ host: '10.0.0.7', port: 443, transportSecurity: { tls: {} } });
    expect(config).not.toHaveProperty('workload');
    expect(onboardingConfig({ ...base, workloadLabels: undefined })).not.toHaveProperty('workload');
  });

  it('serialises label values as JSON strings, not spliced text', () => {
    const request = bookinfoRequest();
    const json = onboardingConfigJson({ ...request, workloadLabels: { 'example.com/tier': 'a"b' } });

    expect(JSON.parse(json).workload).toEqual({ labels: { 'example.com/tier': 'a"b' } });
    expect(json).not.toMatch(/\s/);
  });
});
