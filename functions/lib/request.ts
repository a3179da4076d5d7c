/**
 * The onboarding request: the one schema validated at the edge (API and the state
 * machine's first state), the source of the TypeScript types and of the published
 * JSON Schema (schema/onboarding-request.schema.json). Objects are strict so a typo in a
 * field name is reported instead of silently ignored.
 */
import { X509Certificate } from 'node:crypto';
import * as z from 'zod';
import { DEFAULTS } from './settings.ts';
import { AGENT_CONTAINER_NAME, MAX_WAIT_SECONDS } from './settings.ts';
import { InvalidRequestError, type Problem } from './errors.ts';
import { names } from './naming.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Label = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit');

// Kubernetes label key: optional DNS subdomain prefix + "/" + name (<= 63, alphanumeric at the ends).
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelKey = z.string().refine((k) => {
  const parts = k.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const prefix = parts.length === 2 ? parts[0]! : undefined;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}, 'must be a Kubernetes label key: [prefix/]name, name up to 63 alphanumerics, "-", "_" or "."');
const labelValue = z
  .string()
  .max(63, 'label values are at most 63 characters')
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, 'must be a Kubernetes label value: alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric');

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const hostname = z.string().refine((h) => HOSTNAME.test(h) || IPV4.test(h), 'must be a DNS host name or an IPv4 address');
const port = z.number().int('must be an integer').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');

/** IPv4 CIDR with its host bits clear, e.g. 10.0.3.0/24. */
export function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(cidr);
  if (!m || !IPV4.test(m[1]!)) return undefined;
  const prefix = Number(m[2]);
  if (prefix > 32) return undefined;
  const base = m[1]!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return { base, prefix };
}
/** At most this many zones get a task subnet (three covers the loss of one zone with room to spare). */
export const MAX_ZONES = 3;
const cidr = z.string().refine((c) => parseCidr(c) !== undefined, 'must be an IPv4 CIDR block such as 10.0.3.0/24');
const subnetCidr = cidr.refine((c) => {
  const p = parseCidr(c);
  if (!p) return true; // reported by the rule above
  const size = 2 ** (32 - p.prefix);
  return p.prefix >= 16 && p.prefix <= 28 && p.base % size === 0;
}, 'must be a subnet block between /16 and /28 with its host bits zero (AWS limits)');

// Image reference: [registry[:port]/]path[:tag][@digest]
const IMAGE = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const image = z.string().max(1024).regex(IMAGE, 'must be a container image reference such as registry.example/repo/name:tag');

const ECS_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ecsName = z.string().regex(ECS_NAME, 'must be 1-255 letters, digits, "-" or "_"');

/** Valid Fargate CPU units → memory sizes (MiB) for Linux tasks. */
export const FARGATE_SIZES: Record<string, number[]> = {
  '256': [512, 1024, 2048],
  '512': range(1024, 4096, 1024),
  '1024': range(2048, 8192, 1024),
  '2048': range(4096, 16384, 1024),
  '4096': range(8192, 30720, 1024),
  '8192': range(16384, 61440, 4096),
  '16384': range(32768, 122880, 8192),
};
/** "512, 1024 or 2048" for a few sizes, "2048-8192 in steps of 1024" for a range. */
function describeSizes(sizes: number[]): string {
  if (sizes.length <= 3) return `${sizes.slice(0, -1).join(', ')} or ${sizes[sizes.length - 1]}`;
  return `${sizes[0]}-${sizes[sizes.length - 1]} in steps of ${sizes[1]! - sizes[0]!}`;
}
function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}
// ECS takes cpu/memory as strings; people write both "256" and 256.
const units = z
  .union([z.number().int('must be an integer'), z.string().regex(/^\d+$/, 'must be a whole number')])
  .transform((v) => String(v));

