/**
 * The dry run (plan) of an onboarding: the same workflow, the same steps and their look-ups,
 * with no mutating AWS call. A request with `dryRun: true` (or `POST /onboardings?dryRun=true`)
 * runs Validate request, Pre-flight mesh, Resolve network and every provisioning step; each
 * provisioning step's `plan` function (bound by `wrap(step, fn, { plan })`) answers instead of
 * the step: a result of the same shape, whose ids are placeholders for what does not exist yet,
 * with an empty ledger and the step's PlanEntry list. After Ensure service, the first rule of the
 * service loop's Choice sends the run to Record plan, which assembles the plan (the execution's output).
 *
 * The rule every plan function keeps, which the plan-vs-apply test checks: for each ledger entry
 * the step would return on apply, the plan has one entry of the same kind (and, when it exists,
 * the same id): `create` for one the apply would create, `update` for one it would change (with
 * the fields that differ), `reuse` for one it would leave as found; `conflict` where the apply
 * would fail on that resource (another owner's resource under our name, a taken block).
 */
import { createHash } from 'node:crypto';
import { ResourceConflictError } from './errors.ts';
import type { ResourceKind, WorkflowState } from './workflow.ts';

export type PlanAction = 'create' | 'update' | 'reuse' | 'conflict';

/** One field the apply would change on an existing resource. */
export interface FieldChange {
  /** Where in the resource, e.g. `desiredCount`, `retentionInDays`, `containerDefinitions[1].image`. */
  field: string;
  current?: unknown;
  wanted?: unknown;
}

/** One resource the apply would create, update, reuse, or fail on. */
export interface PlanEntry {
  kind: ResourceKind;
  /** What the tool names (or finds) it by: the Name tag, role name, secret name, service name. */
  name: string;
  /** The existing resource's id as the ledger names it (reuse, update, conflict); absent for create. */
  id?: string;
  action: PlanAction;
  /** update: the fields that differ. */
  changes?: FieldChange[];
  /** A short note: what a create will look like (`10.0.3.0/24 in us-east-1a`), or why a conflict. */
  detail?: string;
  /** As the ledger's `shared`: a resource every workload of the VPC or ECS cluster uses. */
  shared?: boolean;
}

/** Something that would stop the apply, found while planning: a missing OnboardingPolicy, a taken CIDR, a subnet without a NAT route. */
export interface PlanProblem {
  /** The state that found it. */
  step: string;
  /** The request field to change, when one is to blame (`network.subnetCidrs[0]`). */
  path?: string;
  message: string;
}

/** What a step adds to its usual result in a dry run. */
export interface PlannedStep {
  plan?: PlanEntry[];
  problems?: PlanProblem[];
}

/** The execution's output in a dry run (Record plan). */
export interface OnboardingPlan {
  workload: string;
  dryRun: true;
  /** `ready`: no problem and no conflict, the apply can go ahead; `blocked`: fix the problems first. */
  status: 'ready' | 'blocked';
  summary: Record<PlanAction, number>;
  /** Every resource, in workflow order, with the state that planned it. */
  resources: (PlanEntry & { step: string })[];
  problems: PlanProblem[];
}

const PLANNED = 'planned:';

/** The placeholder id of a resource a dry run would create: never sent to AWS (isPlanned tells it apart). */
export function plannedId(kind: ResourceKind, name: string): string {
  return `${PLANNED}${kind}:${name}`;
}

/** True for a placeholder id from plannedId: the resource does not exist yet, so nothing can be looked up by it. */
export function isPlanned(id: string | undefined): boolean {
  return typeof id === 'string' && id.startsWith(PLANNED);
}

/** True when the event is a dry run's workflow state (`request.dryRun`). */
export function isDryRun(event: unknown): boolean {
  const r = (event as { request?: { dryRun?: unknown } } | null | undefined)?.request;
  return r?.dryRun === true;
}

/** The state keys whose results carry a dry run's plan entries and problems, in workflow order, with the state that set each. */
export const PLANNED_KEYS = [
  ['preflight', 'Pre-flight mesh'],
  ['network', 'Resolve network'],
  ['cluster', 'Ensure cluster'],
  ['taskRole', 'Ensure task role'],
  ['executionRole', 'Ensure execution role'],
  ['caSecret', 'Ensure CA secret'],
  ['logGroup', 'Ensure log group'],
  ['natGateway', 'Ensure NAT gateway'],
  ['taskSubnet', 'Ensure task subnet'],
  ['securityGroup', 'Ensure security group'],
  ['taskDefinition', 'Register task definition'],
  ['service', 'Ensure service'],
] as const satisfies readonly (readonly [keyof WorkflowState, string])[];

/** What a step's look-up found of one resource, as the apply and the plan both decide from it. */
export interface Found {
  /** The resource's id as the ledger names it. */
  id: string;
  /** Why the apply would refuse it (the ResourceConflictError's message). */
  conflict?: string;
  /** The fields the apply would change. */
  changes: FieldChange[];
}

/** The plan entry for one resource: not found → create; a conflict (detail: why) → conflict; fields to change → update; else reuse. `detail` is for a create or an update. */
export function planEntry(kind: ResourceKind, name: string, found: Found | undefined, extra: Pick<PlanEntry, 'detail' | 'shared'> = {}): PlanEntry {
  if (!found) return { kind, name, action: 'create', ...extra };
  if (found.conflict !== undefined) return { kind, name, id: found.id, action: 'conflict', detail: found.conflict, ...(extra.shared ? { shared: true } : {}) };
  if (found.changes.length > 0) return { kind, name, id: found.id, action: 'update', changes: found.changes, ...extra };
  return { kind, name, id: found.id, action: 'reuse', ...(extra.shared ? { shared: true } : {}) };
}

/** The message of the ResourceConflictError `check` throws (an ownership check), or undefined when it passes; other errors propagate. */
export function conflictOf(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    if (e instanceof ResourceConflictError) return e.message;
    throw e;
  }
}

/** The SHA-256 (hex) of a PEM as stored: its UTF-8 bytes, unaltered. What a dry run carries instead of the CA bundle (caBundle.sha256, the API's rootCaSha256). */
export function sha256Of(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}
