/** What `npm start` prints: progress lines (or a bar on a TTY), the WAR table and the summary. */
import type { StepEvent } from './engine/run-workflow.ts';
import type { KubeStore } from './kube-api-standin.ts';
import type { OnboardingResult } from '../functions/record-result.ts';
import { WAR_CONNECTED_CONDITION, WAR_KIND } from '../functions/lib/mesh-facts.ts';

const SHOWN_TYPES = new Set(['Task', 'Wait', 'Parallel']);

/** Live progress: one plain line per finished step; on a terminal, a bar under them naming the running step. */
export class Progress {
  /** Distinct Task states finished (the loops re-enter their check steps). */
  private readonly finished = new Set<string>();
  private running: string | undefined;
  private barShown = false;
  constructor(
    private readonly totalTasks: number,
    private readonly tty: boolean,
  ) {}

  event(e: StepEvent): void {
    if (!e.state || !e.stateType || !SHOWN_TYPES.has(e.stateType)) return;
    if (e.type === 'entered') {
      if (e.stateType !== 'Parallel') this.running = e.state;
      this.bar();
      return;
    }
    if (e.type === 'succeeded' && e.stateType === 'Task') this.finished.add(e.state);
    const mark = e.type === 'succeeded' ? 'ok' : e.type === 'retried' ? 'retry' : 'FAIL';
    const detail = e.type === 'retried' ? `${e.error ?? 'error'}, attempt ${(e.attempt ?? 0) + 1}` : (e.error ?? '');
    const duration = e.type === 'retried' ? '' : `${e.durationMs ?? 0} ms`;
    this.line(`  ${mark.padEnd(5)} ${e.state.padEnd(32)} ${duration.padStart(8)}  ${detail}`.trimEnd());
    this.bar();
  }

  finish(): void {
    this.clearBar();
    this.running = undefined;
  }

  private line(text: string): void {
    this.clearBar();
    console.log(text);
  }

  private clearBar(): void {
    if (this.barShown) process.stdout.write('\r\x1b[K');
    this.barShown = false;
  }

  private bar(): void {
    if (!this.tty || !this.running) return;
    const width = 24;
    const done = this.finished.size;
    const filled = Math.min(width, Math.round((done / this.totalTasks) * width));
    process.stdout.write(`\r\x1b[K  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.totalTasks} ${this.running}...`);
    this.barShown = true;
  }
}

interface War {
  metadata: { name: string; namespace?: string; creationTimestamp?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

/** `kubectl get war -n <ns>` as kubectl prints it (NAME, AGENT CONNECTED, AGE). */
export function renderWarTable(store: KubeStore, namespace: string, now = Date.now()): string {
  const wars = (store.list(WAR_KIND, namespace) as unknown as War[]).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (wars.length === 0) return `No resources found in ${namespace} namespace.`;
  const rows = wars.map((w) => [
    w.metadata.name,
    w.status?.conditions?.find((c) => c.type === WAR_CONNECTED_CONDITION)?.status ?? 'Unknown',
    age(now - Date.parse(w.metadata.creationTimestamp ?? new Date(now).toISOString())),
  ]);
  return table([['NAME', 'AGENT CONNECTED', 'AGE'], ...rows]);
}

/** What the run created, updated (changed in place) and reused as found, by kind. */
export function renderSummary(output: unknown): string {
  const r = output as OnboardingResult;
  const lines = [`Workload ${r.workload}: service ${r.service} in cluster ${r.cluster}, ${r.tasks.length} task(s).`];
  // Shared resources (NAT gateway, subnets, cluster) serve every workload of the VPC or cluster; the rest is this workload's own.
  const row = (what: string) => (e: OnboardingResult['created'][number]) => [what, e.kind, e.shared ? 'shared' : 'workload', e.id];
  lines.push(table([['', 'KIND', 'SCOPE', 'ID'], ...r.created.map(row('created')), ...(r.updated ?? []).map(row('updated')), ...r.reused.map(row('reused'))]));
  if (r.traffic) {
    lines.push(`Traffic seen in the agent's access log: ${r.traffic.trafficSeen ? `${r.traffic.inbound.total} inbound, ${r.traffic.outbound.total} outbound` : 'none yet (no load is generated)'}.`);
    if (r.traffic.hint) lines.push(`Note: ${r.traffic.hint}`);
  }
  if (r.agentImageSource) lines.push(`Agent image from: ${r.agentImageSource}.`);
  return lines.join('\n');
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]! + 3)).join('').trimEnd()).join('\n');
}
