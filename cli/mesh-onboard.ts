/**
 * `mesh-onboard`: the onboarding API from a terminal or a script, against the local sandbox's
 * API or a deployed one (SigV4-signed). `run()` is the whole CLI and returns the exit code, so
 * tests drive it in-process; bin/mesh-onboard.mjs calls it with the process's streams.
 *
 * Exit codes: 0 success, 1 workflow failed (or refused: another run holds the workload; or a plan is blocked),
 * 2 invalid input (request file, CLI usage, 400/404/413/415), 3 API unreachable or unauthorised
 * (no answer, 401/403, 5xx, no credentials, no endpoint).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { ExecutionView } from '../functions/lib/onboarding-api.ts';
import type { OnboardingPlan } from '../functions/lib/plan.ts';
import { ApiClient, CliError, EXIT } from './api-client.ts';
import { failureOf, machineOf, PLAN_TASKS, printFailure, printPlan, printSuccess, StepPrinter, taskCount, type FailureReport, type Io } from './render.ts';
import { runSandbox, SANDBOX_ENDPOINT_FILE } from './sandbox.ts';

export const EXAMPLE_REQUEST = new URL('../examples/bookinfo-ratings.json', import.meta.url);
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface GlobalOpts {
  endpoint?: string;
  region?: string;
  profile?: string;
  json?: boolean;
}
interface WatchOpts {
  interval: string;
  timeout: string;
}

/** Where the API is: --endpoint, else MESH_ONBOARD_ENDPOINT, else the URL `mesh-onboard sandbox` wrote. */
export function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, file = SANDBOX_ENDPOINT_FILE): string {
  if (flag) return flag;
  if (env.MESH_ONBOARD_ENDPOINT) return env.MESH_ONBOARD_ENDPOINT;
  if (existsSync(file)) {
    const url = readFileSync(file, 'utf8').trim();
    if (url) return url;
  }
  throw new CliError(
    'no API endpoint: none given with --endpoint or MESH_ONBOARD_ENDPOINT, and no local sandbox is running',
    EXIT.apiUnreachable,
    'start the local sandbox (mesh-onboard sandbox, in another terminal) or pass --endpoint <ApiUrl of the deployed stack>',
  );
}

/** What a command hands back: its exit code and the one JSON document --json prints. */
interface Outcome {
  exitCode: number;
  json: Record<string, unknown>;
}

export interface RunOptions {
  io?: Io;
  env?: NodeJS.ProcessEnv;
  /** Where `sandbox` writes its URL and where the endpoint is looked up (tests use a temporary one). */
  endpointFile?: string;
}

