/**
 * A small typed builder that renders a workflow description (statemachine/onboard-workload.ts)
 * as ASL in the JSONPath dialect. It owns what every Task shares, so the description holds
 * only real content: the one retry policy, the Catch → "<step> failed" → failure target
 * wiring, the clean failure state each of those Pass states builds (the ledgers of the steps
 * known to have run, never the CA bundle), the Parallel's failure routing (a failed branch ends
 * normally with its failure state, so the other branches run to their end and the failure
 * record lists what every branch made), and the execution's TimeoutSeconds.
 */
import { placeholderOf, type AslMachine, type AslState, type Retrier } from './definition.ts';

/** A Task state bound to functions/<step-file>.ts by the naming rule of definition.ts. */
export interface TaskStep {
  kind: 'task';
  name: string;
  /** The state key the result goes to (`ResultPath: $.<key>`); absent: the result is the new state. */
  resultKey?: string;
  /** True when the result carries a `ledger` of what the step found or made. */
  ledger?: boolean;
  parameters?: Record<string, unknown>;
  /** The state keys a step without `resultKey` returns (Validate request: the request and the execution). */
  provides?: string[];
  comment?: string;
}

/** One JSONPath Choice rule; `Next` is filled by the builder. */
export type ChoiceRule = Record<string, unknown>;

/**
 * A bounded wait loop: `check` computes the next wait and throws at its deadline; `choice`
 * leaves the loop when `until` holds; `wait` sleeps `<resultKey>.poll.nextWaitSeconds`.
 * `enter: 'choice'` when the step before may already report the resource ready (the first
 * check then runs at once); `enter: 'check'` otherwise.
 */
export interface WaitLoop {
  kind: 'loop';
  check: TaskStep & { resultKey: string };
  choice: string;
  until: ChoiceRule;
  wait: string;
  enter: 'choice' | 'check';
  /** The longest deadline a request may set for this wait. */
  maxWaitSeconds: number;
  /**
   * A fixed Wait before the first check (about when the resource is typically ready), so no check
   * runs that cannot succeed yet; only with `enter: 'choice'`. Taken when no check ran yet and
   * `when` holds (absent: always); otherwise the first check runs at once (a re-run finding the
   * resource ready).
   */
  firstWait?: { name: string; seconds: number; when?: ChoiceRule };
  /** The Succeed state the loop leaves to when it ends a Parallel branch (a Choice cannot end one). */
  endName?: string;
  /** A side exit, the first rule of the entry Choice (`enter: 'choice'`, top level only). */
  exit?: SideExit;
}

export interface Branch {
  /** "Identity" gives the states "Identity branch failed" and "Fail identity branch". */
  name: string;
  steps: Step[];
}

export interface ParallelStep {
  kind: 'parallel';
  name: string;
  comment?: string;
  /** The Pass state its Catch goes to (a failure no branch caught itself, e.g. States.Runtime). */
  failedName: string;
  /** The Choice after it that sends a run with a failed branch to the failure path. */
  checkName: string;
  /** The Pass after that Choice that flattens the branches' results into one state (the CA bundle left behind). */
  doneName: string;
  branches: Branch[];
}

/**
 * A side exit taken at a wait loop's entry Choice before anything else: when `when` holds, the
 * run leaves for `steps` and ends in a Succeed state (the dry run's Record plan → Planned). Being
 * a rule of a Choice the loop has anyway, it costs the main path no transition. The exit's Tasks
 * fail to the workflow's failure path like any other.
 */
export interface SideExit {
  comment?: string;
  when: ChoiceRule;
  steps: TaskStep[];
  succeed: { name: string; outputPath?: string; comment?: string };
}

export type Step = TaskStep | WaitLoop | ParallelStep;

export interface WorkflowSpec {
  comment: string;
  steps: Step[];
  /** The one retry policy of every Task state (Parallel states never retry: their branches' Tasks already did). */
  retry: Retrier[];
  taskTimeoutSeconds: number;
  succeed: { name: string; outputPath?: string };
  failure: {
    /** The Task that turns a clean failure state into the failure record. */
    record: TaskStep & { resultKey: string };
    /** State keys (besides the ledgers) a failure state carries once they are known, e.g. the validated request. */
    carry: string[];
    failed: { name: string; comment: string; errorPath: string; causePath: string };
    unrecorded: { name: string; comment: string; errorPath: string; causePath: string; resultPath: string };
  };
  /** TimeoutSeconds is rounded up to a multiple of this. */
  timeoutRoundingSeconds: number;
}

