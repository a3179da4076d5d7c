/**
 * `npm start`: onboards a workload (default examples/bookinfo-ratings.json) in the local
 * sandbox through the local engine, with live progress, then prints the mesh's view
 * (`kubectl get war`) and what was created or reused.
 *
 *   npm start                         onboard the bookinfo example, stop the sandbox, exit
 *   npm start -- --keep               leave the sandbox (and its local API) up until Ctrl-C, and print
 *                                     a kubeconfig for kubectl (.sandbox/kubeconfig; --kubeconfig FILE)
 *   npm start -- --request FILE       onboard another request
 *   npm start -- --verbose            also print the step handlers' JSON logs
 *   npm start -- --wait-ms N          how long each Wait state lasts (default 250 ms; the ASL's own
 *                                     intervals are for AWS)
 *   npm start -- --keep --reverify-every S
 *                                     with --keep, re-verify every onboarded workload every S seconds
 *                                     (default 60; 0: never), printing drift as it is found
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = readFileSync(new URL(import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith(' *   '))
  .map((l) => l.slice(3))
  .join('\n');

function parseCli() {
  try {
    return parseArgs({
      options: {
        keep: { type: 'boolean', default: false },
        request: { type: 'string', default: new URL('../examples/bookinfo-ratings.json', import.meta.url).pathname },
        verbose: { type: 'boolean', default: false },
        'wait-ms': { type: 'string', default: '250' },
        'reverify-every': { type: 'string', default: '60' },
        kubeconfig: { type: 'string', default: new URL('../.sandbox/kubeconfig', import.meta.url).pathname },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n\nUsage:\n${USAGE}`);
    process.exit(2);
  }
}
const args = parseCli();

if (args.values.help) {
  console.log(`Usage:\n${USAGE}`);
  process.exit(0);
}
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
  input = JSON.parse(readFileSync(args.values.request, 'utf8'));
} catch (e) {
  console.error(`Cannot read the request ${args.values.request}: ${(e as Error).message}`);
  process.exit(2);
}
const problems = requestProblems(input);
if (problems.length > 0) {
  console.error(`The request ${args.values.request} is invalid; nothing was started:`);
  for (const p of problems) console.error(`  ${p.path}: ${p.message}`);
  process.exit(2);
}
const request = parseRequest(input);

console.log(`Starting the local sandbox (moto_server, Kubernetes API stand-in, simulated Fargate and onboarding plane)...`);
let sandbox: Awaited<ReturnType<typeof startSandbox>>;
try {
  // moto reports services running with this count (it cannot count real tasks): match the request's.
  sandbox = await startSandbox({
    ecsServiceRunning: Math.max(1, request.ecs.desiredCount),
    // Only a kept sandbox writes to the known path (git-ignored; removed at stop): a run that exits uses a temporary one.
    ...(args.values.keep ? { kubeconfigPath: args.values.kubeconfig } : {}),
  });
} catch (e) {
  console.error(`The sandbox could not start: ${(e as Error).message}`);
  process.exit(3);
}
console.log(`Sandbox up in ${Date.now() - t0} ms. Onboarding ${request.workloadGroup.namespace}/${request.workloadGroup.name} (Wait states scaled to ${args.values['wait-ms']} ms):`);

let shuttingDown = false;
const shutdown = async (code: number) => {
  if (shuttingDown) return;
  shuttingDown = true;
  await sandbox.stop();
  process.exit(code);
};
process.on('SIGINT', () => {
  console.log('\nInterrupted: stopping the sandbox...');
  void shutdown(130);
});
process.on('SIGTERM', () => void shutdown(143));

// Record failure runs only on the failure path: not part of the bar's total.
const progress = new Progress(taskSteps().filter((t) => t.state !== 'Record failure').length, tty);
const execution = await startWorkflow(request, { executionName: executionNameFor(request), waitMs, onEvent: (e) => progress.event(e) });
const outcome = await execution.done;
progress.finish();

if (outcome.status !== 'SUCCEEDED') {
  console.error(`\nOnboarding FAILED: ${outcome.error}\n  ${outcome.cause}`);
  const made = (outcome.failureRecord as { resourcesSoFar?: { kind: string; id: string }[] } | undefined)?.resourcesSoFar ?? [];
  if (made.length > 0) {
    console.error(`\nMade before the failure (a re-run with the same request reuses them):`);
    for (const r of made) console.error(`  ${r.kind.padEnd(24)} ${r.id}`);
  }
  await shutdown(1);
}

console.log(`\n$ kubectl get war -n ${request.workloadGroup.namespace}`);
console.log(renderWarTable(sandbox.kube.store, request.workloadGroup.namespace));
console.log(`\n${renderSummary(outcome.output)}`);
console.log(`\nOnboarded in ${outcome.durationMs} ms (total with sandbox start-up ${Date.now() - t0} ms).`);

if (!args.values.keep) await shutdown(0);

const api = await startApiServer(new LocalExecutions({ waitMs }), 0, { routes: [driftRoute(sandbox)] });
const env = sandbox.awsEnv;
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
  curl -s ${api.url}/onboardings/<executionId>
  curl -s ${api.url}/onboardings                                  (from the registry; ?limit=&nextToken=)
  curl -s -XPOST ${api.url}/onboardings/<executionId>/verify       (one re-verification now)

Make the workload drift (sandbox only), then watch the next re-verification report it:
  curl -s -XPOST ${api.url}/sandbox/drift -H 'content-type: application/json' --data '{"workload":"${request.workloadGroup.namespace}/${request.workloadGroup.name}","kind":"stop-task"}'
  (kinds: stop-task, disconnect-agent, scale-to-zero, restore)

Re-verification: ${reverifyEvery > 0 ? `every ${reverifyEvery} s (--reverify-every), each run printed below` : 'off (--reverify-every 0)'}.
  Drift events (${sandbox.driftEvents.busName} bus, rule ${sandbox.driftEvents.ruleArn.split('/').pop()}) arrive on the SQS queue ${sandbox.driftEvents.queueUrl}
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} sqs receive-message --queue-url ${sandbox.driftEvents.queueUrl} --wait-time-seconds 5
  aws --endpoint-url ${env.AWS_ENDPOINT_URL} dynamodb get-item --table-name ${sandbox.registryTable} --key '{"workload":{"S":"${request.workloadGroup.namespace}/${request.workloadGroup.name}"}}'`);
const reverifyLoop = reverifyEvery > 0 ? startReverifyLoop({ everyMs: reverifyEvery * 1000, waitMs, onOutcome: (o) => console.log(describeReverifyOutcome(o)) }) : undefined;
process.removeAllListeners('SIGINT');
process.on('SIGINT', () => {
  console.log('\nStopping the sandbox...');
  void (async () => {
    await reverifyLoop?.stop();
    await api.stop();
    await shutdown(0);
  })();
});
