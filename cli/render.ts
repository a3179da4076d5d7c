/**
 * What the CLI prints: one line per finished step (state, status, duration), a progress bar
 * under them on a terminal, and for a failure the failed step, its cause and the fix.
 */
import type { ExecutionView, StepView } from '../functions/lib/onboarding-api.ts';
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
  "for a cluster without a cluster security group allow it on the nodes' security group yourself), then run mesh-onboard apply again";

/** The fix for a workflow error, by its name (the `ErrorEquals` vocabulary of functions/lib/errors.ts) and cause. */
export function fixFor(error: string, cause: string, view?: ExecutionView): string {
  const again = `then run mesh-onboard apply <request.json> again: the run resumes, reusing what the failed run made`;
  const workload = view?.workload ?? '<namespace>/<name>';
  if (/\b503\b/.test(cause)) return EKS_SG_FIX;
  switch (error) {
    case 'MeshPrerequisiteError':
      return `the mesh operator applies the missing resources the cause lists (its YAML: kubectl apply -f -, or examples/mesh-prerequisites.yaml for the bookinfo/bookstore namespaces: Namespace, WorkloadGroup and OnboardingPolicy for ${workload}), ${again}`;
    case 'KubernetesAccessDeniedError':
      return `the mesh operator maps the orchestrator's role in EKS: an access entry (aws eks create-access-entry --cluster-name <eks-cluster> --principal-arn <role in the cause> --kubernetes-groups mesh-onboarding-readers) and the RBAC Roles and bindings the cause prints (README: For the mesh operator), ${again}`;
    case 'KubernetesUnavailableError':
      return `the Kubernetes API of the mesh's EKS cluster could not be reached or was unavailable: check it answers (kubectl get ns) and that the orchestrator can reach its endpoint; if the tasks' calls into the cluster get 503, ${EKS_SG_FIX}`;
    case 'AwsAccessDeniedError':
      return `add the permission the cause names to that step's role (infra/: the step's permissions), ${again}`;
    case 'TaskStoppedError':
      return `read the task's stoppedReason and container logs (aws ecs describe-tasks; the workload's log group), fix the image, its settings or its secrets, ${again}`;
    case 'WaitDeadlineExceededError':
      return `what the step waited for did not happen in time: check it in the cause (the agent's connection to the onboarding endpoint, a task's start, a NAT gateway), ${again}`;
    case 'NetworkConfigurationError':
    case 'InvalidRequestError':
      return `correct the request field or the network the cause names, ${again}`;
    case 'QuotaExceededError':
      return `free capacity or raise the quota the cause names (Service Quotas), ${again}`;
    case 'ResourceConflictError':
      return `a resource with the workload's name exists and is not this orchestrator's: rename or remove it as the cause says, ${again}`;
    case 'WorkloadBusy':
    case 'WorkloadBusyError':
      return 'wait for the execution the cause names to end (mesh-onboard watch <id>), then run the command again';
    case 'ExecutionAborted':
      return `the execution was stopped; ${again}`;
    case 'States.Timeout':
      return `the execution ran past its time limit: see the last step above, ${again}`;
    default:
      return `fix what the cause names, ${again}`;
  }
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
  reused?: unknown[];
  traffic?: { hint?: string; outbound?: { byStatusClass?: Record<string, number> }; inbound?: { byStatusClass?: Record<string, number> } };
}

/** A finished successful run in a few lines, with the EKS security-group hint when the tasks' traffic met 5xx answers. */
export function printSuccess(io: Io, view: ExecutionView): void {
  const offboarding = machineOf(view.executionId) === 'offboard-workload';
  const seconds = view.durationMs === undefined ? '' : ` in ${(view.durationMs / 1000).toFixed(1)} s`;
  io.out(`\n${offboarding ? 'Offboarded' : 'Onboarded'} ${view.workload}${seconds} (execution ${view.executionId}).`);
  const r = (view.result ?? {}) as ResultShape;
  if (!offboarding && Array.isArray(r.tasks)) io.out(`  ${r.tasks.length} task(s); ${r.created?.length ?? 0} resource(s) created, ${r.reused?.length ?? 0} reused.`);
  const fives = (r.traffic?.outbound?.byStatusClass?.['5xx'] ?? 0) + (r.traffic?.inbound?.byStatusClass?.['5xx'] ?? 0);
  if (fives > 0) io.out(`  Note: the agent's access log shows ${fives} 5xx answer(s). If they are 503s from pods in the cluster: ${EKS_SG_FIX}.`);
  if (r.traffic?.hint) io.out(`  Note: ${r.traffic.hint}`);
}
