/**
 * HTTP to the manager: undici's fetch with TLS options, a deadline per attempt, and retries
 * with exponential backoff and full jitter on 429, 502, 503, 504 and broken connections,
 * honouring Retry-After. Requests that are not idempotent (a connector create) are retried only
 * when the manager cannot have acted on them (429, or a connection that never opened).
 *
 * Deadline: each attempt, from connecting to the last byte of the body, must finish within
 * `timeoutMs` (an AbortSignal per attempt), so that a server that sends its headers and then
 * trickles the body one byte at a time is given up on. The worst-case time of one call is
 * `worstCaseMs()` (see `worstCaseMs` below for the formula).
 *
 * Secrets: the transport knows the API key, and callers add the external ID once known
 * (`addSecret`). Every error it raises is redacted, and every piece of server-supplied text
 * quoted in one (the `message` of a JSON error, a body excerpt, a Location header) is first
 * stripped of control characters and escape sequences. Redirects are never followed: the
 * key would go with them.
 */
import { Agent, fetch } from "undici";
import { maskIdLike, Redactor, stripControl } from "../redact";
import {
  ATTEMPT_DEADLINE,
  bodyMessage,
  excerpt,
  ManagerError,
  ManagerOptionError,
  NOT_SENT_CODES,
  networkCode,
  networkError,
  RETRYABLE_NETWORK_CODES,
} from "./errors";
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
  /** The most connecting may take (within the attempt's deadline). Default: 10 s. */
  readonly connectTimeoutMs?: number;
  /**
   * The deadline of one attempt: connecting, sending, the headers and the whole body.
   * Default: `readTimeoutMs`, else 30 s.
   */
  readonly timeoutMs?: number;
  /** The former name of `timeoutMs` (it now bounds the whole attempt too). */
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
  /**
   * The answer may hold a secret not known yet (the external ID): when a failed or malformed
   * answer is quoted, every token that could be an external ID is masked (see `maskIdLike`).
   */
  readonly sensitive?: boolean;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  /** The raw body text (may be empty). */
  readonly text: string;
  readonly attempts: number;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/** The longest a Node.js timer waits; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The transport's settings after defaults and checks. */
export interface TransportLimits {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly retry: Required<RetryPolicy>;
}

/** Applies the defaults and checks every number; throws ManagerOptionError for one out of range. */
export function transportLimits(options: Omit<TransportOptions, "baseUrl" | "apiKey" | "auth">): TransportLimits {
  const timeoutMs = checkNumber("timeoutMs", options.timeoutMs ?? options.readTimeoutMs ?? 30_000, { min: 1, max: MAX_TIMER_MS });
  if (options.timeoutMs === undefined && options.readTimeoutMs !== undefined)
    checkNumber("readTimeoutMs", options.readTimeoutMs, { min: 1 });
  const connectTimeoutMs = checkNumber("connectTimeoutMs", options.connectTimeoutMs ?? 10_000, { min: 1, max: MAX_TIMER_MS });
  const maxBodyBytes = checkNumber("maxBodyBytes", options.maxBodyBytes ?? 32 * 1024 * 1024, { min: 1, integer: true });
  const r = options.retry ?? {};
  const retry = {
    maxAttempts: checkNumber("retry.maxAttempts", r.maxAttempts ?? 5, { min: 1, max: 100, integer: true }),
    baseDelayMs: checkNumber("retry.baseDelayMs", r.baseDelayMs ?? 250, { min: 0, max: MAX_TIMER_MS }),
    maxDelayMs: checkNumber("retry.maxDelayMs", r.maxDelayMs ?? 10_000, { min: 0, max: MAX_TIMER_MS }),
    maxRetryAfterMs: checkNumber("retry.maxRetryAfterMs", r.maxRetryAfterMs ?? 60_000, { min: 0, max: MAX_TIMER_MS }),
  };
  return { timeoutMs, connectTimeoutMs: Math.min(connectTimeoutMs, timeoutMs), maxBodyBytes, retry };
}

