/**
 * The pure half of `npm run bench` (bench/run.ts): counting transitions from engine events,
 * splitting recorded calls into mutating and read-only, checking figures against their targets,
 * and rendering bench/results.json, the stdout report and the README's Performance block.
 * Nothing here starts a process or reads a clock, so test/unit/bench-report.test.ts can hold it.
 */
import { isMutating } from '../test/support/aws-faults.ts';

/** AWS Step Functions Standard, us-east-1 and most regions: $0.025 per 1,000 state transitions (aws.amazon.com/step-functions/pricing). */
export const USD_PER_TRANSITION = 0.025 / 1000;

export const README_BEGIN = '<!-- bench:begin (written by `npm run bench`; edit bench/, not this block) -->';
export const README_END = '<!-- bench:end -->';

/** True when an AWS operation changes state in the account: the reliability suites' definition, so "mutating" means one thing. */
export function isMutatingOperation(command: string): boolean {
  return isMutating({ command });
}

// ---------------------------------------------------------------- transitions

/** The part of an aws-local-stepfunctions event log entry the count needs. */
export interface EngineEventLike {
  type: string;
  state?: { name: string; type: string };
}

export interface TransitionCount {
  /**
   * What Step Functions bills for a Standard workflow: one per state entered (states inside Map
   * iterations and Parallel branches included), plus one per retry.
   */
  transitions: number;
  statesEntered: number;
  retries: number;
  /** Task states run, each retry a further invocation. */
  lambdaInvocations: number;
  /** States entered more than once (poll loops, Map iterations), with how often. */
  repeated: Record<string, number>;
}

/**
 * Counts what Step Functions bills from the engine's events: "Step Functions counts a state
 * transition each time a step of your workflow is executed ... including retries"; the engine
 * reports a retry as StateFailed → StateRetried without a second StateEntered, so each
 * StateRetried adds one.
 */
export function countTransitions(events: readonly EngineEventLike[]): TransitionCount {
  let statesEntered = 0;
  let retries = 0;
  let lambdaInvocations = 0;
  const seen: Record<string, number> = {};
  for (const e of events) {
    if (!e.state) continue;
    if (e.type === 'StateEntered') {
      statesEntered++;
      seen[e.state.name] = (seen[e.state.name] ?? 0) + 1;
      if (e.state.type === 'Task') lambdaInvocations++;
    } else if (e.type === 'StateRetried') {
      retries++;
      if (e.state.type === 'Task') lambdaInvocations++;
    }
  }
  const repeated = Object.fromEntries(Object.entries(seen).filter(([, n]) => n > 1));
  return { transitions: statesEntered + retries, statesEntered, retries, lambdaInvocations, repeated };
}

// ---------------------------------------------------------------- calls

/** One AWS command a client sent (functions/lib/clients.ts `onCommand`). */
export interface AwsCall {
  service: string;
  command: string;
  input?: unknown;
}

export interface CallTally {
  total: number;
  mutating: number;
  readOnly: number;
  /** `service:Operation` → count, mutating ones first, then by count. */
  byOperation: Record<string, number>;
  /** The mutating operations alone. */
  mutatingOperations: Record<string, number>;
}

export interface AwsCallSplit {
  /** Calls on the account's resources (what provisioning costs). */
  resource: CallTally;
  /** The registry's own bookkeeping: its DynamoDB table (workload records, locks, the network lease). */
  registry: CallTally;
}

function tally(names: { name: string; mutating: boolean }[]): CallTally {
  const counts = new Map<string, { n: number; mutating: boolean }>();
  for (const c of names) counts.set(c.name, { n: (counts.get(c.name)?.n ?? 0) + 1, mutating: c.mutating });
  const sorted = [...counts.entries()].sort(([a, x], [b, y]) => Number(y.mutating) - Number(x.mutating) || y.n - x.n || a.localeCompare(b));
  const mutating = names.filter((c) => c.mutating).length;
  return {
    total: names.length,
    mutating,
    readOnly: names.length - mutating,
    byOperation: Object.fromEntries(sorted.map(([k, v]) => [k, v.n])),
    mutatingOperations: Object.fromEntries(sorted.filter(([, v]) => v.mutating).map(([k, v]) => [k, v.n])),
  };
}

