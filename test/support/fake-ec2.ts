/**
 * A small in-memory EC2 behind aws-sdk-client-mock, for the AWS behaviour moto does not show
 * (test/unit only; moto ignores ClientToken and lists everything at once):
 * - ClientToken: the same token with the same parameters returns the first result; with other
 *   parameters (tags included) it fails with IdempotentParameterMismatch
 *   (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
 * - RouteAlreadyExists on CreateRoute and Resource.AlreadyAssociated on AssociateRouteTable.
 * - Eventual consistency: `lagListings()` hides what exists from filtered Describe calls
 *   (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
 * - `gate(command, n)`: holds calls of `command` until n have arrived, so two runs race there.
 * Error codes and messages are AWS's, as its API returns them (sources at each one).
 */
import {
  AllocateAddressCommand,
  AssociateRouteTableCommand,
  CreateNatGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  DescribeAddressesCommand,
  DescribeInternetGatewaysCommand,
  DescribeNatGatewaysCommand,
  DescribeRouteTablesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ReleaseAddressCommand,
  ReplaceRouteCommand,
  ReplaceRouteTableAssociationCommand,
  type Address,
  type Filter,
  type NatGateway,
  type RouteTable,
  type Subnet,
  type Tag,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import type { AwsClientStub } from 'aws-sdk-client-mock';

/** An EC2 client error shaped as SDK v3 throws it (name = AWS's error code). */
export function awsError(code: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name: code, Code: code, $fault: 'client', $metadata: { httpStatusCode } });
}

/**
 * EC2's message for a reused ClientToken with other parameters, as the API returns it
 * (rust-lang/bors#830: "An error occurred (IdempotentParameterMismatch) when calling the
 * RunInstances operation: Arguments on this idempotent request are inconsistent with arguments
 * used in previous request(s)."); the code is listed in
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
 */
export const IDEMPOTENT_MISMATCH_MESSAGE = 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).';

interface Listed {
  /** False while a filtered Describe does not show it yet (eventual consistency). */
  listed: boolean;
}
type FakeSubnet = Subnet & Listed;
type FakeTable = RouteTable & Listed;
type FakeNat = NatGateway & Listed & { AllocationId: string };
type FakeEip = Address & Listed;

const tagsOf = (specs: TagSpecification[] | undefined): Tag[] => specs?.flatMap((s) => s.Tags ?? []) ?? [];

function matches(values: Record<string, (string | undefined)[]>, tags: Tag[] | undefined, filters: Filter[] | undefined): boolean {
  return (filters ?? []).every((f) => {
    const have = f.Name?.startsWith('tag:') ? (tags ?? []).filter((t) => t.Key === f.Name!.slice(4)).map((t) => t.Value) : (values[f.Name ?? ''] ?? []);
    return have.some((v) => v !== undefined && (f.Values ?? []).includes(v));
  });
}

