/**
 * The local HTTP API on the sandbox: the same contract as the deployed API
 * (functions/lib/onboarding-api.ts), served by node:http on 127.0.0.1.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { errorResponse, handleApiRequest, tooLarge, type ApiDeps, type ApiRequest, type ApiResponse, type ExecutionBackend } from '../functions/lib/onboarding-api.ts';
import { MAX_EXECUTION_INPUT_BYTES } from '../functions/lib/request.ts';

/** Bodies over the limit are read to the end (so the client gets the 413, not a reset) but not kept; past this much the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

export interface ApiServer {
  url: string;
  stop(): Promise<void>;
}

/** A sandbox-only route served before the contract's (e.g. local/drift.ts `driftRoute`): undefined for a path that is not its. */
export type LocalRoute = (req: ApiRequest) => Promise<ApiResponse | undefined>;

export interface ApiServerOptions {
  /** Replaces the registry or CA store the API uses (tests); by default the same AWS calls as the deployed API, against the emulator. */
  deps?: Partial<ApiDeps>;
  /** Routes the deployed API does not have, tried first. */
  routes?: LocalRoute[];
}

/** The body, or its size alone when it is over the API's limit (then nothing of it is kept). */
function readBody(req: IncomingMessage): Promise<{ body: string } | { tooLargeBytes: number }> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_DRAIN_BYTES) {
        req.destroy();
        reject(new Error(`the body is larger than ${MAX_DRAIN_BYTES} bytes`));
        return;
      }
      if (size <= MAX_EXECUTION_INPUT_BYTES) parts.push(c);
    });
    req.on('end', () => resolve(size > MAX_EXECUTION_INPUT_BYTES ? { tooLargeBytes: size } : { body: Buffer.concat(parts).toString('utf8') }));
    req.on('error', reject);
  });
}

/** node:http's headers (lower-case names) as the contract's one value per name. */
function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
}

export async function startApiServer(backend: ExecutionBackend, port = 0, opts: ApiServerOptions = {}): Promise<ApiServer> {
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    void (async () => {
      try {
        const read = await readBody(req);
        if ('tooLargeBytes' in read) {
          const r = tooLarge('the body', read.tooLargeBytes);
          return send(r.status, r.body, r.headers);
        }
        const url = new URL(req.url ?? '/', 'http://localhost');
        const request: ApiRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams.entries()), body: read.body, headers: headersOf(req) };
        for (const route of opts.routes ?? []) {
          const own = await route(request);
          if (own) return send(own.status, own.body, own.headers);
        }
        const r = await handleApiRequest(request, backend, opts.deps);
        send(r.status, r.body, r.headers);
      } catch (e) {
        // The server keeps serving; the caller gets the error's name and message, never a stack.
        const r = errorResponse(e);
        send(r.status, r.body, r.headers);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`;
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