/** True when a DynamoDB call names the registry table (directly or in a transaction's items). */
export function touchesTable(call: AwsCall, table: string): boolean {
  return call.service === 'dynamodb' && JSON.stringify(call.input ?? {}).includes(JSON.stringify(table));
}

/** Splits recorded AWS calls into resource calls and registry bookkeeping, each into mutating and read-only. */
export function splitAwsCalls(calls: readonly AwsCall[], registryTable: string): AwsCallSplit {
  const named = (c: AwsCall) => ({ name: `${c.service}:${c.command}`, mutating: isMutatingOperation(c.command) });
  return {
    resource: tally(calls.filter((c) => !touchesTable(c, registryTable)).map(named)),
    registry: tally(calls.filter((c) => touchesTable(c, registryTable)).map(named)),
  };
}

/** `GET /apis/g/v/namespaces/ns/plural/name?x` → `get plural`; `GET` of a collection is `list`, `?watch=` is `watch`. */
export function kubeRequestName(line: string): { name: string; mutating: boolean } {
  const [method = 'GET', url = '/'] = line.split(' ');
  const u = new URL(url, 'http://k');
  const parts = u.pathname.split('/').filter(Boolean);
  // /api/v1/... or /apis/<group>/<version>/...
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : parts;
  const path = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  // An empty rest is API discovery (`/apis/<group>/<version>`, `/api/v1`, `/version`).
  if (path.length === 0) return { name: `discover ${parts.join('/') || '/'}`, mutating: false };
  const resource = path[0]! + (path[2] ? `/${path[2]}` : '');
  const named = path.length >= 2;
  const verb =
    method === 'GET' ? (u.searchParams.get('watch') === 'true' || u.searchParams.get('watch') === '1' ? 'watch' : named ? 'get' : 'list')
    : method === 'POST' ? 'create'
    : method === 'PUT' ? 'update'
    : method === 'PATCH' ? 'patch'
    : method === 'DELETE' ? (named ? 'delete' : 'deletecollection')
    : method.toLowerCase();
  return { name: `${verb} ${resource}`, mutating: !['get', 'list', 'watch'].includes(verb) };
}

/** Kubernetes API requests (the stand-in's `METHOD url` lines) by verb and resource. */
export function tallyKubeRequests(lines: readonly string[]): CallTally {
  return tally(lines.map(kubeRequestName));
}

// ---------------------------------------------------------------- figures and targets

export interface Target {
  /** Met when the value is at most this. */
  max?: number;
  /** Met when the value equals this. */
  equals?: number;
  /** How the target reads, e.g. `≤ 45`. */
  text: string;
}

export interface Figure {
  section: string;
  label: string;
  /** Null when not measured (section skipped or failed). */
  value: number | null;
  /** How the value reads in a table (units, context). */
  display: string;
  target?: Target;
  /** Null without a target or a value. */
  met: boolean | null;
}

export const atMost = (max: number, text = `≤ ${max}`): Target => ({ max, text });
export const exactly = (equals: number, text = `${equals}`): Target => ({ equals, text });

/** A figure with its target checked. */
export function figure(section: string, label: string, value: number | null, display?: string, target?: Target): Figure {
  let met: boolean | null = null;
  if (target && value !== null && Number.isFinite(value)) met = (target.max === undefined || value <= target.max) && (target.equals === undefined || value === target.equals);
  return { section, label, value, display: display ?? (value === null ? 'not measured' : String(value)), ...(target ? { target } : {}), met };
}

