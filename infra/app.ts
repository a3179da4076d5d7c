/**
 * The CDK app (cdk.json: `npx tsx infra/app.ts`, so it runs on the project's Node 22 from
 * node_modules/.bin). Synthesises offline: functions are bundled by the local esbuild, and
 * cdk-nag's AwsSolutions checks run on the synthesised templates (a finding fails the synth).
 */
import { pathToFileURL } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { handlerFiles } from './handlers.ts';
import { MeshOnboardingStack } from './stack.ts';
import { loadStepPermissions } from './step-permissions.ts';

/** Builds the app; tests call it with their own outdir and context. */
export async function buildApp(opts: { outdir?: string; context?: Record<string, unknown> } = {}): Promise<{ app: App; stack: MeshOnboardingStack }> {
  // Loaded before any construct: the handlers are ES modules, constructs are synchronous.
  const stepPermissions = await loadStepPermissions(handlerFiles());
  const app = new App({ outdir: opts.outdir, context: opts.context });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new MeshOnboardingStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'EcsMeshOnboarding', {
    stepPermissions,
    description: 'Onboards ECS Fargate workloads into an Istio / Tetrate Service Bridge mesh (ecs-mesh-onboarding)',
  });
  return { app, stack };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major !== 22) throw new Error(`infra/app.ts needs Node.js 22 (the Lambda runtime); this is ${process.version}: run it through npx (npx cdk synth), which puts node_modules/.bin first`);
  const { app } = await buildApp();
  app.synth();
}
