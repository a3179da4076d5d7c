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
 */
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
  /** IAM condition block, e.g. `{ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }`. */
  conditions?: Record<string, Record<string, string | string[]>>;
}

/** What a step file exports as `permissions`. */
export type StepPermissions = readonly Permission[];

/** `arn:${Partition}:<service>:${Region}:${Account}:<resource>` (regional services). */
export function arnTemplate(service: string, resource: string, opts: { regional?: boolean; account?: boolean } = {}): string {
  const region = opts.regional === false ? '' : '${Region}';
  const account = opts.account === false ? '' : '${Account}';
  return `arn:\${Partition}:${service}:${region}:${account}:${resource}`;
}

/** Fills the placeholders of a template; a list value (EKS clusters) gives one ARN each. */
export function renderResource(template: string, values: Partial<Record<PermissionPlaceholder, string | string[]>>): string[] {
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
