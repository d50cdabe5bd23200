/**
 * HTTP to the manager: undici's fetch with TLS options, connect and read timeouts, and retries
 * with exponential backoff and full jitter on 429, 502, 503, 504 and broken connections,
 * honouring Retry-After. Requests that are not idempotent (a connector create) are retried only
 * when the manager cannot have acted on them (429, or a connection that never opened).
 */
import { Agent, fetch } from "undici";
import { bodyMessage, excerpt, ManagerError, NOT_SENT_CODES, networkCode, networkError, RETRYABLE_NETWORK_CODES } from "./errors";
import { API_VERSION } from "./types";

export type AuthScheme = "api-secret-key" | "apikey";

export interface RetryPolicy {
  /** Attempts in all, the first included. Default: 5. */
  readonly maxAttempts?: number;
  /** The first backoff's upper bound, doubled each attempt. Default: 250 ms. */
  readonly baseDelayMs?: number;
  /** The most one backoff waits. Default: 10 s. */
  readonly maxDelayMs?: number;
  /** The most a Retry-After is honoured for; longer ones are cut to this. Default: 60 s. */
  readonly maxRetryAfterMs?: number;
}

export interface TransportOptions {
  /** The base URL, ending in `/api`. */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly auth: AuthScheme;
  /** PEM text of extra CA certificates to trust. */
  readonly caBundle?: string;
  /** Skip TLS verification. */
  readonly insecure?: boolean;
  /** Default: 10 s. */
  readonly connectTimeoutMs?: number;
  /** How long to wait for the response headers, and between body chunks. Default: 30 s. */
  readonly readTimeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** Receives one event per attempt and per retry, for `--verbose`. Never sees the key. */
  readonly log?: (event: TransportEvent) => void;
  /** The largest response body read. Default: 32 MiB. */
  readonly maxBodyBytes?: number;
}

export type TransportEvent =
  | {
      readonly type: "response";
      readonly method: string;
      readonly path: string;
      readonly attempt: number;
      readonly status: number;
      readonly ms: number;
    }
  | {
      readonly type: "network-error";
      readonly method: string;
      readonly path: string;
      readonly attempt: number;
      readonly code: string;
      readonly ms: number;
    }
  | {
      readonly type: "retry";
      readonly method: string;
      readonly path: string;
      readonly attempt: number;
      readonly maxAttempts: number;
      readonly delayMs: number;
      readonly reason: string;
    };

export interface RequestOptions {
  readonly body?: unknown;
  readonly query?: Record<string, string | boolean | number | undefined>;
  /** Safe to repeat: reads, modifies, deletes. Default: true. A create sets false. */
  readonly idempotent?: boolean;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  /** The raw body text (may be empty). */
  readonly text: string;
  readonly attempts: number;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export class ManagerTransport {
  readonly baseUrl: URL;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly retry: Required<RetryPolicy>;
  private readonly readTimeoutMs: number;
  private readonly maxBodyBytes: number;
  /** Requests made, and attempts made for them (including retries). */
  readonly stats = { requests: 0, attempts: 0 };
  /** After a 429 with Retry-After, every request of this client waits until then, not just the one refused. */
  private pausedUntil = 0;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = new URL(options.baseUrl.replace(/\/+$/, ""));
    this.readTimeoutMs = options.readTimeoutMs ?? 30_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 32 * 1024 * 1024;
    this.agent = new Agent({
      connect: {
        timeout: options.connectTimeoutMs ?? 10_000,
        ...(options.caBundle ? { ca: options.caBundle } : {}),
        rejectUnauthorized: !options.insecure,
      },
      headersTimeout: this.readTimeoutMs,
      bodyTimeout: this.readTimeoutMs,
    });
    this.headers = {
      "api-version": API_VERSION,
      accept: "application/json",
      ...(options.auth === "apikey" ? { authorization: `ApiKey ${options.apiKey}` } : { "api-secret-key": options.apiKey }),
    };
    this.retry = {
      maxAttempts: options.retry?.maxAttempts ?? 5,
      baseDelayMs: options.retry?.baseDelayMs ?? 250,
      maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
      maxRetryAfterMs: options.retry?.maxRetryAfterMs ?? 60_000,
    };
  }

