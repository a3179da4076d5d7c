import { ensureLogGroup as ensureGroup, LOG_GROUP_PERMISSIONS } from '#lib/aws/log-group.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { tagMap } from '#lib/tags.ts';
import type { LogGroupResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure log group: `/ecs/<family>`, where both containers' awslogs drivers write. */
export async function ensureLogGroup(state: WorkflowState): Promise<LogGroupResult> {
  const { request } = state;
  const g = await ensureGroup({ name: names.logGroup(request), retentionDays: request.logRetentionDays, tags: tagMap(request), owner: request });
  return {
    logGroupName: g.logGroupName,
    retentionDays: g.retentionDays,
    ledger: [{ kind: 'log-group', id: g.logGroupName, arn: g.logGroupArn, created: g.created, ...(g.updated ? { updated: true } : {}) }],
  };
}

export const permissions: StepPermissions = LOG_GROUP_PERMISSIONS;

export const handler = wrap('Ensure log group', ensureLogGroup);
