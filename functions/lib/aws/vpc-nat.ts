/**
 * The NAT gateway this tool makes for a VPC (one per VPC, shared by every workload in it)
 * and its Elastic IP. Both are found by our tags before anything is allocated, and both carry
 * `sharedTags` (no workload tag): every workload's CreateNatGateway request is then identical.
 */
import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  ReleaseAddressCommand,
  type Address,
  type NatGateway,
} from '@aws-sdk/client-ec2';
import { ec2 } from '../clients.ts';
import { isAwsError, NatGatewayFailedError, ResourceNotReadyError } from '../errors.ts';
import { names } from '../naming.ts';
import { composePermissions, requestTaggedByUs, resourceTaggedByUs, type StepPermissions } from '../permissions.ts';
import { plannedId, type PlanEntry } from '../plan.ts';
import { isManagedByUs, sharedTags, tagValue } from '../tags.ts';
import { TAG_ROLE } from '../settings.ts';
import { clientToken, defaultRoute, ec2Arn, ec2Describe, effectiveRouteTableIn, NETWORK_READS, ourFilters, tagSpec, vpcNatGateways, type VpcView } from './network.ts';

/** ensureNatElasticIp: allocates only with our tag (also ec2:CreateTags for AllocateAddress), releases only ours. */
export const NAT_ELASTIC_IP_PERMISSIONS: StepPermissions = composePermissions(ec2Describe('ec2:DescribeAddresses'), [
  { sid: 'AllocateOurElasticIp', actions: ['ec2:AllocateAddress'], resources: [ec2Arn('elastic-ip')], conditions: requestTaggedByUs() },
  { sid: 'TagElasticIpOnCreate', actions: ['ec2:CreateTags'], resources: [ec2Arn('elastic-ip')], conditions: { StringEquals: { 'ec2:CreateAction': 'AllocateAddress' } } },
  { sid: 'ReleaseOurElasticIp', actions: ['ec2:ReleaseAddress'], resources: [ec2Arn('elastic-ip')], conditions: resourceTaggedByUs() },
]);

/**
 * createNatGateway: the new NAT gateway must carry our tag; the subnet and Elastic IP it uses
 * must be ours (the NAT subnet and Elastic IP this tool made); the VPC is the user's.
 */
export const CREATE_NAT_GATEWAY_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.vpcNatGateways, [
  { sid: 'CreateOurNatGateway', actions: ['ec2:CreateNatGateway'], resources: [ec2Arn('natgateway')], conditions: requestTaggedByUs() },
  { sid: 'CreateNatGatewayFromOurs', actions: ['ec2:CreateNatGateway'], resources: [ec2Arn('subnet'), ec2Arn('elastic-ip')], conditions: resourceTaggedByUs() },
  { sid: 'CreateNatGatewayInVpc', actions: ['ec2:CreateNatGateway'], resources: [ec2Arn('vpc')] },
  { sid: 'TagNatGatewayOnCreate', actions: ['ec2:CreateTags'], resources: [ec2Arn('natgateway')], conditions: { StringEquals: { 'ec2:CreateAction': 'CreateNatGateway' } } },
]);

/** describeNatGateway. */
export const DESCRIBE_NAT_GATEWAY_PERMISSIONS: StepPermissions = [NETWORK_READS.vpcNatGateways];

/** natGatewayReachesInternet. */
export const NAT_REACHES_INTERNET_PERMISSIONS: StepPermissions = [NETWORK_READS.effectiveRouteTable];

export const NAT_ROLES = { subnet: 'nat-subnet', routeTable: 'nat-route-table', eip: 'nat-eip', natGateway: 'nat-gateway' } as const;

/** NAT gateway states after which it never serves traffic again. */
export const DEAD_NAT_STATES = ['failed', 'deleting', 'deleted'] as const;

const isDead = (nat: NatGateway) => (DEAD_NAT_STATES as readonly string[]).includes(nat.State ?? '');

