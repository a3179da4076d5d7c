/**
 * A fault-injecting HTTP proxy for the local Kubernetes API stand-in (reliability tests and
 * `--chaos`-style experiments): forwards every request to the target unchanged, except a
 * seeded share of them, which it answers itself as an overloaded API server would: 429 with
 * `Retry-After` and a `Status` body, 500 with a `Status` body, or no answer at all (the socket is
 * held past the client's patience, then dropped). The stand-in itself stays untouched.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { freePort } from './free-port.ts';

export type KubeFault = '429' | '500' | 'timeout';

export interface FaultProxyOptions {
  /** The stand-in's URL (`http://127.0.0.1:<port>`). */
  target: string;
  /** Share of requests answered with a fault, 0-1. */
  rate: number;
  /** Seed of the fault sequence (the same seed, the same sequence for the same request order). */
  seed: number;
  /** Which faults, drawn evenly (default all three). */
  faults?: KubeFault[];
  /** How long a `timeout` fault holds the socket before dropping it (default 1500 ms). */
  holdMs?: number;
  /** `Retry-After` seconds of a 429 (default 1). */
  retryAfterSeconds?: number;
}

export interface FaultProxy {
  url: string;
  /** Every request seen and what was done with it. */
  stats: { requests: number; forwarded: number; faults: Record<KubeFault, number> };
  /** Changes the fault rate (0 turns faults off). */
  setRate(rate: number): void;
  stop(): Promise<void>;
}

/** mulberry32, as test/support/aws-faults.ts: small, seeded, good enough to spread faults. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function status(res: ServerResponse, code: number, reason: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const random = seeded(opts.seed);
  const faults = opts.faults ?? ['429', '500', 'timeout'];
  const target = new URL(opts.target);
  let rate = opts.rate;
  const stats: FaultProxy['stats'] = { requests: 0, forwarded: 0, faults: { '429': 0, '500': 0, timeout: 0 } };
  const held = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    stats.forwarded++;
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (e) => status(res, 502, 'BadGateway', `fault proxy: upstream failed: ${e.message}`));
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    stats.requests++;
    if (random() >= rate) return forward(req, res);
    const fault = faults[Math.floor(random() * faults.length)] ?? '500';
    stats.faults[fault]++;
    // Drain the request body either way, so the client is never blocked writing it.
    req.resume();
    if (fault === '429') return status(res, 429, 'TooManyRequests', 'the server has received too many requests and has asked us to try again later', { 'retry-after': String(opts.retryAfterSeconds ?? 1) });
    if (fault === '500') return status(res, 500, 'InternalError', 'an error on the server ("etcdserver: request timed out") has prevented the request from succeeding');
    // No answer: hold the socket, then drop it as a load balancer's idle timeout does.
    const timer = setTimeout(() => {
      held.delete(timer);
      req.socket.destroy();
    }, opts.holdMs ?? 1500);
    held.add(timer);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setRate: (r) => {
      rate = r;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const t of held) clearTimeout(t);
        held.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
