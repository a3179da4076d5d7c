import { describe, expect, it } from 'vitest';
import { checkSubnetBlock, contains, firstFreeSubnet, formatBlock, overlaps, parseBlock } from '../../functions/lib/cidr.ts';
import { NetworkConfigurationError } from '../../functions/lib/errors.ts';

describe('parseBlock / formatBlock', () => {
  it('round-trips and clears host bits', () => {
    expect(formatBlock(parseBlock('10.0.3.0/24'))).toBe('10.0.3.0/24');
    expect(formatBlock(parseBlock('10.0.3.7/16'))).toBe('10.0.0.0/16');
    expect(formatBlock(parseBlock('255.255.255.255/32'))).toBe('255.255.255.255/32');
    expect(formatBlock(parseBlock('0.0.0.0/0'))).toBe('0.0.0.0/0');
  });

  it.each(['10.0.0.0', '10.0.0.256/24', '10.0.0.0/33', 'vpc-123', ''])('rejects %j', (bad) => {
    expect(() => parseBlock(bad)).toThrow(NetworkConfigurationError);
  });

  it('overlaps and contains', () => {
    expect(overlaps(parseBlock('10.0.0.0/16'), parseBlock('10.0.255.0/24'))).toBe(true);
    expect(overlaps(parseBlock('10.0.0.0/24'), parseBlock('10.0.1.0/24'))).toBe(false);
    expect(contains(parseBlock('10.0.0.0/16'), parseBlock('10.0.255.0/24'))).toBe(true);
    expect(contains(parseBlock('10.0.0.0/24'), parseBlock('10.0.0.0/16'))).toBe(false);
  });
});

describe('firstFreeSubnet', () => {
  it('takes the first /24 of an empty VPC', () => {
    expect(firstFreeSubnet(['10.0.0.0/16'], [], 24)).toBe('10.0.0.0/24');
  });

  it('takes the first hole of a /16 with holes', () => {
    expect(firstFreeSubnet(['10.0.0.0/16'], ['10.0.0.0/24', '10.0.1.0/24', '10.0.3.0/24'], 24)).toBe('10.0.2.0/24');
    // Order of the used list does not matter.
    expect(firstFreeSubnet(['10.0.0.0/16'], ['10.0.3.0/24', '10.0.1.0/24', '10.0.0.0/24', '10.0.2.0/24'], 24)).toBe('10.0.4.0/24');
  });

  it('skips used blocks larger than /24 and smaller ones inside a candidate', () => {
    expect(firstFreeSubnet(['10.0.0.0/16'], ['10.0.0.0/20'], 24)).toBe('10.0.16.0/24');
    expect(firstFreeSubnet(['10.0.0.0/16'], ['10.0.0.0/20', '10.0.16.128/25'], 24)).toBe('10.0.17.0/24');
    expect(firstFreeSubnet(['10.0.0.0/16'], ['10.0.0.64/26'], 24)).toBe('10.0.1.0/24');
  });

  it('moves on to a secondary CIDR when the primary is full', () => {
    expect(firstFreeSubnet(['10.0.0.0/24', '100.64.0.0/16'], ['10.0.0.0/24'], 24)).toBe('100.64.0.0/24');
    expect(firstFreeSubnet(['10.0.0.0/23', '100.64.0.0/16'], ['10.0.0.0/24', '100.64.0.0/24'], 24)).toBe('10.0.1.0/24');
  });

  it('skips VPC CIDRs smaller than the wanted block', () => {
    expect(firstFreeSubnet(['10.0.0.0/26', '10.1.0.0/16'], [], 24)).toBe('10.1.0.0/24');
  });

  it('reaches the very last block of the address space', () => {
    expect(firstFreeSubnet(['255.255.254.0/23'], ['255.255.254.0/24'], 24)).toBe('255.255.255.0/24');
  });

  it('throws NetworkConfigurationError when the VPC is full', () => {
    const full = Array.from({ length: 4 }, (_, i) => `10.0.${i}.0/24`);
    expect(() => firstFreeSubnet(['10.0.0.0/22'], full, 24)).toThrow(NetworkConfigurationError);
    expect(() => firstFreeSubnet(['10.0.0.0/22'], full, 24)).toThrow(/no free \/24 block .* 10\.0\.0\.0\/22/);
    expect(() => firstFreeSubnet(['10.0.0.0/16'], ['10.0.0.0/16'], 24)).toThrow(NetworkConfigurationError);
  });
});

describe('checkSubnetBlock', () => {
  const existing = [{ subnetId: 'subnet-1', cidr: '10.0.0.0/24' }];

  it('accepts a free block inside a secondary CIDR', () => {
    expect(() => checkSubnetBlock('network.subnetCidr', '100.64.1.0/24', ['10.0.0.0/16', '100.64.0.0/16'], existing)).not.toThrow();
  });

  it('rejects a block outside the VPC', () => {
    expect(() => checkSubnetBlock('network.subnetCidr', '10.1.0.0/24', ['10.0.0.0/16'], existing)).toThrow(/network\.subnetCidr 10\.1\.0\.0\/24 is not inside .*10\.0\.0\.0\/16/);
  });

  it('rejects a block straddling the VPC edge', () => {
    expect(() => checkSubnetBlock('network.subnetCidr', '10.0.0.0/15', ['10.0.0.0/16'], [])).toThrow(NetworkConfigurationError);
  });

  it('rejects a block overlapping an existing subnet, naming it', () => {
    expect(() => checkSubnetBlock('network.natSubnetCidr', '10.0.0.128/25', ['10.0.0.0/16'], existing)).toThrow(/overlaps subnet subnet-1 \(10\.0\.0\.0\/24\)/);
  });
});