/** A state key known to be present at some point of the workflow. */
interface Known {
  key: string;
  ledger: boolean;
}

export const task = <O extends Omit<TaskStep, 'kind' | 'name'>>(name: string, opts: O): TaskStep & O => ({ kind: 'task', name, ...opts });
export const waitLoop = (opts: Omit<WaitLoop, 'kind'>): WaitLoop => ({ kind: 'loop', ...opts });
export const parallel = (name: string, opts: Omit<ParallelStep, 'kind' | 'name'>): ParallelStep => ({ kind: 'parallel', name, ...opts });

const CAUGHT = '$.failure';

/** The name of the state a step starts at. */
function entryOf(step: Step): string {
  if (step.kind === 'loop') return step.enter === 'choice' ? step.choice : step.check.name;
  return step.name;
}

function withKey(known: Known[], key: string, ledger: boolean): Known[] {
  return known.some((k) => k.key === key) ? known : [...known, { key, ledger }];
}

function after(known: Known[], t: TaskStep): Known[] {
  if (t.resultKey) return withKey(known, t.resultKey, t.ledger ?? false);
  return (t.provides ?? []).map((key) => ({ key, ledger: false }));
}

class Renderer {
  constructor(private readonly spec: WorkflowSpec) {}

  /**
   * The "<step> failed" Pass: a new state with only the failure, the ledgers of the steps
   * known to have run, the `carry` keys (once they exist) and, at the top level, the execution
   * id. Building it afresh (no ResultPath) is what keeps the CA bundle and the raw request (with
   * `rootCaPem`) away from Record failure and every failure output. In a Parallel branch
   * (`next` undefined) it ends the branch normally: the Parallel then waits for the other
   * branches, and the Choice after it routes the run to the failure path.
   */
  failedPass(step: string, known: Known[], next: string | undefined, comment?: string): AslState {
    const ledgers = Object.fromEntries(known.filter((k) => k.ledger).map((k) => [`${k.key}.$`, `$.${k.key}.ledger`]));
    return {
      Type: 'Pass',
      Comment: comment ?? `A clean failure state: the step, its error and what ${next ? 'the run' : 'this branch'} made before it.`,
      Parameters: {
        failure: { step, 'error.$': `${CAUGHT}.Error`, 'cause.$': `${CAUGHT}.Cause` },
        ledgers,
        ...this.carried(known, (key) => `$.${key}`),
        // The top-level failure Pass after the Parallel adds the execution id.
        ...(next ? { execution: { 'id.$': '$$.Execution.Id' } } : {}),
      },
      ...(next ? { Next: next } : { End: true }),
    };
  }

  /** The `carry` keys present in `known`, as Parameters read from `path(key)`. */
  carried(known: Known[], path: (key: string) => string): Record<string, string> {
    return Object.fromEntries(this.spec.failure.carry.filter((key) => known.some((k) => k.key === key)).map((key) => [`${key}.$`, path(key)]));
  }

