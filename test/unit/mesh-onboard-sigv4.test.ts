/**
 * The CLI's SigV4 signer against known signatures: AWS's published get-vanilla vector, and a
 * signed POST to execute-api pinned from an independent node:crypto implementation of SigV4.
 */
import { describe, expect, it } from 'vitest';
import { isLoopback, regionOfEndpoint, signRequest } from '../../cli/sigv4.ts';

// The credentials of AWS's SigV4 test suite (docs: "Signature Version 4 test suite", get-vanilla).
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

describe('SigV4 signer', () => {
  it("signs AWS's get-vanilla request to its documented Authorization header", async () => {
    const headers = await signRequest({ method: 'GET', url: new URL('https://example.amazonaws.com/'), headers: {}, region: 'us-east-1', service: 'service', credentials, date: new Date('2015-08-30T12:36:00Z') });

    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
  });

  it('signs a POST to an execute-api stage with a session token as an independent implementation does', async () => {
    const headers = await signRequest({
      method: 'POST',
      url: new URL('https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod/onboardings?limit=2'),
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
      region: 'eu-west-1',
      credentials: async () => ({ ...credentials, sessionToken: 'TOKEN' }),
      date: new Date('2026-11-29T06:00:00Z'),
    });

    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/eu-west-1/execute-api/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=a3086d7f27e3bc17e6b49b340df7f74b0d403df23cec8511d459a18abdbde897',
    );
    expect(headers['x-amz-security-token']).toBe('TOKEN');
  });

  it('signs only what leaves the machine, and reads the region of an ApiUrl', () => {
    expect(['http://127.0.0.1:4010', 'http://localhost:1', 'http://[::1]:2'].map((u) => isLoopback(new URL(u)))).toEqual([true, true, true]);
    expect(isLoopback(new URL('https://abc.execute-api.us-east-1.amazonaws.com/prod/'))).toBe(false);
    expect(regionOfEndpoint(new URL('https://abc.execute-api.ap-southeast-2.amazonaws.com/prod/'))).toBe('ap-southeast-2');
    expect(regionOfEndpoint(new URL('https://api.example.com/'))).toBeUndefined();
  });
});