function checkNumber(name: string, value: unknown, rule: { min: number; max?: number; integer?: boolean }): number {
  const max = rule.max ?? Number.MAX_SAFE_INTEGER;
  const ok =
    typeof value === "number" && Number.isFinite(value) && value >= rule.min && value <= max && (!rule.integer || Number.isInteger(value));
  if (!ok) {
    const what = rule.integer ? "a whole number" : "a finite number";
    const range = rule.min === 0 ? `of 0 or more` : `of ${rule.min} or more`;
    throw new ManagerOptionError(
      name,
      typeof value === "string" ? JSON.stringify(value) : value,
      `${what} ${range}${rule.max ? ` and at most ${rule.max}` : ""}`,
    );
  }
  return value as number;
}

/**
 * The most one call can take, in milliseconds (plus a few milliseconds of scheduling):
 *
 *     maxRetryAfterMs                                  (a pause set by another request's 429)
 *   + maxAttempts × timeoutMs                          (every attempt runs to its deadline)
 *   + Σ for i = 1 .. maxAttempts−1 of
 *       max(ceil(i), maxRetryAfterMs + ceil(i) / 10)   (the wait before attempt i+1)
 *
 * where ceil(i) = min(maxDelayMs, baseDelayMs × 2^(i−1)) is the backoff's upper bound.
 */
export function worstCaseMs(limits: TransportLimits): number {
  const { maxAttempts, baseDelayMs, maxDelayMs, maxRetryAfterMs } = limits.retry;
  let total = maxRetryAfterMs + maxAttempts * limits.timeoutMs;
  for (let i = 1; i < maxAttempts; i++) {
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (i - 1));
    total += Math.max(ceiling, maxRetryAfterMs + ceiling / 10);
  }
  return Math.ceil(total);
}

class DeadlinePassed extends Error {
  readonly code = ATTEMPT_DEADLINE;
}

export class ManagerTransport {
  readonly baseUrl: URL;
  readonly limits: TransportLimits;
  /** The secrets never shown in an error: the API key, and those added (the external ID). */
  readonly secrets: Redactor;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly retry: Required<RetryPolicy>;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  /** Requests made, and attempts made for them (including retries). */
  readonly stats = { requests: 0, attempts: 0 };
  /** After a 429 with Retry-After, every request of this client waits until then, not just the one refused. */
  private pausedUntil = 0;

  constructor(private readonly options: TransportOptions) {
    this.limits = transportLimits(options);
    this.secrets = new Redactor([options.apiKey]);
    this.baseUrl = new URL(options.baseUrl.replace(/\/+$/, ""));
    this.timeoutMs = this.limits.timeoutMs;
    this.maxBodyBytes = this.limits.maxBodyBytes;
    this.retry = this.limits.retry;
    // undici's own timeouts bound only the wait for the headers and the gap between chunks;
    // the per-attempt AbortSignal is the real deadline. These stay just above it as a backstop.
    this.agent = new Agent({
      connect: {
        timeout: this.limits.connectTimeoutMs,
        ...(options.caBundle ? { ca: options.caBundle } : {}),
        rejectUnauthorized: !options.insecure,
      },
      headersTimeout: Math.min(MAX_TIMER_MS, this.timeoutMs + 1000),
      bodyTimeout: Math.min(MAX_TIMER_MS, this.timeoutMs + 1000),
    });
    this.headers = {
      "api-version": API_VERSION,
      accept: "application/json",
      ...(options.auth === "apikey" ? { authorization: `ApiKey ${options.apiKey}` } : { "api-secret-key": options.apiKey }),
    };
  }

  /** Never show this value in an error (e.g. the external ID once read). */
  addSecret(secret: string | undefined): void {
    this.secrets.add(secret);
  }

