/**
 * What the CLI prints: one line per finished step (state, status, duration), a progress bar
 * under them on a terminal, and for a failure the failed step, its cause and the fix.
 */
import { PLANNED_KEYS, type OnboardingPlan, type PlanAction } from '../functions/lib/plan.ts';
import type { ExecutionView, StepView } from '../functions/lib/onboarding-api.ts';
import { TROUBLESHOOTING } from '../functions/lib/errors.ts';
import { allStates, loadDefinition, type MachineName } from '../statemachine/definition.ts';

/** Where the CLI writes: plain text lines, and raw writes for the bar on a terminal. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Writes without a newline (the bar); only called when `tty`. */
  write(text: string): void;
  tty: boolean;
}

/** The failed run as the CLI reports it (and --json prints it). */
export interface FailureReport {
  step: string;
  error: string;
  cause: string;
  fix: string;
  resourcesSoFar: unknown[];
}

/** Which machine an execution id belongs to, from the names the API gives (`offboard-...`, otherwise an onboarding). */
export function machineOf(executionId: string): MachineName {
  return executionId.startsWith('offboard-') ? 'offboard-workload' : 'onboard-workload';
}

/** How many distinct Task states a successful run of `machine` passes (Record failure runs only on failure). */
export function taskCount(machine: MachineName): number {
  return new Set(allStates(loadDefinition(machine)).filter(([n, s]) => s.Type === 'Task' && !/failure/i.test(n)).map(([n]) => n)).size;
}

/** Prints each step once, when it has finished; on a terminal keeps a bar naming the running step under the lines. */
export class StepPrinter {
  private readonly printed = new Set<number>();
  private readonly done = new Set<string>();
  private barShown = false;
  constructor(
    private readonly io: Io,
    private readonly total: number,
  ) {}

  /** Shows what is new in `view` since the last call. */
  update(view: ExecutionView): void {
    // Steps are listed in the order they started, each kept at its index: a step prints once, when it ends (a Parallel after its branches).
    view.steps.forEach((s, i) => {
      if (s.status === 'running' || this.printed.has(i)) return;
      this.printed.add(i);
      if (s.status === 'succeeded') this.done.add(s.state);
      this.clearBar();
      this.io.out(stepLine(s));
    });
    if (view.status === 'RUNNING') this.bar(view.currentStep ?? view.steps.at(-1)?.state);
    else this.clearBar();
  }

  private bar(running: string | undefined): void {
    if (!this.io.tty) return;
    const width = 24;
    const done = Math.min(this.done.size, this.total);
    const filled = Math.min(width, Math.round((done / Math.max(1, this.total)) * width));
    this.io.write(`\r\x1b[K  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${running ?? 'starting'}...`);
    this.barShown = true;
  }

  private clearBar(): void {
    if (this.barShown) this.io.write('\r\x1b[K');
    this.barShown = false;
  }
}

/** One finished step: `  ok    Ensure service                    812 ms`. */
export function stepLine(s: StepView): string {
  const mark = s.status === 'succeeded' ? 'ok' : s.status === 'failed' ? 'FAIL' : s.status;
  const duration = s.durationMs === undefined ? '' : `${s.durationMs} ms`;
  const retries = s.attempts > 1 ? `${s.attempts} attempts` : '';
  return `  ${mark.padEnd(5)} ${s.state.padEnd(32)} ${duration.padStart(9)}  ${[s.error ?? '', retries].filter(Boolean).join(', ')}`.trimEnd();
}

/** The failed step, its error and cause, and what to do about it, from a finished view that did not succeed. */
export function failureOf(view: ExecutionView): FailureReport {
  const error = view.error?.error ?? view.status;
  const rawCause = view.error?.cause ?? '';
  // The API's cause is `<step>: <message>`; the steps list says the same when the cause does not.
  const failedStep = [...view.steps].reverse().find((s) => s.status === 'failed' && !/failure/i.test(s.state))?.state;
  const named = /^([A-Z][A-Za-z -]{2,60}): /.exec(rawCause)?.[1];
  // Only a state name counts as the prefix: a cause may itself start with `Something: `.
  const prefix = named !== undefined && (view.steps.some((s) => s.state === named) || failedStep === undefined) ? named : undefined;
  const step = prefix ?? failedStep ?? (view.status === 'RUNNING' ? (view.currentStep ?? 'unknown') : 'unknown');
  const cause = prefix ? rawCause.slice(prefix.length + 2) : rawCause || `the execution ended ${view.status}`;
  return { step, error, cause, fix: fixFor(error, cause, view), resourcesSoFar: view.error?.resourcesSoFar ?? [] };
}

const EKS_SG_FIX =
  "open the EKS cluster security group to the tasks' security group on app.port (network.allowFromEksClusterSecurityGroup, on by default with network.eksClusterName; " +
  "for a cluster without a cluster security group allow it on the nodes' security group yourself)";

/** Errors the workflow raises that are not classes of functions/lib/errors.ts (Step Functions' own). */
const WORKFLOW_ONLY: Record<string, string> = {
  ExecutionAborted: 'The execution was stopped (from the console, or by Ctrl-C on a local run).',
  'States.Timeout': 'The execution ran past its time limit: the last step above is the one that did not finish.',
};

/**
 * The fix for a workflow error: the row of functions/lib/errors.ts TROUBLESHOOTING for its name
 * (the one source docs/troubleshooting.md is generated from), then how to run it again with this CLI.
 */