export const processIo = (): Io => ({
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  write: (t) => process.stdout.write(t),
  tty: process.stdout.isTTY === true,
});

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<number> {
  const io = opts.io ?? processIo();
  const env = opts.env ?? process.env;
  const endpointFile = opts.endpointFile ?? SANDBOX_ENDPOINT_FILE;
  let outcome: Outcome | undefined;
  let json = argv.includes('--json');
  // With --json stdout carries the one document: progress and messages are not printed.
  const quiet: Io = { out: () => undefined, err: () => undefined, write: () => undefined, tty: false };

  const program = new Command('mesh-onboard')
    .description('Onboard ECS Fargate workloads into the mesh, and tear them down, through the onboarding API (local sandbox or deployed).')
    .addOption(new Option('--endpoint <url>', 'the API: the deployed stack\'s ApiUrl, or the local sandbox\'s URL (default: $MESH_ONBOARD_ENDPOINT, else the URL `mesh-onboard sandbox` wrote to .sandbox/endpoint)'))
    .option('--region <region>', 'region to sign requests to a deployed API for (default: $AWS_REGION, else the ApiUrl\'s)')
    .option('--profile <name>', 'AWS profile of the default credential chain to sign with')
    .option('--json', 'print one JSON document on stdout and nothing else')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError('(mesh-onboard --help lists the commands)')
    .addHelpText(
      'after',
      '\nExit codes: 0 success (a plan: ready to apply); 1 the workflow failed (or another run holds the workload, or a plan found problems); 2 invalid input (request file, usage, 400/404/413/415);\n3 the API is unreachable or refused the caller (no answer, 401/403, 5xx, no credentials, no endpoint).',
    );

  const client = (cmd: Command) => {
    const g = cmd.optsWithGlobals<GlobalOpts>();
    return new ApiClient({ endpoint: resolveEndpoint(g.endpoint, env, endpointFile), ...(g.region ? { region: g.region } : {}), ...(g.profile ? { profile: g.profile } : {}) });
  };
  const ui = () => (json ? quiet : io);
  const watchOptions = (c: Command) =>
    c.option('--interval <seconds>', 'seconds between polls', '2').option('--timeout <seconds>', 'give up watching after this many seconds (the execution goes on)', '1800');

  program
    .command('plan')
    .description('show what apply would do, changing nothing (POST /onboardings?dryRun=true): each resource to create, update (with the fields), reuse or in conflict, and every problem found')
    .argument('<request.json>', 'the onboarding request (mesh-onboard example prints one)')
    .addOption(new Option('--interval <seconds>', 'seconds between polls').default('2'))
    .addOption(new Option('--timeout <seconds>', 'give up waiting for the plan after this many seconds').default('600'))
    .action(async (file: string, o: WatchOpts, cmd: Command) => {
      const body = readRequestFile(file);
      const settings = pollSettings(o);
      const api = client(cmd);
      const accepted = (await api.call('POST', '/onboardings?dryRun=true', body)).body;
      const id = String(accepted.executionId);
      ui().out(`Planning: execution ${id}.`);
      const view = await follow(api, id, settings, ui(), PLAN_TASKS);
      if (view.status !== 'SUCCEEDED') {
        outcome = finished(view, { accepted }, ui(), 'Plan');
        return;
      }
      const plan = view.result as OnboardingPlan;
      printPlan(ui(), plan, view.executionId, file);
      // Blocked: the apply would fail, as a failed workflow does.
      outcome = { exitCode: plan.status === 'ready' ? EXIT.ok : EXIT.workflowFailed, json: { plan, execution: view } };
    });

  program
    .command('apply')
    .description('submit an onboarding request (POST /onboardings); with --watch, follow it to the end')
    .argument('<request.json>', 'the onboarding request (mesh-onboard example prints one)')
    .option('--watch', 'follow the execution until it ends; the exit code is its outcome')
    .option('--reconcile', 're-converge: start a new run even when this request already succeeded (re-makes what was deleted since); a running one is still followed')
    .addOption(new Option('--interval <seconds>', 'with --watch: seconds between polls').default('2'))
    .addOption(new Option('--timeout <seconds>', 'with --watch: give up watching after this many seconds (the execution goes on)').default('1800'))
    .action(async (file: string, o: WatchOpts & { watch?: boolean; reconcile?: boolean }, cmd: Command) => {
      const body = readRequestFile(file);
      const watch = o.watch ? pollSettings(o) : undefined;
      const api = client(cmd);
      const accepted = (await api.call('POST', o.reconcile ? '/onboardings?reconcile=true' : '/onboardings', body)).body;
      const id = String(accepted.executionId);
      ui().out(`${accepted.duplicate ? 'Already submitted' : 'Accepted'}: execution ${id} (${String(accepted.status)}).`);
      if (!watch) {
        ui().out(`Follow it: mesh-onboard watch ${id}`);
        outcome = { exitCode: EXIT.ok, json: { accepted } };
        return;
      }
      const view = await follow(api, id, watch, ui());
      outcome = finished(view, { accepted }, ui(), 'Onboarding');
    });

  program
    .command('status')
    .description('an execution as it is now (GET /onboardings/{id}): its steps, status, result or failure')
    .argument('<id>', 'execution id (apply and offboard print it)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const view = (await client(cmd).call('GET', `/onboardings/${encodeURIComponent(id)}`)).body as unknown as ExecutionView;
      const out = ui();
      out.out(`Execution ${view.executionId}: ${view.status}${view.currentStep ? ` at "${view.currentStep}"` : ''} (workload ${view.workload}, started ${view.startedAt})`);
      for (const s of view.steps) out.out(statusLine(s));
      outcome = view.status === 'RUNNING' ? { exitCode: EXIT.ok, json: { execution: view } } : finished(view, {}, out, labelOf(view));
    });

  watchOptions(
    program
      .command('watch')
      .description('follow an execution until it ends, printing each step once as it finishes')
      .argument('<id>', 'execution id'),
  ).action(async (id: string, o: WatchOpts, cmd: Command) => {
    const settings = pollSettings(o);
    const view = await follow(client(cmd), id, settings, ui());
    outcome = finished(view, {}, ui(), labelOf(view));
  });

  program
    .command('list')
    .description('the workload registry (GET /onboardings, every page)')
    .action(async (_o: unknown, cmd: Command) => {
      const api = client(cmd);
      const items: Record<string, unknown>[] = [];
      let next: string | undefined;
      do {
        const page = (await api.call('GET', `/onboardings?limit=100${next ? `&nextToken=${encodeURIComponent(next)}` : ''}`)).body;
        items.push(...((page.onboardings as Record<string, unknown>[] | undefined) ?? []));
        next = typeof page.nextToken === 'string' ? page.nextToken : undefined;
      } while (next);
      const out = ui();
      if (items.length === 0) out.out('No workloads in the registry.');
      else out.out(table([['WORKLOAD', 'STATUS', 'VERIFIED', 'UPDATED', 'EXECUTION'], ...items.map(listRow)]));
      outcome = { exitCode: EXIT.ok, json: { onboardings: items } };
    });

  watchOptions(
    program
      .command('verify')
      .description("re-verify an onboarded workload now (POST /onboardings/{id}/verify); with --wait, report its result")
      .argument('<id>', 'the onboarding execution id')
      .option('--wait', 'wait for the result to land in the registry; exit 1 on drift'),
  ).action(async (id: string, o: WatchOpts & { wait?: boolean }, cmd: Command) => {
    const settings = o.wait ? pollSettings(o) : undefined;
    const api = client(cmd);
    const started = (await api.call('POST', `/onboardings/${encodeURIComponent(id)}/verify`)).body;
    const workload = String(started.workload);
    ui().out(`Re-verification ${String(started.executionId)} of ${workload} started.`);
    if (!settings) {
      ui().out('Its result lands in the registry: mesh-onboard list shows it under VERIFIED.');
      outcome = { exitCode: EXIT.ok, json: { verification: started } };
      return;
    }
    const since = Date.now() - 1000;
    const verification = await until(settings, `the re-verification of ${workload}`, async () => {
      const record = await findWorkload(api, workload);
      const v = record?.verification as { at?: string; ok?: boolean; drift?: unknown[] } | undefined;
      return v?.at && Date.parse(v.at) >= since ? v : undefined;
    });
    if (verification.ok) ui().out(`${workload} verified: no drift.`);
    else {
      ui().err(`${workload} has drifted:`);
      for (const d of verification.drift ?? []) ui().err(`  ${typeof d === 'string' ? d : JSON.stringify(d)}`);
      ui().err('Fix: restore what drifted, or run mesh-onboard apply <request.json> again to converge the workload.');
    }
    outcome = { exitCode: verification.ok ? EXIT.ok : EXIT.workflowFailed, json: { verification: { ...started, result: verification } } };
  });

  watchOptions(
    program
      .command('offboard')
      .description('tear a workload down (DELETE /onboardings/{ns}.{name}); with --watch, follow the teardown')
      .argument('<workload-or-id>', 'the workload (namespace/name or namespace.name) or its onboarding execution id')
      .option('--retain-logs', "keep the workload's log group")
      .option('--watch', 'follow the teardown until it ends; the exit code is its outcome'),
  ).action(async (target: string, o: WatchOpts & { retainLogs?: boolean; watch?: boolean }, cmd: Command) => {
    const settings = o.watch ? pollSettings(o) : undefined;
    const api = client(cmd);
    const workload = /[/.]/.test(target) ? target.replace('/', '.') : ((await api.call('GET', `/onboardings/${encodeURIComponent(target)}`)).body.workload as string).replace('/', '.');
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(workload)) {
      throw new CliError(`"${target}" is not a workload (namespace/name or namespace.name, both DNS labels) nor an execution id`, EXIT.invalidInput);
    }
    const accepted = (await api.call('DELETE', `/onboardings/${workload}${o.retainLogs ? '?retainLogs=true' : ''}`)).body;
    const id = String(accepted.executionId);
    ui().out(`${accepted.duplicate ? 'Already tearing down' : 'Teardown accepted'}: execution ${id} (${String(accepted.status)}).`);
    if (!settings) {
      ui().out(`Follow it: mesh-onboard watch ${id}`);
      outcome = { exitCode: EXIT.ok, json: { accepted } };
      return;
    }
    const view = await follow(api, id, settings, ui());
    outcome = finished(view, { accepted }, ui(), 'Teardown');
  });

  program
    .command('example')
    .description('print an onboarding request to start from (examples/bookinfo-ratings.json)')
    .action(() => {
      // The request is itself the JSON document: --json prints the same.
      io.out(readFileSync(EXAMPLE_REQUEST, 'utf8').trimEnd());
      outcome = { exitCode: EXIT.ok, json: {} };
      json = false;
    });

  program
    .command('sandbox')
    .description('start the local sandbox and its API until Ctrl-C (npm start -- --keep); later commands find its URL in .sandbox/endpoint')
    .option('--request <file>', 'the request the sandbox onboards at start (npm start\'s default: the bookinfo example)')
    .option('--reverify-every <seconds>', 're-verify every onboarded workload this often (0: never)')
    .action(async (o: { request?: string; reverifyEvery?: string }) => {
      const passthrough = [...(o.request ? ['--request', o.request] : []), ...(o.reverifyEvery ? ['--reverify-every', o.reverifyEvery] : [])];
      const r = await runSandbox({ io, json, endpointFile, args: passthrough });
      outcome = { exitCode: r.exitCode, json: { endpoint: r.endpoint ?? null, exitCode: r.exitCode } };
      // The sandbox already printed its one JSON line (its endpoint) when it came up.
      json = false;
    });

  let code: number;
  let failure: { message: string; fix?: string; details?: unknown } | undefined;
  try {
    await program.parseAsync(argv, { from: 'user' });
    code = outcome?.exitCode ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      code = EXIT.invalidInput;
      failure = { message: e.message.replace(/^error: /, '') };
    } else if (e instanceof CliError) {
      code = e.exitCode;
      failure = { message: e.message, ...(e.fix ? { fix: e.fix } : {}), ...(e.details !== undefined ? { details: e.details } : {}) };
      if (!json) {
        io.err(`Error: ${e.message}`);
        if (e.fix) io.err(`Fix: ${e.fix}`);
      }
    } else {
      throw e;
    }
  }
  if (json) {
    const doc = { ok: code === EXIT.ok, exitCode: code, ...(outcome?.json ?? {}), ...(failure ? { error: failure } : {}) };
    io.out(JSON.stringify(doc, null, 2));
  }
  return code;
}

function readRequestFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the request ${file}: ${(e as Error).message}`, EXIT.invalidInput, 'pass the path of a request file (mesh-onboard example > request.json gives one to edit)');
  }
  try {
    JSON.parse(text);
  } catch (e) {
    throw new CliError(`the request ${file} is not JSON: ${(e as Error).message}`, EXIT.invalidInput, 'mesh-onboard example prints a valid request to start from');
  }
  // The API validates the rest (every problem with its path, exit 2): one schema, at the edge.
  return text;
}

interface PollSettings {
  intervalMs: number;
  timeoutMs: number;
}

function pollSettings(o: WatchOpts): PollSettings {
  const interval = Number(o.interval);
  const timeout = Number(o.timeout);
  if (!(interval > 0 && interval <= 300)) throw new CliError(`--interval must be a number of seconds from 0 to 300, not "${o.interval}"`, EXIT.invalidInput);
  if (!(timeout > 0)) throw new CliError(`--timeout must be a positive number of seconds, not "${o.timeout}"`, EXIT.invalidInput);
  return { intervalMs: interval * 1000, timeoutMs: timeout * 1000 };
}

/** Polls `probe` every interval until it returns a value or the deadline passes (exit 3: the run goes on, we stopped watching). */
async function until<T>(s: PollSettings, what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + s.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() + s.intervalMs > deadline) {
      throw new CliError(`gave up waiting for ${what} after ${s.timeoutMs / 1000} s`, EXIT.workflowFailed, 'it may still finish: mesh-onboard watch <id> follows it again; --timeout waits longer');
    }
    await new Promise((r) => setTimeout(r, s.intervalMs));
  }
}

/** GET /onboardings/{id} until the execution ends, printing each step once as it finishes. */
async function follow(api: ApiClient, id: string, s: PollSettings, out: Io, total = taskCount(machineOf(id))): Promise<ExecutionView> {
  const printer = new StepPrinter(out, total);
  const started = Date.now();
  let misses = 0;
  return until(s, `execution ${id}`, async () => {
    let view: ExecutionView;
    try {
      view = (await api.call('GET', `/onboardings/${encodeURIComponent(id)}`)).body as unknown as ExecutionView;
      misses = 0;
    } catch (e) {
      // A long watch outlives a dropped connection or a 503; and a just-started execution may not be listed for a moment.
      const passing = e instanceof CliError && ((e.exitCode === EXIT.apiUnreachable && !/answered 40[13]/.test(e.message)) || (/answered 404/.test(e.message) && Date.now() - started < 10_000));
      if (!passing || ++misses > 3) throw e;
      return undefined;
    }
    printer.update(view);
    return view.status === 'RUNNING' ? undefined : view;
  });
}

function labelOf(view: ExecutionView): string {
  return machineOf(view.executionId) === 'offboard-workload' ? 'Teardown' : 'Onboarding';
}

/** The outcome of an ended execution: success printed, or the failed step, cause and fix. */
function finished(view: ExecutionView, extra: Record<string, unknown>, out: Io, what: string): Outcome {
  if (view.status === 'SUCCEEDED') {
    printSuccess(out, view);
    return { exitCode: EXIT.ok, json: { ...extra, execution: view } };
  }
  const failure: FailureReport = failureOf(view);
  printFailure(out, what, failure);
  return { exitCode: EXIT.workflowFailed, json: { ...extra, execution: view, failure } };
}

function statusLine(s: ExecutionView['steps'][number]): string {
  const mark = s.status === 'succeeded' ? 'ok' : s.status === 'failed' ? 'FAIL' : s.status;
  return `  ${mark.padEnd(7)} ${s.state.padEnd(32)} ${(s.durationMs === undefined ? '' : `${s.durationMs} ms`).padStart(9)}  ${s.error ?? ''}`.trimEnd();
}

async function findWorkload(api: ApiClient, workload: string): Promise<Record<string, unknown> | undefined> {
  let next: string | undefined;
  do {
    const page = (await api.call('GET', `/onboardings?limit=100${next ? `&nextToken=${encodeURIComponent(next)}` : ''}`)).body;
    const hit = ((page.onboardings as Record<string, unknown>[] | undefined) ?? []).find((o) => o.workload === workload);
    if (hit) return hit;
    next = typeof page.nextToken === 'string' ? page.nextToken : undefined;
  } while (next);
  return undefined;
}

function listRow(o: Record<string, unknown>): string[] {
  const v = o.verification as { ok?: boolean; at?: string } | undefined;
  return [String(o.workload), String(o.status), v ? `${v.ok ? 'ok' : 'DRIFT'} ${v.at ?? ''}` : '-', String(o.updatedAt ?? ''), String(o.executionId)];
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]! + 2)).join('').trimEnd()).join('\n');
}
