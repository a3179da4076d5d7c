import { ensureLogGroup as ensureGroup } from '#lib/aws/log-group.ts';
import { wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { tagMap } from '#lib/tags.ts';
import type { LogGroupResult, WorkflowState } from '#lib/workflow.ts';

/** Ensure log group: `/ecs/<family>`, where both containers' awslogs drivers write. */
export async function ensureLogGroup(state: WorkflowState): Promise<LogGroupResult> {
  const { request } = state;
  const g = await ensureGroup({ name: names.logGroup(request), retentionDays: request.logRetentionDays, tags: tagMap(request), owner: request });
  return {
    logGroupName: g.logGroupName,
    retentionDays: g.retentionDays,
    ledger: [{ kind: 'log-group', id: g.logGroupName, arn: g.logGroupArn, created: g.created }],
  };
}

export const handler = wrap('Ensure log group', ensureLogGroup);