const securityGroupId = /^sg-[0-9a-f]{8,17}$/;
const ingressSource = z
  .string()
  .refine((s) => securityGroupId.test(s) || parseCidr(s) !== undefined, 'must be an IPv4 CIDR block or a security group id (sg-...)');

const CLOUDWATCH_RETENTION = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/**
 * Secrets Manager stores at most 65536 bytes of SecretString
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html#SecretsManager-CreateSecret-request-SecretString):
 * a larger bundle would pass every earlier step and fail at Ensure CA secret.
 */
export const MAX_ROOT_CA_PEM_BYTES = 65536;
/**
 * Step Functions refuses an execution input over 262144 bytes of UTF-8
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum input or
 * output size for a task, state, or execution"): the API checks it before starting anything.
 */
export const MAX_EXECUTION_INPUT_BYTES = 262144;

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const tooLargeForSecret = (bytes: number) =>
  `is ${bytes} bytes; Secrets Manager stores at most ${MAX_ROOT_CA_PEM_BYTES} bytes (UTF-8) in a secret: keep only the CA(s) that sign the onboarding endpoint`;
// maxLength (characters) publishes the limit in the JSON Schema; the byte count is the real rule.
const rootCaPem = z
  .string()
  .max(MAX_ROOT_CA_PEM_BYTES, { error: (i) => tooLargeForSecret(Buffer.byteLength(String(i.input), 'utf8')) })
  .superRefine((pem, ctx) => {
    const bytes = Buffer.byteLength(pem, 'utf8');
    if (bytes > MAX_ROOT_CA_PEM_BYTES) {
      // Reported once (by max, or here for multi-byte text within maxLength); parsing a bundle that cannot be stored is wasted work.
      if (pem.length <= MAX_ROOT_CA_PEM_BYTES) ctx.addIssue({ code: 'custom', message: tooLargeForSecret(bytes) });
      return;
    }
    const blocks = pem.match(PEM_BLOCK) ?? [];
    if (blocks.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)' });
      return;
    }
    blocks.forEach((b, i) => {
      try {
        new X509Certificate(b);
      } catch {
        ctx.addIssue({ code: 'custom', message: `certificate ${i + 1} of ${blocks.length} does not parse as X.509` });
      }
    });
  });

/**
 * Where the API stored `rootCaPem` before it started the execution, so the execution input
 * (kept in the execution history, shown in the console) holds a reference and never the PEM.
 * The ARN's name part must be the workload's CA secret name; Ensure CA secret checks the rest.
 */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/;
export const CaSecretRefSchema = z.strictObject({
  arn: z.string().max(2048).regex(SECRET_ARN, 'must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>)'),
  versionId: z.string().regex(/^[A-Za-z0-9-]{32,64}$/, 'must be a Secrets Manager version id (32-64 letters, digits or "-")'),
  /** What the API's write did to the secret, so the run's ledger reports it as created, updated or reused (absent: reused). */
  stored: z.enum(['created', 'updated', 'unchanged']).optional(),
});
export type CaSecretRef = z.infer<typeof CaSecretRefSchema>;

/** The secret name inside a Secrets Manager secret ARN (without the 6-character suffix AWS adds), or undefined. */
export function secretNameOfArn(arn: string): string | undefined {
  return SECRET_ARN.exec(arn)?.[1];
}

