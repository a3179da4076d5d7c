/**
 * Settings derived from a validated request, defaults filled. Apart from request.ts (which
 * re-exports them) because that module builds the zod schema at import: a step that only reads
 * these would otherwise bundle and load zod (issue 11).
 */
import type { WorkloadRequest } from './request.ts';
import { DEFAULTS } from './settings.ts';

/** The deadlines of the waits, in seconds. */
export function effectiveTimeouts(r: WorkloadRequest): { natGatewaySeconds: number; serviceSeconds: number; meshSeconds: number } {
  return { ...DEFAULTS.timeouts, ...r.timeouts };
}

/** How many zones get a task subnet when the request makes them (not with network.subnetIds). */
export function effectiveZones(r: WorkloadRequest): number {
  return r.network.zones ?? r.network.subnetCidrs?.length ?? DEFAULTS.zones;
}

/** True when ingress from the EKS cluster security group should be opened (default on with eksClusterName). */
export function allowFromEksClusterSecurityGroup(r: WorkloadRequest): boolean {
  return r.network.allowFromEksClusterSecurityGroup ?? r.network.eksClusterName !== undefined;
}
