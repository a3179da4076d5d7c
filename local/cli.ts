/**
 * `npm start`: onboards a workload (default examples/bookinfo-ratings.json) in the local
 * sandbox through the local engine, with live progress, then prints the mesh's view
 * (`kubectl get war`) and what was created, updated or reused. `npm start -- --help` lists
 * every option with its default (OPTIONS below is the one source of both).
 *
 * Stopping: SIGINT, SIGTERM and SIGHUP run one shutdown, once (later signals are ignored): the
 * re-verification loop and any running execution are aborted, the local API closed, then the
 * sandbox (moto_server included) stopped and the kubeconfig removed. The `start` script `exec`s
 * this process, so npm's own child is this process and npm forwards SIGINT and SIGTERM to it;
 * npm does not forward SIGHUP but dies of it, so the parent is watched too: once it is gone, the
 * same shutdown runs. Exit codes: 0 done; 1 the onboarding failed; 2 bad options or request;
 * 3 the sandbox could not start; 128+n stopped by signal n before the onboarding ended
 * (130 SIGINT, 143 SIGTERM, 129 SIGHUP or parent gone); with --keep, stopping the kept sandbox
 * exits 0 after a successful onboarding and 1 after a failed one.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = new URL('../', import.meta.url).pathname;
/**
 * Where the user ran the command: npm runs scripts in the package root and says where it was
 * started in INIT_CWD. Read only under an npm script, so a stale INIT_CWD inherited elsewhere is ignored.
 */
const USER_CWD = process.env.npm_lifecycle_event && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
const shown = (path: string) => {
  const r = relative(USER_CWD, path);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : path;
};

const OPTIONS = {
  keep: { type: 'boolean', default: false, help: 'leave the sandbox and its local API up until stopped (Ctrl-C, SIGTERM, SIGHUP), also after a failed onboarding, and print a kubeconfig for kubectl' },
  request: { type: 'string', default: `${ROOT}examples/bookinfo-ratings.json`, arg: 'FILE', help: 'the onboarding request to run (JSON); a relative path is taken from the directory you ran npm start in' },
  verbose: { type: 'boolean', default: false, help: "also print the step handlers' JSON logs" },
  'wait-ms': { type: 'string', default: '250', arg: 'N', help: "how long each Wait state lasts, in ms (the ASL's own intervals are for AWS)" },
  'reverify-every': { type: 'string', default: '60', arg: 'S', help: 'with --keep, re-verify every onboarded workload every S seconds, printing drift as it is found (0: never)' },
  kubeconfig: { type: 'string', default: `${ROOT}.sandbox/kubeconfig`, arg: 'FILE', help: 'with --keep, where to write the kubeconfig (removed when the sandbox stops); relative to where you ran npm start' },
  help: { type: 'boolean', short: 'h', default: false, help: 'print this help and exit' },
} as const;

const USAGE = [
  'npm start [-- OPTIONS]',
  '  Onboards the request in a local sandbox (moto_server, a Kubernetes API stand-in, simulated Fargate and',
  '  onboarding plane), prints the result and stops, or with --keep stays up with a local onboarding API.',
  '',
  'Options (each with its default):',
  ...Object.entries(OPTIONS).map(([name, o]) => {
    const flag = `${'short' in o ? `-${o.short}, ` : ''}--${name}${'arg' in o ? ` ${o.arg}` : ''}`;
    const def = o.type === 'boolean' ? (o.default ? 'on' : 'off') : typeof o.default === 'string' && o.default.startsWith(ROOT) ? shown(o.default) : o.default;
    return `  ${flag.padEnd(22)} ${o.help}\n  ${''.padEnd(22)} (default: ${def})`;
  }),
  '',
  'Stopping: SIGINT (Ctrl-C), SIGTERM or SIGHUP, to this process or to npm, stop everything once: running executions',
  'and re-verification are aborted, the API closed, moto_server stopped, the kubeconfig removed.',
  'Exit codes: 0 onboarded (or a kept sandbox stopped after a successful onboarding); 1 the onboarding failed',
  '(also when a kept sandbox is stopped after it); 2 bad options or request; 3 the sandbox could not start;',
  '130 / 143 / 129 stopped by SIGINT / SIGTERM / SIGHUP before the onboarding ended.',
  '',
  'Examples:',
  '  npm start',
  '  npm start -- --keep',
  '  npm start -- --request my-workload.json --keep --reverify-every 0',
].join('\n');

