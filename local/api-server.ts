/**
 * The local HTTP API on the sandbox: the same contract as the deployed API
 * (functions/lib/onboarding-api.ts), served by node:http on 127.0.0.1.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { handleApiRequest, type ExecutionBackend } from '../functions/lib/onboarding-api.ts';

const MAX_BODY = 256 * 1024;

export interface ApiServer {
  url: string;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startApiServer(backend: ExecutionBackend, port = 0): Promise<ApiServer> {
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    void (async () => {
      try {
        let body: string | undefined;
        try {
          body = await readBody(req);
        } catch {
          return send(413, { message: `the body is larger than ${MAX_BODY} bytes` });
        }
        const url = new URL(req.url ?? '/', 'http://localhost');
        const r = await handleApiRequest({ method: req.method ?? 'GET', path: url.pathname, body }, backend);
        send(r.status, r.body, r.headers);
      } catch (e) {
        // The server keeps serving; the caller gets the error's name and message, never a stack.
        send(500, { message: `internal error: ${(e as Error).name}: ${(e as Error).message}` });
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
