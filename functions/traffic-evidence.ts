import { AGENT_LOG_PERMISSIONS, trafficEvidence } from '#lib/traffic-evidence.ts';
import { wrap } from '#lib/middleware.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import type { WorkflowState } from '#lib/workflow.ts';

// The reading and counting live in functions/lib/traffic-evidence.ts (the re-verification uses them too).
export * from '#lib/traffic-evidence.ts';

export const permissions: StepPermissions = AGENT_LOG_PERMISSIONS;

export const handler = wrap('Traffic evidence', (state: WorkflowState) => trafficEvidence(state));