function parseCli() {
  try {
    return parseArgs({
      // parseArgs ignores the extra fields (help, arg) of each option.
      options: OPTIONS,
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\nUsage: ${USAGE}`);
    process.exit(2);
  }
}
const args = parseCli();

if (args.values.help) {
  console.log(`Usage: ${USAGE}`);
  process.exit(0);
}
const requestPath = resolve(USER_CWD, args.values.request);
const kubeconfigPath = resolve(USER_CWD, args.values.kubeconfig);
const waitMs = Number(args.values['wait-ms']);
if (!Number.isInteger(waitMs) || waitMs < 0) {
  console.error(`--wait-ms must be a whole number of milliseconds, not "${args.values['wait-ms']}"`);
  process.exit(2);
}
const reverifyEvery = Number(args.values['reverify-every']);
if (!Number.isInteger(reverifyEvery) || reverifyEvery < 0) {
  console.error(`--reverify-every must be a whole number of seconds, not "${args.values['reverify-every']}"`);
  process.exit(2);
}
// Set before the handlers load: Powertools reads these once, at import.
process.env.POWERTOOLS_LOG_LEVEL ??= args.values.verbose ? 'INFO' : 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_TRACE_ENABLED ??= 'false';

const { startSandbox } = await import('./sandbox.ts');
const { startWorkflow } = await import('./engine/run-workflow.ts');
const { startApiServer } = await import('./api-server.ts');
const { LocalExecutions } = await import('./local-executions.ts');
const { executionNameFor } = await import('../functions/lib/onboarding-api.ts');
const { requestProblems, parseRequest } = await import('../functions/lib/request.ts');
const { taskSteps } = await import('../statemachine/definition.ts');
const { renderWarTable, renderSummary, Progress } = await import('./cli-output.ts');
const { startReverifyLoop, describeReverifyOutcome } = await import('./reverify-loop.ts');
const { driftRoute } = await import('./drift.ts');

const tty = process.stdout.isTTY === true;
const t0 = Date.now();

let input: unknown;
try {
  input = JSON.parse(readFileSync(requestPath, 'utf8'));
} catch (e) {
  console.error(`Cannot read the request ${requestPath}: ${(e as Error).message}`);
  process.exit(2);
}
const problems = requestProblems(input);
if (problems.length > 0) {
  console.error(`The request ${requestPath} is invalid; nothing was started:`);
  for (const p of problems) console.error(`  ${p.path}: ${p.message}`);
  process.exit(2);
}
const request = parseRequest(input);

type Sandbox = Awaited<ReturnType<typeof startSandbox>>;
type RunningExecution = Awaited<ReturnType<typeof startWorkflow>>;
/** What is running, stopped by `stopEverything` in this order before the sandbox. */
const running: { execution?: RunningExecution; reverifyLoop?: { stop(): Promise<void> }; api?: { stop(): Promise<void> }; executions?: InstanceType<typeof LocalExecutions> } = {};
let sandboxStarting: Promise<Sandbox> | undefined;
/** The exit code a stop by the user gets once the sandbox is kept (0, or 1 after a failed onboarding); before that, 128+n. */
const kept: { exitCode?: number } = {};
let stopping: Promise<never> | undefined;
/** Shutdown must end even if a step hangs: past this the process exits, and moto's watchdog stops moto when it does. */
const SHUTDOWN_DEADLINE_MS = 30_000;

/**
 * The one shutdown path (signals, a gone parent, the normal end): runs once; later calls get the
 * same promise. Aborts the executions before the emulator goes, so none fails on a closed port.
 */
function stopEverything(code: number, why?: string): Promise<never> {
  stopping ??= (async () => {
    if (why) console.log(`\n${why}: stopping the sandbox...`);
    // Kept referenced: should every handle close while a step still hangs, the process waits for this, not exits 13 mid-shutdown.
    setTimeout(() => {
      console.error(`The sandbox did not stop within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway.`);
      process.exit(code);
    }, SHUTDOWN_DEADLINE_MS);
    const quietly = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch {
        // best effort: the sandbox goes next whatever this left
      }
    };
    await quietly(async () => running.reverifyLoop?.stop());
    if (running.execution) {
      running.execution.abort();
      await quietly(() => running.execution!.done);
    }
    if (running.executions) {
      running.executions.abortAll();
      await quietly(() => running.executions!.settle());
    }
    await quietly(async () => running.api?.stop());
    await quietly(async () => (await sandboxStarting)?.stop());
    process.exit(code);
  })();
  return stopping;
}

const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
for (const [signal, code] of Object.entries(SIGNAL_CODES)) {
  // A terminal's Ctrl-C reaches this process twice (from the terminal and forwarded by npm): the second is ignored.
  process.on(signal, () => void stopEverything(kept.exitCode ?? code, `${signal === 'SIGINT' ? 'Interrupted' : `Got ${signal}`}`));
}
// npm forwards SIGINT and SIGTERM but not SIGHUP, of which it dies: its child must not outlive it.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void stopEverything(kept.exitCode ?? SIGNAL_CODES.SIGHUP, `The parent process (${parentPid}) is gone`);
}, 500).unref();

console.log(`Starting the local sandbox (moto_server, Kubernetes API stand-in, simulated Fargate and onboarding plane)...`);
let sandbox: Sandbox;
try {
  // moto reports services running with this count (it cannot count real tasks): match the request's.
  sandboxStarting = startSandbox({
    ecsServiceRunning: Math.max(1, request.ecs.desiredCount),
    // Only a kept sandbox writes to the known path (git-ignored; removed at stop): a run that exits uses a temporary one.
    ...(args.values.keep ? { kubeconfigPath } : {}),
  });
  sandbox = await sandboxStarting;
} catch (e) {
  if (stopping) await stopping;
  console.error(`The sandbox could not start: ${(e as Error).message}`);
  process.exit(3);
}
if (stopping) await stopping;
console.log(`Sandbox up in ${Date.now() - t0} ms. Onboarding ${request.workloadGroup.namespace}/${request.workloadGroup.name} (Wait states scaled to ${args.values['wait-ms']} ms):`);

// Record failure runs only on the failure path: not part of the bar's total.
const progress = new Progress(taskSteps().filter((t) => t.state !== 'Record failure').length, tty);
const executionName = executionNameFor(request);
running.execution = await startWorkflow(request, { executionName, waitMs, onEvent: (e) => progress.event(e) });
if (stopping) running.execution.abort();
const outcome = await running.execution.done;
running.execution = undefined;
progress.finish();
// Stopped by a signal while onboarding: the shutdown under way exits.
if (stopping) await stopping;

const failed = outcome.status !== 'SUCCEEDED';
if (failed) {
  console.error(`\nOnboarding FAILED: ${outcome.error}\n  ${outcome.cause}`);
  const made = (outcome.failureRecord as { resourcesSoFar?: { kind: string; id: string }[] } | undefined)?.resourcesSoFar ?? [];
  if (made.length > 0) {
    console.error(`\nMade before the failure (a re-run with the same request reuses them):`);
    for (const r of made) console.error(`  ${r.kind.padEnd(24)} ${r.id}`);
  }
  if (!args.values.keep) await stopEverything(1);
} else {
  console.log(`\n$ kubectl get war -n ${request.workloadGroup.namespace}`);
  console.log(renderWarTable(sandbox.kube.store, request.workloadGroup.namespace));
  console.log(`\n${renderSummary(outcome.output)}`);
  console.log(`\nOnboarded in ${outcome.durationMs} ms (total with sandbox start-up ${Date.now() - t0} ms).`);
  if (!args.values.keep) await stopEverything(0);
}

kept.exitCode = failed ? 1 : 0;
running.executions = new LocalExecutions({ waitMs });
const api = await startApiServer(running.executions, 0, { routes: [driftRoute(sandbox)] });
running.api = api;
if (stopping) await stopping;
const env = sandbox.awsEnv;
if (failed) {
  console.log(`
The onboarding failed; with --keep the sandbox stays up so you can inspect what it made and why it failed
(Ctrl-C to stop it; the exit code is then 1).
  The failed run, step by step: the lines above; its record:  curl -s ${api.url}/onboardings
  What it made: aws --endpoint-url ${sandbox.awsEnv.AWS_ENDPOINT_URL} resourcegroupstaggingapi get-resources   (with the exports below)
  Re-run it after a fix (a resume: what exists is reused):
    curl -s -XPOST ${api.url}/onboardings -H 'content-type: application/json' --data @${shown(requestPath)}`);
}
console.log(`
The sandbox stays up (Ctrl-C to stop it).
  AWS emulator (moto_server): ${sandbox.moto.endpoint}
  Kubernetes API stand-in:    ${sandbox.kube.httpsUrl}   (and ${sandbox.kube.url}; both need an EKS bearer token)
  Local onboarding API:       ${api.url}/onboardings

Inspect it with the aws CLI:
  export AWS_ACCESS_KEY_ID=${env.AWS_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY=${env.AWS_SECRET_ACCESS_KEY} AWS_DEFAULT_REGION=${env.AWS_DEFAULT_REGION} AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} ecs describe-services --cluster ${request.ecs.cluster} --services ${request.ecs.service}
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} ec2 describe-nat-gateways

Use kubectl against the mesh (the kubeconfig makes a fresh EKS token for each command):
  export KUBECONFIG=${sandbox.kubeconfig}
  kubectl get war -A
  kubectl apply -f examples/mesh-prerequisites.yaml      (namespace, WorkloadGroup and OnboardingPolicy for bookstore/details)
  then onboard it: curl -s -XPOST ${api.url}/onboardings -H 'content-type: application/json' --data @examples/bookstore-details.json

Onboard through the local API:
  curl -s -XPOST ${api.url}/onboardings -H 'content-type: application/json' --data @examples/bookinfo-ratings.json
  curl -s -XPOST '${api.url}/onboardings?reconcile=true' -H 'content-type: application/json' --data @examples/bookinfo-ratings.json
                                                                   (the same request again answers its last run; reconcile starts a new run -rN that re-makes what was deleted)
  curl -s ${api.url}/onboardings/<executionId>
  curl -s ${api.url}/onboardings                                  (from the registry; ?limit=&nextToken=)
  curl -s -XPOST ${api.url}/onboardings/<executionId>/verify       (one re-verification now)
  curl -s -XDELETE ${api.url}/onboardings/${request.workloadGroup.namespace}.${request.workloadGroup.name}    (tear it down; ?retainLogs=true keeps its log group)

Make the workload drift (sandbox only), then watch the next re-verification report it:
  curl -s -XPOST ${api.url}/sandbox/drift -H 'content-type: application/json' --data '{"workload":"${request.workloadGroup.namespace}/${request.workloadGroup.name}","kind":"stop-task"}'
  (kinds: stop-task, disconnect-agent, scale-to-zero, restore)

Re-verification: ${reverifyEvery > 0 ? `every ${reverifyEvery} s (--reverify-every), each run printed below` : 'off (--reverify-every 0)'}.
  Drift events (${sandbox.driftEvents.busName} bus, rule ${sandbox.driftEvents.ruleArn.split('/').pop()}) arrive on the SQS queue ${sandbox.driftEvents.queueUrl}
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} sqs receive-message --queue-url ${sandbox.driftEvents.queueUrl} --wait-time-seconds 5
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} dynamodb get-item --table-name ${sandbox.registryTable} --key '{"workload":{"S":"${request.workloadGroup.namespace}/${request.workloadGroup.name}"}}'`);
running.reverifyLoop = reverifyEvery > 0 ? startReverifyLoop({ everyMs: reverifyEvery * 1000, waitMs, onOutcome: (o) => console.log(describeReverifyOutcome(o)) }) : undefined;
