/**
 * IPv4 CIDR arithmetic for picking subnet blocks. Pure: no AWS calls. Addresses are
 * plain numbers (0..2^32-1), never bitwise-operated, so /0../32 all stay positive.
 */
import { NetworkConfigurationError } from './errors.ts';

export interface Block {
  /** First address (host bits cleared). */
  start: number;
  prefix: number;
}

/** Parses `a.b.c.d/n`; host bits are cleared (10.0.0.5/16 → 10.0.0.0/16). Throws on a malformed block. */
export function parseBlock(cidr: string): Block {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || !(prefix >= 0 && prefix <= 32)) throw new NetworkConfigurationError(`"${cidr}" is not an IPv4 CIDR block`);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = blockSize(prefix);
  return { start: address - (address % size), prefix };
}

function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** Formats a block as `a.b.c.d/n`. */
export function formatBlock(b: Block): string {
  const octets = [3, 2, 1, 0].map((i) => Math.floor(b.start / 256 ** i) % 256);
  return `${octets.join('.')}/${b.prefix}`;
}

function end(b: Block): number {
  return b.start + blockSize(b.prefix);
}

/** True when the two blocks share at least one address. */
export function overlaps(a: Block, b: Block): boolean {
  return a.start < end(b) && b.start < end(a);
}

/** True when `inner` lies entirely inside `outer`. */
export function contains(outer: Block, inner: Block): boolean {
  return inner.start >= outer.start && end(inner) <= end(outer);
}

/**
 * The first block of `/prefixLength` inside the VPC's CIDRs (in the order given: primary
 * first) that overlaps none of `usedCidrs`. Throws NetworkConfigurationError when every
 * block is taken.
 */
export function firstFreeSubnet(vpcCidrs: readonly string[], usedCidrs: readonly string[], prefixLength: number): string {
  const used = usedCidrs.map(parseBlock).sort((a, b) => a.start - b.start);
  const size = blockSize(prefixLength);
  for (const vpc of vpcCidrs.map(parseBlock)) {
    if (vpc.prefix > prefixLength) continue;
    let candidate = vpc.start;
    while (candidate + size <= end(vpc)) {
      const block = { start: candidate, prefix: prefixLength };
      const hit = used.find((u) => overlaps(u, block));
      if (!hit) return formatBlock(block);
      // Jump past the used block, to the next aligned candidate.
      candidate = Math.ceil(end(hit) / size) * size;
    }
  }
  throw new NetworkConfigurationError(
    `no free /${prefixLength} block is left in the VPC's CIDR block(s) ${vpcCidrs.join(', ')} (in use: ${usedCidrs.join(', ') || 'none'}); ` +
      'give network.subnetCidrs / network.natSubnetCidr with a free block, associate another CIDR block with the VPC, or give network.subnetIds of an existing subnet',
  );
}

/**
 * Why a block the user asked for does not fit (outside every VPC CIDR, or overlapping an
 * existing subnet), or undefined when it fits. The message does not name the field.
 */
export function subnetBlockProblem(cidr: string, vpcCidrs: readonly string[], existing: readonly { cidr: string; subnetId: string }[]): string | undefined {
  const block = parseBlock(cidr);
  if (!vpcCidrs.some((v) => contains(parseBlock(v), block))) return `${cidr} is not inside the VPC's CIDR block(s) ${vpcCidrs.join(', ')}`;
  const clash = existing.find((s) => overlaps(parseBlock(s.cidr), block));
  if (clash) return `${cidr} overlaps subnet ${clash.subnetId} (${clash.cidr}); choose a free block or leave it out to pick one automatically`;
  return undefined;
}

/**
 * Checks that a block the user asked for fits: inside one of the VPC's CIDRs and
 * overlapping no existing subnet. Throws NetworkConfigurationError saying which rule failed.
 */
export function checkSubnetBlock(field: string, cidr: string, vpcCidrs: readonly string[], existing: readonly { cidr: string; subnetId: string }[]): void {
  const problem = subnetBlockProblem(cidr, vpcCidrs, existing);
  if (problem) throw new NetworkConfigurationError(`${field} ${problem}`);
}
