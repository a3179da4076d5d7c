/**
 * AWS fixtures for the emulator tests and the local sandbox: the network an EKS-hosted
 * mesh lives in (VPC, internet gateway, two public subnets, a cluster security group)
 * and an EKS cluster that points at it. Everything goes to `AWS_ENDPOINT_URL`
 * (moto_server) unless an endpoint is given; credentials are dummies.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  EC2Client,
  ModifyVpcAttributeCommand,
  type ResourceType,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

const DUMMY_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export interface FixtureOptions {
  /** Emulator URL; defaults to `process.env.AWS_ENDPOINT_URL`. */
  endpoint?: string;
  /** Defaults to `AWS_REGION`, then us-east-1. */
  region?: string;
}

function target(o: FixtureOptions): { endpoint: string; region: string } {
  const endpoint = o.endpoint ?? process.env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new Error('aws-fixtures: no endpoint (set AWS_ENDPOINT_URL to the moto_server URL or pass endpoint)');
  return { endpoint, region: o.region ?? process.env.AWS_REGION ?? 'us-east-1' };
}

function ec2Client(o: FixtureOptions): EC2Client {
  const { endpoint, region } = target(o);
  return new EC2Client({ endpoint, region, credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
}

/** The n-th /24 of an IPv4 CIDR whose prefix is at most /24 (e.g. n=1 of 10.0.0.0/16 is 10.0.1.0/24). */
function nthSlash24(cidr: string, n: number): string {
  const [ip] = cidr.split('/');
  const base = ip!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + n * 256;
  return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/24`;
}

export interface MeshVpcOptions extends FixtureOptions {
  /** VPC CIDR; the two public subnets are its first two /24 blocks. Default 10.0.0.0/16. */
  cidr?: string;
  /** Name tag prefix of every resource. */
  name: string;
  /** Attach an internet gateway and route the public subnets through it. Default true. */
  internetGateway?: boolean;
}

export interface MeshVpc {
  vpcId: string;
  cidr: string;
  /** Absent when made with `internetGateway: false`. */
  internetGatewayId?: string;
  /** Two subnets in different AZs (the first two /24 blocks of the VPC CIDR). */
  publicSubnetIds: [string, string];
  publicSubnetCidrs: [string, string];
  publicRouteTableId: string;
  /** Stands in for the EKS cluster security group (what `clusterSecurityGroupId` points at). */
  clusterSecurityGroupId: string;
}

/**
 * Makes the VPC an EKS cluster would live in: DNS support and hostnames on (moto's ECS
 * RunTask fails without hostnames), an internet gateway, two public subnets in two AZs
 * with a route table whose 0.0.0.0/0 goes to the gateway, and one cluster-style security group.
 */
export async function createMeshVpc(opts: MeshVpcOptions): Promise<MeshVpc> {
  const ec2 = ec2Client(opts);
  const { region } = target(opts);
  const cidr = opts.cidr ?? '10.0.0.0/16';
  const tagged = (type: ResourceType, suffix: string): TagSpecification[] => [{ ResourceType: type, Tags: [{ Key: 'Name', Value: `${opts.name}-${suffix}` }] }];
  try {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: cidr, TagSpecifications: tagged('vpc', 'vpc') }));
    const vpcId = vpc.Vpc!.VpcId!;
    // ModifyVpcAttribute takes one attribute per call.
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsSupport: { Value: true } }));
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));

    let internetGatewayId: string | undefined;
    if (opts.internetGateway !== false) {
      const igw = await ec2.send(new CreateInternetGatewayCommand({ TagSpecifications: tagged('internet-gateway', 'igw') }));
      internetGatewayId = igw.InternetGateway!.InternetGatewayId!;
      await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId }));
    }

    const publicSubnetCidrs: [string, string] = [nthSlash24(cidr, 0), nthSlash24(cidr, 1)];
    const publicSubnet = async (block: string, zone: 'a' | 'b') =>
      (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: block, AvailabilityZone: `${region}${zone}`, TagSpecifications: tagged('subnet', `public-${zone}`) })))
        .Subnet!.SubnetId!;
    const publicSubnetIds: [string, string] = [await publicSubnet(publicSubnetCidrs[0], 'a'), await publicSubnet(publicSubnetCidrs[1], 'b')];

    const rt = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId, TagSpecifications: tagged('route-table', 'public-rt') }));
    const publicRouteTableId = rt.RouteTable!.RouteTableId!;
    if (internetGatewayId) {
      await ec2.send(new CreateRouteCommand({ RouteTableId: publicRouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: internetGatewayId }));
    }
    for (const subnetId of publicSubnetIds) await ec2.send(new AssociateRouteTableCommand({ RouteTableId: publicRouteTableId, SubnetId: subnetId }));

    const sg = await ec2.send(
      new CreateSecurityGroupCommand({
        VpcId: vpcId,
        GroupName: `eks-cluster-sg-${opts.name}`,
        Description: `EKS cluster security group of ${opts.name} (fixture)`,
        TagSpecifications: tagged('security-group', 'eks-cluster-sg'),
      }),
    );
    return { vpcId, cidr, internetGatewayId, publicSubnetIds, publicSubnetCidrs, publicRouteTableId, clusterSecurityGroupId: sg.GroupId! };
  } finally {
    ec2.destroy();
  }
}

export interface EksClusterOptions extends FixtureOptions {
  name: string;
  vpcId: string;
  subnetIds: string[];
  securityGroupIds?: string[];
  clusterSecurityGroupId?: string;
  /** Defaults to a dummy role ARN in moto's account. */
  roleArn?: string;
}

export interface EksCluster {
  name: string;
  arn: string;
  vpcId: string;
  /** What DescribeCluster returns (moto keeps what the create request carried). */
  clusterSecurityGroupId?: string;
}

/**
 * Creates an EKS cluster whose DescribeCluster reports `resourcesVpcConfig.vpcId` and
 * `clusterSecurityGroupId`. moto 5.2.1 keeps only the fields the create request carried
 * (it keeps both of these as sent), and the SDK will not send these output-only fields,
 * so this signs (SigV4, dummy credentials) and POSTs the request itself. Fails on a
 * cluster name already in use (moto: ResourceInUseException) and when DescribeCluster
 * does not report the VPC.
 */
export async function createEksCluster(opts: EksClusterOptions): Promise<EksCluster> {
  const { endpoint, region } = target(opts);
  const url = new URL('/clusters', endpoint);
  const body = JSON.stringify({
    name: opts.name,
    roleArn: opts.roleArn ?? 'arn:aws:iam::123456789012:role/eks-cluster-role',
    resourcesVpcConfig: {
      vpcId: opts.vpcId,
      subnetIds: opts.subnetIds,
      securityGroupIds: opts.securityGroupIds ?? [],
      ...(opts.clusterSecurityGroupId ? { clusterSecurityGroupId: opts.clusterSecurityGroupId } : {}),
      endpointPublicAccess: true,
      endpointPrivateAccess: false,
    },
  });
  const signer = new SignatureV4({ service: 'eks', region, credentials: DUMMY_CREDENTIALS, sha256: Sha256 });
  const signed = await signer.sign(
    new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      method: 'POST',
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    }),
  );
  const res = await fetch(url, { method: 'POST', headers: signed.headers, body });
  if (!res.ok) throw new Error(`EKS CreateCluster ${opts.name} answered ${res.status}: ${await res.text()}`);

  if (opts.clusterSecurityGroupId) {
    // The tags EKS puts on the cluster security group it creates (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html):
    // the orchestrator's IAM policy names the group by them.
    const ec2 = ec2Client(opts);
    try {
      await ec2.send(
        new CreateTagsCommand({
          Resources: [opts.clusterSecurityGroupId],
          Tags: [
            { Key: 'aws:eks:cluster-name', Value: opts.name },
            { Key: `kubernetes.io/cluster/${opts.name}`, Value: 'owned' },
          ],
        }),
      );
    } finally {
      ec2.destroy();
    }
  }

  const eks = new EKSClient({ endpoint, region, credentials: DUMMY_CREDENTIALS, maxAttempts: 1 });
  try {
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: opts.name }));
    const vpc = cluster?.resourcesVpcConfig;
    if (vpc?.vpcId !== opts.vpcId) throw new Error(`EKS cluster ${opts.name}: DescribeCluster reports vpcId ${vpc?.vpcId}, expected ${opts.vpcId}`);
    return { name: opts.name, arn: cluster!.arn!, vpcId: vpc.vpcId, clusterSecurityGroupId: vpc.clusterSecurityGroupId };
  } finally {
    eks.destroy();
  }
}
