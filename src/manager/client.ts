/**
 * A typed client for the manager API paths used to onboard AWS accounts (every path in the
 * vendor's OpenAPI subset). It serves Deep Security Manager 20, Cloud One Workload Security and
 * Vision One Server & Workload Protection: same paths, same bodies.
 */
import { checkExternalId } from "../validation";
import { ManagerError, type ManagerErrorReason } from "./errors";
import { type HttpResult, ManagerTransport, type ResponseContext, type StatusDescriber, type TransportOptions } from "./http";
import { type ApiKeyCurrent, type AWSConnector, EXTERNAL_ID_RETRIEVAL_SETTING, type SearchCriteria, type SearchFilter } from "./types";

/** How the retrieval setting is named in the console, for messages. */
export const EXTERNAL_ID_RETRIEVAL_LABEL = "Enable retrieval and viewing of AWS external ID";

export class ManagerClient {
  constructor(readonly transport: ManagerTransport) {}

  static create(options: TransportOptions): ManagerClient {
    return new ManagerClient(new ManagerTransport(options));
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /** Never show this value in an error (the client adds the external ID itself once it reads it). */
  addSecret(secret: string | undefined): void {
    this.transport.addSecret(secret);
  }

  /**
   * The most one call of this client can take, in milliseconds: attempts × per-attempt
   * deadline + the backoffs + the longest Retry-After honoured (see `worstCaseMs` in http.ts).
   */
  worstCaseMs(): number {
    return this.transport.worstCaseMs();
  }

  /** The deadline of one attempt (connecting, sending, the headers and the whole body), in milliseconds. */
  attemptTimeoutMs(): number {
    return this.transport.attemptTimeoutMs();
  }

  /** Server-supplied text made safe to show: control characters removed, this client's secrets redacted. */
  sanitize(text: string, max = 300): string {
    return this.transport.sanitize(text, max);
  }

  /**
   * The tenant's external ID. On a 403 it checks the retrieval setting (when the key may read
   * it) to tell "retrieval disabled by an administrator" from "the key's role lacks the right".
   */
  async getExternalId(): Promise<string> {
    let body: unknown;
    try {
      ({ body } = await this.transport.json("GET", "/awsconnectorsettings", {
        sensitive: true,
        describe: describer("read the AWS connector settings (the external ID)", { baseLevel: true }),
      }));
    } catch (error) {
      if (error instanceof ManagerError && error.kind === "forbidden") throw await this.explainExternalIdRefusal(error);
      throw error;
    }
    const id = (body as { externalId?: unknown } | undefined)?.externalId;
    // Whatever came, it is never shown: a near-miss may still be the ID.
    if (typeof id === "string") this.addSecret(id);
    if (typeof id !== "string" || checkExternalId(id) !== undefined) {
      throw this.transport.scrub(
        shapeError("GET /awsconnectorsettings", 'an object with an "externalId" string that AWS accepts', body, undefined),
      );
    }
    return id;
  }

  private async explainExternalIdRefusal(original: ManagerError): Promise<ManagerError> {
    let enabled: string | undefined;
    try {
      enabled = await this.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
    } catch {
      enabled = undefined; // the key may not read settings either: give both causes
    }
    const setting = `"${EXTERNAL_ID_RETRIEVAL_LABEL}" (${EXTERNAL_ID_RETRIEVAL_SETTING}, Administration > System Settings > Security)`;
    const stored = "use a copy of the external ID stored earlier (a secrets store or a file) or the ID itself";
    let cause: string;
    let reason: ManagerErrorReason;
    if (enabled === "false") {
      reason = "retrieval-disabled";
      cause = `retrieval is disabled by an administrator: the setting ${setting} is false. To go on, ${stored}; or an administrator turns retrieval back on.`;
    } else if (enabled === "true") {
      reason = "missing-right";
      cause = `retrieval is enabled (${setting} is true), so the API key's role lacks the right to view the AWS external ID. Use a key whose role may view it, or ${stored}.`;
    } else {
      reason = "undetermined";
      cause = `either retrieval is disabled by an administrator (the setting ${setting}), or the API key's role lacks the right to view the external ID; this key may not read the setting to tell which. Ask an administrator, or ${stored}.`;
    }
    return new ManagerError(
      "forbidden",
      `The manager refused to return the external ID (HTTP 403): ${cause}`,
      { ...original.details, reason, ...(enabled === undefined ? {} : { retrievalSetting: enabled }) },
      { cause: original },
    );
  }

  /** A system setting's value (values are strings, e.g. "true"). */
  async getSetting(name: string): Promise<string> {
    const { body, result } = await this.transport.json("GET", `/systemsettings/${encodeURIComponent(name)}`, {
      describe: describer("view system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return this.checked(() => settingValue(body, `GET /systemsettings/${name}`, this.quote(result)));
  }

  async setSetting(name: string, value: string): Promise<string> {
    const { body, result } = await this.transport.json("POST", `/systemsettings/${encodeURIComponent(name)}`, {
      body: { value },
      describe: describer("modify system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return this.checked(() => settingValue(body, `POST /systemsettings/${name}`, this.quote(result)));
  }

  /** Resets a setting to its default; returns the value after the reset. */
  async resetSetting(name: string): Promise<string> {
    const { body, result } = await this.transport.json("DELETE", `/systemsettings/${encodeURIComponent(name)}`, {
      describe: describer("modify system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return this.checked(() => settingValue(body, `DELETE /systemsettings/${name}`, this.quote(result)));
  }

  async listConnectors(): Promise<AWSConnector[]> {
    const { body, result } = await this.transport.json("GET", "/awsconnectors", {
      describe: describer("view AWS connectors", { baseLevel: true }),
    });
    return this.checked(() => connectorList(body, "GET /awsconnectors", this.quote(result)));
  }

  async searchConnectors(filter: SearchFilter): Promise<AWSConnector[]> {
    const { body, result } = await this.transport.json("POST", "/awsconnectors/search", {
      body: filter,
      describe: describer("view AWS connectors", { baseLevel: true }),
    });
    return this.checked(() => connectorList(body, "POST /awsconnectors/search", this.quote(result)));
  }

  /** The connectors registered for one AWS account (normally zero or one). */
  findConnectorsByAccount(accountId: string): Promise<AWSConnector[]> {
    const criterion: SearchCriteria = { fieldName: "accountId", stringTest: "equal", stringValue: accountId, stringWildcards: false };
    return this.searchConnectors({ searchCriteria: [criterion] });
  }

  async describeConnector(id: number): Promise<AWSConnector> {
    const { body, result } = await this.transport.json("GET", `/awsconnectors/${connectorId(id)}`, {
      describe: describer("view AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
    return this.checked(() => connector(body, `GET /awsconnectors/${id}`, this.quote(result)));
  }

  /**
   * Creates a connector. Not idempotent: never retried after the manager may have acted on it
   * (only a 429 or a connection that never opened is retried). Callers that need exactly-once
   * look the account up again before trying anew.
   */
  async createConnector(body: AWSConnector): Promise<AWSConnector> {
    const { body: created, result } = await this.transport.json("POST", "/awsconnectors", {
      body,
      idempotent: false,
      describe: describer("create AWS connectors", { baseLevel: true }),
    });
    return this.checked(() => connector(created, "POST /awsconnectors", this.quote(result)));
  }

  /** Modifies a connector; `sync` asks for an immediate synchronization. */
  async modifyConnector(id: number, body: AWSConnector, options: { sync?: boolean } = {}): Promise<AWSConnector> {
    const { body: modified, result } = await this.transport.json("POST", `/awsconnectors/${connectorId(id)}`, {
      body,
      query: { sync: options.sync ? "true" : undefined },
      describe: describer("modify AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
    return this.checked(() => connector(modified, `POST /awsconnectors/${id}`, this.quote(result)));
  }

  async deleteConnector(id: number): Promise<void> {
    await this.transport.json("DELETE", `/awsconnectors/${connectorId(id)}`, {
      describe: describer("delete AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
  }

  /** Describes the API key in use: a cheap check of the URL, the key and the connection. */
  async currentApiKey(): Promise<ApiKeyCurrent> {
    const { body, result } = await this.transport.json("GET", "/apikeys/current", {
      describe: describer("view API keys", { baseLevel: true }),
    });
    if (!isObject(body)) throw this.transport.scrub(shapeError("GET /apikeys/current", "an API key object", body, this.quote(result)));
    return body as ApiKeyCurrent;
  }

  /** The body of an answer, quoted safely (only when needed). */
  private quote(result: HttpResult): () => string {
    return () => this.transport.sanitize(result.text, 200);
  }

  /** Runs a shape check; its error is redacted like the transport's. */
  private checked<T>(check: () => T): T {
    try {
      return check();
    } catch (error) {
      throw this.transport.scrub(error);
    }
  }
}

// ---------------------------------------------------------------------------------------

/**
 * Words a failed status for one operation.
 * - `right`: what the key's role must be allowed to do (for 403);
 * - `baseLevel`: the path exists on every manager, so a 404 means a wrong base URL;
 * - `notFound`: what a 404 means for a path that names an object.
 */
function describer(right: string, options: { baseLevel?: boolean; notFound?: string }): StatusDescriber {
  return (result: HttpResult, ctx: ResponseContext) => {
    const where = { status: result.status, method: ctx.method, attempts: result.attempts };
    const said = ctx.message ? `: "${ctx.message}"` : "";
    switch (result.status) {
      case 401:
        return new ManagerError(
          "unauthorized",
          `The manager refused the API key (HTTP 401${said}): it is wrong, expired or locked out, or sent in the wrong header. Check the API key, and the authentication scheme: Cloud One keys go in "Authorization: ApiKey", Deep Security Manager and legacy Cloud One keys in "api-secret-key".`,
          where,
        );
      case 403:
        return new ManagerError(
          "forbidden",
          `The API key's role lacks the right to ${right} (HTTP 403${said}). Give the key a role with that right (Administration > User Management > Roles), or use another key.`,
          { ...where, reason: "right" },
        );
      case 404:
        // A JSON message means the manager answered about the object; anything else is not the API.
        if (options.notFound && ctx.message)
          return new ManagerError("not-found", `${options.notFound} (HTTP 404${said})`, { ...where, reason: "no-such-object" });
        return new ManagerError(
          "not-found",
          `The manager's API is not at ${ctx.baseUrl.href} (HTTP 404 for ${ctx.method}). ${suggestBaseUrl(ctx.baseUrl)}`,
          { ...where, reason: "wrong-base-url" },
        );
      default: {
        const attempts = result.attempts > 1 ? ` after ${result.attempts} attempts` : "";
        const what = ctx.message ? `"${ctx.message}"` : ctx.excerpt ? `"${ctx.excerpt}"` : ctx.body;
        const reason: ManagerErrorReason = result.status === 429 ? "rate-limited" : result.status >= 500 ? "server-error" : "client-error";
        const todo = reason === "client-error" ? "Check the request values." : "The manager is failing or overloaded; try again later.";
        return new ManagerError("http", `The manager answered HTTP ${result.status}${attempts} when asked to ${right} (${what}). ${todo}`, {
          ...where,
          reason,
        });
      }
    }
  };
}

/** What to try when the base URL is wrong: the two mistakes users make most. */
export function suggestBaseUrl(base: URL): string {
  const path = base.pathname.replace(/\/+$/, "");
  const tips: string[] = [];
  if (!path.endsWith("/api")) tips.push(`The base URL must end in /api: try ${base.origin}${path}/api`);
  if (base.protocol === "https:" && base.port === "" && !/cloudone\.trendmicro\.com$/.test(base.hostname)) {
    tips.push(
      `Deep Security Manager listens on port 4119: try https://${base.hostname}:4119${path.endsWith("/api") ? path : `${path}/api`}`,
    );
  }
  if (tips.length === 0)
    tips.push(
      "Check the host and path against your manager's API URL (e.g. https://workload.us-1.cloudone.trendmicro.com/api or https://dsm.example.com:4119/api)",
    );
  return `${tips.join(". ")}.`;
}

function connectorId(id: number): string {
  if (!Number.isInteger(id) || id < 0)
    throw new ManagerError("bad-response", `Invalid AWS connector ID ${String(id)}: expected a whole number.`);
  return String(id);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `quote` undefined: the body may hold the external ID, so say only what kind of value came. */
function shapeError(call: string, expected: string, body: unknown, quote: (() => string) | undefined): ManagerError {
  const sent =
    body === undefined
      ? "an empty body"
      : quote === undefined
        ? `a ${Array.isArray(body) ? "list" : body === null ? "null" : typeof body}`
        : `"${quote()}"`;
  return new ManagerError(
    "bad-response",
    `The manager's answer to ${call} is not ${expected}; it sent ${sent}. Check that the manager URL points at the manager's API.`,
    { reason: "wrong-shape" },
  );
}

function settingValue(body: unknown, call: string, quote: () => string): string {
  const value = isObject(body) ? body.value : undefined;
  if (typeof value !== "string") throw shapeError(call, 'a setting object with a "value" string', body, quote);
  return value;
}

function connector(body: unknown, call: string, quote: () => string): AWSConnector {
  if (!isObject(body) || typeof body.ID !== "number") throw shapeError(call, "an AWS connector with a numeric ID", body, quote);
  return body as AWSConnector;
}

function connectorList(body: unknown, call: string, quote: () => string): AWSConnector[] {
  const list = isObject(body) ? body.awsConnectors : undefined;
  if (!Array.isArray(list) || !list.every((c) => isObject(c) && typeof c.ID === "number")) {
    throw shapeError(call, 'an object with an "awsConnectors" list', body, quote);
  }
  return list as AWSConnector[];
}