  /** `/awsconnectors` → the full URL under the base URL. */
  url(path: string, query?: RequestOptions["query"]): URL {
    const url = new URL(`${this.baseUrl.pathname.replace(/\/$/, "")}${path}`, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Sends a request, retrying as the policy allows. Returns any status; throws on network failure. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<HttpResult> {
    const url = this.url(path, options.query);
    const idempotent = options.idempotent ?? true;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = body === undefined ? this.headers : { ...this.headers, "content-type": "application/json" };
    const apiPath = url.pathname + url.search;
    this.stats.requests++;
    for (let attempt = 1; ; attempt++) {
      const paused = this.pausedUntil - Date.now();
      if (paused > 0) await new Promise((resolve) => setTimeout(resolve, paused));
      this.stats.attempts++;
      const started = performance.now();
      let reason: string;
      let retryAfterMs: number | undefined;
      let retryable: boolean;
      try {
        const res = await fetch(url, { method, headers, body, dispatcher: this.agent, redirect: "manual" });
        const text = await this.readBody(res, method, apiPath);
        const ms = performance.now() - started;
        this.options.log?.({ type: "response", method, path: apiPath, attempt, status: res.status, ms });
        if (!RETRYABLE_STATUS.has(res.status)) return { status: res.status, headers: res.headers, text, attempts: attempt };
        // A 429 was not acted on; a 5xx on a create might have been.
        retryable = idempotent || res.status === 429;
        reason = `HTTP ${res.status}`;
        retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
        if (res.status === 429 && retryAfterMs)
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + Math.min(retryAfterMs, this.retry.maxRetryAfterMs));
        if (!retryable || attempt >= this.retry.maxAttempts) return { status: res.status, headers: res.headers, text, attempts: attempt };
      } catch (error) {
        if (error instanceof ManagerError) throw error;
        const code = networkCode(error) ?? "unknown";
        this.options.log?.({ type: "network-error", method, path: apiPath, attempt, code, ms: performance.now() - started });
        retryable = RETRYABLE_NETWORK_CODES.has(code) && (idempotent || NOT_SENT_CODES.has(code));
        if (!retryable || attempt >= this.retry.maxAttempts) {
          throw networkError(error, { url, method, path: apiPath, timeoutMs: this.readTimeoutMs });
        }
        reason = code;
      }
      const delayMs = this.backoff(attempt, retryAfterMs);
      this.options.log?.({ type: "retry", method, path: apiPath, attempt, maxAttempts: this.retry.maxAttempts, delayMs, reason });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /**
   * Sends a request and returns the parsed JSON of a 2xx answer. Any other status becomes a
   * ManagerError; `describe` words it for the operation at hand.
   */
  async json(
    method: string,
    path: string,
    options: RequestOptions & { describe: StatusDescriber },
  ): Promise<{ body: unknown; result: HttpResult }> {
    const result = await this.send(method, path, options);
    if (result.status < 200 || result.status >= 300) throw options.describe(result, this.context(method, result));
    if (result.text.trim() === "") return { body: undefined, result };
    try {
      return { body: JSON.parse(result.text), result };
    } catch {
      throw new ManagerError(
        "bad-response",
        `The manager answered ${method} ${this.url(path).pathname} with HTTP ${result.status} but the body is not JSON: "${excerpt(result.text)}". Check that --manager-url points at the manager's API (ending in /api).`,
        { status: result.status, method, path },
      );
    }
  }

  /** Facts about a failed answer, for the error message. */
  context(method: string, result: HttpResult): ResponseContext {
    return { method, status: result.status, message: bodyMessage(result.text), excerpt: excerpt(result.text), baseUrl: this.baseUrl };
  }

  async close(): Promise<void> {
    // Nothing is in flight when a command closes its client: do not wait for idle sockets.
    await this.agent.destroy();
  }

  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.random() * ceiling;
    if (retryAfterMs === undefined) return Math.round(jittered);
    // Honour the server's wait, plus a little jitter so that many clients do not return together.
    return Math.round(Math.min(retryAfterMs, this.retry.maxRetryAfterMs) + jittered * 0.1);
  }

  private async readBody(res: Awaited<ReturnType<typeof fetch>>, method: string, path: string): Promise<string> {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > this.maxBodyBytes) {
      await res.body?.cancel();
      throw new ManagerError(
        "bad-response",
        `The manager's answer to ${method} ${path} is ${declared} bytes, more than the ${this.maxBodyBytes} read at most. Check that --manager-url points at the manager's API.`,
        { status: res.status, method, path },
      );
    }
    if (!res.body) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > this.maxBodyBytes) {
        await res.body.cancel().catch(() => undefined);
        throw new ManagerError(
          "bad-response",
          `The manager's answer to ${method} ${path} is larger than the ${this.maxBodyBytes} bytes read at most. Check that --manager-url points at the manager's API.`,
          { status: res.status, method, path },
        );
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

export interface ResponseContext {
  readonly method: string;
  readonly status: number;
  /** The `message` of a JSON error body. */
  readonly message?: string;
  readonly excerpt: string;
  readonly baseUrl: URL;
}

export type StatusDescriber = (result: HttpResult, context: ResponseContext) => ManagerError;

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