/** Our Elastic IPs for the VPC's NAT gateway (name: `names.natEip(vpcId)`), sorted by allocation id (every run orders them alike). */
export async function ourNatEips(name: string): Promise<Address[]> {
  const { Addresses } = await ec2().send(new DescribeAddressesCommand({ Filters: ourFilters({ role: NAT_ROLES.eip, name }) }));
  return byAllocationId(Addresses ?? []);
}

const byAllocationId = (addresses: readonly Address[]) => addresses.filter((a) => a.AllocationId).sort((a, b) => a.AllocationId!.localeCompare(b.AllocationId!));

/** ourNatEips, of addresses already listed (e.g. all the account's, as elasticIpQuota reads them). */
export function ourNatEipsIn(addresses: readonly Address[], name: string): Address[] {
  return byAllocationId(addresses.filter((a) => isManagedByUs(a.Tags) && tagValue(a.Tags, TAG_ROLE) === NAT_ROLES.eip && tagValue(a.Tags, 'Name') === name));
}

async function releaseEip(allocationId: string): Promise<void> {
  try {
    await ec2().send(new ReleaseAddressCommand({ AllocationId: allocationId }));
  } catch (e) {
    // The concurrent run that saw the same pair released it first.
    if (!isAwsError(e, 'InvalidAllocationID.NotFound')) throw e;
  }
}

/**
 * Read-only, the decision of ensureNatElasticIp (its dry run calls it too): our free Elastic IP
 * for the VPC's (or zone's) NAT gateway to reuse, or ours still held by a NAT gateway being
 * deleted (the apply waits for it), or neither (one is allocated).
 */
export async function inspectNatElasticIp(vpcId: string, zone?: string): Promise<{ name: string; free?: Address; held?: Address }> {
  const name = names.natEip(vpcId, zone);
  const found = await ourNatEips(name);
  const free = found.find((a) => !a.AssociationId);
  if (free) return { name, free };
  const held = found[0];
  return { name, ...(held ? { held } : {}) };
}

function heldMessage(vpcId: string, held: Address): string {
  return `Elastic IP ${held.AllocationId} (${held.PublicIp ?? 'no public IP'}) for the NAT gateway of ${vpcId} is still associated (${held.AssociationId}), usually with our NAT gateway that is being deleted; run again once it is deleted`;
}

/** A dry run's plan entry for the NAT gateway's Elastic IP: reuse ours (also one still held, which the apply waits for), or allocate one. */
export async function planNatElasticIp(vpcId: string, zone?: string): Promise<{ entry: PlanEntry; allocationId: string }> {
  const { name, free, held } = await inspectNatElasticIp(vpcId, zone);
  const base = { kind: 'elastic-ip' as const, name, shared: true };
  const existing = free ?? held;
  if (existing?.AllocationId) {
    return { entry: { ...base, id: existing.AllocationId, action: 'reuse', ...(held ? { detail: `the apply waits: ${heldMessage(vpcId, held)}` } : {}) }, allocationId: existing.AllocationId };
  }
  return { entry: { ...base, action: 'create', detail: 'an Elastic IP (vpc) for the NAT gateway' }, allocationId: plannedId('elastic-ip', name) };
}

/**
 * Finds our free Elastic IP for the VPC's NAT gateway or allocates it; ResourceNotReadyError
 * while ours is still held by a NAT gateway being deleted. When a concurrent run allocated
 * one too, both keep the lowest allocation id and release the rest, so the race leaks none.
 */
export async function ensureNatElasticIp(vpcId: string, zone?: string): Promise<{ allocationId: string; created: boolean }> {
  const { name, free, held } = await inspectNatElasticIp(vpcId, zone);
  if (free) return { allocationId: free.AllocationId!, created: false };
  if (held) {
    // AWS frees a NAT gateway's address only once it is deleted; a second address would leak when it is.
    throw new ResourceNotReadyError(heldMessage(vpcId, held));
  }
  const made = await ec2().send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: tagSpec('elastic-ip', sharedTags(NAT_ROLES.eip), name) }));
  const mine = made.AllocationId!;

  const after = await ourNatEips(name);
  const holder = after.find((a) => a.AssociationId);
  if (holder) {
    // Another run's NAT gateway already holds its address: drop ours and let the retry find that NAT gateway.
    await releaseEip(mine);
    throw new ResourceNotReadyError(`Elastic IP ${holder.AllocationId} for the NAT gateway of ${vpcId} was taken by a concurrent run; its NAT gateway is being made`);
  }
  const [keep, ...extra] = [...new Set([mine, ...after.map((a) => a.AllocationId!)])].sort();
  for (const id of extra) await releaseEip(id);
  return { allocationId: keep!, created: keep === mine };
}