const timeoutSeconds = z.number().int('must be an integer').min(30, 'must be at least 30 seconds').max(MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS} seconds`);

export const OnboardingRequestSchema = z
  .strictObject({
    workloadGroup: z
      .strictObject({ namespace: dns1123Label, name: dns1123Label })
      .describe('The Istio WorkloadGroup the tasks join (it must exist; the pre-flight checks it).'),
    workloadLabels: z.record(labelKey, labelValue).optional().describe("Labels added to the workload's (cannot override the WorkloadGroup's template labels)."),
    onboardingEndpoint: z
      .strictObject({
        host: hostname.describe("Host name or IPv4 of the onboarding endpoint (the vmgateway service's load balancer)."),
        port: port.default(DEFAULTS.onboardingPort),
        sni: hostname.optional().describe("TLS SNI; the server certificate is checked against it."),
      })
      .describe('Where the onboarding agent registers the workload.'),
    rootCaPem: rootCaPem
      .optional()
      .describe('PEM of the CA(s) that signed the onboarding endpoint certificate; stored in Secrets Manager (at most 65536 bytes). Required, except in the execution input the API builds, where rootCaSecret replaces it.'),
    rootCaSecret: CaSecretRefSchema.optional().describe(
      'Set by the API, never by hand: the Secrets Manager secret (ARN and version id) where the API stored rootCaPem before starting the execution, so the execution input carries no PEM. Exactly one of rootCaPem and rootCaSecret.',
    ),
    rootCaSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits')
      .optional()
      .describe('Set by the API for a dry run, never by hand: the SHA-256 of rootCaPem, so a plan can tell whether the stored CA would change without the PEM (nor a secret) ever being written. Only with dryRun.'),
    dryRun: z
      .boolean()
      .optional()
      .describe('True: plan only. The workflow runs every look-up and ends with a plan (each resource to create, update, reuse or in conflict, and every problem found) with no mutating AWS call. The API sets it for POST /onboardings?dryRun=true.'),
    agentImage: image.optional().describe("Onboarding agent image; default: derived from deployment/onboarding-plane (else deployment/onboarding-operator) in istio-system, same registry and tag."),
    ecs: z
      .strictObject({
        cluster: ecsName.describe('ECS cluster (created with the FARGATE capacity provider when missing).'),
        service: ecsName,
        family: ecsName.describe('Task definition family; also names the log group /ecs/<family>.'),
        desiredCount: z.number().int('must be an integer').min(0, 'must be 0-100').max(100, 'must be 0-100').default(DEFAULTS.desiredCount),
        cpu: units.describe('Fargate CPU units: 256, 512, 1024, 2048, 4096, 8192 or 16384.'),
        memory: units.describe('Fargate memory (MiB), valid for the cpu.'),
        enableExecuteCommand: z.boolean().default(false).describe('ECS Exec (adds the ssmmessages policy to the task role).'),
        containerInsights: z
          .boolean()
          .default(false)
          .describe(
            'Turn on CloudWatch Container Insights when this run creates the cluster (it bills CloudWatch custom metrics and logs per task). Off: the account default applies. An existing cluster is shared with other workloads and keeps its setting.',
          ),
      })
      .describe('The ECS Fargate service to create or update.'),
    app: z
      .strictObject({
        name: ecsName.refine((n) => n !== AGENT_CONTAINER_NAME, `must differ from the agent container's name "${AGENT_CONTAINER_NAME}"`),
        image,
        port: port.describe('The port the app listens on; opened to ingressSources and the mesh.'),
      })
      .describe('The application container, beside the onboarding agent sidecar.'),
    network: z
      .strictObject({
        eksClusterName: z
          .string()
          .regex(/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/, 'must be an EKS cluster name (1-100 letters, digits, "-" or "_")')
          .optional()
          .describe("The mesh's EKS cluster: gives the VPC, the cluster security group and the Kubernetes API for the mesh checks."),
        vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'must be a VPC id (vpc-...)').optional(),
        subnetIds: z
          .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'must be a subnet id (subnet-...)'))
          .min(1, 'give at least one subnet id, or leave subnetIds out so subnets are made')
          .max(16, 'at most 16 subnets (an ECS service takes at most 16)')
          .optional()
          .describe('Reuse these private subnets (each must route 0.0.0.0/0 through a NAT gateway); the service spreads its tasks over their zones.'),
        subnetCidrs: z
          .array(subnetCidr)
          .min(1, 'give one block per zone, or leave subnetCidrs out to pick free /24s')
          .max(MAX_ZONES, `at most ${MAX_ZONES} blocks (one per zone)`)
          .optional()
          .describe('CIDRs of the task subnets to create, one per zone, in zone order; default: the first free /24s of the VPC.'),
        zones: z
          .number()
          .int('must be a whole number')
          .min(1, 'at least 1 zone')
          .max(MAX_ZONES, `at most ${MAX_ZONES} zones`)
          .optional()
          .describe(
            `How many availability zones get a task subnet (the service spreads its tasks over them); default: the number of subnetCidrs, else ${DEFAULTS.zones}. ` +
              "Zones are chosen in a fixed order: those of the VPC's existing subnets (by address), then the region's others (by name).",
          ),
        natGateways: z
          .enum(['shared', 'per-zone'], { error: 'must be "shared" (one NAT gateway for the VPC) or "per-zone" (one in each task zone)' })
          .optional()
          .describe(
            'NAT gateways for the task subnets: "shared" (default), one for the VPC, in the first zone, so the other zones\' outbound traffic crosses zones and depends on that zone; ' +
              '"per-zone", one in each task zone, so a zone\'s loss leaves the others their outbound access, at the price of one more NAT gateway and Elastic IP per zone.',
          ),
        natSubnetCidr: subnetCidr.optional().describe('CIDR of the public subnet for a new NAT gateway; default: the first free /24.'),
        ingressSources: z
          .array(ingressSource)
          .min(1, 'give at least one source, or leave it out to allow the VPC CIDR')
          .max(50)
          .optional()
          .describe('CIDRs or security group ids allowed on app.port; default: the VPC CIDR(s). Rules this tool added for sources no longer listed, or on an earlier app.port, are revoked; rules others added stay.'),
        allowFromEksClusterSecurityGroup: z
          .boolean()
          .optional()
          .describe(
            'Allow inbound TCP app.port on the EKS cluster security group from the task security group (one rule, tagged with this workload); default: true with eksClusterName. ' +
              'Why app.port: the task calls pods in the cluster that listen on the same port as the app (the seed procedure: bookinfo details on 9080); without the rule those calls get 503. ' +
              'Turning it off, or changing app.port, removes the rule this tool added; rules others added stay.',
          ),
      })
      .describe('Where the tasks run; give eksClusterName, vpcId or both.'),
    logRetentionDays: z
      .number()
      .refine((d) => CLOUDWATCH_RETENTION.includes(d), `must be one of CloudWatch Logs' retention periods: ${CLOUDWATCH_RETENTION.join(', ')}`)
      .default(DEFAULTS.logRetentionDays),
    timeouts: z
      .strictObject({
        natGatewaySeconds: timeoutSeconds.optional(),
        serviceSeconds: timeoutSeconds.optional(),
        meshSeconds: timeoutSeconds.optional(),
      })
      .optional()
      .describe('Deadlines of the waits, in seconds (defaults 600, 900, 600).'),
  })
  // Cross-field rules run even when other fields failed (`when`), so a rejected request
  // lists every problem at once; they read the value defensively for that reason.
  .superRefine(
    (value, ctx) => {
      if (!isObject(value)) return;
      const r = value as unknown as { network?: Partial<Record<string, unknown>>; ecs?: Partial<Record<string, unknown>> };
      const n = isObject(r.network) ? r.network : undefined;
      if (n) {
        if (!n.eksClusterName && !n.vpcId) {
          ctx.addIssue({ code: 'custom', path: ['network'], message: 'give eksClusterName or vpcId (or both) so the VPC can be found' });
        }
        const ids = Array.isArray(n.subnetIds) ? (n.subnetIds as unknown[]) : undefined;
        const blocks = Array.isArray(n.subnetCidrs) ? (n.subnetCidrs as unknown[]) : undefined;
        if (ids && blocks) {
          ctx.addIssue({ code: 'custom', path: ['network', 'subnetCidrs'], message: 'give subnetIds (reuse subnets) or subnetCidrs (create them), not both' });
        }
        if (ids && n.zones !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['network', 'zones'], message: 'the zones are those of network.subnetIds: leave zones out' });
        }
        if (blocks && typeof n.zones === 'number' && blocks.length !== n.zones) {
          ctx.addIssue({ code: 'custom', path: ['network', 'subnetCidrs'], message: `give one block per zone: network.zones is ${n.zones}, subnetCidrs has ${blocks.length}` });
        }
        ids?.forEach((id, i) => {
          const first = ids.indexOf(id);
          if (first !== i) ctx.addIssue({ code: 'custom', path: ['network', 'subnetIds', i], message: `repeats subnetIds[${first}]` });
        });
        blocks?.forEach((b, i) => {
          const first = blocks.indexOf(b);
          if (first !== i) ctx.addIssue({ code: 'custom', path: ['network', 'subnetCidrs', i], message: `repeats subnetCidrs[${first}]` });
        });
        if (n.allowFromEksClusterSecurityGroup === true && !n.eksClusterName) {
          ctx.addIssue({ code: 'custom', path: ['network', 'allowFromEksClusterSecurityGroup'], message: 'needs network.eksClusterName to find the EKS cluster security group' });
        }
        if (n.natGateways === 'per-zone' && ids) {
          ctx.addIssue({ code: 'custom', path: ['network', 'natGateways'], message: 'the given subnetIds route through NAT gateways of their own: leave natGateways out' });
        }
        if (n.natGateways === 'per-zone' && n.natSubnetCidr !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['network', 'natSubnetCidr'], message: 'names one block, and per-zone NAT gateways need one per zone: leave it out to pick free /24s' });
        }
        const sameAsTask = blocks && n.natSubnetCidr !== undefined ? blocks.indexOf(n.natSubnetCidr) : -1;
        if (sameAsTask >= 0) {
          ctx.addIssue({ code: 'custom', path: ['network', 'natSubnetCidr'], message: `must differ from network.subnetCidrs[${sameAsTask}]` });
        }
      }
      const ca = value as unknown as { rootCaPem?: unknown; rootCaSecret?: unknown; rootCaSha256?: unknown; dryRun?: unknown; workloadGroup?: unknown };
      const given = [ca.rootCaPem, ca.rootCaSecret, ca.rootCaSha256].filter((v) => v !== undefined).length;
      if (ca.rootCaSha256 !== undefined && ca.dryRun !== true) {
        ctx.addIssue({ code: 'custom', path: ['rootCaSha256'], message: 'is only for a dry run (dryRun: true); send rootCaPem' });
      } else if (given === 0) {
        ctx.addIssue({ code: 'custom', path: ['rootCaPem'], message: 'is required' });
      } else if (given > 1) {
        ctx.addIssue({ code: 'custom', path: [ca.rootCaSecret !== undefined ? 'rootCaSecret' : 'rootCaSha256'], message: 'give rootCaPem or what the API sets in its place (rootCaSecret, rootCaSha256), not both' });
      } else if (isObject(ca.rootCaSecret) && typeof ca.rootCaSecret.arn === 'string' && isObject(ca.workloadGroup)) {
        // A reference to another workload's (or anyone's) secret is refused before anything runs.
        const wg = ca.workloadGroup as { namespace?: unknown; name?: unknown };
        const name = secretNameOfArn(ca.rootCaSecret.arn);
        if (name !== undefined && typeof wg.namespace === 'string' && typeof wg.name === 'string') {
          const expected = names.caSecret({ workloadGroup: { namespace: wg.namespace, name: wg.name } } as OnboardingRequest);
          if (name !== expected) ctx.addIssue({ code: 'custom', path: ['rootCaSecret', 'arn'], message: `must name this workload's CA secret "${expected}", not "${name}"` });
        }
      }
      const cpu = isObject(r.ecs) ? units.safeParse(r.ecs.cpu) : undefined;
      const memory = isObject(r.ecs) ? units.safeParse(r.ecs.memory) : undefined;
      if (cpu?.success) {
        const sizes = FARGATE_SIZES[cpu.data];
        if (!sizes) {
          ctx.addIssue({ code: 'custom', path: ['ecs', 'cpu'], message: `must be a Fargate CPU size: ${Object.keys(FARGATE_SIZES).join(', ')}` });
        } else if (memory?.success && !sizes.includes(Number(memory.data))) {
          ctx.addIssue({ code: 'custom', path: ['ecs', 'memory'], message: `is not a valid Fargate memory size for cpu ${cpu.data}: allowed ${describeSizes(sizes)} MiB` });
        }
      }
    },
    { when: () => true },
  )
  // The published schema says what the rule above checks: the PEM, or the API's reference to it.
  .meta({ oneOf: [{ required: ['rootCaPem'] }, { required: ['rootCaSecret'] }, { required: ['rootCaSha256'] }] });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The request as the user writes it (defaults optional). */
