import { ensureLogGroup as ensureGroup, inspectLogGroup, LOG_GROUP_PERMISSIONS, type LogGroupSpec } from '#lib/aws/log-group.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { planEntry } from '#lib/plan.ts';
import { tagMap } from '#lib/tags.ts';
import type { LogGroupResult, WorkflowState } from '#lib/workflow.ts';

/** The log group as the apply makes it and the plan compares it. */
function logGroupSpec(state: WorkflowState): LogGroupSpec {
  const { request } = state;
  return { name: names.logGroup(request), retentionDays: request.logRetentionDays, tags: tagMap(request), owner: request };
}

/** Ensure log group: `/ecs/<family>`, where both containers' awslogs drivers write. */
export async function ensureLogGroup(state: WorkflowState): Promise<LogGroupResult> {
  const g = await ensureGroup(logGroupSpec(state));
  return {
    logGroupName: g.logGroupName,
    retentionDays: g.retentionDays,
    ledger: [{ kind: 'log-group', id: g.logGroupName, arn: g.logGroupArn, created: g.created, ...(g.updated ? { updated: true } : {}) }],
  };
}

/** The dry run of Ensure log group: create, update (`retentionInDays`), reuse, or conflict (another owner's group of that name). */
export async function planLogGroup(state: WorkflowState): Promise<LogGroupResult> {
  const spec = logGroupSpec(state);
  const found = await inspectLogGroup(spec);
  return {
    logGroupName: spec.name,
    retentionDays: spec.retentionDays,
    ledger: [],
    plan: [planEntry('log-group', spec.name, found, { detail: `retention ${spec.retentionDays} days` })],
  };
}

export const permissions: StepPermissions = LOG_GROUP_PERMISSIONS;

export const handler = wrap('Ensure log group', ensureLogGroup, { plan: planLogGroup });
