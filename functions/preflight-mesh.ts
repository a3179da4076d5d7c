import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { sts } from '#lib/clients.ts';
import { MeshPrerequisiteError } from '#lib/errors.ts';
import { MESH_KUBE_PERMISSIONS, meshKube, type MeshKube } from '#lib/kube/client.ts';
import { namespaceYaml, onboardingPolicyYaml, workloadGroupYaml } from '#lib/kube/mesh-yaml.ts';
import type { StepPermissions } from '#lib/permissions.ts';
import { AGENT_IMAGE_NAMESPACE, AGENT_IMAGE_SEGMENT, AGENT_IMAGE_SOURCES, type AgentImageSource } from '#lib/mesh-facts.ts';
import { logger, wrap } from '#lib/middleware.ts';
import { names } from '#lib/naming.ts';
import { findAllowingPolicy, type EcsWorkloadIdentity } from '#lib/onboarding-policy.ts';
import type { WorkloadRequest } from '#lib/request.ts';
import { runtimeSettings } from '#lib/settings.ts';
import type { AwsContext, PreflightResult, WorkflowState } from '#lib/workflow.ts';

/** Account and partition of the caller (the ARN's partition: aws, aws-cn, aws-us-gov). */
export async function awsContext(): Promise<AwsContext> {
  const id = await sts().send(new GetCallerIdentityCommand({}));
  const partition = id.Arn?.split(':')[1];
  if (!id.Account || !partition) throw new Error(`STS GetCallerIdentity returned no account/ARN (${id.Arn ?? 'none'})`);
  return { account: id.Account, partition, region: runtimeSettings.region };
}

type ImageSource = NonNullable<PreflightResult['agentImageSource']>;
type ImageFinding = { image: string; source: ImageSource } | { problem: string };

/** The agent image derived from one deployment's image (docs.tetrate.io ECS guide / ECS quickstart), or why not. */
async function imageFrom(kube: MeshKube, src: AgentImageSource): Promise<ImageFinding> {
  const where = `deployment ${AGENT_IMAGE_NAMESPACE}/${src.deployment}`;
  const dep = await kube.getDeployment(AGENT_IMAGE_NAMESPACE, src.deployment);
  if (!dep) return { problem: `${where} was not found` };
  const containers = dep.spec?.template?.spec?.containers ?? [];
  const image = (src.container ? containers.find((c) => c.name === src.container) : containers[0])?.image;
  if (!image) return { problem: `${where} has no ${src.container ? `container "${src.container}"` : 'container'} with an image` };
  if (!image.includes(src.imageSegment)) return { problem: `the image "${image}" of ${where} does not contain "${src.imageSegment}"` };
  return { image: image.replace(src.imageSegment, AGENT_IMAGE_SEGMENT), source: `deployment/${src.deployment}` as ImageSource };
}

/**
 * The agent image: the request's, or derived from the first deployment that has it:
 * onboarding-plane (ECS guide), then onboarding-operator (quickstart).
 */
async function agentImage(request: WorkloadRequest, kube: MeshKube): Promise<ImageFinding> {
  if (request.agentImage) return { image: request.agentImage, source: 'request' };
  const problems: string[] = [];
  for (const src of AGENT_IMAGE_SOURCES) {
    const found = await imageFrom(kube, src);
    if ('image' in found) return found;
    problems.push(found.problem);
  }
  return {
    problem:
      `The onboarding agent image cannot be derived: ${problems.join('; ')}. Enable workload onboarding on the ControlPlane ` +
      `(spec.meshExpansion.onboarding), or give "agentImage" in the request (e.g. <registry>/onboarding-agent:<version>, same registry and tag as the other TSB images).`,
  };
}

/**
 * Pre-flight mesh: checks, before anything is made in AWS, that the mesh will accept the
 * workload (the agent would otherwise retry forever): that the cluster serves the onboarding
 * resource types (API discovery), namespace, WorkloadGroup, an OnboardingPolicy allowing this
 * account/region/cluster/task role, and the agent image.
 * Reads only; every missing piece is a MeshPrerequisiteError carrying YAML to create it. In a
 * dry run the missing pieces are the plan's problems instead, and the run goes on planning.
 */
