/**
 * Step permissions → IAM: each handler file exports `permissions` (functions/lib/permissions.ts)
 * next to the calls it makes; here they are loaded, checked and rendered into policy
 * statements for the function's role. Nothing else is granted to a step besides its logs and
 * X-Ray (infra/step-function.ts).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderPermission, type Permission, type PermissionPlaceholder, type StepPermissions } from '../functions/lib/permissions.ts';
import { PROJECT_ROOT } from './bundle.ts';

/**
 * While the onboarding steps are being given their `permissions`, a handler file without the
 * export counts as "needs nothing" (and the synth lists it). Set to true to make the export
 * mandatory: a file without it then fails the synth.
 */
export const PERMISSIONS_EXPORT_REQUIRED = true;

/** The permissions of each handler file (`preflight-mesh`, `api/onboardings`), and the files that export none. */
export interface LoadedStepPermissions {
  readonly byFile: Readonly<Record<string, StepPermissions>>;
  readonly missing: readonly string[];
}

/**
 * Imports each `functions/<file>.ts` and reads its `permissions` export. Asynchronous (the
 * handlers are ES modules), so it runs before the constructs are built: see infra/app.ts.
 */
export async function loadStepPermissions(files: readonly string[], dir = join(PROJECT_ROOT, 'functions'), required = PERMISSIONS_EXPORT_REQUIRED): Promise<LoadedStepPermissions> {
  const byFile: Record<string, StepPermissions> = {};
  const missing: string[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(dir, `${file}.ts`)).href)) as { permissions?: StepPermissions };
    if (mod.permissions === undefined) {
      if (required) throw new Error(`functions/${file}.ts exports no \`permissions\`: every step declares what it calls (functions/lib/permissions.ts)`);
      missing.push(file);
    }
    byFile[file] = mod.permissions ?? [];
  }
  return { byFile, missing };
}

export type PlaceholderValues = Partial<Record<PermissionPlaceholder, string | string[]>>;

/** One step permission as an IAM statement, or undefined when its resources render to none (no EKS cluster given). */
export function renderStatement(file: string, p: Permission, values: PlaceholderValues): iam.PolicyStatement | undefined {
  const bad = p.actions.filter((a) => a.includes('*') || !/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(a));
  if (bad.length > 0) throw new Error(`functions/${file}.ts permission ${p.sid}: actions must be named, never wildcards: ${bad.join(', ')}`);
  // iam:PassRole would let the step hand any of its roles to any service: it must say to which.
  if (p.actions.includes('iam:PassRole') && !Object.values(p.conditions ?? {}).some((c) => 'iam:PassedToService' in c)) {
    throw new Error(`functions/${file}.ts permission ${p.sid}: iam:PassRole needs an iam:PassedToService condition`);
  }
  // Resources AND condition values: a placeholder left in a condition is an IAM policy variable
  // that never resolves, so the statement would silently match nothing on AWS.
  const rendered = renderPermission(p, values);
  if (rendered.resources.length === 0) return undefined;
  const conditionValues = Object.values(rendered.conditions ?? {}).flatMap((keys) => Object.values(keys));
  if (conditionValues.some((v) => Array.isArray(v) && v.length === 0)) return undefined;
  return new iam.PolicyStatement({ sid: p.sid, actions: [...p.actions], resources: rendered.resources, conditions: rendered.conditions });
}

/**
 * The statements of one or more steps (several when they share a role). Equal statements
 * appear once; two steps using one sid for different grants get the step's name as a prefix,
 * since a sid must be unique within a policy. `dropped` lists the sids with no resource left.
 */
export function renderStatements(steps: readonly { file: string; permissions: StepPermissions }[], values: PlaceholderValues): { statements: iam.PolicyStatement[]; dropped: string[] } {
  const bySid = new Map<string, { file: string; json: string; statement: iam.PolicyStatement }>();
  const dropped: string[] = [];
  for (const { file, permissions } of steps) {
    for (const p of permissions) {
      const statement = renderStatement(file, p, values);
      if (!statement) {
        dropped.push(`${file}: ${p.sid}`);
        continue;
      }
      const json = JSON.stringify({ ...statement.toStatementJson(), Sid: undefined });
      const same = bySid.get(p.sid);
      if (same?.json === json) continue;
      const sid = same ? `${pascal(file)}${p.sid}` : p.sid;
      bySid.set(sid, { file, json, statement: same ? iam.PolicyStatement.fromJson({ ...statement.toStatementJson(), Sid: sid }) : statement });
    }
  }
  return { statements: [...bySid.values()].map((v) => v.statement), dropped };
}

/** `api/onboardings` → `ApiOnboardings`. */
export function pascal(file: string): string {
  return file
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}
