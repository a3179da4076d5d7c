/**
 * Feasibility of a request's network against the account as it is, checked with reads only,
 * before anything is made: the workflow's Resolve network runs it before the provisioning
 * Parallel (so a request that cannot succeed fails with nothing created), and the API runs it
 * before it stores the CA bundle (so it answers 400 and starts nothing). Every problem carries
 * the JSON path of the request field to change, and all problems are reported at once.
 *
 * It predicts what Ensure NAT gateway and Ensure task subnet would make (a NAT gateway and its
 * public subnet and Elastic IP only when no usable NAT gateway exists, a task subnet only when
 * the ECS cluster has none yet) and checks exactly that: blocks inside the VPC and free (of
 * existing subnets and of each other), free /24s for the blocks to be chosen automatically, an
 * internet gateway and a free Elastic IP (quota) when a NAT gateway must be made. A concurrent
 * run can still take a block between the check and the create: the steps handle that (retry,
 * lease), the check only removes the failures that are certain from the start.
 */
import type { Address } from '@aws-sdk/client-ec2';
import {
  attachedInternetGatewayId,
  CHECK_GIVEN_SUBNET_PERMISSIONS,
  checkGivenPrivateSubnet,
  chooseZones,
  eksClusterNetwork,
  ipv4Subnets,
  NETWORK_READS,
  regionZones,
  vpcCidrs,
  VpcView,
} from './aws/network.ts';
import { allAddresses, ELASTIC_IP_QUOTA_PERMISSIONS, elasticIpQuota, NAT_ROLES, ourNatEipsIn, USABLE_NAT_GATEWAY_PERMISSIONS, usableNatGateway } from './aws/vpc-nat.ts';
import { firstFreeSubnet, overlaps, parseBlock, subnetBlockProblem } from './cidr.ts';
import { NetworkConfigurationError, type Problem } from './errors.ts';
import { names } from './naming.ts';
import { composePermissions, type StepPermissions } from './permissions.ts';
import { effectiveZones } from './request-defaults.ts';
import type { WorkloadRequest } from './request.ts';
import { DEFAULTS, TAG_ROLE } from './settings.ts';
import { isManagedByUs, tagValue } from './tags.ts';
import type { NetworkResult } from './workflow.ts';

/**
 * A problem of the request's network. `request`: a field the user gave does not fit the account
 * (change the field); `account`: the account lacks something the request needs (change the
 * account, or give other fields).
 */
export interface NetworkProblem extends Problem {
  kind: 'request' | 'account';
}

export interface NetworkAssessment {
  problems: NetworkProblem[];
  /** The network as Resolve network reports it; undefined when the VPC could not be found. */
  network?: NetworkResult;
  /** What the provisioning steps would make, as predicted from the reads. */
  plan?: { natGateways: number; natSubnets: number; elasticIps: number; taskSubnets: number };
}

/** Every read assessNetwork may send once the EKS cluster's network is known (Resolve network: Pre-flight mesh described the cluster). */
export const VPC_FEASIBILITY_PERMISSIONS: StepPermissions = composePermissions(
  NETWORK_READS.vpcCidrs,
  NETWORK_READS.describeSubnets,
  NETWORK_READS.attachedInternetGatewayId,
  NETWORK_READS.vpcNatGateways,
  NETWORK_READS.regionZones,
  NETWORK_READS.effectiveRouteTable,
  CHECK_GIVEN_SUBNET_PERMISSIONS,
  USABLE_NAT_GATEWAY_PERMISSIONS,
  ELASTIC_IP_QUOTA_PERMISSIONS,
);

/** Every read assessNetwork may send (the API's check: the EKS cluster too). */
export const FEASIBILITY_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.eksClusterNetwork, VPC_FEASIBILITY_PERMISSIONS);

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Runs `read`; a NetworkConfigurationError becomes a problem at `path`, anything else (throttling, access) is thrown. */
async function orProblem<T>(problems: NetworkProblem[], path: string, kind: NetworkProblem['kind'], read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof NetworkConfigurationError)) throw e;
    problems.push({ path, kind, message: message(e) });
    return undefined;
  }
}

/** What the EKS cluster says of its network (DescribeCluster's resourcesVpcConfig). */
export type EksNetworkOf = (clusterName: string) => Promise<{ vpcId?: string; clusterSecurityGroupId?: string }>;

/** assessNetwork describing the EKS cluster itself (the API's check), or taking what `known.eks` already says of it. */
export function assessNetwork(request: WorkloadRequest, known: { eks?: { clusterName: string; vpcId?: string; clusterSecurityGroupId?: string } } = {}): Promise<NetworkAssessment> {
  return assessNetworkWith(request, (name) => (known.eks?.clusterName === name ? Promise.resolve(known.eks) : eksClusterNetwork(name)));
}

/**
 * Checks the request's network against the account; reads only. `eksNetworkOf` tells the EKS
 * cluster's VPC: Resolve network passes what Pre-flight mesh's DescribeCluster said, so its
 * bundle and its role carry no EKS client or permission.
 */
