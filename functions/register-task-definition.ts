import type { LogConfiguration, RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { decideTaskDefinition, ensureTaskDefinition, TASK_DEFINITION_PERMISSIONS } from '#lib/aws/task-definition.ts';
import { wrap } from '#lib/middleware.ts';
import { onboardingConfigJson } from '#lib/onboarding-config.ts';
import { plannedId, type PlanEntry } from '#lib/plan.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { AGENT_CONTAINER_NAME, LOG_STREAM_PREFIX } from '#lib/settings.ts';
import { need } from '#lib/state.ts';
import { ecsTags } from '#lib/tags.ts';
import type { CaSecretResult, TaskDefinitionResult, WorkflowState, With } from '#lib/workflow.ts';

/** Memory (MiB) reserved for the agent; the app container gets the rest of the task's memory. */
export const AGENT_MEMORY_RESERVATION_MIB = 128;

type TaskDefinitionState = With<'preflight' | 'taskRole' | 'executionRole' | 'caSecret' | 'logGroup'>;

/**
 * The CA secret pinned to its current version: `<secret ARN>:<json-key>:<version-stage>:<version-id>`
 * with the key and stage left empty
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
 * ECS reads a secret only when a container starts, so with the bare ARN a new CA would never
 * reach running tasks; with the version in it, a new CA is a new task definition revision and
 * Ensure service rolls a deployment. Needs Fargate platform 1.4.0+ (the service asks for LATEST).
 * Without a version id (a state from before it was recorded) the bare ARN is used.
 */
export function caSecretValueFrom(caSecret: Pick<CaSecretResult, 'secretArn' | 'versionId'>): string {
  return caSecret.versionId ? `${caSecret.secretArn}:::${caSecret.versionId}` : caSecret.secretArn;
}

/** The task definition for a workload: the onboarding agent sidecar plus the app container. */
export function taskDefinitionInput(state: TaskDefinitionState): RegisterTaskDefinitionCommandInput & { family: string } {
  const { request, preflight, taskRole, executionRole, caSecret, logGroup } = state;
  const logs: LogConfiguration = {
    logDriver: 'awslogs',
    options: { 'awslogs-group': logGroup.logGroupName, 'awslogs-region': preflight.region, 'awslogs-stream-prefix': LOG_STREAM_PREFIX },
  };
  return {
    family: request.ecs.family,
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: request.ecs.cpu,
    memory: request.ecs.memory,
    runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
    taskRoleArn: taskRole.roleArn,
    executionRoleArn: executionRole.roleArn,
    containerDefinitions: [
      {
        name: AGENT_CONTAINER_NAME,
        image: request.agentImage ?? preflight.agentImage,
        // Root, as in the seed procedure: the agent sets up the sidecar's traffic redirection.
        user: '0',
        essential: true,
        memoryReservation: AGENT_MEMORY_RESERVATION_MIB,
        environment: [{ name: 'ONBOARDING_CONFIG', value: onboardingConfigJson(request) }],
        // The CA comes from Secrets Manager, never as a plain environment value in the task definition.
        secrets: [{ name: 'ONBOARDING_AGENT_ROOT_CERTS', valueFrom: caSecretValueFrom(caSecret) }],
        logConfiguration: logs,
      },
      {
        name: request.app.name,
        image: request.app.image,
        essential: true,
        memoryReservation: Number(request.ecs.memory) - AGENT_MEMORY_RESERVATION_MIB,
        portMappings: [{ containerPort: request.app.port, protocol: 'tcp' }],
        logConfiguration: logs,
      },
    ],
    tags: ecsTags(request),
  };
}

/** Register task definition: a new revision only when the content changed. */
export async function registerTaskDefinition(state: WorkflowState): Promise<TaskDefinitionResult> {
  const s = need(state, 'preflight', 'taskRole', 'executionRole', 'caSecret', 'logGroup');
  const { created, ...td } = await ensureTaskDefinition(taskDefinitionInput(s), s.request);
  return { ...td, ledger: [{ kind: 'task-definition', id: td.taskDefinitionArn, arn: td.taskDefinitionArn, created }] };
}

/** Where the agent image sits in the task definition (the comparison's leaf path). */
const AGENT_IMAGE_FIELD = `containerDefinitions[${AGENT_CONTAINER_NAME}].image`;

/**
 * Register task definition's dry run: the same look-up and comparison as the apply
 * (decideTaskDefinition), no RegisterTaskDefinition. `reuse` the latest revision, or `create`
 * revision latest+1 with each differing field (the result's ARN is then a placeholder), or
 * `conflict` when the family is another's. A placeholder in the content (the CA secret's ARN or
 * version while Ensure CA secret plans to create or change it) is never sent: it only differs
 * from what the latest revision holds. Without an agent image (the pre-flight found problems)
 * the rest is compared and the revision planned as new.
 */
export async function planTaskDefinition(state: WorkflowState): Promise<TaskDefinitionResult> {
  const s = need(state, 'preflight', 'taskRole', 'executionRole', 'caSecret', 'logGroup');
  const input = taskDefinitionInput(s);
  const family = input.family;
  const imageUnknown = !(s.request.agentImage ?? (s.preflight.agentImage as string | undefined));
  const decision = await decideTaskDefinition(input, s.request, imageUnknown ? { ignore: (f) => f === AGENT_IMAGE_FIELD } : {});
  const planned = (entry: PlanEntry, taskDefinitionArn: string, revision: number): TaskDefinitionResult => ({ taskDefinitionArn, family, revision, ledger: [], plan: [entry] });
  const entry = { kind: 'task-definition', name: family } as const;
  if (decision.action === 'conflict') {
    // Later steps plan on with a placeholder; the conflict entry blocks the plan.
    return planned({ ...entry, id: decision.latest.taskDefinitionArn, action: 'conflict', detail: decision.error.message }, plannedId('task-definition', family), decision.latest.revision + 1);
  }
  if (decision.action === 'reuse' && !imageUnknown) {
    return planned({ ...entry, id: decision.latest.taskDefinitionArn, action: 'reuse' }, decision.latest.taskDefinitionArn, decision.latest.revision);
  }
  const revision = decision.action === 'register' ? decision.revision : decision.latest.revision + 1;
  const changes = decision.action === 'register' ? decision.changes : [];
  const details = [decision.latest ? `revision ${revision} of ${family}` : `${family}, revision 1`];
  if (imageUnknown) {
    details.push(
      decision.action === 'reuse'
        ? `agent image unknown until the pre-flight passes: revision ${decision.latest.revision} matches in everything else and is reused if its agent image is the one the pre-flight finds`
        : 'agent image unknown until the pre-flight passes',
    );
  }
  return planned({ ...entry, action: 'create', ...(changes.length > 0 ? { changes } : {}), detail: details.join('; ') }, plannedId('task-definition', family), revision);
}

export const permissions: StepPermissions = TASK_DEFINITION_PERMISSIONS;

export const handler = wrap('Register task definition', registerTaskDefinition, { plan: planTaskDefinition });
