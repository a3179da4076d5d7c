/**
 * The IAM permissions a step needs, declared next to the code that makes the calls: each step
 * file exports `permissions`, and the CDK construct turns them into that function's policy
 * (nothing else is granted). A test records the commands every step sends against the
 * emulator and fails when a step sends an action its permissions lack, or is granted one it
 * never sends.
 *
 * Resources are ARN templates. The construct fills these placeholders:
 * - `${Partition}`, `${Region}`, `${Account}`: the stack's;
 * - `${EksClusterName}`: one resource per EKS cluster the construct may read (its prop);
 * - `${RegistryTableArn}`, `${DriftEventBusArn}`, `${OnboardStateMachineArn}`,
 *   `${ReverifyStateMachineArn}`, `${OnboardStateMachineName}`, `${ReverifyStateMachineName}`:
 *   the construct's own resources (names for execution ARNs:
 *   `arn:${Partition}:states:${Region}:${Account}:execution:${OnboardStateMachineName}:*`).
 * Condition values may hold them too (`renderPermission` fills both).
 */
import { TAG_MANAGED_BY, TOOL_NAME } from './settings.ts';

export const PERMISSION_PLACEHOLDERS = [
  'Partition',
  'Region',
  'Account',
  'EksClusterName',
  'RegistryTableArn',
  'DriftEventBusArn',
  'OnboardStateMachineArn',
  'ReverifyStateMachineArn',
  'OnboardStateMachineName',
  'ReverifyStateMachineName',
  'OffboardStateMachineArn',
  'OffboardStateMachineName',
] as const;
export type PermissionPlaceholder = (typeof PERMISSION_PLACEHOLDERS)[number];

export interface Permission {
  /** Why the step needs it, as an IAM statement id (letters and digits only). */
  sid: string;
  /** `service:Action`, each named: never a wildcard. */
  actions: string[];
  /**
   * ARN templates. `*` only where the service has no resource-level permission for these
   * actions (e.g. ec2:Describe*, sts:GetCallerIdentity); then say so in a comment and narrow
   * it with `conditions` where the service supports them (aws:ResourceTag, aws:RequestTag).
   */
  resources: string[];
  /**
   * IAM condition block, e.g. `{ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }`.
   * Values may hold the same placeholders as `resources` (render with `renderPermission`).
   */
  conditions?: Conditions;
}

/** An IAM `Condition` element: operator → condition key → value(s). */
export type Conditions = Record<string, Record<string, string | string[]>>;

/** What a step file exports as `permissions`. */
export type StepPermissions = readonly Permission[];

/**
 * The actions whose statements may name `*` as their only resource, because the service
 * defines no resource type for them (the Service Authorization Reference lists none:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
 * .../list_amazoncloudwatchlogs.html, .../list_amazonelasticcontainerservice.html).
 * ecs:ListTasks is the one exception: the reference lists only `container-instance*` for it,
 * which a call naming a cluster does not match; `*` narrowed by the `ecs:cluster` condition is
 * what works (https://github.com/awsdocs/amazon-ecs-developer-guide/issues/211), and that is
 * what Check service readiness is granted. Nothing else may be granted on `*` (a test checks).
 */
export const WILDCARD_RESOURCE_ACTIONS: readonly string[] = [
  'ec2:DescribeAccountAttributes',
  'ec2:DescribeAddresses',
  'ec2:DescribeAvailabilityZones',
  'ec2:DescribeInternetGateways',
  'ec2:DescribeNatGateways',
  'ec2:DescribeRouteTables',
  'ec2:DescribeSecurityGroupRules',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcs',
  'ecs:DescribeTaskDefinition',
  // Teardown: listing a family's revisions and deregistering one name no resource type either (which are ours is decided by their tags).
  'ecs:DeregisterTaskDefinition',
  'ecs:ListTaskDefinitions',
  // Like ListTasks: `*` narrowed by the ecs:cluster condition (teardown lists a cluster's services to find the workload's by tag).
  'ecs:ListServices',
  'ecs:ListTasks',
  'logs:DescribeLogGroups',
  // No resource type; narrowed by the cloudwatch:namespace condition (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
  'cloudwatch:PutMetricData',
];