/** One row standing for several figures: met when all are, missed when one is; value and target read as theirs joined. */
export function allOf(section: string, label: string, parts: readonly Figure[]): Figure {
  const met = parts.some((p) => p.met === false) ? false : parts.length > 0 && parts.every((p) => p.met === true) ? true : null;
  const withTarget = parts.filter((p) => p.target);
  return {
    section,
    label,
    value: null,
    display: parts.map((p) => p.display).join(', '),
    ...(withTarget.length ? { target: { text: withTarget.map((p) => p.target!.text).join(', ') } } : {}),
    met,
  };
}

const mark = (met: boolean | null) => (met === null ? '–' : met ? 'yes' : '**no**');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown rows `| figure | measured | target | met? |` for the given figures. */
export function figureTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => `| ${cell(f.label)} | ${cell(f.display)} | ${f.target ? cell(f.target.text) : '–'} | ${mark(f.met)} |`);
  return ['| figure | measured | target | met? |', '|---|---|---|---|', ...rows].join('\n');
}

/** A plain markdown table. */
export function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => cell(String(c))).join(' | ')} |`)].join('\n');
}

/** `{a: 3, b: 1}` → `a 3, b 1` (the first `limit`, then `+n more`). */
export function compactCounts(counts: Record<string, number>, limit = Infinity): string {
  const e = Object.entries(counts);
  if (e.length === 0) return 'none';
  const shown = e.slice(0, limit).map(([k, n]) => `${k} ${n}`);
  return e.length > limit ? `${shown.join(', ')}, +${e.length - limit} more` : shown.join(', ');
}

export function summarize(figures: readonly Figure[]): { met: number; missed: number; unchecked: number; missedLabels: string[] } {
  const withTarget = figures.filter((f) => f.target);
  return {
    met: withTarget.filter((f) => f.met === true).length,
    missed: withTarget.filter((f) => f.met === false).length,
    unchecked: withTarget.filter((f) => f.met === null).length,
    missedLabels: withTarget.filter((f) => f.met === false).map((f) => f.label),
  };
}

/** Replaces what is between the markers (markers kept); throws when they are missing, so a moved block is noticed. */
export function replaceReadmeBlock(readme: string, block: string): string {
  const begin = readme.indexOf('<!-- bench:begin');
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin) throw new Error('README.md has no <!-- bench:begin --> ... <!-- bench:end --> block');
  return `${readme.slice(0, begin)}${README_BEGIN}\n${block.trim()}\n${readme.slice(end)}`;
}

export const usd = (x: number) => `$${x < 0.01 ? x.toFixed(5) : x.toFixed(4)}`;

// ---------------------------------------------------------------- bundles

/** What the bundle figures need of a bench/bundles.ts row. */
export interface BundleRatioRow {
  handler: string;
  clients: readonly string[] | string;
  sizeRatio: number;
  loadRatio: number;
}

/**
 * True when the handler makes an SDK client, so its floor (the same clients and a trivial
 * handler) is a meaningful yardstick. Without one (record-plan) the floor is an empty module:
 * a ratio against it says nothing, as bench/bundles.ts prints it (n/a).
 */
export function hasSdkClients(clients: BundleRatioRow['clients']): boolean {
  return Array.isArray(clients) ? clients.length > 0 : clients !== '' && clients !== 'none' && clients !== '-';
}

/** The handler with the highest `key` ratio among those with SDK clients, and how many were compared. */
export function worstBundle<R extends BundleRatioRow>(rows: readonly R[], key: 'sizeRatio' | 'loadRatio'): { worst?: R; compared: number } {
  const compared = rows.filter((r) => hasSdkClients(r.clients));
  const worst = compared.reduce<R | undefined>((w, r) => (!w || r[key] > w[key] ? r : w), undefined);
  return { worst, compared: compared.length };
}

/** A bundle ratio as the tables show it: n/a without SDK clients, flagged over the bound. */
export function bundleRatioText(row: BundleRatioRow, key: 'sizeRatio' | 'loadRatio', bound = 1.3): string {
  if (!hasSdkClients(row.clients)) return 'n/a';
  return `${row[key].toFixed(2)}${row[key] > bound ? ' **over**' : ''}`;
}