export type OnboardingRequestInput = z.input<typeof OnboardingRequestSchema>;
/** The request after validation, defaults applied: what every step receives. */
export type OnboardingRequest = z.output<typeof OnboardingRequestSchema>;

/** The validated request without the CA bundle or its reference: what the workflow's steps carry (see WorkflowState.caBundle). */
export type WorkloadRequest = Omit<OnboardingRequest, 'rootCaPem' | 'rootCaSecret' | 'rootCaSha256'>;

// Kept importable from here; they live in a zod-free module so the steps that use them do not bundle zod.
export { allowFromEksClusterSecurityGroup, effectiveTimeouts, effectiveZones } from './request-defaults.ts';

function jsonPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : /^[A-Za-z_$][\w$]*$/.test(String(k)) ? `${acc}.${String(k)}` : `${acc}[${JSON.stringify(String(k))}]`), '$');
}

function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = input;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Every problem of a request, each with its JSON path; empty when the request is valid. */
export function requestProblems(input: unknown): Problem[] {
  const r = OnboardingRequestSchema.safeParse(input);
  if (r.success) return [];
  return r.error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') {
      return { path: jsonPath(i.path), message: `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; see schema/onboarding-request.schema.json)` };
    }
    if (i.code === 'invalid_key') return { path: jsonPath(i.path), message: `key ${i.issues.map((x) => x.message).join('; ')}` };
    if (i.code === 'invalid_union') {
      // zod's own words here are "Invalid input": say what is missing, or which types would do.
      const value = valueAt(input, i.path);
      if (value === undefined) return { path: jsonPath(i.path), message: 'is required' };
      const types = i.errors.flatMap((branch) => branch.filter((b) => b.code === 'invalid_type' && b.path.length === 0).map((b) => (b as { expected: string }).expected));
      if (types.length === i.errors.length) return { path: jsonPath(i.path), message: `must be ${types.map((t) => (/^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`)).join(' or ')} (got ${kindOf(value)})` };
    }
    if (i.code === 'invalid_type') {
      const value = valueAt(input, i.path);
      if (value === undefined) return { path: jsonPath(i.path), message: 'is required' };
      const wanted = i.expected === 'int' ? 'an integer' : /^[aeiou]/.test(i.expected) ? `an ${i.expected}` : `a ${i.expected}`;
      return { path: jsonPath(i.path), message: `must be ${wanted} (got ${kindOf(value)})` };
    }
    return { path: jsonPath(i.path), message: i.message };
  });
}

/** Parses a request or throws InvalidRequestError listing every problem at once. */
export function parseRequest(input: unknown): OnboardingRequest {
  const r = OnboardingRequestSchema.safeParse(input);
  if (!r.success) throw new InvalidRequestError(requestProblems(input));
  return r.data;
}