  /** The most one call can take, in milliseconds (see `worstCaseMs`). */
  worstCaseMs(): number {
    return worstCaseMs(this.limits);
  }

  /** The deadline of one attempt, in milliseconds. */
  attemptTimeoutMs(): number {
    return this.limits.timeoutMs;
  }

  /** `/awsconnectors` → the full URL under the base URL. */
  url(path: string, query?: RequestOptions["query"]): URL {
    const url = new URL(`${this.baseUrl.pathname.replace(/\/$/, "")}${path}`, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Sends a request, retrying as the policy allows. Returns any status; throws on network failure. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<HttpResult> {
    try {
      return await this.sendOnce(method, path, options);
    } catch (error) {
      throw this.scrub(error);
    }
  }

  private async sendOnce(method: string, path: string, options: RequestOptions): Promise<HttpResult> {
    const url = this.url(path, options.query);
    const idempotent = options.idempotent ?? true;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = body === undefined ? this.headers : { ...this.headers, "content-type": "application/json" };
    const apiPath = url.pathname + url.search;
    this.stats.requests++;
    let delayMs = 0;
    for (let attempt = 1; ; attempt++) {
      // The wait before this attempt: its own backoff, or a pause another request's 429 set.
      const wait = Math.max(delayMs, Math.min(this.pausedUntil - Date.now(), this.retry.maxRetryAfterMs));
      if (wait > 0) await sleep(wait);
      this.stats.attempts++;
      const started = performance.now();
      let reason: string;
      let retryAfterMs: number | undefined;
      let retryable: boolean;
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new DeadlinePassed("the attempt's deadline passed")), this.timeoutMs);
      try {
        const res = await fetch(url, { method, headers, body, dispatcher: this.agent, redirect: "manual", signal: controller.signal });
        const text = await this.readBody(res, method, apiPath, controller.signal);
        clearTimeout(timer);
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
        clearTimeout(timer);
        if (error instanceof ManagerError) throw error;
        const deadline = controller.signal.aborted && controller.signal.reason instanceof DeadlinePassed;
        const code = deadline ? ATTEMPT_DEADLINE : (networkCode(error) ?? "unknown");
        this.options.log?.({ type: "network-error", method, path: apiPath, attempt, code, ms: performance.now() - started });
        retryable = RETRYABLE_NETWORK_CODES.has(code) && (idempotent || NOT_SENT_CODES.has(code));
        if (!retryable || attempt >= this.retry.maxAttempts) {
          throw networkError(error, { url, method, path: apiPath, timeoutMs: this.timeoutMs, attempts: attempt, code });
        }
        reason = code;
      }
      delayMs = this.backoff(attempt, retryAfterMs);
      this.options.log?.({ type: "retry", method, path: apiPath, attempt, maxAttempts: this.retry.maxAttempts, delayMs, reason });
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
    try {
      if (result.status >= 300 && result.status < 400) throw this.redirectError(method, path, result);
      if (result.status < 200 || result.status >= 300) throw options.describe(result, this.context(method, result, options.sensitive));
      if (result.text.trim() === "") return { body: undefined, result };
      let body: unknown;
      try {
        body = JSON.parse(result.text);
      } catch {
        const what = `"${excerpt(result.text, 200, options.sensitive ? this.idMasking : this.secrets)}"`;
        throw new ManagerError(
          "bad-response",
          `The manager answered ${method} ${this.url(path).pathname} with HTTP ${result.status} but the body is not JSON: ${what}. Check that the manager URL points at the manager's API (ending in /api).`,
          { status: result.status, method, path, reason: "not-json", attempts: result.attempts },
        );
      }
      return { body, result };
    } catch (error) {
      throw this.scrub(error);
    }
  }

  /** Facts about a failed answer, for the error message: server text sanitized and redacted. */
  context(method: string, result: HttpResult, sensitive = false): ResponseContext {
    const clean = sensitive ? this.idMasking : this.secrets;
    const raw = bodyMessage(result.text);
    // Messages name what went wrong (a role's missing permissions can be long): up to 1,000 characters.
    const message = raw === undefined ? undefined : excerpt(raw, 1000, clean);
    return {
      method,
      status: result.status,
      message: message || undefined,
      excerpt: excerpt(result.text, 200, clean),
      body: describeBody(result),
      baseUrl: this.baseUrl,
    };
  }

  /** For answers that may hold an external ID not known yet: the secrets redacted, and every ID-like token masked. */
  private readonly idMasking = { redact: (text: string) => maskIdLike(this.secrets.redact(text)) };

  /** Server-supplied text made safe to show: control characters removed, secrets redacted, cut to `max`. */
  sanitize(text: string, max = 300): string {
    return excerpt(text, max, this.secrets);
  }

  /** Redacts the message of an error on its way out (a last guard: server text is sanitized where it is quoted). */
  scrub<E>(error: E): E {
    if (error instanceof Error && this.secrets.size > 0) {
      const clean = this.secrets.redact(error.message);
      if (clean !== error.message) error.message = clean;
    }
    return error;
  }

  async close(): Promise<void> {
    // Nothing is in flight when a command closes its client: do not wait for idle sockets.
    await this.agent.destroy();
  }

  private redirectError(method: string, path: string, result: HttpResult): ManagerError {
    const raw = result.headers.get("location");
    const location = raw ? this.sanitize(raw, 200) : undefined;
    const where = location ? ` to "${location}"` : "";
    return new ManagerError(
      "redirect",
      `The manager at ${this.baseUrl.href} answered ${method} ${this.url(path).pathname} with a redirect (HTTP ${result.status})${where}. It was not followed, so that the API key is not sent to another address. If the new address is the manager's, use it as the manager URL.`,
      { status: result.status, method, path, location, attempts: result.attempts },
    );
  }

  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.random() * ceiling;
    if (retryAfterMs === undefined) return Math.round(jittered);
    // Honour the server's wait, plus a little jitter so that many clients do not return together.
    return Math.round(Math.min(retryAfterMs, this.retry.maxRetryAfterMs) + jittered * 0.1);
  }