export async function preflightMesh(state: WorkflowState): Promise<PreflightResult> {
  const { request } = state;
  const { namespace, name } = request.workloadGroup;
  const eksClusterName = request.network.eksClusterName;
  // Design: the Kubernetes API is found through the EKS cluster, so without it nothing can be checked.
  if (!eksClusterName) {
    throw new MeshPrerequisiteError(
      `network.eksClusterName is required for the mesh checks: the pre-flight reads the namespace "${namespace}", WorkloadGroup "${name}", ` +
        `OnboardingPolicies and the onboarding-plane/onboarding-operator deployment from the mesh's EKS cluster, and the verification reads the WorkloadAutoRegistrations there.`,
    );
  }
  const ctx = await awsContext();
  const kube = await meshKube(eksClusterName, { namespace });
  // The resource types first: without them no other check means anything.
  await kube.discoverMeshResources();

  const problems: string[] = [];
  if (!(await kube.getNamespace(namespace))) {
    const missing = `Namespace "${namespace}" does not exist in EKS cluster "${eksClusterName}". Create it (kubectl apply -f -):\n${namespaceYaml(namespace)}`;
    if (!request.dryRun) throw new MeshPrerequisiteError(missing);
    // A dry run lists every gap at once: the rest are looked up in the missing namespace too (and are missing).
    problems.push(missing);
  }

  const wg = await kube.getWorkloadGroup(namespace, name);
  if (!wg) problems.push(`WorkloadGroup ${namespace}/${name} does not exist. Create it:\n${workloadGroupYaml(namespace, name)}`);

  const taskRoleName = names.taskRole(request);
  const identity: EcsWorkloadIdentity = { partition: ctx.partition, account: ctx.account, region: ctx.region, ecs: { cluster: request.ecs.cluster, iamRoleName: taskRoleName } };
  const wgLabels = wg?.metadata.labels ?? {};
  const policyYaml = onboardingPolicyYaml({ namespace, name: `allow-ecs-${name}`, account: ctx.account, region: ctx.region, cluster: request.ecs.cluster, taskRoleName, workloadGroupLabels: wgLabels });
  const policies = await kube.listOnboardingPolicies(namespace);
  const found = findAllowingPolicy(policies, identity, wgLabels);
  if (policies.length === 0) {
    problems.push(`No OnboardingPolicy exists in namespace "${namespace}", so the onboarding plane would refuse the task. Create one:\n${policyYaml}`);
  } else if (!found.policy && wg) {
    problems.push(
      `No OnboardingPolicy in namespace "${namespace}" allows account ${ctx.account}, region ${ctx.region}, ECS cluster "${request.ecs.cluster}" and task role "${taskRoleName}" ` +
        `into WorkloadGroup "${name}":\n${found.mismatches.map((m) => `  - ${m}`).join('\n')}\nFix a policy, or add one:\n${policyYaml}`,
    );
  }

  const image = await agentImage(request, kube);
  if ('problem' in image) problems.push(image.problem);

  if (request.dryRun && problems.length > 0) return { ...dryRunFindings(ctx, request, problems, wg, found.policy?.metadata.name, image), kube: kube.target };
  if (problems.length > 0 || !wg || !found.policy || !('image' in image)) {
    throw new MeshPrerequisiteError(`The mesh is not ready for ${namespace}/${name} (EKS cluster "${eksClusterName}"):\n\n${problems.join('\n\n')}`);
  }
  const warnings = found.decision?.warnings ?? [];
  for (const w of warnings) logger.warn('onboarding policy condition checked only when the task runs', { warning: w });
  return {
    ...ctx,
    kube: kube.target,
    agentImage: image.image,
    agentImageSource: image.source,
    workloadGroup: { namespace, name, templateLabels: wg.spec.template?.labels ?? {}, serviceAccount: wg.spec.template?.serviceAccount },
    onboardingPolicy: found.policy.metadata.name,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/**
 * A dry run's pre-flight with gaps: what was found, and each gap as a plan problem (with the YAML
 * to fix it). The agent image is absent when it could not be derived (Register task definition's
 * plan says so); the apply would stop here with MeshPrerequisiteError.
 */
function dryRunFindings(
  ctx: AwsContext,
  request: WorkloadRequest,
  problems: string[],
  wg: Awaited<ReturnType<MeshKube['getWorkloadGroup']>>,
  policy: string | undefined,
  image: ImageFinding,
): PreflightResult {
  const { namespace, name } = request.workloadGroup;
  return {
    ...ctx,
    ...('image' in image ? { agentImage: image.image, agentImageSource: image.source } : ({} as { agentImage: string })),
    workloadGroup: { namespace, name, templateLabels: wg?.spec.template?.labels ?? {}, serviceAccount: wg?.spec.template?.serviceAccount },
    onboardingPolicy: policy ?? '',
    problems: problems.map((message) => ({ step: 'Pre-flight mesh', message })),
  };
}

/**
 * The mesh's EKS cluster (DescribeCluster) only: awsContext's sts:GetCallerIdentity needs no
 * permission (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
 */
export const permissions: StepPermissions = MESH_KUBE_PERMISSIONS;

export const handler = wrap('Pre-flight mesh', preflightMesh);
