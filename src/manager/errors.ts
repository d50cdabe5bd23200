/**
 * What can go wrong talking to the manager, each with a message that says what to do.
 */
import { ExitCode, UsageError, UserError } from "../errors";
import { stripControl } from "../redact";

/** Every kind of ManagerError, for callers that add their own advice per kind. */
export const MANAGER_ERROR_KINDS = [
  "unauthorized", // 401: the key is wrong, expired, locked, or sent with the wrong scheme
  "forbidden", // 403: the key's role lacks a right (or retrieval of the external ID is off)
  "not-found", // 404
  "http", // another non-2xx answer
  "redirect", // a 3xx answer: not followed, so that the key is not sent elsewhere
  "bad-response", // not JSON, wrongly shaped, or too large
  "tls",
  "dns",
  "refused",
  "timeout",
  "connection",
] as const;
export type ManagerErrorKind = (typeof MANAGER_ERROR_KINDS)[number];

/**
 * The finer reasons, by kind. A caller maps `kind` + `reason` to its own advice (flags,
 * environment variables); the library's messages name things, never flags.
 */
export const MANAGER_ERROR_REASONS = {
  /** Refused reads of the external ID (GET /awsconnectorsettings answered 403). */
  forbidden: [
    "retrieval-disabled", // the retrieval setting is false: an administrator turned retrieval off
    "missing-right", // retrieval is on, so the key's role lacks the right to view the ID
    "undetermined", // the key may not read the setting either: one of the two
    "right", // any other call: the key's role lacks the right named in the message
  ],
  "not-found": [
    "wrong-base-url", // the path exists on every manager: the base URL is wrong
    "no-such-object", // the manager said the connector (or setting) does not exist
  ],
  "bad-response": [
    "not-json", // a 2xx answer whose body is not JSON (an HTML page, a proxy)
    "wrong-shape", // JSON, but not what the API documents
    "too-large", // larger than the transport reads at most
  ],
  http: [
    "server-error", // 5xx
    "rate-limited", // 429 after every attempt
    "client-error", // another 4xx: the request's values
  ],
  tls: [
    "untrusted-certificate", // the certificate's issuer is not trusted: pass the manager's CA certificate
    "wrong-host", // the certificate is for another host name
  ],
  timeout: [
    "connect", // no connection within the connect timeout
    "deadline", // the answer (headers and whole body) did not arrive within the per-attempt deadline
  ],
} as const satisfies Partial<Record<ManagerErrorKind, readonly string[]>>;
export type ManagerErrorReason = (typeof MANAGER_ERROR_REASONS)[keyof typeof MANAGER_ERROR_REASONS][number];

export interface ManagerErrorDetails {
  readonly status?: number;
  readonly method?: string;
  /** The request path (under the base URL), with its query. */
  readonly path?: string;
  /** The network or TLS error code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, ATTEMPT_DEADLINE...). */
  readonly code?: string;
  /** The finer reason (see MANAGER_ERROR_REASONS). */
  readonly reason?: ManagerErrorReason;
  /** Attempts made for the request. */
  readonly attempts?: number;
  /** The per-attempt deadline, for timeouts. */
  readonly timeoutMs?: number;
  /** The manager's host (and port). */
  readonly host?: string;
  /** For a redirect: where the manager pointed (sanitized, secrets redacted). */
  readonly location?: string;
  /** For a refused external ID read: the retrieval setting's value, when the key could read it. */
  readonly retrievalSetting?: string;
}

export class ManagerError extends UserError {
  constructor(
    readonly kind: ManagerErrorKind,
    message: string,
    readonly details: ManagerErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, kind === "unauthorized" || kind === "forbidden" ? ExitCode.refused : ExitCode.failed, options);
    this.name = "ManagerError";
  }

  get reason(): ManagerErrorReason | undefined {
    return this.details.reason;
  }

  get code(): string | undefined {
    return this.details.code;
  }

  get status(): number | undefined {
    return this.details.status;
  }
}

/** A transport option out of range: a named error, never a silent "0 means off". */
export class ManagerOptionError extends UsageError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`The manager transport's ${option} must be ${expected}, not ${String(value)}.`);
    this.name = "ManagerOptionError";
  }
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

/** The code of a per-attempt deadline that passed (headers and the whole body). */
export const ATTEMPT_DEADLINE = "ATTEMPT_DEADLINE";

