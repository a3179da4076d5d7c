/**
 * The bad-request corpus (test/fixtures/bad-requests/*.json, described in its README.md) and a
 * raw HTTP POST that sends exactly the body and content-type a fixture asks for (fetch would
 * add a content-type of its own).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { bookinfoInput } from './requests.ts';

export interface BadRequestFixture {
  file: string;
  description: string;
  patch?: Record<string, unknown>;
  request?: unknown;
  body?: string;
  paddingBytes?: number;
  /** Absent: application/json; null: no header. */
  contentType?: string | null;
  expect: { status: 400 | 413 | 415; path?: string; message?: string };
  pendingFeature?: string;
}

const DIR = new URL('../fixtures/bad-requests/', import.meta.url);

export function loadBadRequests(): BadRequestFixture[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, ...(JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Omit<BadRequestFixture, 'file'>) }));
}

/** RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The body text a fixture sends. */
export function bodyOf(f: BadRequestFixture): string {
  if (f.body !== undefined) return f.body;
  const req = f.request ?? mergePatch(bookinfoInput(), f.patch ?? {});
  return JSON.stringify(f.paddingBytes ? { ...(req as object), padding: 'x'.repeat(f.paddingBytes) } : req);
}

/** POSTs `body` with exactly the given content-type (none for null); resolves with the status and the parsed JSON answer. */
export function rawPost(url: string, body: string, contentType: string | null): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body) };
    if (contentType !== null) headers['content-type'] = contentType;
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // reported by the caller's status/message checks
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