/** Condition: the request tags the new resource as this tool's (tag-on-create; `aws:RequestTag`). */
export function requestTaggedByUs(): Conditions {
  return { StringEquals: { [`aws:RequestTag/${TAG_MANAGED_BY}`]: TOOL_NAME } };
}

/** Condition: the resource acted on carries this tool's managed-by tag (`aws:ResourceTag`). */
export function resourceTaggedByUs(): Conditions {
  return { StringEquals: { [`aws:ResourceTag/${TAG_MANAGED_BY}`]: TOOL_NAME } };
}

/**
 * One step's permissions from the constants of the modules it calls: statements sharing a
 * `sid` are one statement (their actions joined), so two modules that read the same
 * resources give one statement, and IAM's rule that Sids are unique in a policy holds.
 * Statements sharing a sid must name the same resources and conditions (else this throws:
 * two different grants under one name would hide one of them).
 */
export function composePermissions(...groups: (StepPermissions | Permission)[]): StepPermissions {
  const bySid = new Map<string, Permission>();
  for (const p of groups.flatMap((g) => (Array.isArray(g) ? (g as StepPermissions) : [g as Permission]))) {
    const seen = bySid.get(p.sid);
    if (!seen) {
      bySid.set(p.sid, { ...p, actions: [...p.actions], resources: [...p.resources] });
      continue;
    }
    if (scopeKey(seen) !== scopeKey(p)) throw new Error(`permission ${p.sid} is declared twice with different resources or conditions`);
    for (const a of p.actions) if (!seen.actions.includes(a)) seen.actions.push(a);
  }
  return [...bySid.values()].map((p) => ({ ...p, actions: [...p.actions].sort() }));
}

function scopeKey(p: Permission): string {
  return JSON.stringify([[...p.resources].sort(), p.conditions ?? {}]);
}

/** `arn:${Partition}:<service>:${Region}:${Account}:<resource>` (regional services). */
export function arnTemplate(service: string, resource: string, opts: { regional?: boolean; account?: boolean } = {}): string {
  const region = opts.regional === false ? '' : '${Region}';
  const account = opts.account === false ? '' : '${Account}';
  return `arn:\${Partition}:${service}:${region}:${account}:${resource}`;
}

export type PlaceholderValues = Partial<Record<PermissionPlaceholder, string | string[]>>;

/** Fills the placeholders of a template; a list value (EKS clusters) gives one ARN each. */
export function renderResource(template: string, values: PlaceholderValues): string[] {
  let out = [template];
  for (const key of PERMISSION_PLACEHOLDERS) {
    const token = `\${${key}}`;
    if (!template.includes(token)) continue;
    const value = values[key];
    if (value === undefined) throw new Error(`permission resource ${template} needs a value for \${${key}}`);
    const list = Array.isArray(value) ? value : [value];
    out = out.flatMap((t) => list.map((v) => t.split(token).join(v)));
  }
  return out;
}

/** A permission with its resources and condition values rendered (what goes into the policy). */
export function renderPermission(p: Permission, values: PlaceholderValues): Permission {
  const list = (vs: string[]) => [...new Set(vs.flatMap((v) => renderResource(v, values)))];
  const conditions = p.conditions
    ? Object.fromEntries(
        Object.entries(p.conditions).map(([op, keys]) => [
          op,
          Object.fromEntries(
            Object.entries(keys).map(([k, v]) => {
              const rendered = list(Array.isArray(v) ? v : [v]);
              return [k, Array.isArray(v) || rendered.length > 1 ? rendered : rendered[0]!];
            }),
          ),
        ]),
      )
    : undefined;
  return { sid: p.sid, actions: [...p.actions], resources: list(p.resources), ...(conditions ? { conditions } : {}) };
}