/**
 * The NAT gateway's ClientToken: its inputs, the ids of our dead NAT gateways in the VPC (a
 * new generation after the user deleted a failed one) and a renewal count (a new generation
 * after EC2 answered IdempotentParameterMismatch). Its tags are the same for every workload,
 * so two workloads racing into one VPC send identical requests and get one NAT gateway.
 */
function natClientToken(vpcId: string, subnetId: string, allocationId: string, deadIds: readonly string[], renewal: number): string {
  const generation = [...new Set(deadIds)].sort().join(',');
  return clientToken([vpcId, subnetId, allocationId, generation, ...(renewal > 0 ? [`renewal-${renewal}`] : [])]);
}

/**
 * Creates the NAT gateway. A retry of one attempt (or another workload's run in the same VPC)
 * returns the same NAT gateway, while a run after the user deleted a failed one gets a new
 * token and a new NAT gateway. When AWS still answers a token with a dead one (the dead list
 * forgot it), the token is renewed with that id. When AWS answers IdempotentParameterMismatch
 * (the token was first used with other parameters, e.g. an older version's per-workload tags),
 * a NAT gateway of ours that is now pending or available is used (a concurrent run made it);
 * else it is a new generation: the token is renewed, the same way in every run.
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
 */
export async function createNatGateway(
  vpcId: string,
  subnetId: string,
  allocationId: string,
  deadNatGatewayIds: readonly string[] = [],
  zone?: string,
): Promise<{ nat: NatGateway; created: boolean }> {
  const dead = [...deadNatGatewayIds];
  let renewal = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    let nat: NatGateway | undefined;
    try {
      ({ NatGateway: nat } = await ec2().send(
        new CreateNatGatewayCommand({
          SubnetId: subnetId,
          AllocationId: allocationId,
          ConnectivityType: 'public',
          ClientToken: natClientToken(vpcId, subnetId, allocationId, dead, renewal),
          TagSpecifications: tagSpec('natgateway', sharedTags(NAT_ROLES.natGateway), names.natGateway(vpcId, zone)),
        }),
      ));
    } catch (e) {
      if (!isAwsError(e, 'IdempotentParameterMismatch')) throw e;
      const [live] = await vpcNatGateways(vpcId, ['pending', 'available'], ourFilters({ role: NAT_ROLES.natGateway, ...(zone ? { name: names.natGateway(vpcId, zone) } : {}) }));
      if (live) return { nat: live, created: false };
      renewal++;
      continue;
    }
    if (!nat?.NatGatewayId) throw new Error(`CreateNatGateway returned no id in ${subnetId}`);
    if (!isDead(nat) || dead.includes(nat.NatGatewayId)) return { nat, created: true };
    dead.push(nat.NatGatewayId);
  }
  throw new ResourceNotReadyError(
    `CreateNatGateway in ${subnetId} kept returning NAT gateways that are failed or deleted (${dead.join(', ') || 'none'}) or IdempotentParameterMismatch (${renewal} times)`,
  );
}

/**
 * True when a NAT gateway gives a subnet routed through it a path to the internet: public
 * (moto leaves ConnectivityType out), with a public IP, in a subnet whose route table sends
 * 0.0.0.0/0 to an internet gateway. `checkRoute` false skips the route look-up (our own NAT
 * gateway sits in our NAT subnet, whose route this tool made).
 */
export async function natGatewayReachesInternet(view: VpcView, nat: NatGateway, checkRoute = true): Promise<boolean> {
  if (nat.ConnectivityType === 'private') return false;
  if (!nat.NatGatewayAddresses?.some((a) => a.PublicIp)) return false;
  if (!checkRoute) return true;
  if (!nat.SubnetId) return false;
  const { table } = effectiveRouteTableIn(await view.routeTables(), nat.SubnetId);
  const route = defaultRoute(table);
  return !!route?.GatewayId?.startsWith('igw-') && route.State !== 'blackhole';
}

