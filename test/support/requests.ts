import { readFileSync } from 'node:fs';
import { parseRequest, type OnboardingRequest, type OnboardingRequestInput } from '#lib/request.ts';
import type { PreflightResult } from '#lib/workflow.ts';

/** The seed's workload, as a user would submit it (with its PEM: rootCaSecret is the API's to set). */
export function bookinfoInput(): OnboardingRequestInput & { rootCaPem: string } {
  return JSON.parse(readFileSync(new URL('../../examples/bookinfo-ratings.json', import.meta.url), 'utf8')) as OnboardingRequestInput & { rootCaPem: string };
}

/** The bookinfo request after validation, with optional overrides (deep-merged one level). */
export function bookinfoRequest(overrides: Partial<{ [K in keyof OnboardingRequestInput]: Partial<OnboardingRequestInput[K]> }> = {}): OnboardingRequest {
  const base = bookinfoInput() as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    const cur = base[k];
    base[k] = typeof cur === 'object' && cur !== null && !Array.isArray(cur) && typeof v === 'object' && v !== null ? { ...cur, ...v } : v;
  }
  return parseRequest(base);
}

/** What Pre-flight mesh returns for the bookinfo workload (for steps tested without the mesh). */
export function bookinfoPreflight(overrides: Partial<PreflightResult> = {}): PreflightResult {
  return {
    account: '123456789012',
    region: 'us-east-1',
    partition: 'aws',
    agentImage: 'registry.example/tetrate/onboarding-agent:1.11.0',
    workloadGroup: { namespace: 'bookinfo', name: 'ratings', templateLabels: { app: 'ratings', class: 'ecs', cloud: 'aws' }, serviceAccount: 'bookinfo-ratings' },
    onboardingPolicy: 'allow-ecs',
    ...overrides,
  };
}
