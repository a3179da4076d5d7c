/**
 * Deterministic resource names derived from the request, so a re-run finds what an
 * earlier run made. Names longer than an AWS limit are cut and given a short hash of the
 * full name, which keeps them unique and stable.
 */
import { createHash } from 'node:crypto';
import type { OnboardingRequest } from './request.ts';

/** Cuts `name` to `max` characters, replacing the tail with `-<8 hex>` of the full name's hash. */
export function fitName(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, max - 9)}-${hash}`;
}

type Req = Pick<OnboardingRequest, 'workloadGroup' | 'ecs'>;

/**
 * `<namespace>.<name>`: injective, because "." cannot appear in a DNS-1123 label, so
 * `a-b/c` and `a/b-c` (which "-" would both turn into `a-b-c`) get different names and
 * never share a task role (their mesh identity), a policy or a security group.
 */
export function workloadBase(r: Pick<OnboardingRequest, 'workloadGroup'>): string {
  return `${r.workloadGroup.namespace}.${r.workloadGroup.name}`;
}
const base = workloadBase;

/** Every CA secret's name starts so (its IAM grant is `secret:mesh-onboarding/*`). */
export const CA_SECRET_PREFIX = 'mesh-onboarding/';
/** Every log group's name starts so (the seed's `/ecs/<family>`; its IAM grant is `log-group:/ecs/*`). */
export const LOG_GROUP_PREFIX = '/ecs/';

export const names = {
  /** IAM role names: at most 64 characters. */
  taskRole: (r: Req) => fitName(`${base(r)}-ecs-task-role`, 64),
  executionRole: (r: Req) => fitName(`${base(r)}-ecs-exec-role`, 64),
  /** Secrets Manager name of the onboarding endpoint's CA bundle. */
  caSecret: (r: Req) => fitName(`${CA_SECRET_PREFIX}${r.workloadGroup.namespace}/${r.workloadGroup.name}/root-ca`, 512),
  /** The seed's log group `/ecs/<family>`. */
  logGroup: (r: Req) => fitName(`${LOG_GROUP_PREFIX}${r.ecs.family}`, 512),
  /** Name tag of the public subnet that holds a NAT gateway this tool made (one per VPC). */
  natSubnet: (vpcId: string, zone?: string) => fitName(`mesh-onboarding-nat-gw-subnet-${vpcId}${zone ? `-${zone}` : ''}`, 255),
  /** The VPC's shared NAT gateway, or with `zone` the zone's own (network.natGateways per-zone). */
  natGateway: (vpcId: string, zone?: string) => fitName(`mesh-onboarding-nat-gw-${vpcId}${zone ? `-${zone}` : ''}`, 255),
  natRouteTable: (vpcId: string, zone?: string) => fitName(`mesh-onboarding-nat-gw-rt-${vpcId}${zone ? `-${zone}` : ''}`, 255),
  natEip: (vpcId: string, zone?: string) => fitName(`mesh-onboarding-nat-gw-eip-${vpcId}${zone ? `-${zone}` : ''}`, 255),
  /** Name tag of the private subnet the ECS cluster's tasks run in, one per zone (the seed's `<cluster>-ecs-subnet`, with the zone). */
  taskSubnet: (r: Req, zone: string) => fitName(`${r.ecs.cluster}-ecs-subnet-${zone}`, 255),
  taskRouteTable: (r: Req, zone: string) => fitName(`${r.ecs.cluster}-ecs-subnet-rt-${zone}`, 255),
  /** The single task subnet (and route table) of versions before task subnets had a zone: adopted as its zone's. */
  legacyTaskSubnet: (r: Req) => fitName(`${r.ecs.cluster}-ecs-subnet`, 255),
  legacyTaskRouteTable: (r: Req) => fitName(`${r.ecs.cluster}-ecs-subnet-rt`, 255),
  /**
   * Security group names: at most 255 characters, unique per VPC, and never starting with
   * `sg-` (EC2 rejects those), which a namespace like `sg-apps` would otherwise cause.
   */
  securityGroup: (r: Req) => fitName(`ecs-${base(r)}`, 255),
  /**
   * Step Functions execution names: at most 80 characters of [A-Za-z0-9-_]; "_" separates
   * namespace and name (it cannot appear in a DNS label), keeping the name injective.
   */
  execution: (r: Req, requestHash: string) => fitName(`onboard-${r.workloadGroup.namespace}_${r.workloadGroup.name}-${requestHash.slice(0, 16)}`, 80),
};
