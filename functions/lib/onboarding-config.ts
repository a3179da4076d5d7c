/**
 * The onboarding agent's `ONBOARDING_CONFIG`: built as an object and serialised with
 * JSON.stringify, so no request value can break out of its field.
 */
import { ONBOARDING_CONFIG_API_VERSION, ONBOARDING_CONFIG_KIND } from './mesh-facts.ts';
import type { OnboardingRequest } from './request.ts';

/** Tetrate's `OnboardingConfiguration` (config.agent.onboarding.tetrate.io/v1alpha1), the fields we set. */
export interface OnboardingConfiguration {
  apiVersion: typeof ONBOARDING_CONFIG_API_VERSION;
  kind: typeof ONBOARDING_CONFIG_KIND;
  onboardingEndpoint: {
    host: string;
    port: number;
    transportSecurity: { tls: { sni?: string } };
  };
  workloadGroup: { namespace: string; name: string };
  workload?: { labels: Record<string, string> };
}

type ConfigInput = Pick<OnboardingRequest, 'onboardingEndpoint' | 'workloadGroup' | 'workloadLabels'>;

/** The agent's configuration for a request: TLS always (SNI only when given), labels only when there are some. */
export function onboardingConfig(request: ConfigInput): OnboardingConfiguration {
  const { host, port, sni } = request.onboardingEndpoint;
  const config: OnboardingConfiguration = {
    apiVersion: ONBOARDING_CONFIG_API_VERSION,
    kind: ONBOARDING_CONFIG_KIND,
    onboardingEndpoint: { host, port, transportSecurity: { tls: sni === undefined ? {} : { sni } } },
    workloadGroup: { namespace: request.workloadGroup.namespace, name: request.workloadGroup.name },
  };
  const labels = request.workloadLabels ?? {};
  if (Object.keys(labels).length > 0) config.workload = { labels: { ...labels } };
  return config;
}

/** The compact JSON the agent reads from its `ONBOARDING_CONFIG` environment variable. */
export function onboardingConfigJson(request: ConfigInput): string {
  return JSON.stringify(onboardingConfig(request));
}
