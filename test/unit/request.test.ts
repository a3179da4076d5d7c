import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../functions/lib/errors.ts';
import { parseRequest, requestProblems } from '../../functions/lib/request.ts';
import { validateRequest } from '../../functions/validate-request.ts';
import { renderSchema, SCHEMA_PATH } from '../../scripts/generate-schema.ts';
import { bookinfoInput } from '../support/requests.ts';

type Obj = Record<string, unknown>;
interface Mutable {
  workloadGroup: Obj;
  onboardingEndpoint: Obj;
  ecs: Obj;
  app: Obj;
  network: Obj;
  [k: string]: unknown;
}

/** The bookinfo request with one change applied. */
function variant(change: (r: Mutable) => void): unknown {
  const r = structuredClone(bookinfoInput()) as unknown as Mutable;
  change(r);
  return r;
}

const NOT_A_CERT = '-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';

/** The example's CA bundle repeated until it is over `bytes` bytes. */
function bundleOver(bytes: number): string {
  const pem = bookinfoInput().rootCaPem;
  return pem.repeat(Math.ceil((bytes + 1) / Buffer.byteLength(pem)));
}

// [description, mutation, path the problem must name, words the message must contain]
const invalid: [string, (r: Mutable) => void, string, RegExp][] = [
  ['missing workloadGroup', (r) => delete (r as Obj).workloadGroup, '$.workloadGroup', /required/],
  ['upper-case namespace', (r) => (r.workloadGroup.namespace = 'BookInfo'), '$.workloadGroup.namespace', /DNS-1123/],
  ['namespace too long', (r) => (r.workloadGroup.namespace = 'a'.repeat(64)), '$.workloadGroup.namespace', /63/],
  ['workload group name with underscore', (r) => (r.workloadGroup.name = 'rat_ings'), '$.workloadGroup.name', /DNS-1123/],
  ['typo in a workloadGroup field', (r) => (r.workloadGroup.nmae = 'x'), '$.workloadGroup', /unknown field.*"nmae"/],
  ['typo at the top level', (r) => (r.workloadLabel = {}), '$', /unknown field.*"workloadLabel"/],
  ['bad label key', (r) => (r.workloadLabels = { 'bad key!': 'v' }), '$.workloadLabels["bad key!"]', /label key/],
  ['bad label value', (r) => (r.workloadLabels = { version: 'v5 beta' }), '$.workloadLabels.version', /label value/],
  ['label value too long', (r) => (r.workloadLabels = { version: 'v'.repeat(64) }), '$.workloadLabels.version', /63/],
  ['missing onboarding host', (r) => delete r.onboardingEndpoint.host, '$.onboardingEndpoint.host', /required/],
  ['onboarding host with a scheme', (r) => (r.onboardingEndpoint.host = 'https://gw.example'), '$.onboardingEndpoint.host', /host name or an IPv4/],
  ['onboarding port 0', (r) => (r.onboardingEndpoint.port = 0), '$.onboardingEndpoint.port', /1-65535/],
  ['onboarding port as text', (r) => (r.onboardingEndpoint.port = '15443'), '$.onboardingEndpoint.port', /number/],
  ['sni with spaces', (r) => (r.onboardingEndpoint.sni = 'onboarding endpoint'), '$.onboardingEndpoint.sni', /host name/],
  ['rootCaPem not PEM', (r) => (r.rootCaPem = 'hello'), '$.rootCaPem', /PEM certificates/],
  ['rootCaPem PEM that is not X.509', (r) => (r.rootCaPem = NOT_A_CERT), '$.rootCaPem', /does not parse as X\.509/],
  ['second certificate broken', (r) => (r.rootCaPem = `${r.rootCaPem as string}\n${NOT_A_CERT}`), '$.rootCaPem', /certificate 2 of 2/],
  // SecretString is at most 65536: https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
  ['rootCaPem over the Secrets Manager limit', (r) => (r.rootCaPem = bundleOver(65536)), '$.rootCaPem', /bytes; Secrets Manager stores at most 65536 bytes/],
  ['agent image with spaces', (r) => (r.agentImage = 'registry/agent image:1'), '$.agentImage', /image reference/],
  ['missing ecs', (r) => delete (r as Obj).ecs, '$.ecs', /required/],
  ['cluster name with a slash', (r) => (r.ecs.cluster = 'book/info'), '$.ecs.cluster', /letters, digits/],
  ['empty service name', (r) => (r.ecs.service = ''), '$.ecs.service', /1-255/],
  ['family with a dot', (r) => (r.ecs.family = 'bookinfo.ratings'), '$.ecs.family', /letters, digits/],
  ['desiredCount above 100', (r) => (r.ecs.desiredCount = 101), '$.ecs.desiredCount', /0-100/],
  ['desiredCount negative', (r) => (r.ecs.desiredCount = -1), '$.ecs.desiredCount', /0-100/],
  ['desiredCount fractional', (r) => (r.ecs.desiredCount = 1.5), '$.ecs.desiredCount', /integer/],
  ['cpu not a Fargate size', (r) => (r.ecs.cpu = '300'), '$.ecs.cpu', /Fargate CPU size/],
  ['memory not valid for the cpu', (r) => (r.ecs.memory = '4096'), '$.ecs.memory', /not a valid Fargate memory size for cpu 256/],
  ['memory with a unit', (r) => (r.ecs.memory = '512MiB'), '$.ecs.memory', /whole number/],
  ['enableExecuteCommand as text', (r) => (r.ecs.enableExecuteCommand = 'yes'), '$.ecs.enableExecuteCommand', /boolean/],
  ['containerInsights as text', (r) => (r.ecs.containerInsights = 'enabled'), '$.ecs.containerInsights', /boolean/],
  ['app named like the agent', (r) => (r.app.name = 'onboarding-agent'), '$.app.name', /agent container/],
  ['app port above 65535', (r) => (r.app.port = 70000), '$.app.port', /1-65535/],
  ['app image missing', (r) => delete r.app.image, '$.app.image', /required/],
  ['neither eksClusterName nor vpcId', (r) => (r.network = {}), '$.network', /eksClusterName or vpcId/],
  ['bad vpc id', (r) => (r.network.vpcId = 'vpc-XYZ'), '$.network.vpcId', /VPC id/],
  ['bad subnet id', (r) => (r.network.subnetIds = ['subnet']), '$.network.subnetIds[0]', /subnet id/],
  ['empty subnetIds', (r) => (r.network.subnetIds = []), '$.network.subnetIds', /at least one subnet id/],
  ['17 subnetIds', (r) => (r.network.subnetIds = Array.from({ length: 17 }, (_, i) => `subnet-0123456789abcde${String(i).padStart(2, '0')}`)), '$.network.subnetIds', /at most 16/],
  ['a repeated subnet id', (r) => (r.network.subnetIds = ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef0']), '$.network.subnetIds[1]', /repeats subnetIds\[0\]/],
  ['subnetIds and subnetCidrs together', (r) => Object.assign(r.network, { subnetIds: ['subnet-0123456789abcdef0'], subnetCidrs: ['10.0.3.0/24'] }), '$.network.subnetCidrs', /not both/],
  ['zones with subnetIds', (r) => Object.assign(r.network, { subnetIds: ['subnet-0123456789abcdef0'], zones: 2 }), '$.network.zones', /those of network.subnetIds/],
  ['a block per zone', (r) => Object.assign(r.network, { subnetCidrs: ['10.0.3.0/24'], zones: 2 }), '$.network.subnetCidrs', /one block per zone: network.zones is 2, subnetCidrs has 1/],
  ['four zones', (r) => (r.network.zones = 4), '$.network.zones', /at most 3 zones/],
  ['a repeated block', (r) => (r.network.subnetCidrs = ['10.0.3.0/24', '10.0.3.0/24']), '$.network.subnetCidrs[1]', /repeats subnetCidrs\[0\]/],
  ['subnetCidrs with host bits', (r) => (r.network.subnetCidrs = ['10.0.3.1/24']), '$.network.subnetCidrs[0]', /host bits zero/],
  ['subnetCidrs too large', (r) => (r.network.subnetCidrs = ['10.0.3.0/24', '10.0.0.0/8']), '$.network.subnetCidrs[1]', /\/16 and \/28/],
  ['natGateways neither shared nor per-zone', (r) => (r.network.natGateways = 'one-each'), '$.network.natGateways', /"shared" .* or "per-zone"/],
  ['per-zone NAT gateways with subnetIds', (r) => Object.assign(r.network, { subnetIds: ['subnet-0123456789abcdef0'], natGateways: 'per-zone' }), '$.network.natGateways', /route through NAT gateways of their own/],
  ['per-zone NAT gateways with one natSubnetCidr', (r) => Object.assign(r.network, { natGateways: 'per-zone', natSubnetCidr: '10.0.9.0/24' }), '$.network.natSubnetCidr', /one per zone/],
  ['natSubnetCidr not a CIDR', (r) => (r.network.natSubnetCidr = '10.0.4.0'), '$.network.natSubnetCidr', /CIDR/],
  ['same CIDR for NAT and task subnets', (r) => Object.assign(r.network, { subnetCidrs: ['10.0.4.0/24', '10.0.3.0/24'], natSubnetCidr: '10.0.3.0/24' }), '$.network.natSubnetCidr', /must differ from network.subnetCidrs\[1\]/],
  ['ingress source that is neither CIDR nor group', (r) => (r.network.ingressSources = ['everyone']), '$.network.ingressSources[0]', /CIDR block or a security group/],
  ['empty ingressSources', (r) => (r.network.ingressSources = []), '$.network.ingressSources', /at least one/],
  ['EKS group rule without eksClusterName', (r) => (r.network = { vpcId: 'vpc-0123456789abcdef0', allowFromEksClusterSecurityGroup: true }), '$.network.allowFromEksClusterSecurityGroup', /eksClusterName/],
  ['log retention not offered by CloudWatch', (r) => (r.logRetentionDays = 10), '$.logRetentionDays', /retention periods/],
  ['timeout too short', (r) => (r.timeouts = { natGatewaySeconds: 5 }), '$.timeouts.natGatewaySeconds', /at least 30/],
  ['unknown timeout', (r) => (r.timeouts = { natSeconds: 60 }), '$.timeouts', /unknown field.*"natSeconds"/],
];

describe('onboarding request validation', () => {
  it('has at least 30 invalid cases', () => {
    expect(invalid.length).toBeGreaterThanOrEqual(30);
  });

  it.each(invalid)('rejects %s, naming the path', (_name, change, path, words) => {
    const problems = requestProblems(variant(change));
    const hit = problems.find((p) => p.path === path);
    expect(hit, `problems were: ${JSON.stringify(problems)}`).toBeDefined();
    expect(hit?.message).toMatch(words);
  });

  it('reports every problem at once', () => {
    const problems = requestProblems(
      variant((r) => {
        r.ecs.desiredCount = 500;
        r.app.port = 0;
        r.workloadGroup.name = 'Ratings';
      }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['$.app.port', '$.ecs.desiredCount', '$.workloadGroup.name']);
  });

  it('still checks cross-field rules when other fields are missing or wrong', () => {
    const problems = requestProblems(
      variant((r) => {
        delete (r as Obj).app;
        r.ecs.memory = '4096';
        r.ecs.desiredCount = -1;
        r.network = { subnetIds: ['subnet-0123456789abcdef0'], subnetCidrs: ['10.0.3.0/24'] };
      }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['$.app', '$.ecs.desiredCount', '$.ecs.memory', '$.network', '$.network.subnetCidrs']);
  });

  it('says which type it wanted', () => {
    expect(requestProblems(variant((r) => ((r as Obj).ecs = 5)))).toContainEqual({ path: '$.ecs', message: 'must be an object (got a number)' });
    expect(requestProblems(variant((r) => (r.app.port = '9080')))).toContainEqual({ path: '$.app.port', message: 'must be a number (got a string)' });
  });

  it('rejects non-objects with a problem at the root, not a stack trace', () => {
    for (const input of [null, 42, 'text', []]) {
      const problems = requestProblems(input);
      expect(problems[0]?.path).toBe('$');
      expect(JSON.stringify(problems)).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('throws InvalidRequestError whose message lists paths and never the CA bundle', async () => {
    const bad = variant((r) => (r.ecs.cpu = '1'));
    await expect(validateRequest(bad)).rejects.toBeInstanceOf(InvalidRequestError);
    const err = (await validateRequest(bad).then(() => undefined, (e: unknown) => e)) as InvalidRequestError;
    expect(err.name).toBe('InvalidRequestError');
    expect(err.message).toContain('$.ecs.cpu');
    expect(err.message).not.toContain('BEGIN CERTIFICATE');
  });

  it('counts the CA bundle in UTF-8 bytes, reports an oversized one once, and accepts exactly 65536 bytes', () => {
    const pem = bookinfoInput().rootCaPem;
    // Within 65536 characters but over 65536 bytes: "é" is two bytes in UTF-8.
    const multiByte = `${pem}${'é'.repeat(Math.ceil((65536 - pem.length) / 2) + 1)}`;
    expect(multiByte.length).toBeLessThanOrEqual(65536);
    const problems = requestProblems(variant((r) => (r.rootCaPem = multiByte)));
    expect(problems).toEqual([{ path: '$.rootCaPem', message: expect.stringMatching(/^is \d+ bytes; Secrets Manager stores at most 65536 bytes/) as string }]);
    expect(requestProblems(variant((r) => (r.rootCaPem = bundleOver(65536)))).filter((p) => p.path === '$.rootCaPem')).toHaveLength(1);

    const exactly = pem + '\n'.repeat(65536 - Buffer.byteLength(pem));
    expect(Buffer.byteLength(exactly)).toBe(65536);
    expect(requestProblems(variant((r) => (r.rootCaPem = exactly)))).toEqual([]);
  });

  it('takes the CA bundle or, exactly one of the two, the reference to the secret the API stored it in', async () => {
    const ref = { arn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:mesh-onboarding/bookinfo/ratings/root-ca-AbCdEf', versionId: '0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f' };
    const withRef = variant((r) => {
      delete r.rootCaPem;
      r.rootCaSecret = ref;
    });
    expect(requestProblems(withRef)).toEqual([]);
    expect(await validateRequest(withRef)).toMatchObject({ caBundle: { secret: ref } });
    expect((await validateRequest(bookinfoInput())).caBundle).toEqual({ pem: bookinfoInput().rootCaPem });

    expect(requestProblems(variant((r) => delete r.rootCaPem))).toEqual([{ path: '$.rootCaPem', message: 'is required' }]);
    expect(requestProblems(variant((r) => (r.rootCaSecret = ref)))).toEqual([{ path: '$.rootCaSecret', message: expect.stringContaining('not both') as string }]);
    const foreign = variant((r) => {
      delete r.rootCaPem;
      r.rootCaSecret = { ...ref, arn: ref.arn.replace('bookinfo/ratings', 'bookinfo/reviews') };
    });
    expect(requestProblems(foreign)).toEqual([{ path: '$.rootCaSecret.arn', message: expect.stringContaining('mesh-onboarding/bookinfo/ratings/root-ca') as string }]);
    const malformed = variant((r) => {
      delete r.rootCaPem;
      r.rootCaSecret = { arn: 'mesh-onboarding/bookinfo/ratings/root-ca', versionId: 'v1', extra: true };
    });
    expect(requestProblems(malformed).map((p) => p.path).sort()).toEqual(['$.rootCaSecret', '$.rootCaSecret.arn', '$.rootCaSecret.versionId']);
  });

  it('leaves Container Insights off unless the request asks for it', () => {
    expect(parseRequest(bookinfoInput()).ecs.containerInsights).toBe(false);
    expect(parseRequest(variant((r) => (r.ecs.containerInsights = true))).ecs.containerInsights).toBe(true);
  });

  it('applies defaults and accepts numbers or strings for cpu/memory', () => {
    const r = parseRequest(
      variant((x) => {
        delete x.ecs.desiredCount;
        delete x.ecs.enableExecuteCommand;
        delete x.onboardingEndpoint.port;
        x.ecs.cpu = 1024;
        x.ecs.memory = 3072;
      }),
    );
    expect(r.ecs).toMatchObject({ desiredCount: 1, enableExecuteCommand: false, cpu: '1024', memory: '3072' });
    expect(r.onboardingEndpoint.port).toBe(15443);
    expect(r.logRetentionDays).toBe(30);
  });

  it('accepts the plain request and the {request} wrapper in the first state', async () => {
    const a = await validateRequest(bookinfoInput());
    const b = await validateRequest({ request: bookinfoInput() });
    expect(a).toEqual(b);
    expect(a.request.workloadGroup).toEqual({ namespace: 'bookinfo', name: 'ratings' });
  });

  it.each(readdirSync(new URL('../../examples/', import.meta.url)).filter((f) => f.endsWith('.json')))('accepts examples/%s', (file) => {
    const input: unknown = JSON.parse(readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8'));
    expect(requestProblems(input)).toEqual([]);
  });
});

describe('published JSON Schema', () => {
  it('is up to date with the zod schema (run `npm run schema`)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(renderSchema());
  });
});