export function fixFor(error: string, cause: string, view?: ExecutionView): string {
  const teardown = view !== undefined && machineOf(view.executionId) === 'offboard-workload';
  const again = teardown
    ? `then run mesh-onboard offboard ${view.workload} again: what was deleted stays deleted, the rest goes`
    : 'then run mesh-onboard apply <request.json> again: the run resumes, reusing what the failed run made';
  const row = (TROUBLESHOOTING as Record<string, { fix: string } | undefined>)[error.replace(/^WorkloadBusy$/, 'WorkloadBusyError')];
  const base = row?.fix ?? WORKFLOW_ONLY[error] ?? 'Fix what the cause names.';
  const parts = [base];
  // The seed's 503: the task's calls into the cluster are refused by the EKS cluster security group.
  if (/\b503\b/.test(cause)) parts.push(`If the 503s are the tasks' calls into the cluster: ${EKS_SG_FIX}.`);
  if (error === 'MeshPrerequisiteError') parts.push('The YAML to apply is in the cause above (kubectl apply -f -); examples/mesh-prerequisites.yaml has the full set for bookstore/details.');
  if (error === 'KubernetesAccessDeniedError') parts.push('The access entry command and the RBAC are in the cause above (README: For the mesh operator).');
  parts.push(`Then ${again.slice('then '.length)}.`);
  return parts.join(' ');
}

/** Prints a finished failed run: the failed step, the cause, the fix, and what it had made. */
export function printFailure(io: Io, what: string, f: FailureReport): void {
  io.err(`\n${what} FAILED at step "${f.step}": ${f.error}`);
  for (const line of f.cause.split('\n')) io.err(`  ${line}`);
  io.err(`Fix: ${f.fix}`);
  if (f.resourcesSoFar.length > 0) {
    io.err('Made before the failure (a re-run with the same request reuses them):');
    for (const r of f.resourcesSoFar as { kind?: string; id?: string }[]) io.err(`  ${String(r.kind ?? '').padEnd(24)} ${String(r.id ?? JSON.stringify(r))}`);
  }
}

interface ResultShape {
  workload?: string;
  tasks?: unknown[];
  created?: unknown[];
  updated?: unknown[];
  reused?: unknown[];
  traffic?: { hint?: string; outbound?: { byStatusClass?: Record<string, number> }; inbound?: { byStatusClass?: Record<string, number> } };
}

/** A finished successful run in a few lines, with the EKS security-group hint when the tasks' traffic met 5xx answers. */
export function printSuccess(io: Io, view: ExecutionView): void {
  const offboarding = machineOf(view.executionId) === 'offboard-workload';
  const seconds = view.durationMs === undefined ? '' : ` in ${(view.durationMs / 1000).toFixed(1)} s`;
  io.out(`\n${offboarding ? 'Offboarded' : 'Onboarded'} ${view.workload}${seconds} (execution ${view.executionId}).`);
  const r = (view.result ?? {}) as ResultShape;
  if (!offboarding && Array.isArray(r.tasks)) io.out(`  ${r.tasks.length} task(s); ${r.created?.length ?? 0} resource(s) created, ${r.updated?.length ?? 0} updated, ${r.reused?.length ?? 0} reused.`);
  const fives = (r.traffic?.outbound?.byStatusClass?.['5xx'] ?? 0) + (r.traffic?.inbound?.byStatusClass?.['5xx'] ?? 0);
  if (fives > 0) io.out(`  Note: the agent's access log shows ${fives} 5xx answer(s). If they are 503s from pods in the cluster, ${EKS_SG_FIX}, then run mesh-onboard apply again.`);
  if (r.traffic?.hint) io.out(`  Note: ${r.traffic.hint}`);
}

/** The Task states a dry run passes: Validate request, each planning step (record-plan.ts's list) and Record plan. */
export const PLAN_TASKS = 1 + PLANNED_KEYS.length + 1;

const MARK: Record<PlanAction, string> = { create: '+ create', update: '~ update', reuse: '= reuse', conflict: '! conflict' };

/** A plan as a terraform-like list: one line per resource (changes indented under it), then the problems, then what to do next. */
export function printPlan(io: Io, plan: OnboardingPlan, executionId: string, file: string): void {
  const s = plan.summary;
  io.out(`\nPlan for ${plan.workload} (execution ${executionId}): ${s.create} to create, ${s.update} to update, ${s.reuse} to reuse, ${s.conflict} in conflict.\n`);
  const kindWidth = Math.max(...plan.resources.map((e) => e.kind.length), 4);
  for (const e of plan.resources) {
    const what = [e.name, e.id && e.id !== e.name && !e.id.startsWith('planned:') ? `(${e.id})` : '', e.shared ? '[shared]' : ''].filter(Boolean).join(' ');
    io.out(`  ${MARK[e.action].padEnd(10)} ${e.kind.padEnd(kindWidth)}  ${what}${e.detail ? `: ${e.detail}` : ''}`);
    for (const c of e.changes ?? []) io.out(`      ${c.field}: ${shown(c.current)} -> ${shown(c.wanted)}`);
  }
  if (plan.problems.length > 0) {
    io.out(`\nProblems (${plan.problems.length}); the apply would stop at the first:`);
    for (const p of plan.problems) io.out(`  - ${p.step}${p.path ? ` (${p.path})` : ''}: ${p.message.replace(/\n/g, '\n      ')}`);
  }
  io.out(
    plan.status === 'ready'
      ? `\nReady. Nothing was changed. To do this: mesh-onboard apply ${file} --watch`
      : `\nBlocked: fix the problems${s.conflict > 0 ? ' and conflicts' : ''} above, then plan again (mesh-onboard plan ${file}). Nothing was changed.`,
  );
}

function shown(v: unknown): string {
  if (v === undefined) return '(none)';
  if (typeof v === 'string') return v.startsWith('planned:') ? '(new)' : v;
  return JSON.stringify(v);
}