export async function assessNetworkWith(request: WorkloadRequest, eksNetworkOf: EksNetworkOf): Promise<NetworkAssessment> {
  const problems: NetworkProblem[] = [];
  const n = request.network;

  // ---- the VPC: from the EKS cluster, network.vpcId, and the two agreeing
  let vpcId = n.vpcId;
  let eksClusterSecurityGroupId: string | undefined;
  if (n.eksClusterName) {
    const eks = await orProblem(problems, '$.network.eksClusterName', 'request', () => eksNetworkOf(n.eksClusterName!));
    if (!eks) return { problems };
    if (!eks.vpcId) {
      problems.push({ path: '$.network.vpcId', kind: 'account', message: `EKS cluster "${n.eksClusterName}" reports no VPC (resourcesVpcConfig.vpcId); give network.vpcId` });
    } else if (n.vpcId && n.vpcId !== eks.vpcId) {
      problems.push({
        path: '$.network.vpcId',
        kind: 'request',
        message: `network.vpcId ${n.vpcId} differs from the VPC of EKS cluster "${n.eksClusterName}" (${eks.vpcId}); give one of them, or make them agree`,
      });
      return { problems };
    } else {
      vpcId = eks.vpcId;
    }
    eksClusterSecurityGroupId = eks.clusterSecurityGroupId;
  }
  if (!vpcId) {
    if (problems.length === 0) problems.push({ path: '$.network', kind: 'request', message: 'give network.eksClusterName or network.vpcId so the VPC can be found' });
    return { problems };
  }
  const vpcPath = n.vpcId ? '$.network.vpcId' : '$.network.eksClusterName';
  const cidrs = await orProblem(problems, vpcPath, n.vpcId ? 'request' : 'account', () => vpcCidrs(vpcId));
  if (!cidrs) return { problems };
  // One read of each kind (subnets, route tables, NAT gateways in any state): every decision below, and the network steps' read-only paths, come from it.
  const view = new VpcView(vpcId);
  const [allSubnets, internetGatewayId, natGateways, regionAzs] = await Promise.all([view.subnets(), attachedInternetGatewayId(vpcId), view.natGateways(), regionZones(), view.routeTables()]);
  const subnets = ipv4Subnets(allSubnets);
  const available = natGateways.filter((x) => x.State === 'available');
  const zoneCount = n.subnetIds ? 0 : effectiveZones(request);
  const zones = chooseZones(subnets, regionAzs, zoneCount);
  const network: NetworkResult = {
    vpcId,
    vpcCidrs: cidrs,
    subnets,
    ...(internetGatewayId ? { internetGatewayId } : {}),
    availableNatGatewayIds: available.map((x) => x.NatGatewayId!),
    ...(eksClusterSecurityGroupId ? { eksClusterSecurityGroupId } : {}),
    zones,
    // Our route tables' names for this request: another owner's table under one of them must stay in the snapshot (a conflict).
    seen: await view.snapshot([
      names.natRouteTable(vpcId),
      names.legacyTaskRouteTable(request),
      ...zones.flatMap((z) => [names.natRouteTable(vpcId, z), names.taskRouteTable(request, z)]),
    ]),
  };

  // ---- subnets the user gave: each in the VPC, IPv4, routed through a NAT gateway; nothing is made
  if (n.subnetIds) {
    for (const [i, id] of n.subnetIds.entries()) {
      await orProblem(problems, `$.network.subnetIds[${i}]`, 'request', () => checkGivenPrivateSubnet(vpcId, id, `network.subnetIds[${i}]`));
    }
    return { problems, network, plan: { natGateways: 0, natSubnets: 0, elasticIps: 0, taskSubnets: 0 } };
  }
  if (zones.length < zoneCount) {
    problems.push({
      path: n.zones !== undefined ? '$.network.zones' : n.subnetCidrs ? '$.network.subnetCidrs' : '$.network',
      kind: 'account',
      message: `${zoneCount} availability zones are needed for the task subnets, but the region offers ${zones.length} (${zones.join(', ') || 'none'}); ask for fewer zones`,
    });
  }

  // ---- what would be made
  const byName = (name: string) => subnets.find((s) => s.name === name);
  const legacy = byName(names.legacyTaskSubnet(request));
  const taskSubnetIn = (zone: string) => byName(names.taskSubnet(request, zone)) ?? (legacy?.availabilityZone === zone ? legacy : undefined);
  // The NAT gateways to have: the VPC's shared one, or each task zone's own (per-zone); which of them, their subnets and addresses must be made.
  const perZone = n.natGateways === 'per-zone';
  const nats: { zone?: string; needed: boolean; subnet: boolean; eip: boolean }[] = [];
  // The account's addresses, read once when a NAT gateway is to be made: ours for it, and the count against the quota.
  let addresses: Promise<Address[]> | undefined;
  for (const zone of perZone ? zones : [undefined]) {
    const live = natGateways.filter(
      (x) =>
        (perZone ? ['pending', 'available'] : ['pending']).includes(x.State ?? '') &&
        isManagedByUs(x.Tags) &&
        tagValue(x.Tags, TAG_ROLE) === NAT_ROLES.natGateway &&
        (!zone || tagValue(x.Tags, 'Name') === names.natGateway(vpcId, zone)),
    );
    const needed = live.length === 0 && (perZone || !(await usableNatGateway(view)));
    const eip = needed && !ourNatEipsIn(await (addresses ??= allAddresses()), names.natEip(vpcId, zone)).some((a) => !a.AssociationId);
    nats.push({ ...(zone ? { zone } : {}), needed, subnet: needed && !byName(names.natSubnet(vpcId, zone)), eip });
  }
  const missingZones = zones.map((zone, i) => ({ zone, i })).filter(({ zone }) => !taskSubnetIn(zone));
  const plan = {
    natGateways: nats.filter((x) => x.needed).length,
    natSubnets: nats.filter((x) => x.subnet).length,
    elasticIps: nats.filter((x) => x.eip).length,
    taskSubnets: missingZones.length,
  };

  // ---- blocks the user chose: inside the VPC, free, and not overlapping each other
  const wanted: { path: string; cidr: string }[] = [];
  zones.forEach((zone, i) => {
    const cidr = n.subnetCidrs?.[i];
    if (!cidr) return;
    const path = `$.network.subnetCidrs[${i}]`;
    const existing = taskSubnetIn(zone);
    if (!existing) wanted.push({ path, cidr });
    else if (existing.cidr !== cidr) {
      problems.push({
        path,
        kind: 'request',
        message: `the ECS cluster's task subnet in ${zone} "${existing.name}" (${existing.subnetId}) already exists with ${existing.cidr}; a subnet's block cannot change: leave network.subnetCidrs out or give ${existing.cidr} for this zone`,
      });
    }
  });
  // A NAT subnet block matters only when the NAT subnet is still to be made.
  if (n.natSubnetCidr && !perZone && plan.natSubnets > 0) wanted.push({ path: '$.network.natSubnetCidr', cidr: n.natSubnetCidr });
  const accepted: { path: string; cidr: string }[] = [];
  for (const w of wanted) {
    const problem = subnetBlockProblem(w.cidr, cidrs, subnets);
    const clash = accepted.find((a) => overlaps(parseBlock(a.cidr), parseBlock(w.cidr)));
    if (problem) problems.push({ path: w.path, kind: 'request', message: problem });
    else if (clash) problems.push({ path: w.path, kind: 'request', message: `${w.cidr} overlaps ${clash.path.slice(2)} ${clash.cidr}; the subnets to make need blocks of their own` });
    else accepted.push(w);
  }

  // ---- room for the blocks to be chosen automatically (in the order the steps choose them)
  const used: string[] = [...subnets.map((x) => x.cidr), ...wanted.map((w) => w.cidr)];
  const natAuto = nats.filter((x) => x.subnet && (perZone || !n.natSubnetCidr)).map(() => (perZone ? '$.network.natGateways' : '$.network.natSubnetCidr'));
  const auto = [...natAuto, ...missingZones.filter(({ i }) => !n.subnetCidrs?.[i]).map(({ i }) => `$.network.subnetCidrs[${i}]`)];
  for (const path of auto) {
    try {
      used.push(firstFreeSubnet(cidrs, used, DEFAULTS.autoSubnetPrefixLength));
    } catch (e) {
      if (!(e instanceof NetworkConfigurationError)) throw e;
      problems.push({ path, kind: 'account', message: message(e) });
    }
  }

  // ---- a NAT gateway to make needs an internet gateway and an Elastic IP under the quota
  if (plan.natGateways > 0 && !internetGatewayId) {
    problems.push({
      path: '$.network',
      kind: 'account',
      message:
        `VPC ${vpcId} has no internet gateway, and a NAT gateway needs one to reach the internet. ` +
        'Attach an internet gateway to the VPC, or give network.subnetIds of a private subnet that already routes 0.0.0.0/0 through a NAT gateway',
    });
  }
  if (plan.elasticIps > 0) {
    const quota = await elasticIpQuota(await (addresses ??= allAddresses()));
    if (quota.max !== undefined && quota.inUse + plan.elasticIps > quota.max) {
      problems.push({
        path: perZone ? '$.network.natGateways' : '$.network',
        kind: 'account',
        message:
          `${plan.elasticIps === 1 ? 'a NAT gateway' : `${plan.elasticIps} NAT gateways`} must be made for VPC ${vpcId} and need${plan.elasticIps === 1 ? 's an Elastic IP' : ` ${plan.elasticIps} Elastic IPs`}, but the account already has ${quota.inUse} of its ${quota.max} (vpc-max-elastic-ips) in this region; ` +
          'release one, ask for a higher quota (Service Quotas: "EC2-VPC Elastic IPs"), or give network.subnetIds of a private subnet behind an existing NAT gateway',
      });
    }
  }
  return { problems, network, plan };
}

/** The problems alone, as the API answers them (no `kind`). */
export async function checkFeasibility(request: WorkloadRequest): Promise<Problem[]> {
  const { problems } = await assessNetwork(request);
  return problems.map(({ path, message: m }) => ({ path, message: m }));
}