  private async readBody(res: Awaited<ReturnType<typeof fetch>>, method: string, path: string, signal: AbortSignal): Promise<string> {
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > this.maxBodyBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new ManagerError(
        "bad-response",
        `The manager's answer to ${method} ${path} is ${declared} bytes, more than the ${this.maxBodyBytes} read at most. Check that the manager URL points at the manager's API.`,
        { status: res.status, method, path, reason: "too-large" },
      );
    }
    if (!res.body) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      if (signal.aborted) throw signal.reason;
      size += chunk.byteLength;
      if (size > this.maxBodyBytes) {
        await res.body.cancel().catch(() => undefined);
        throw new ManagerError(
          "bad-response",
          `The manager's answer to ${method} ${path} is larger than the ${this.maxBodyBytes} bytes read at most. Check that the manager URL points at the manager's API.`,
          { status: res.status, method, path, reason: "too-large" },
        );
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}

/** "a 1234-byte text/html body": what came, without quoting it. */
function describeBody(result: HttpResult): string {
  if (result.text.length === 0) return "an empty body";
  const type = stripControl(result.headers.get("content-type") ?? "")
    .replace(/[^\w/.+-].*$/, "")
    .slice(0, 60);
  return `a ${Buffer.byteLength(result.text)}-byte ${type || "untyped"} body`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ResponseContext {
  readonly method: string;
  readonly status: number;
  /** The `message` of a JSON error body, sanitized and redacted. */
  readonly message?: string;
  /** An excerpt of the body, sanitized and redacted (ID-like tokens masked for a sensitive call). */
  readonly excerpt: string;
  /** What the body is, without quoting it ("a 12-byte text/html body"). */
  readonly body: string;
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