/** usableNatGateway. */
export const USABLE_NAT_GATEWAY_PERMISSIONS: StepPermissions = composePermissions(NETWORK_READS.vpcNatGateways, NAT_REACHES_INTERNET_PERMISSIONS);

/**
 * An available NAT gateway of the VPC that gives the tasks a path to the internet, ours first.
 * A private one, one without a public IP, or one whose subnet does not route to an internet
 * gateway is passed over.
 */
export async function usableNatGateway(view: VpcView): Promise<NatGateway | undefined> {
  const available = (await view.natGateways()).filter((n) => n.State === 'available');
  const ordered = [...available.filter((n) => isManagedByUs(n.Tags)), ...available.filter((n) => !isManagedByUs(n.Tags))];
  for (const nat of ordered) {
    // Ours sits in our NAT subnet, whose route to the internet gateway this step made.
    if (await natGatewayReachesInternet(view, nat, !isManagedByUs(nat.Tags))) return nat;
  }
  return undefined;
}

/** elasticIpQuota: both reads are ec2:Describe* (no resource-level permissions). */
export const ELASTIC_IP_QUOTA_PERMISSIONS: StepPermissions = [ec2Describe('ec2:DescribeAccountAttributes'), ec2Describe('ec2:DescribeAddresses')];

/**
 * The account's Elastic IP quota in this region (`vpc-max-elastic-ips` of DescribeAccountAttributes,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAccountAttributes.html) and
 * how many addresses are allocated: two cheap reads that tell, before anything is made, whether
 * AllocateAddress would fail with AddressLimitExceeded. `max` is undefined when AWS does not report it.
 */
export async function elasticIpQuota(addresses?: readonly Address[]): Promise<{ max?: number; inUse: number }> {
  const [attrs, listed] = await Promise.all([
    // No AttributeNames: the SDK's AccountAttributeName type lists only default-vpc and supported-platforms.
    ec2().send(new DescribeAccountAttributesCommand({})),
    addresses ?? allAddresses(),
  ]);
  // Looked up by name: the order of the answer is not guaranteed.
  const value = attrs.AccountAttributes?.find((a) => a.AttributeName === 'vpc-max-elastic-ips')?.AttributeValues?.[0]?.AttributeValue;
  const max = value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
  return { ...(max !== undefined ? { max } : {}), inUse: listed.length };
}

/** Every Elastic IP of the account in this region (one unfiltered DescribeAddresses, not paginated by EC2). */
export async function allAddresses(): Promise<Address[]> {
  const { Addresses } = await ec2().send(new DescribeAddressesCommand({}));
  return Addresses ?? [];
}

/** One NAT gateway by id; undefined when AWS does not know it (yet, or any more). */
export async function describeNatGateway(natGatewayId: string): Promise<NatGateway | undefined> {
  try {
    const { NatGateways } = await ec2().send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natGatewayId] }));
    return NatGateways?.find((n) => n.NatGatewayId === natGatewayId);
  } catch (e) {
    if (isAwsError(e, 'NatGatewayNotFound', 'InvalidNatGatewayID.NotFound')) return undefined;
    throw e;
  }
}

/** The NatGatewayFailedError for a NAT gateway in state failed/deleting/deleted, with AWS's code and message. */
export function natGatewayFailed(nat: NatGateway | undefined, natGatewayId: string): NatGatewayFailedError {
  const state = nat?.State ?? 'deleted';
  const why = nat?.FailureCode || nat?.FailureMessage ? `${nat.FailureCode ?? 'unknown'}: ${nat.FailureMessage ?? 'no message'}` : 'AWS gave no failure code';
  return new NatGatewayFailedError(
    `NAT gateway ${natGatewayId} is ${state} (${why}). Fix the cause, delete it (aws ec2 delete-nat-gateway --nat-gateway-id ${natGatewayId}) if it still exists, and run again`,
  );
}
