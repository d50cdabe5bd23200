/**
 * What can go wrong talking to the manager, each with a message that says what to do.
 */
import { ExitCode, UserError } from "../errors";

export type ManagerErrorKind =
  | "unauthorized" // 401
  | "forbidden" // 403
  | "not-found" // 404
  | "http" // other non-2xx
  | "bad-response" // non-JSON or wrongly shaped body
  | "tls"
  | "dns"
  | "refused"
  | "timeout"
  | "connection";

export class ManagerError extends UserError {
  constructor(
    readonly kind: ManagerErrorKind,
    message: string,
    readonly details: { status?: number; method?: string; path?: string; code?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, kind === "unauthorized" || kind === "forbidden" ? ExitCode.refused : ExitCode.failed, options);
    this.name = "ManagerError";
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
]);

/** Errors that happen before the request reached the manager: safe to retry even a create. */
export const NOT_SENT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT"]);

/** The low-level error code behind a failed fetch (undici wraps it in `cause`). */
export function networkCode(error: unknown): string | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a network failure into an error that names the cause and the fix. */
export function networkError(error: unknown, target: { url: URL; method: string; path: string; timeoutMs: number }): ManagerError {
  const code = networkCode(error) ?? "unknown";
  const host = target.url.host;
  const where = { method: target.method, path: target.path, code };
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(String((error as Error)?.cause ?? ""))) {
    const altname = code === "ERR_TLS_CERT_ALTNAME_INVALID";
    return new ManagerError(
      "tls",
      altname
        ? `The manager's TLS certificate is not valid for ${target.url.hostname} (${code}). Use the host name the certificate was issued for in --manager-url.`
        : `The manager's TLS certificate at ${host} could not be verified (${code}). If the manager uses its own CA (common for on-premises Deep Security Manager), pass its CA certificate with --ca-bundle <file.pem> or DS_CA_BUNDLE. --insecure skips verification and is not recommended.`,
      where,
      { cause: error },
    );
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new ManagerError(
      "dns",
      `Cannot resolve the manager's host name ${target.url.hostname} (${code}). Check --manager-url or DS_MANAGER_URL.`,
      where,
      { cause: error },
    );
  }
  if (code === "ECONNREFUSED") {
    return new ManagerError(
      "refused",
      `Connection refused by ${host}. Check that the manager is running and the port is right (Deep Security Manager listens on 4119); for a local sandbox, start it with \`ds-onboard sandbox\`.`,
      where,
      { cause: error },
    );
  }
  if (/TIMEOUT/.test(code)) {
    return new ManagerError(
      "timeout",
      `The manager at ${host} did not answer ${target.method} ${target.path} within ${Math.round(target.timeoutMs / 1000)} s (${code}). Check the network path to the manager, or raise --timeout.`,
      where,
      { cause: error },
    );
  }
  const detail = code === "unknown" ? causeMessage(error) : code;
  return new ManagerError(
    "connection",
    `The connection to the manager at ${host} failed during ${target.method} ${target.path} (${detail}). Check the URL and the network path, and try again.`,
    where,
    { cause: error },
  );
}

function causeMessage(error: unknown): string {
  let e: unknown = error;
  while ((e as { cause?: unknown })?.cause) e = (e as { cause: unknown }).cause;
  return (e as Error)?.message ?? String(e);
}

/** A short, printable excerpt of a response body. */
export function excerpt(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}...` : flat;
}

/** The `message` of a JSON error body, if there is one. */
export function bodyMessage(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed?.message === "string" ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
