/**
 * Writes schema/onboarding-request.schema.json from the zod schema in
 * functions/lib/request.ts (the one source). `npm run schema` regenerates it; a test fails
 * when the committed file is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { OnboardingRequestSchema } from '../functions/lib/request.ts';

export const SCHEMA_PATH = fileURLToPath(new URL('../schema/onboarding-request.schema.json', import.meta.url));

/** The JSON Schema of the request as the user writes it (defaults optional). */
export function onboardingRequestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(OnboardingRequestSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://github.com/ecs-mesh-onboarding/ecs-mesh-onboarding/schema/onboarding-request.schema.json',
    title: 'Onboarding request',
    description: 'Onboards one AWS ECS Fargate workload into an Istio / Tetrate Service Bridge mesh. Cross-field rules (Fargate cpu/memory pairs, eksClusterName or vpcId, subnetIds xor subnetCidrs, one block per zone) are checked by the orchestrator and listed in the README.',
    ...schema,
  };
}

export function renderSchema(): string {
  return `${JSON.stringify(onboardingRequestJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_PATH, renderSchema());
  console.log(`wrote ${SCHEMA_PATH}`);
}
