/**
 * The least-privilege harness: records every command the project's clients send while
 * something runs, attributes it to the step whose handler sent it (the AsyncLocalStorage
 * `wrap` sets), maps it to what IAM authorizes (iam-actions.ts) with the tags the resources
 * carry at that moment, and evaluates each authorization against a step's `permissions`:
 * action, resource pattern and conditions. Reusable for any step or function that exports
 * `permissions` (the re-verification steps, the API function).
 */
import { DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, ListTagsForResourceCommand as EcsListTags } from '@aws-sdk/client-ecs';
import { GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CloudWatchLogsClient, ListTagsForResourceCommand as LogsListTags } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { onCommand, type SentCommand } from '../../functions/lib/clients.ts';
import { currentStep } from '../../functions/lib/middleware.ts';
import { renderPermission, type Conditions, type Permission, type PlaceholderValues, type StepPermissions } from '../../functions/lib/permissions.ts';
import { authorizationsOf, tagMapOf, type Authorization, type AwsTarget, type ResourceFacts } from './iam-actions.ts';

export interface RecordedCall extends SentCommand {
  /** The state name of the step that sent it; undefined outside any step handler. */
  step: string | undefined;
  authorizations: Authorization[];
}

/** Records every command sent from now until `stop()` (also by work a run left going, e.g. a stopped Parallel branch). */
export function startRecording(target: AwsTarget, facts: ResourceFacts): { calls: RecordedCall[]; stop: () => void } {
  const calls: RecordedCall[] = [];
  const stop = onCommand(async (sent) => {
    const step = currentStep();
    calls.push({ ...sent, step, authorizations: await authorizationsOf(sent, target, facts) });
  });
  return { calls, stop };
}

/** Runs `run` and returns what it returned plus every command sent meanwhile, with its authorizations. */
export async function recordCalls<T>(run: () => Promise<T>, target: AwsTarget, facts: ResourceFacts): Promise<{ result: T; calls: RecordedCall[] }> {
  const { calls, stop } = startRecording(target, facts);
  try {
    return { result: await run(), calls };
  } finally {
    stop();
  }
}

/** The IAM actions each step sent (unmapped commands make recordCalls fail). */
export function actionsByStep(calls: readonly RecordedCall[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const c of calls) {
    const key = c.step ?? '(no step)';
    const set = out.get(key) ?? new Set<string>();
    for (const a of c.authorizations) set.add(a.action);
    out.set(key, set);
  }
  return out;
}

/** Runs `run` and returns the IAM actions each step sent. */
export async function recordActions(run: () => Promise<unknown>, target: AwsTarget, facts: ResourceFacts): Promise<Map<string, Set<string>>> {
  return actionsByStep((await recordCalls(run, target, facts)).calls);
}

/** Every action `permissions` grants. */
export function grantedActions(permissions: StepPermissions): Set<string> {
  return new Set(permissions.flatMap((p) => p.actions));
}

// ---- policy evaluation (Allow statements only; no Deny is ever written) ------------

/** IAM's wildcard match: `*` any run of characters, `?` one character, case-sensitive. */
export function globMatches(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(value);
}

const OPERATORS: Record<string, (want: string, have: string) => boolean> = {
  StringEquals: (w, h) => w === h,
  StringLike: globMatches,
  ArnEquals: globMatches,
  ArnLike: globMatches,
};

/** True when every condition holds for the request context (a missing key fails, as in IAM). */
export function conditionsHold(conditions: Conditions | undefined, context: Record<string, string>): boolean {
  const lower = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.entries(conditions ?? {}).every(([op, keys]) => {
    const test = OPERATORS[op];
    if (!test) throw new Error(`condition operator ${op} is not evaluated by this harness: add it to test/support/record-actions.ts`);
    return Object.entries(keys).every(([key, want]) => {
      const have = lower.get(key.toLowerCase());
      return have !== undefined && (Array.isArray(want) ? want : [want]).some((w) => test(w, have));
    });
  });
}

/** The statement that allows `a`, if any, among rendered statements. */
export function allowingStatement(a: Authorization, rendered: readonly Permission[]): Permission | undefined {
  return rendered.find((p) => p.actions.some((x) => globMatches(x, a.action)) && p.resources.some((r) => globMatches(r, a.resource)) && conditionsHold(p.conditions, a.context));
}

/** Each authorization of `calls` that `permissions` (rendered with `values`) does not allow, as one line. */
export function deniedAuthorizations(calls: readonly RecordedCall[], permissions: StepPermissions, values: PlaceholderValues): string[] {
  const rendered = permissions.map((p) => renderPermission(p, values));
  const out = new Set<string>();
  for (const c of calls) {
    for (const a of c.authorizations) {
      if (!allowingStatement(a, rendered)) out.add(`${c.command} needs ${a.action} on ${a.resource} with ${JSON.stringify(a.context)}`);
    }
  }
  return [...out];
}

// ---- facts from the emulator ---------------------------------------------------

/**
 * ResourceFacts read from moto_server with clients of their own (not the project's, so the
 * look-ups are not recorded): the tags IAM would read on each resource.
 */
export function emulatorFacts(endpoint: string, region: string): ResourceFacts & { destroy(): void } {
  const cfg = { endpoint, region, maxAttempts: 1, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const ec2 = new EC2Client(cfg);
  const ecs = new ECSClient(cfg);
  const iam = new IAMClient(cfg);
  const logs = new CloudWatchLogsClient(cfg);
  const secrets = new SecretsManagerClient(cfg);
  const quiet = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch {
      return undefined;
    }
  };
  return {
    ec2Tags: async (id) => tagMapOf((await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }))).Tags),
    subnetVpc: async (id) => (await quiet(() => ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))))?.Subnets?.[0]?.VpcId,
    associationSubnet: async (id) => {
      const out = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.route-table-association-id', Values: [id] }] }));
      return out.RouteTables?.flatMap((t) => t.Associations ?? []).find((a) => a.RouteTableAssociationId === id)?.SubnetId;
    },
    role: async (name) => {
      const r = (await quiet(() => iam.send(new GetRoleCommand({ RoleName: name }))))?.Role;
      return r?.Arn ? { arn: r.Arn, tags: tagMapOf(r.Tags) } : undefined;
    },
    secret: async (id) => {
      const s = await quiet(() => secrets.send(new DescribeSecretCommand({ SecretId: id })));
      return s?.ARN ? { arn: s.ARN, tags: tagMapOf(s.Tags) } : undefined;
    },
    logGroupTags: async (arn) => tagMapOf((await quiet(() => logs.send(new LogsListTags({ resourceArn: arn }))))?.tags),
    ecsTags: async (arn) => tagMapOf((await quiet(() => ecs.send(new EcsListTags({ resourceArn: arn }))))?.tags),
    destroy: () => {
      for (const c of [ec2, ecs, iam, logs, secrets]) c.destroy();
    },
  };
}
