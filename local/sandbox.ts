/**
 * The local sandbox, the embedded default on a machine without an AWS account: a real
 * moto_server (AWS), the Kubernetes API stand-in with the simulated onboarding plane
 * (the mesh), and a simulated Fargate scheduler (moto starts no tasks for services),
 * all on free 127.0.0.1 ports, seeded with what the seed's procedure assumes exists, and a
 * kubeconfig with which kubectl reaches the stand-in. `stop()` ends every process it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { resetClients } from '../functions/lib/clients.ts';
import { createEksCluster, createMeshVpc, type EksCluster, type MeshVpc } from './aws-fixtures.ts';
import { pinEcsTaskStatus, startFargateScheduler, type FargateScheduler, type FargateSchedulerOptions } from './fargate-scheduler.ts';
import { seedMesh, startKubeStandin, type KubeStandin } from './kube-api-standin.ts';
import { startMoto, useEmulatorEnvironment, type MotoServer } from './moto-server.ts';
import { startOnboardingPlane, type OnboardingPlane, type OnboardingPlaneOptions } from './onboarding-plane.ts';
import { applyDrift, type DriftApplied, type SandboxDriftKind } from './drift.ts';
import { createDriftEventSink, sandboxSqs, type DriftEventSink } from './drift-events.ts';
import { createRegistryTable } from './registry-table.ts';
import { ENV } from '../functions/lib/settings.ts';
import { writeKubeconfig } from './kubeconfig.ts';

export const SANDBOX_ACCOUNT = '123456789012';
export const SANDBOX_EKS_CLUSTER = 'mesh-eks';

export interface SandboxOptions {
  region?: string;
  eksClusterName?: string;
  /** Seed namespace, WorkloadGroup, OnboardingPolicy and the onboarding-plane/onboarding-operator deployments (default true). */
  seedMesh?: boolean;
  /** How often the simulated scheduler and onboarding plane look at the emulator. */
  intervalMs?: number;
  plane?: Pick<OnboardingPlaneOptions, 'connectDelayMs' | 'disconnected'>;
  crash?: FargateSchedulerOptions['crash'];
  /**
   * moto reports every ECS service with this many running tasks and a COMPLETED rollout
   * once it reaches the desired count (it cannot count real tasks); default 1, the example's count.
   */
  ecsServiceRunning?: number;
  /** Where to write the kubeconfig for kubectl (removed at stop); default a new temporary directory. */
  kubeconfigPath?: string;
}

export interface Sandbox {
  region: string;
  moto: MotoServer;
  kube: KubeStandin;
  scheduler: FargateScheduler;
  plane: OnboardingPlane;
  vpc: MeshVpc;
  eks: EksCluster;
  /** The registry's DynamoDB table in the emulator. */
  registryTable: string;
  /** The drift event bus (ENV.driftEventBus) and the SQS queue its MeshWorkloadDrift rule delivers to. */
  driftEvents: DriftEventSink;
  /** Makes an onboarded workload (`namespace/name`) drift, or `restore`s it; returns once the simulations show it. */
  drift(workload: string, kind: SandboxDriftKind): Promise<DriftApplied>;
  /** Environment with which the aws CLI and SDKs talk to the sandbox. */
  awsEnv: Record<string, string>;
  /** Path of the kubeconfig with which kubectl talks to the Kubernetes API stand-in (`export KUBECONFIG=...`). */
  kubeconfig: string;
  stop(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const region = opts.region ?? 'us-east-1';
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const moto = await startMoto({ env: { MOTO_ECS_SERVICE_RUNNING: String(opts.ecsServiceRunning ?? 1) } });
    stops.push(() => moto.stop());
    await pinEcsTaskStatus(moto.admin);
    useEmulatorEnvironment(moto.endpoint, region);
    resetClients();

    // The workload registry, as the CDK construct makes it on AWS; the steps and the API find it by the same variable.
    const registryTable = await createRegistryTable();
    process.env[ENV.registryTable] = registryTable;
    // The bus the re-verification publishes drift to, with a rule that delivers it to a queue anyone can read.
    const sqs = sandboxSqs();
    stops.push(async () => sqs.destroy());
    const driftEvents = await createDriftEventSink(sqs);
    process.env[ENV.driftEventBus] = driftEvents.busName;

    const vpc = await createMeshVpc({ endpoint: moto.endpoint, region, name: 'mesh' });
    const eks = await createEksCluster({
      endpoint: moto.endpoint,
      region,
      name: opts.eksClusterName ?? SANDBOX_EKS_CLUSTER,
      vpcId: vpc.vpcId,
      subnetIds: vpc.publicSubnetIds,
      clusterSecurityGroupId: vpc.clusterSecurityGroupId,
    });

    const kube = await startKubeStandin();
    stops.push(() => kube.stop());
    if (opts.seedMesh !== false) seedMesh(kube.store, { account: SANDBOX_ACCOUNT });
    // moto's EKS endpoint is a random URL: the orchestrator's Kubernetes client goes to the stand-in instead.
    process.env.MESH_KUBE_API_URL = kube.url;
    const kubeconfig = opts.kubeconfigPath ?? join(mkdtempSync(join(tmpdir(), 'mesh-sandbox-')), 'kubeconfig');
    writeKubeconfig(kubeconfig, { server: kube.httpsUrl, caPem: kube.caPem, clusterName: eks.name, region, accessKeyId: 'testing', secretAccessKey: 'testing' });
    stops.push(async () => rmSync(opts.kubeconfigPath ?? dirname(kubeconfig), { recursive: true, force: true }));

    const intervalMs = opts.intervalMs ?? 200;
    const scheduler = startFargateScheduler({ endpoint: moto.endpoint, region, intervalMs, crash: opts.crash });
    stops.push(() => scheduler.stop());
    const plane = startOnboardingPlane({ store: kube.store, endpoint: moto.endpoint, region, intervalMs, ...opts.plane });
    stops.push(() => plane.stop());

    return {
      region,
      moto,
      kube,
      scheduler,
      plane,
      vpc,
      eks,
      registryTable,
      driftEvents,
      drift: (workload, kind) => applyDrift({ scheduler, plane }, workload, kind),
      kubeconfig,
      awsEnv: { [ENV.registryTable]: registryTable, [ENV.driftEventBus]: driftEvents.busName, AWS_ENDPOINT_URL: moto.endpoint, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_DEFAULT_REGION: region, AWS_REGION: region },
      stop: async () => {
        await stopAll();
        delete process.env.MESH_KUBE_API_URL;
        delete process.env[ENV.registryTable];
        delete process.env[ENV.driftEventBus];
        resetClients();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
