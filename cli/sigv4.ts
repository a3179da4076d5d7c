/**
 * SigV4 for requests to the deployed API (API Gateway with `AWS_IAM` on every method): the
 * SDK's own signer (`@smithy/signature-v4`), service `execute-api`, credentials from the
 * default chain (`--profile` picks a profile). The local API needs no signature.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
export type CredentialProvider = () => Promise<Credentials>;

export interface SignInput {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  region: string;
  credentials: Credentials | CredentialProvider;
  /** `execute-api` unless told (the signer test uses AWS's published vectors, signed for `service`). */
  service?: string;
  /** The signing time (tests pin it); now by default. */
  date?: Date;
}

/** The headers to send: `headers` plus `host`, `x-amz-date`, `authorization` (and `x-amz-security-token` for temporary credentials). */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: input.service ?? 'execute-api',
    region: input.region,
    credentials: input.credentials,
    sha256: Sha256,
    // API Gateway does not need x-amz-content-sha256; leaving it out keeps the canonical request AWS's documented one.
    applyChecksum: false,
  });
  const { url } = input;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  const request = new HttpRequest({
    method: input.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host, ...input.headers },
    ...(input.body !== undefined ? { body: input.body } : {}),
  });
  const signed = await signer.sign(request, input.date ? { signingDate: input.date } : {});
  return signed.headers as Record<string, string>;
}

/** The default credential chain (environment, SSO, shared config and credentials files, container and instance roles), `profile` first when given. */
export function defaultCredentials(profile?: string): CredentialProvider {
  return defaultProvider(profile ? { profile } : {}) as CredentialProvider;
}

/** True for an endpoint on this machine (the local sandbox's API): such requests go unsigned. */
export function isLoopback(url: URL): boolean {
  const h = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/** The region of an `https://<id>.execute-api.<region>.amazonaws.com/...` URL, if it is one. */
export function regionOfEndpoint(url: URL): string | undefined {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(url.hostname)?.[1];
}
