/**
 * Synthesises the real app (infra/app.ts) once into a temporary cloud assembly: the functions
 * are real esbuild bundles (cached on disk by infra/bundle.ts), and cdk-nag runs as it does
 * for `npx cdk synth` (a finding throws here).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../../infra/app.ts';
import type { MeshOnboardingStack } from '../../infra/stack.ts';

export interface Synthesised {
  app: App;
  stack: MeshOnboardingStack;
  assembly: CloudAssembly;
  template: Template;
  /** The template as synthesised (cfn-lint reads this file). */
  templatePath: string;
  templateJson: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; [k: string]: unknown }>; Outputs?: Record<string, unknown> };
  outdir: string;
  /** Milliseconds: building the constructs (bundling included) and synthesising (cdk-nag included). */
  timings: { build: number; synth: number };
  cleanup(): void;
}

export async function synthApp(context: Record<string, unknown> = {}): Promise<Synthesised> {
  const outdir = mkdtempSync(join(tmpdir(), 'infra-test-'));
  const t0 = performance.now();
  const { app, stack } = await buildApp({ outdir, context });
  const t1 = performance.now();
  const assembly = app.synth();
  const t2 = performance.now();
  const artifact = assembly.getStackByName(stack.stackName);
  const templatePath = join(outdir, artifact.templateFile);
  const templateJson = JSON.parse(readFileSync(templatePath, 'utf8')) as Synthesised['templateJson'];
  return {
    app,
    stack,
    assembly,
    template: Template.fromJSON(templateJson),
    templatePath,
    templateJson,
    outdir,
    timings: { build: t1 - t0, synth: t2 - t1 },
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Resources of one type, by logical id. */
export function resourcesOf(s: Synthesised, type: string): [string, Record<string, unknown>][] {
  return Object.entries(s.templateJson.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Every IAM statement of the template (policies and roles' inline policies), with where it is. */
export function allStatements(s: Synthesised): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(s.templateJson.Resources)) {
    const p = r.Properties ?? {};
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const ip of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) docs.push(ip.PolicyDocument);
    for (const d of docs) for (const statement of (d as { Statement: Statement[] }).Statement) out.push({ where: id, statement });
  }
  return out;
}

export const actionsOf = (s: Statement): string[] => [s.Action].flat();
