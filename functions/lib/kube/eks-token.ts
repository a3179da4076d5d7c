/**
 * EKS bearer tokens made the way aws-iam-authenticator makes them (pkg/token/token.go):
 * a presigned STS GetCallerIdentity URL that carries the cluster name in the signed
 * header `x-k8s-aws-id`. EKS forwards the URL to STS to learn who is calling, so no
 * kubeconfig file or external binary is needed.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { sts } from '../clients.ts';

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** EKS accepts a token for 15 minutes from its X-Amz-Date. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
/** We use a token for at most 14 minutes, so a request never leaves with one about to lapse. */
export const TOKEN_REFRESH_AFTER_MS = 14 * 60_000;
const PRESIGN_EXPIRES_SECONDS = 60;

/** Static credentials or a provider, as SignatureV4 takes them. */
export type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** The STS host of a region (China regions live under amazonaws.com.cn). */
export function stsHost(region: string): string {
  return `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

function queryString(query: Record<string, string | string[] | null>): string {
  return Object.entries(query)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x ?? '')}`))
    .join('&');
}

/** One token for `clusterName`, signed with `credentials` at `signingDate`. */
export async function makeEksToken(p: { clusterName: string; region: string; credentials: Credentials; signingDate?: Date }): Promise<string> {
  const host = stsHost(p.region);
  const signer = new SignatureV4({ credentials: p.credentials, region: p.region, service: 'sts', sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host, [CLUSTER_ID_HEADER]: p.clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: PRESIGN_EXPIRES_SECONDS, signingDate: p.signingDate });
  const url = `https://${host}/?${queryString(signed.query ?? {})}`;
  return EKS_TOKEN_PREFIX + Buffer.from(url).toString('base64url');
}

export interface EksTokenSourceOptions {
  region: string;
  /** Defaults to the SDK's default provider chain, as configured on the STS client. */
  credentials?: Credentials;
  /** Injectable clock for tests. */
  now?: () => Date;
}

/** Hands out a cached token per cluster and makes a new one once the cached one is 14 minutes old. */
export class EksTokenSource {
  private readonly cache = new Map<string, { token: string; madeAt: number }>();
  constructor(private readonly opts: EksTokenSourceOptions) {}

  async token(clusterName: string): Promise<string> {
    const now = (this.opts.now ?? (() => new Date()))();
    const hit = this.cache.get(clusterName);
    if (hit && now.getTime() - hit.madeAt < TOKEN_REFRESH_AFTER_MS) return hit.token;
    const credentials = this.opts.credentials ?? (() => sts().config.credentials());
    const token = await makeEksToken({ clusterName, region: this.opts.region, credentials, signingDate: now });
    this.cache.set(clusterName, { token, madeAt: now.getTime() });
    return token;
  }
}

const sources = new Map<string, EksTokenSource>();
/** The process-wide token source of a region (tokens are reused across warm Lambda invocations). */
export function eksTokenSource(region: string): EksTokenSource {
  let s = sources.get(region);
  if (!s) {
    s = new EksTokenSource({ region });
    sources.set(region, s);
  }
  return s;
}
