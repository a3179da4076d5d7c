import { describe, expect, it } from 'vitest';
import { EksTokenSource, makeEksToken } from '../../functions/lib/kube/eks-token.ts';
import { parseEksToken } from '../../local/kube-api-standin.ts';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function decode(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const b64 = token.slice('k8s-aws-v1.'.length);
  expect(b64).not.toMatch(/[=+/]/);
  return new URL(Buffer.from(b64, 'base64url').toString('utf8'));
}

describe('EKS token', () => {
  it('is a presigned STS GetCallerIdentity URL signing x-k8s-aws-id, valid 60 s to presign', async () => {
    const token = await makeEksToken({ clusterName: 'mesh-eks', region: 'eu-west-1', credentials, signingDate: new Date('2026-01-02T03:04:05Z') });
    const url = decode(token);
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const q = url.searchParams;
    expect(q.get('Action')).toBe('GetCallerIdentity');
    expect(q.get('Version')).toBe('2011-06-15');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20260102/eu-west-1/sts/aws4_request');
    expect(q.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-SignedHeaders')?.split(';')).toEqual(['host', 'x-k8s-aws-id']);
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('signs the cluster name: another cluster gives another signature', async () => {
    const signingDate = new Date('2026-01-02T03:04:05Z');
    const a = decode(await makeEksToken({ clusterName: 'a', region: 'us-east-1', credentials, signingDate }));
    const b = decode(await makeEksToken({ clusterName: 'b', region: 'us-east-1', credentials, signingDate }));
    expect(a.searchParams.get('X-Amz-Signature')).not.toBe(b.searchParams.get('X-Amz-Signature'));
  });

  it('carries the session token of temporary credentials', async () => {
    const url = decode(await makeEksToken({ clusterName: 'c', region: 'us-east-1', credentials: { ...credentials, sessionToken: 'SESSION' } }));
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('SESSION');
  });

  it('is accepted by the local stand-in check', async () => {
    const token = await makeEksToken({ clusterName: 'mesh-eks', region: 'us-east-1', credentials });
    expect(parseEksToken(`Bearer ${token}`)).toEqual({ accessKeyId: 'AKIDEXAMPLE', region: 'us-east-1' });
    expect(parseEksToken(`Bearer ${token}`, new Date(Date.now() + 16 * 60_000))).toBe('token expired');
  });

  it('is cached per cluster and replaced after 14 minutes, before the 15-minute expiry', async () => {
    let now = new Date('2026-01-02T03:00:00Z');
    const source = new EksTokenSource({ region: 'us-east-1', credentials, now: () => now });
    const first = await source.token('mesh-eks');
    const other = await source.token('other');
    expect(other).not.toBe(first);

    now = new Date('2026-01-02T03:13:59Z');
    expect(await source.token('mesh-eks')).toBe(first);

    now = new Date('2026-01-02T03:14:00Z');
    const refreshed = await source.token('mesh-eks');
    expect(refreshed).not.toBe(first);
    expect(decode(refreshed).searchParams.get('X-Amz-Date')).toBe('20260102T031400Z');
    expect(await source.token('mesh-eks')).toBe(refreshed);
  });
});
