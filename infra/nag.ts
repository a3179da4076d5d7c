/**
 * cdk-nag acknowledgements that follow from the step permissions. cdk-nag v3 acknowledges
 * each finding on its own (`AwsSolutions-IAM5[Resource::<resource>]`), so a wildcard resource a
 * step declares is acknowledged here, by its exact finding id, with the step and sid as the
 * reason: the justification lives next to the declaration (functions/lib/permissions.ts allows
 * `*` only where the service has no resource-level permission, and says so in a comment).
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

/** The `Resource::...` finding ids cdk-nag's IAM5 reports for these statements' wildcard resources. */
export function wildcardResourceFindings(scope: iam.IRole, statements: readonly iam.PolicyStatement[]): { id: string; sid: string; actions: string[] }[] {
  const stack = Stack.of(scope);
  return statements.flatMap((s) => {
    const json = stack.resolve(s.toStatementJson()) as { Sid?: string; Action: string | string[]; Resource: unknown };
    const resources = Array.isArray(json.Resource) ? json.Resource : [json.Resource];
    return resources
      .map((r) => flattenCfnReference(r))
      .filter((r) => r.includes('*'))
      .map((r) => ({ id: `AwsSolutions-IAM5[Resource::${r}]`, sid: json.Sid ?? '', actions: [json.Action].flat() }));
  });
}

/** Acknowledges each wildcard resource of the statements on the role, naming the step that declared it. */
export function acknowledgeWildcardResources(role: iam.IRole, statements: readonly iam.PolicyStatement[], declaredBy: string): void {
  for (const f of wildcardResourceFindings(role, statements)) {
    Validations.of(role).acknowledge({
      id: f.id,
      reason: `Declared by ${declaredBy} as ${f.sid} (${f.actions.join(', ')}): a wildcard the permissions DSL allows only where the service has no resource-level permission, justified next to the declaration.`,
    });
  }
}

/** Lambda's active tracing needs xray:PutTraceSegments/PutTelemetryRecords, which take no resource. */
export function acknowledgeXray(role: iam.IRole): void {
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) has no resource-level permissions (https://docs.aws.amazon.com/xray/latest/devguide/security_iam_id-based-policy-examples.html).',
  });
}
