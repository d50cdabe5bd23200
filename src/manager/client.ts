/**
 * A typed client for the manager API paths used to onboard AWS accounts (every path in the
 * vendor's OpenAPI subset). It serves Deep Security Manager 20, Cloud One Workload Security and
 * Vision One Server & Workload Protection: same paths, same bodies.
 */
import { checkExternalId } from "../validation";
import { ManagerError } from "./errors";
import { type HttpResult, ManagerTransport, type ResponseContext, type StatusDescriber, type TransportOptions } from "./http";
import { type ApiKeyCurrent, type AWSConnector, EXTERNAL_ID_RETRIEVAL_SETTING, type SearchCriteria, type SearchFilter } from "./types";

/** The external ID fallbacks, named in every message about a refused retrieval. */
export const EXTERNAL_ID_FALLBACKS =
  "read the stored copy with --external-id-from ssm:<parameter> | secretsmanager:<secret> | file:<path> (or DS_EXTERNAL_ID_FROM), or pass the ID itself in DS_EXTERNAL_ID";

export class ManagerClient {
  constructor(readonly transport: ManagerTransport) {}

  static create(options: TransportOptions): ManagerClient {
    return new ManagerClient(new ManagerTransport(options));
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /**
   * The tenant's external ID. On a 403 it checks the retrieval setting (when the key may read
   * it) to tell "retrieval disabled by an administrator" from "the key's role lacks the right".
   */
  async getExternalId(): Promise<string> {
    let body: unknown;
    try {
      ({ body } = await this.transport.json("GET", "/awsconnectorsettings", {
        describe: describer("read the AWS connector settings (the external ID)", { baseLevel: true }),
      }));
    } catch (error) {
      if (error instanceof ManagerError && error.kind === "forbidden") throw await this.explainExternalIdRefusal(error);
      throw error;
    }
    const id = (body as { externalId?: unknown } | undefined)?.externalId;
    if (typeof id !== "string" || checkExternalId(id) !== undefined) {
      throw shapeError("GET /awsconnectorsettings", 'an object with an "externalId" string that AWS accepts', body, true);
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
    const setting = `"Enable retrieval and viewing of AWS external ID" (${EXTERNAL_ID_RETRIEVAL_SETTING})`;
    let cause: string;
    if (enabled === "false") {
      cause = `retrieval is disabled by an administrator: the setting ${setting} is false. To go on, ${EXTERNAL_ID_FALLBACKS}. An administrator can turn retrieval back on with \`ds-onboard external-id retrieval enable\`.`;
    } else if (enabled === "true") {
      cause = `retrieval is enabled (${setting} is true), so the API key's role lacks the right to view the AWS external ID. Use a key whose role may view it, or ${EXTERNAL_ID_FALLBACKS}.`;
    } else {
      cause = `either retrieval is disabled by an administrator (the setting ${setting}), or the API key's role lacks the right to view the external ID; this key may not read the setting to tell which. Ask an administrator, or ${EXTERNAL_ID_FALLBACKS}.`;
    }
    return new ManagerError("forbidden", `The manager refused to return the external ID (HTTP 403): ${cause}`, original.details, {
      cause: original,
    });
  }

  /** A system setting's value (values are strings, e.g. "true"). */
  async getSetting(name: string): Promise<string> {
    const { body } = await this.transport.json("GET", `/systemsettings/${encodeURIComponent(name)}`, {
      describe: describer("view system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return settingValue(body, `GET /systemsettings/${name}`);
  }

  async setSetting(name: string, value: string): Promise<string> {
    const { body } = await this.transport.json("POST", `/systemsettings/${encodeURIComponent(name)}`, {
      body: { value },
      describe: describer("modify system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return settingValue(body, `POST /systemsettings/${name}`);
  }

  /** Resets a setting to its default; returns the value after the reset. */
  async resetSetting(name: string): Promise<string> {
    const { body } = await this.transport.json("DELETE", `/systemsettings/${encodeURIComponent(name)}`, {
      describe: describer("modify system settings", {
        notFound: `The manager has no setting ${name}; it may be older than Deep Security Manager 20.`,
      }),
    });
    return settingValue(body, `DELETE /systemsettings/${name}`);
  }

  async listConnectors(): Promise<AWSConnector[]> {
    const { body } = await this.transport.json("GET", "/awsconnectors", {
      describe: describer("view AWS connectors", { baseLevel: true }),
    });
    return connectorList(body, "GET /awsconnectors");
  }

  async searchConnectors(filter: SearchFilter): Promise<AWSConnector[]> {
    const { body } = await this.transport.json("POST", "/awsconnectors/search", {
      body: filter,
      describe: describer("view AWS connectors", { baseLevel: true }),
    });
    return connectorList(body, "POST /awsconnectors/search");
  }

  /** The connectors registered for one AWS account (normally zero or one). */
  findConnectorsByAccount(accountId: string): Promise<AWSConnector[]> {
    const criterion: SearchCriteria = { fieldName: "accountId", stringTest: "equal", stringValue: accountId, stringWildcards: false };
    return this.searchConnectors({ searchCriteria: [criterion] });
  }

  async describeConnector(id: number): Promise<AWSConnector> {
    const { body } = await this.transport.json("GET", `/awsconnectors/${connectorId(id)}`, {
      describe: describer("view AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
    return connector(body, `GET /awsconnectors/${id}`);
  }

  /**
   * Creates a connector. Not idempotent: never retried after the manager may have acted on it
   * (only a 429 or a connection that never opened is retried). Callers that need exactly-once
   * look the account up again before trying anew.
   */
  async createConnector(body: AWSConnector): Promise<AWSConnector> {
    const { body: created } = await this.transport.json("POST", "/awsconnectors", {
      body,
      idempotent: false,
      describe: describer("create AWS connectors", { baseLevel: true }),
    });
    return connector(created, "POST /awsconnectors");
  }

  /** Modifies a connector; `sync` asks for an immediate synchronization. */
  async modifyConnector(id: number, body: AWSConnector, options: { sync?: boolean } = {}): Promise<AWSConnector> {
    const { body: modified } = await this.transport.json("POST", `/awsconnectors/${connectorId(id)}`, {
      body,
      query: { sync: options.sync ? "true" : undefined },
      describe: describer("modify AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
    return connector(modified, `POST /awsconnectors/${id}`);
  }

  async deleteConnector(id: number): Promise<void> {
    await this.transport.json("DELETE", `/awsconnectors/${connectorId(id)}`, {
      describe: describer("delete AWS connectors", { notFound: `The AWS connector ${id} does not exist.` }),
    });
  }

  /** Describes the API key in use: a cheap check of the URL, the key and the connection. */
  async currentApiKey(): Promise<ApiKeyCurrent> {
    const { body } = await this.transport.json("GET", "/apikeys/current", { describe: describer("view API keys", { baseLevel: true }) });
    if (!isObject(body)) throw shapeError("GET /apikeys/current", "an API key object", body);
    return body as ApiKeyCurrent;
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
    const where = { status: result.status, method: ctx.method };
    const said = ctx.message ? `: "${ctx.message}"` : "";
    switch (result.status) {
      case 401:
        return new ManagerError(
          "unauthorized",
          `The manager refused the API key (HTTP 401${said}): it is wrong, expired or locked out. Check DS_API_KEY or --api-key-file, and the scheme (--auth apikey for Cloud One keys, --auth api-secret-key for Deep Security Manager keys).`,
          where,
        );
      case 403:
        return new ManagerError(
          "forbidden",
          `The API key's role lacks the right to ${right} (HTTP 403${said}). Give the key a role with that right (Administration > User Management > Roles), or use another key.`,
          where,
        );
      case 404:
        // A JSON message means the manager answered about the object; anything else is not the API.
        if (options.notFound && ctx.message) return new ManagerError("not-found", `${options.notFound} (HTTP 404${said})`, where);
        return new ManagerError(
          "not-found",
          `The manager's API is not at ${ctx.baseUrl.href} (HTTP 404 for ${ctx.method}). ${suggestBaseUrl(ctx.baseUrl)}`,
          where,
        );
      default: {
        const attempts = result.attempts > 1 ? ` after ${result.attempts} attempts` : "";
        const what = ctx.message ? `"${ctx.message}"` : ctx.excerpt ? `"${ctx.excerpt}"` : "an empty body";
        const todo =
          result.status >= 500 || result.status === 429
            ? "The manager is failing or overloaded; try again later."
            : "Check the request values.";
        return new ManagerError(
          "http",
          `The manager answered HTTP ${result.status}${attempts} when asked to ${right} (${what}). ${todo}`,
          where,
        );
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

/** `secret`: the body may hold the external ID, so say only what kind of value came. */
function shapeError(call: string, expected: string, body: unknown, secret = false): ManagerError {
  const text =
    body === undefined
      ? "an empty body"
      : secret
        ? `a ${Array.isArray(body) ? "list" : typeof body}`
        : `"${JSON.stringify(body).slice(0, 200)}"`;
  return new ManagerError(
    "bad-response",
    `The manager's answer to ${call} is not ${expected}; it sent ${text}. Check that --manager-url points at the manager's API.`,
  );
}

function settingValue(body: unknown, call: string): string {
  const value = isObject(body) ? body.value : undefined;
  if (typeof value !== "string") throw shapeError(call, 'a setting object with a "value" string', body);
  return value;
}

function connector(body: unknown, call: string): AWSConnector {
  if (!isObject(body) || typeof body.ID !== "number") throw shapeError(call, "an AWS connector with a numeric ID", body);
  return body as AWSConnector;
}

function connectorList(body: unknown, call: string): AWSConnector[] {
  const list = isObject(body) ? body.awsConnectors : undefined;
  if (!Array.isArray(list) || !list.every((c) => isObject(c) && typeof c.ID === "number")) {
    throw shapeError(call, 'an object with an "awsConnectors" list', body);
  }
  return list as AWSConnector[];
}