/** The code given to an answer that does not follow HTTP/1.1 (undici's parser gives none). */
export const HTTP_PARSER_ERROR = "HTTP_PARSER_ERROR";

/** Network errors worth another attempt: the connection broke or the answer was too slow. */
export const RETRYABLE_NETWORK_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "ETIMEDOUT",
  ATTEMPT_DEADLINE,
]);

/** Errors that happen before the request reached the manager: safe to retry even a create. */
export const NOT_SENT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT"]);

/** The low-level error code behind a failed fetch (undici wraps it in `cause`). */
export function networkCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    if ((e as { name?: unknown }).name === "HTTPParserError") return HTTP_PARSER_ERROR;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a network failure into an error that names the cause and the fix. */
export function networkError(
  error: unknown,
  target: { url: URL; method: string; path: string; timeoutMs: number; attempts?: number; code?: string },
): ManagerError {
  const code = target.code ?? networkCode(error) ?? "unknown";
  const host = target.url.host;
  const where = { method: target.method, path: target.path, code, host, attempts: target.attempts };
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(String((error as Error)?.cause ?? ""))) {
    const altname = code === "ERR_TLS_CERT_ALTNAME_INVALID";
    return new ManagerError(
      "tls",
      altname
        ? `The manager's TLS certificate is not valid for ${target.url.hostname} (${code}). Use the host name the certificate was issued for in the manager URL.`
        : `The manager's TLS certificate at ${host} could not be verified (${code}). If the manager uses its own CA (common for on-premises Deep Security Manager), pass that CA's certificate (PEM) to trust it. Turning verification off is not recommended: anyone on the network path could read the API key.`,
      { ...where, reason: altname ? "wrong-host" : "untrusted-certificate" },
      { cause: error },
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new ManagerError(
      "dns",
      `Cannot resolve the manager's host name ${target.url.hostname} (${code}). Check the manager URL.`,
      where,
      {
        cause: error,
      },
    );
  }
  if (code === "ECONNREFUSED") {
    return new ManagerError(
      "refused",
      `Connection refused by ${host}. Check that the manager is running and that the manager URL's host and port are right (Deep Security Manager listens on 4119); a local sandbox must be started first.`,
      where,
      { cause: error },
    );
  }
  if (/TIMEOUT/.test(code) || code === ATTEMPT_DEADLINE || code === "ETIMEDOUT") {
    const connect = code === "UND_ERR_CONNECT_TIMEOUT";
    const attempts = target.attempts && target.attempts > 1 ? ` (${target.attempts} attempts)` : "";
    return new ManagerError(
      "timeout",
      connect
        ? `Could not connect to the manager at ${host} for ${target.method} ${target.path}${attempts}: no connection within the connect timeout (${code}). Check the manager URL and the network path (firewall, proxy) to the manager.`
        : `The manager at ${host} did not answer ${target.method} ${target.path} within ${seconds(target.timeoutMs)} per attempt${attempts}, headers and body included (${code}). Check the network path to the manager, or raise the timeout.`,
      { ...where, reason: connect ? "connect" : "deadline", timeoutMs: target.timeoutMs },
      { cause: error },
    );
  }
  const detail = code === "unknown" || code === HTTP_PARSER_ERROR ? stripControl(causeMessage(error)).slice(0, 200) : code;
  return new ManagerError(
    "connection",
    `The connection to the manager at ${host} failed during ${target.method} ${target.path} (${detail}). Check the manager URL and the network path, and try again.`,
    where,
    { cause: error },
  );
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

function causeMessage(error: unknown): string {
  let e: unknown = error;
  while ((e as { cause?: unknown })?.cause) e = (e as { cause: unknown }).cause;
  return (e as Error)?.message ?? String(e);
}

/**
 * A short, printable excerpt of a response body: control characters and escape sequences
 * removed, the secrets redacted (before it is cut, so that no part of a secret survives the
 * cut), white space flattened.
 */
export function excerpt(body: string, max = 200, redactor?: { redact(text: string): string }): string {
  // A secret in any form is at most ~14 times its length; redact a window that holds every
  // occurrence that starts within the excerpt.
  const stripped = stripControl(body);
  const window = stripped.slice(0, max + 20_000);
  const flat = (redactor ? redactor.redact(window) : window).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** The `message` of a JSON error body, if there is one (raw: sanitize before showing). */
export function bodyMessage(body: string): string | undefined {
  if (body.length > 1024 * 1024) return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed?.message === "string" ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