  taskState(t: TaskStep, next: { Next: string } | { End: true }, catchTo: string): AslState {
    return {
      Type: 'Task',
      ...(t.comment ? { Comment: t.comment } : {}),
      Resource: `\${${placeholderOf(t.name)}}`,
      ...(t.parameters ? { Parameters: t.parameters } : {}),
      TimeoutSeconds: this.spec.taskTimeoutSeconds,
      ...(t.resultKey ? { ResultPath: `$.${t.resultKey}` } : {}),
      ...next,
      Retry: this.spec.retry,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: CAUGHT, Next: catchTo }],
    };
  }

  /** Renders `steps` in order; returns the states and the keys known at their end. */
  /** `failTo` undefined: in a Parallel branch, whose failure Pass states end the branch. */
  sequence(steps: Step[], end: { Next: string } | { End: true }, failTo: string | undefined, known: Known[]): { states: Record<string, AslState>; known: Known[] } {
    const states: Record<string, AslState> = {};
    steps.forEach((step, i) => {
      const following = steps[i + 1];
      const next = following ? { Next: entryOf(following) } : end;
      if (step.kind === 'task') {
        const failed = `${step.name} failed`;
        states[step.name] = this.taskState(step, next, failed);
        states[failed] = this.failedPass(step.name, known, failTo);
        known = after(known, step);
      } else if (step.kind === 'loop') {
        Object.assign(states, this.loop(step, next, failTo, known));
        known = after(known, step.check);
      } else {
        if (failTo === undefined) throw new Error(`Parallel "${step.name}" cannot be nested in a branch`);
        const r = this.parallel(step, next, known);
        Object.assign(states, r.states);
        known = r.known;
      }
    });
    return { states, known };
  }

  /** The states of a loop's side exit: its Tasks, then its Succeed state. */
  exitPath(l: WaitLoop, x: SideExit, failTo: string | undefined, known: Known[]): { rule: ChoiceRule; states: Record<string, AslState> } {
    const first = x.steps[0];
    if (!first) throw new Error(`the exit of "${l.choice}" has no steps`);
    if (failTo === undefined || l.enter !== 'choice') throw new Error(`the exit of "${l.choice}" needs a top-level loop entered at its choice`);
    const succeed: AslState = { Type: 'Succeed', ...(x.succeed.comment ? { Comment: x.succeed.comment } : {}), ...(x.succeed.outputPath ? { OutputPath: x.succeed.outputPath } : {}) };
    const path = this.sequence(x.steps, { Next: x.succeed.name }, failTo, known);
    return { rule: { ...x.when, Next: first.name }, states: { ...path.states, [x.succeed.name]: succeed } };
  }

  loop(l: WaitLoop, next: { Next: string } | { End: true }, failTo: string | undefined, known: Known[]): Record<string, AslState> {
    if (!('Next' in next) && !l.endName) throw new Error(`wait loop "${l.choice}" ends a sequence: give it an endName`);
    const poll = `$.${l.check.resultKey}.poll`;
    const leave = 'Next' in next ? next.Next : l.endName!;
    const ending: Record<string, AslState> = 'Next' in next ? {} : { [leave]: { Type: 'Succeed', Comment: 'The branch ends once the resource is ready.' } };
    const side = l.exit ? this.exitPath(l, l.exit, failTo, known) : undefined;
    const choices: ChoiceRule[] = [...(side ? [side.rule] : []), { ...l.until, Next: leave }];
    const first = l.firstWait;
    if (first && l.enter !== 'choice') throw new Error(`wait loop "${l.choice}": a first wait needs enter: 'choice'`);
    // Entered before any check: no poll yet means "check now" (or the first wait), a poll means "wait, then check".
    if (l.enter === 'choice') choices.push({ Variable: poll, IsPresent: true, Next: l.wait });
    if (first?.when) choices.push({ ...first.when, Next: first.name });
    const entryDefault = first && !first.when ? first.name : l.check.name;
    const choice: AslState = { Type: 'Choice', Choices: choices, Default: l.enter === 'choice' ? entryDefault : l.wait };
    const wait: AslState = { Type: 'Wait', Comment: `Interval computed by ${l.check.name} (functions/lib/poll.ts); its deadline bounds the loop.`, SecondsPath: `${poll}.nextWaitSeconds`, Next: l.check.name };
    const failed = `${l.check.name} failed`;
    const check = this.taskState(l.check, { Next: l.choice }, failed);
    const checkFailed = this.failedPass(l.check.name, known, failTo);
    const firstState: Record<string, AslState> = first
      ? { [first.name]: { Type: 'Wait', Comment: `About when the resource is typically ready (functions/lib/settings.ts READINESS): no check that cannot succeed yet.`, Seconds: first.seconds, Next: l.check.name } }
      : {};
    return l.enter === 'choice'
      ? { [l.choice]: choice, ...firstState, [l.wait]: wait, [l.check.name]: check, [failed]: checkFailed, ...ending, ...(side?.states ?? {}) }
      : { [l.check.name]: check, [failed]: checkFailed, [l.choice]: choice, [l.wait]: wait, ...ending };
  }

  /**
   * A failed branch cannot reach the top-level failure path, and a branch that Fails stops the
   * others (their results lost). So each branch's failure Pass ends the branch normally with
   * its clean failure state; the Parallel keeps the raw branch outputs; a Choice sends a run
   * with any failed branch to a Pass that builds the top-level failure state from every branch
   * (the first failed branch's failure, the others' as `alsoFailed`, the ledgers of all), and
   * otherwise to a Pass that flattens the branch outputs into one state without the CA bundle.
   * Transitions: Parallel → Choice → Pass either way.
   */
  parallel(p: ParallelStep, next: { Next: string } | { End: true }, known: Known[]): { states: Record<string, AslState>; known: Known[] } {
    const branchKnown: Known[][] = [];
    const branches: AslMachine[] = p.branches.map((b) => {
      const r = this.sequence(b.steps, { End: true }, undefined, known);
      branchKnown.push(r.known);
      const first = b.steps[0];
      if (!first) throw new Error(`branch "${b.name}" has no steps`);
      return { StartAt: entryOf(first), States: r.states };
    });
    // Carry on what was known before the Parallel (from the first branch) and what each branch added; nothing else (the CA bundle stays behind).
    const selected = [...known.map((k) => ({ ...k, from: 0 }))];
    branchKnown.forEach((bk, i) => {
      for (const k of bk) if (!selected.some((s) => s.key === k.key)) selected.push({ ...k, from: i });
    });
    const state: AslState = {
      Type: 'Parallel',
      ...(p.comment ? { Comment: p.comment } : {}),
      Branches: branches,
      Next: p.checkName,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: CAUGHT, Next: p.failedName }],
    };
    const n = p.branches.length;
    if (n > 3) throw new Error(`Parallel "${p.name}": at most 3 branches (the failure routing has a Pass per set of failed branches)`);
    // Every non-empty set of failed branches, larger sets first: the first rule that matches names exactly the branches that failed.
    const sets = Array.from({ length: 2 ** n - 1 }, (_, m) => p.branches.map((_, i) => i).filter((i) => ((m + 1) >> i) & 1)).sort((a, b) => b.length - a.length);
    const failedName = (set: number[]) => {
      const names = set.map((i) => p.branches[i]!.name);
      return names.length === 1 ? `${names[0]} branch failed` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} branches failed`;
    };
    const present = (i: number) => ({ Variable: `$[${i}].failure`, IsPresent: true });
    const choice: AslState = {
      Type: 'Choice',
      Comment: 'A failed branch ended with its failure state instead of its results.',
      Choices: sets.map((set) => ({ ...(set.length === 1 ? present(set[0]!) : { And: set.map(present) }), Next: failedName(set) })),
      Default: p.doneName,
    };
    const done: AslState = {
      Type: 'Pass',
      Comment: 'One state from the branch outputs: what was known before and what each branch added, never the CA bundle.',
      Parameters: Object.fromEntries(selected.map((s) => [`${s.key}.$`, `$[${s.from}].${s.key}`])),
      ...next,
    };
    const failures = Object.fromEntries(sets.map((set) => [failedName(set), this.branchesFailedPass(p, set, known, branchKnown)]));
    const failed = this.failedPass(p.name, known, this.spec.failure.record.name, 'A clean failure state for a failure no branch caught (the Parallel itself failed).');
    return { states: { [p.name]: state, [p.failedName]: failed, [p.checkName]: choice, [p.doneName]: done, ...failures }, known: selected.map(({ key, ledger }) => ({ key, ledger })) };
  }

  /**
   * The top-level failure state when the branches `set` failed: the first one's failure, the
   * others' as `alsoFailed`, and every ledger: a failed branch's own ledgers (an object, under
   * the branch's name), a finished branch's by state key (read from the first finished branch
   * for what was known before the Parallel).
   */
  branchesFailedPass(p: ParallelStep, set: number[], known: Known[], branchKnown: Known[][]): AslState {
    const first = set[0]!;
    const finished = p.branches.map((_, i) => i).filter((i) => !set.includes(i));
    const ledgers: Record<string, string> = {};
    if (finished.length > 0) for (const k of known.filter((x) => x.ledger)) ledgers[`${k.key}.$`] = `$[${finished[0]}].${k.key}.ledger`;
    p.branches.forEach((b, i) => {
      if (set.includes(i)) ledgers[`${b.name}.$`] = `$[${i}].ledgers`;
      else for (const k of branchKnown[i]!.filter((x) => x.ledger && !known.some((y) => y.key === x.key))) ledgers[`${k.key}.$`] = `$[${i}].${k.key}.ledger`;
    });
    const others = set.slice(1);
    return {
      Type: 'Pass',
      Comment: `A clean failure state: the failure of ${p.branches[first]!.name}${others.length > 0 ? ' (the other failed branches as alsoFailed)' : ''} and what every branch made.`,
      Parameters: {
        'failure.$': `$[${first}].failure`,
        ...(others.length > 0 ? { alsoFailed: Object.fromEntries(others.map((i) => [`${p.branches[i]!.name}.$`, `$[${i}].failure`])) } : {}),
        ledgers,
        // Every branch output carries the carry keys: a finished branch its whole state, a failed one its failure state.
        ...this.carried(known, (key) => `$[${first}].${key}`),
        execution: { 'id.$': '$$.Execution.Id' },
      },
      Next: this.spec.failure.record.name,
    };
  }

  machine(): AslMachine {
    const { spec } = this;
    const first = spec.steps[0];
    if (!first) throw new Error('a workflow needs steps');
    const { record, failed, unrecorded } = spec.failure;
    const body = this.sequence(spec.steps, { Next: spec.succeed.name }, record.name, []);
    const recordState = this.taskState(record, { Next: failed.name }, unrecorded.name);
    recordState.Catch = [{ ErrorEquals: ['States.ALL'], ResultPath: unrecorded.resultPath, Next: unrecorded.name }];
    return {
      Comment: spec.comment,
      StartAt: entryOf(first),
      TimeoutSeconds: executionTimeoutSeconds(spec),
      States: {
        ...body.states,
        [spec.succeed.name]: { Type: 'Succeed', ...(spec.succeed.outputPath ? { OutputPath: spec.succeed.outputPath } : {}) },
        [record.name]: recordState,
        [failed.name]: { Type: 'Fail', Comment: failed.comment, ErrorPath: failed.errorPath, CausePath: failed.causePath },
        [unrecorded.name]: { Type: 'Fail', Comment: unrecorded.comment, ErrorPath: unrecorded.errorPath, CausePath: unrecorded.causePath },
      },
    };
  }
}

/** The ASL of a workflow description. */
export function buildWorkflow(spec: WorkflowSpec): AslMachine {
  return new Renderer(spec).machine();
}

/** The longest delay one retrier can wait before a retry. */
export function maxRetryDelaySeconds(r: Retrier): number {
  const grown = r.IntervalSeconds * r.BackoffRate ** Math.max(0, r.MaxAttempts - 1);
  return Math.min(grown, r.MaxDelaySeconds ?? grown);
}

/** Worst case of one Task: every retrier used up, each attempt running to the timeout and then waiting the longest delay. */
export function taskBudgetSeconds(timeoutSeconds: number, retry: Retrier[]): number {
  const attempts = 1 + retry.reduce((n, r) => n + r.MaxAttempts, 0);
  return attempts * (timeoutSeconds + Math.max(0, ...retry.map(maxRetryDelaySeconds)));
}

function worstCaseSeconds(steps: Step[], taskBudget: number): number {
  return steps.reduce((total, s) => {
    if (s.kind === 'task') return total + taskBudget;
    // The loop's deadline bounds its checks and waits, but the check begun just before the deadline and the one that throws at it may each exhaust their retries.
    if (s.kind === 'loop') return total + (s.firstWait?.seconds ?? 0) + s.maxWaitSeconds + 2 * taskBudget;
    return total + Math.max(...s.branches.map((b) => worstCaseSeconds(b.steps, taskBudget)));
  }, 0);
}

/**
 * The execution timeout. Step Functions ends a run that reaches it TIMED_OUT, past every
 * Catch, with no failure record: so it must be a backstop that no path can reach.
 */
export function executionTimeoutSeconds(spec: WorkflowSpec): number {
  const budget = taskBudgetSeconds(spec.taskTimeoutSeconds, spec.retry);
  // Longest path = every wait loop at the schema's maximum + every Task on it (Record failure included) exhausting all its retries; rounded up so a wait or retry added later does not need a new figure at once.
  const worst = worstCaseSeconds(spec.steps, budget) + budget;
  return Math.ceil(worst / spec.timeoutRoundingSeconds) * spec.timeoutRoundingSeconds;
}
