/**
 * The onboarding API as the CLI reaches it: the local sandbox's API (loopback, unsigned) or a
 * deployed one (SigV4-signed for `execute-api`). Every answer that is not a 2xx becomes a
 * `CliError` carrying its exit code and the fix; a request that gets no HTTP answer exits 3.
 */
import { defaultCredentials, isLoopback, regionOfEndpoint, signRequest, type CredentialProvider } from './sigv4.ts';

/** The exit codes, as the README documents them. */
export const EXIT = { ok: 0, workflowFailed: 1, invalidInput: 2, apiUnreachable: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI reports: what went wrong, how to fix it, the exit code, and (for --json) the API's body. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly fix?: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface ApiClientOptions {
  endpoint: string;
  region?: string;
  profile?: string;
  /** Replaces the default credential chain (tests). */
  credentials?: CredentialProvider;
  /** Sign requests even to a loopback endpoint (tests); by default only non-loopback endpoints are signed. */
  sign?: boolean;
  /** Per-request deadline (default 30 s: API Gateway itself gives up after 29 s). */
  timeoutMs?: number;
}

export class ApiClient {
  readonly base: URL;
  readonly signed: boolean;
  private readonly region: string | undefined;
  private credentials: CredentialProvider | undefined;

  constructor(private readonly opts: ApiClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.endpoint);
    } catch {
      throw new CliError(`--endpoint "${opts.endpoint}" is not a URL`, EXIT.invalidInput, 'pass the API URL, e.g. the ApiUrl output of the deployed stack (https://<id>.execute-api.<region>.amazonaws.com/prod/) or the sandbox\'s http://127.0.0.1:<port>');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new CliError(`--endpoint "${opts.endpoint}" is not an http(s) URL`, EXIT.invalidInput);
    this.base = base;
    this.signed = opts.sign ?? !isLoopback(base);
    this.region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? regionOfEndpoint(base);
    if (this.signed && !this.region) {
      throw new CliError(`no region to sign requests to ${base.origin} with`, EXIT.invalidInput, 'pass --region (or set AWS_REGION)');
    }
  }

  /** The URL of an API path (`/onboardings/...`) under the endpoint, which may carry a stage (`/prod/`). */
  url(path: string): URL {
    const prefix = this.base.pathname.replace(/\/+$/, '').replace(/\/onboardings$/, '');
    return new URL(`${this.base.origin}${prefix}${path}`);
  }

  async call(method: string, path: string, body?: string): Promise<ApiAnswer> {
    const url = this.url(path);
    let headers: Record<string, string> = { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    if (this.signed) {
      this.credentials ??= this.opts.credentials ?? defaultCredentials(this.opts.profile);
      try {
        headers = await signRequest({ method, url, headers, ...(body !== undefined ? { body } : {}), region: this.region!, credentials: await this.credentials() });
      } catch (e) {
        throw new CliError(
          `no AWS credentials to sign the request with${this.opts.profile ? ` (profile ${this.opts.profile})` : ''}: ${(e as Error).message}`,
          EXIT.apiUnreachable,
          'configure credentials for the default chain (aws configure, aws sso login --profile <p>, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and pass --profile when it is not the default',
        );
      }
      // fetch sets Host itself; sending it is refused.
      delete headers.host;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CliError(`the API at ${this.base.href} could not be reached (${why})`, EXIT.apiUnreachable, unreachableFix(this.signed));
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new CliError(`${method} ${url.pathname} answered ${res.status} with a body that is not JSON: is ${this.base.href} the onboarding API?`, EXIT.apiUnreachable, unreachableFix(this.signed));
    }
    const answer: ApiAnswer = { status: res.status, headers: res.headers, body: (parsed && typeof parsed === 'object' ? parsed : { value: parsed }) as Record<string, unknown> };
    if (res.status >= 200 && res.status < 300) return answer;
    throw this.refusal(method, url, answer);
  }

  private refusal(method: string, url: URL, a: ApiAnswer): CliError {
    const message = typeof a.body.message === 'string' ? a.body.message : typeof a.body.Message === 'string' ? a.body.Message : JSON.stringify(a.body);
    const what = `${method} ${url.pathname} answered ${a.status}`;
    if (a.status === 403 && /Missing Authentication Token/i.test(message)) {
      // API Gateway's answer to a path it has no route for, signed or not.
      return new CliError(`${what}: ${message}`, EXIT.apiUnreachable, `API Gateway has no such route: --endpoint must be the stack's ApiUrl output, stage included (https://<id>.execute-api.<region>.amazonaws.com/<stage>/)`, a.body);
    }
    if (a.status === 401 || a.status === 403) {
      return new CliError(
        `${what}: ${message}`,
        EXIT.apiUnreachable,
        this.signed
          ? `the caller${this.opts.profile ? ` (profile ${this.opts.profile})` : ''} must be allowed execute-api:Invoke on this API (docs/deploy.md, the IAM the caller needs), and --region must be the API's region (${this.region ?? 'unset'}); check who you are with aws sts get-caller-identity`
          : 'the local API needs no credentials: is --endpoint the sandbox\'s API?',
        a.body,
      );
    }
    if (a.status >= 500) {
      const retry = a.headers.get('retry-after');
      return new CliError(`${what}: ${message}`, EXIT.apiUnreachable, a.status === 503 ? `the API is busy or AWS had a passing fault: try again${retry ? ` in ${retry} s` : ''}` : 'the API failed; its logs (the API function\'s log group) hold the error', a.body);
    }
    if (a.status === 409) {
      const holder = typeof a.body.executionId === 'string' ? a.body.executionId : undefined;
      return new CliError(
        `${what}: ${message}`,
        EXIT.workflowFailed,
        a.body.error === 'WorkloadBusy' ? `wait for ${holder ? `execution ${holder} (mesh-onboard watch ${holder})` : 'the running execution'} to end, then run the command again` : 'onboard the workload first (mesh-onboard apply <request.json>), then verify it',
        a.body,
      );
    }
    const problems = Array.isArray(a.body.problems) ? (a.body.problems as { path?: string; message?: string }[]) : [];
    const detail = problems.map((p) => `\n  ${p.path ?? '$'}: ${p.message ?? ''}`).join('');
    const fix = a.status === 404 ? 'mesh-onboard list shows the onboarded workloads and their execution ids' : a.status === 413 ? 'shorten the request (the CA bundle is the usual culprit)' : problems.length > 0 ? 'correct each field named above (schema/onboarding-request.schema.json describes them; mesh-onboard example prints a valid request)' : undefined;
    return new CliError(`${what}: ${message}${detail}`, EXIT.invalidInput, fix, a.body);
  }
}

function unreachableFix(signed: boolean): string {
  return signed
    ? 'check --endpoint (the deployed stack\'s ApiUrl output) and your network'
    : 'start the local sandbox (mesh-onboard sandbox) or point --endpoint / MESH_ONBOARD_ENDPOINT at a running API';
}