/** Stable JSON: the same parameters in any key order compare equal. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface FakeEc2Options {
  vpcId: string;
  vpcCidr?: string;
  internetGatewayId?: string;
}

export class FakeEc2 {
  readonly subnets: FakeSubnet[] = [];
  readonly tables: FakeTable[] = [];
  readonly nats: FakeNat[] = [];
  readonly eips: FakeEip[] = [];
  /** `<command>:<token>` → the parameters (stable JSON, token left out) and the first result. */
  readonly tokens = new Map<string, { params: string; result: unknown }>();
  private seq = 0;
  private readonly gates = new Map<string, { need: number; waiting: (() => void)[] }>();
  private readonly hooks = new Map<string, () => void>();

  constructor(
    private readonly mock: AwsClientStub<EC2Client>,
    readonly opts: FakeEc2Options,
  ) {
    this.install();
  }

  private id(prefix: string): string {
    return `${prefix}-${(++this.seq).toString(16).padStart(17, '0')}`;
  }

  /** Filtered Describe calls stop showing what exists now of `kinds` (default: all), until `settle()`. */
  lagListings(...kinds: ('subnets' | 'tables' | 'nats' | 'eips')[]): void {
    for (const kind of kinds.length > 0 ? kinds : (['subnets', 'tables', 'nats', 'eips'] as const)) for (const r of this[kind]) r.listed = false;
  }

  settle(): void {
    for (const r of [...this.subnets, ...this.tables, ...this.nats, ...this.eips]) r.listed = true;
  }

  /** Holds calls of `command` until `n` have arrived, then lets them all through. */
  gate(command: string, n: number): void {
    this.gates.set(command, { need: n, waiting: [] });
  }

  /** Runs `fn` when the next call of `command` arrives (e.g. a listing catching up). */
  before(command: string, fn: () => void): void {
    this.hooks.set(command, fn);
  }

  private async pass(command: string): Promise<void> {
    const hook = this.hooks.get(command);
    this.hooks.delete(command);
    hook?.();
    const g = this.gates.get(command);
    if (!g) return;
    await new Promise<void>((resolve) => {
      g.waiting.push(resolve);
      if (g.waiting.length >= g.need) {
        this.gates.delete(command);
        for (const w of g.waiting) w();
      }
    });
  }

  /** A subnet that exists already (an earlier run's, or the user's). */
  addSubnet(s: Partial<Subnet> & { CidrBlock?: string }): FakeSubnet {
    const subnet: FakeSubnet = { SubnetId: this.id('subnet'), VpcId: this.opts.vpcId, AvailabilityZone: 'us-east-1a', Tags: [], ...s, listed: true };
    this.subnets.push(subnet);
    return subnet;
  }

  /** Runs `make` once per ClientToken; a repeat returns the first result, or fails when its parameters differ. */
  private idempotent<T>(command: string, input: { ClientToken?: string }, make: () => T): T {
    if (!input.ClientToken) return make();
    const key = `${command}:${input.ClientToken}`;
    const params = stable({ ...input, ClientToken: undefined });
    const seen = this.tokens.get(key);
    if (seen) {
      if (seen.params !== params) throw awsError('IdempotentParameterMismatch', IDEMPOTENT_MISMATCH_MESSAGE);
      return structuredClone(seen.result) as T;
    }
    const result = make();
    this.tokens.set(key, { params, result: structuredClone(result) });
    return result;
  }

  /** Makes EC2 remember every token used so far as first used with other parameters (an older version's request). */
  tokensFirstUsedWithOtherParameters(): void {
    for (const t of this.tokens.values()) t.params = `older:${t.params}`;
  }

  /** AWS stops listing a NAT gateway some time after it is deleted; its ClientToken is still remembered. */
  forgetNat(natGatewayId: string): void {
    const i = this.nats.findIndex((n) => n.NatGatewayId === natGatewayId);
    if (i >= 0) this.nats.splice(i, 1);
  }

  private tableValues(t: FakeTable): Record<string, (string | undefined)[]> {
    return {
      'vpc-id': [t.VpcId],
      'route-table-id': [t.RouteTableId],
      'association.subnet-id': (t.Associations ?? []).map((a) => a.SubnetId),
      'association.main': (t.Associations ?? []).map((a) => (a.Main ? 'true' : undefined)),
    };
  }

  private install(): void {
    const m = this.mock;
    const { vpcId } = this.opts;
    const strip = <T extends Listed>(r: T): Omit<T, 'listed'> => {
      const { listed: _listed, ...rest } = structuredClone(r);
      return rest;
    };

    m.on(DescribeVpcsCommand).callsFake(() => ({ Vpcs: [{ VpcId: vpcId, CidrBlock: this.opts.vpcCidr ?? '10.0.0.0/16' }] }));
    m.on(DescribeInternetGatewaysCommand).callsFake(() => ({
      InternetGateways: this.opts.internetGatewayId ? [{ InternetGatewayId: this.opts.internetGatewayId, Attachments: [{ VpcId: vpcId, State: 'available' as never }] }] : [],
    }));

    m.on(DescribeSubnetsCommand).callsFake((input) => ({
      Subnets: this.subnets.filter((s) => s.listed && matches({ 'vpc-id': [s.VpcId], 'subnet-id': [s.SubnetId] }, s.Tags, input.Filters)).map(strip),
    }));
    m.on(CreateSubnetCommand).callsFake((input) => {
      const clash = this.subnets.find((s) => s.CidrBlock === input.CidrBlock);
      // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html (InvalidSubnet.Conflict)
      if (clash) throw awsError('InvalidSubnet.Conflict', `The CIDR '${input.CidrBlock}' conflicts with another subnet`);
      const s = this.addSubnet({ VpcId: input.VpcId, CidrBlock: input.CidrBlock, AvailabilityZone: input.AvailabilityZone ?? 'us-east-1a', Tags: tagsOf(input.TagSpecifications) });
      return { Subnet: strip(s) };
    });

    m.on(DescribeRouteTablesCommand).callsFake((input) => ({
      RouteTables: input.RouteTableIds
        ? this.tables.filter((t) => input.RouteTableIds!.includes(t.RouteTableId!)).map(strip)
        : this.tables.filter((t) => t.listed && matches(this.tableValues(t), t.Tags, input.Filters)).map(strip),
    }));
    m.on(CreateRouteTableCommand).callsFake(async (input) => {
      await this.pass('CreateRouteTable');
      return this.idempotent('CreateRouteTable', input, () => {
        const t: FakeTable = { RouteTableId: this.id('rtb'), VpcId: input.VpcId, Tags: tagsOf(input.TagSpecifications), Routes: [{ DestinationCidrBlock: this.opts.vpcCidr ?? '10.0.0.0/16', GatewayId: 'local', State: 'active' }], Associations: [], listed: true };
        this.tables.push(t);
        return { RouteTable: strip(t), ClientToken: input.ClientToken };
      });
    });
    const table = (id: string | undefined) => {
      const t = this.tables.find((x) => x.RouteTableId === id);
      if (!t) throw awsError('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`);
      return t;
    };
    m.on(CreateRouteCommand).callsFake(async (input) => {
      await this.pass('CreateRoute');
      const t = table(input.RouteTableId);
      // AWS's message: "The route identified by 0.0.0.0/0 already exists." (aws ec2 create-route,
      // quoted in getmoto/moto#6305); code listed in errors-overview.html.
      if (t.Routes?.some((r) => r.DestinationCidrBlock === input.DestinationCidrBlock)) throw awsError('RouteAlreadyExists', `The route identified by ${input.DestinationCidrBlock} already exists.`);
      t.Routes!.push({ DestinationCidrBlock: input.DestinationCidrBlock, NatGatewayId: input.NatGatewayId, GatewayId: input.GatewayId, State: 'active', Origin: 'CreateRoute' });
      return { Return: true };
    });
    m.on(ReplaceRouteCommand).callsFake((input) => {
      const t = table(input.RouteTableId);
      const r = t.Routes?.find((x) => x.DestinationCidrBlock === input.DestinationCidrBlock);
      if (!r) throw awsError('InvalidParameterValue', `There is no route defined for '${input.DestinationCidrBlock}' in the route table.`);
      Object.assign(r, { NatGatewayId: input.NatGatewayId, GatewayId: input.GatewayId, State: 'active' });
      return {};
    });
    m.on(AssociateRouteTableCommand).callsFake(async (input) => {
      await this.pass('AssociateRouteTable');
      const t = table(input.RouteTableId);
      // AWS's message, as terraform-provider-aws#38960 quotes it: "the specified association for
      // route table rtb-... conflicts with an existing association".
      if (this.tables.some((x) => x.Associations?.some((a) => a.SubnetId === input.SubnetId))) {
        throw awsError('Resource.AlreadyAssociated', `the specified association for route table ${input.RouteTableId} conflicts with an existing association`);
      }
      const AssociationId = this.id('rtbassoc');
      t.Associations!.push({ RouteTableAssociationId: AssociationId, RouteTableId: t.RouteTableId, SubnetId: input.SubnetId, Main: false });
      return { AssociationId };
    });
    m.on(ReplaceRouteTableAssociationCommand).callsFake((input) => {
      const from = this.tables.find((x) => x.Associations?.some((a) => a.RouteTableAssociationId === input.AssociationId));
      const a = from?.Associations?.find((x) => x.RouteTableAssociationId === input.AssociationId);
      if (!from || !a) throw awsError('InvalidAssociationID.NotFound', `The association ID '${input.AssociationId}' does not exist`);
      from.Associations = from.Associations!.filter((x) => x !== a);
      const NewAssociationId = this.id('rtbassoc');
      table(input.RouteTableId).Associations!.push({ ...a, RouteTableAssociationId: NewAssociationId, RouteTableId: input.RouteTableId });
      return { NewAssociationId };
    });

    m.on(DescribeAddressesCommand).callsFake((input) => ({
      Addresses: this.eips
        .filter((e) => e.listed && matches({ 'allocation-id': [e.AllocationId] }, e.Tags, input.Filters))
        .map((e) => {
          // The association shows once the NAT gateway that holds it is listed.
          const holder = this.nats.find((n) => n.AllocationId === e.AllocationId && n.listed && n.State !== 'deleted');
          return { ...strip(e), ...(holder ? { AssociationId: `eipassoc-for-${holder.NatGatewayId}` } : {}) };
        }),
    }));
    m.on(AllocateAddressCommand).callsFake((input) => {
      const e: FakeEip = { AllocationId: this.id('eipalloc'), PublicIp: `203.0.113.${this.seq % 250}`, Domain: 'vpc', Tags: tagsOf(input.TagSpecifications), listed: true };
      this.eips.push(e);
      return { AllocationId: e.AllocationId, PublicIp: e.PublicIp };
    });
    m.on(ReleaseAddressCommand).callsFake((input) => {
      const i = this.eips.findIndex((e) => e.AllocationId === input.AllocationId);
      if (i < 0) throw awsError('InvalidAllocationID.NotFound', `The allocation ID '${input.AllocationId}' does not exist`);
      this.eips.splice(i, 1);
      return {};
    });

    m.on(DescribeNatGatewaysCommand).callsFake((input) => ({
      NatGateways: input.NatGatewayIds
        ? this.nats.filter((n) => input.NatGatewayIds!.includes(n.NatGatewayId!)).map(strip)
        : this.nats.filter((n) => n.listed && matches({ 'vpc-id': [n.VpcId], state: [n.State], 'subnet-id': [n.SubnetId] }, n.Tags, input.Filter)).map(strip),
    }));
    m.on(CreateNatGatewayCommand).callsFake(async (input) => {
      await this.pass('CreateNatGateway');
      return this.idempotent('CreateNatGateway', input, () => {
        const subnet = this.subnets.find((s) => s.SubnetId === input.SubnetId);
        const eip = this.eips.find((e) => e.AllocationId === input.AllocationId);
        const n: FakeNat = {
          NatGatewayId: this.id('nat'),
          VpcId: subnet?.VpcId ?? vpcId,
          SubnetId: input.SubnetId,
          State: 'pending',
          ConnectivityType: input.ConnectivityType ?? 'public',
          NatGatewayAddresses: [{ AllocationId: input.AllocationId, PublicIp: eip?.PublicIp }],
          Tags: tagsOf(input.TagSpecifications),
          AllocationId: input.AllocationId!,
          listed: true,
        };
        this.nats.push(n);
        return { NatGateway: strip(n), ClientToken: input.ClientToken };
      });
    });
  }
}
