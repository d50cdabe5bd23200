/**
 * A session: the settings a run uses to reach the manager (URL, key, TLS, timeouts) and where the
 * tenant's external ID may come from, a log, and the manager client, made only when needed.
 * Free of the command line: the CLI builds the settings from flags and the environment, a library
 * caller builds them by hand, and each setting names its origin for messages.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { SettingError, type SettingName } from "../errors";
import type { ExternalIdSources } from "../external-id/resolve";
import type { ManagerClient } from "../manager/client";
import type { AuthScheme, TransportEvent } from "../manager/http";
import { defaultAuthScheme, parseAuthScheme, parseManagerUrl } from "../manager/url";
import { type Log, silentLog } from "./log";

/** A value and where it came from (`--manager-url`, `DS_MANAGER_URL`, `manager.url in ./ds-onboard.yaml`). */
export interface Setting<T = string> {
  readonly value: T;
  readonly origin: string;
}

/** Names each setting; `SettingName` in errors.ts lists the same keys. */
export interface SessionSettings {
  /** The manager API base URL, ending in `/api`. */
  readonly managerUrl?: Setting;
  /** `api-secret-key` or `apikey`. @default chosen from the manager's host */
  readonly auth?: Setting;
  /** The API key itself. */
  readonly apiKey?: Setting;
  /** A file holding the API key (used when `apiKey` is not given). */
  readonly apiKeyFile?: Setting;
  /** A PEM file of CA certificates to trust for the manager's TLS certificate. */
  readonly caBundle?: Setting;
  /** Skip TLS verification (warns every time). @default false */
  readonly insecure?: Setting<boolean>;
  /** Seconds one manager request may take, headers and body. @default 30 */
  readonly timeoutSeconds?: number;
  /** The tenant's external ID, given outright. */
  readonly externalId?: Setting;
  /** Where a stored copy of the external ID is: `ssm:`, `secretsmanager:`, `file:` or `env:`. */
  readonly externalIdFrom?: Setting;
}

export { SettingError, type SettingName };

export const DEFAULT_TIMEOUT_SECONDS = 30;

export class Session {
  private settings: SessionSettings;
  private client?: ManagerClient;
  private key?: string;

  constructor(
    settings: SessionSettings,
    readonly log: Log = silentLog,
  ) {
    this.settings = { ...settings };
    // Known before anything can print: a key that reaches a message by mistake is still redacted.
    log.addSecret(settings.apiKey?.value.trim());
    // An external ID given outright is shown nowhere either (a server may echo it in an error).
    log.addSecret(settings.externalId?.value.trim());
  }

  get timeoutSeconds(): number {
    return this.settings.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  }

  /**
   * The lowest-priority manager settings (a config's): each is used only where the session has
   * none. Call before the manager client is made.
   */
  useDefaults(defaults: Pick<SessionSettings, "managerUrl" | "auth" | "caBundle">): void {
    const s = this.settings;
    this.settings = {
      ...s,
      managerUrl: s.managerUrl ?? defaults.managerUrl,
      auth: s.auth ?? defaults.auth,
      caBundle: s.caBundle ?? defaults.caBundle,
    };
  }

  managerUrl(): URL {
    const url = this.settings.managerUrl;
    if (!url) throw new SettingError("managerUrl", "No manager URL (the API base URL, e.g. https://dsm.example.com:4119/api).");
    return parseManagerUrl(url.value, url.origin);
  }

  authScheme(url: URL = this.managerUrl()): AuthScheme {
    const auth = this.settings.auth;
    return auth ? parseAuthScheme(auth.value, auth.origin) : defaultAuthScheme(url);
  }

  /** The API key: the key itself, else the file's content. */
  apiKey(): string {
    if (this.key) return this.key;
    const { apiKey, apiKeyFile } = this.settings;
    let key: string | undefined;
    let origin: string;
    if (apiKey) {
      key = apiKey.value.trim();
      origin = apiKey.origin;
    } else if (apiKeyFile) {
      origin = `${apiKeyFile.origin} ${apiKeyFile.value}`;
      key = readSecretFile(apiKeyFile, "apiKeyFile", this.log).trim();
    } else {
      throw new SettingError("apiKey", "No API key. Create one in the manager under Administration > User Management > API Keys.");
    }
    if (!key) throw new SettingError("apiKey", `The API key from ${origin} is empty.`);
    this.log.addSecret(key);
    if (/\s/.test(key))
      throw new SettingError(
        "apiKey",
        `The API key from ${origin} contains white space; check for a pasted line break or space inside it.`,
      );
    this.key = key;
    return key;
  }

  /** The manager client, made once. */
  manager(): ManagerClient {
    if (this.client) return this.client;
    const url = this.managerUrl();
    const auth = this.authScheme(url);
    const apiKey = this.apiKey();
    const ca = this.settings.caBundle;
    const caBundle = ca ? readCaBundle(ca) : undefined;
    const insecure = this.settings.insecure;
    if (insecure?.value) {
      this.log.warn(
        `${insecure.origin}: TLS certificate verification is off; anyone on the network path can read the API key. Trust the manager's CA instead.`,
      );
    }
    const { ManagerClient } = require("../manager/client") as typeof import("../manager/client");
    this.client = ManagerClient.create({
      baseUrl: url.href,
      apiKey,
      auth,
      caBundle,
      insecure: insecure?.value,
      readTimeoutMs: this.timeoutSeconds * 1000,
      log: (event) => this.log.debug(formatEvent(event)),
    });
    const explicitId = this.settings.externalId?.value.trim();
    if (explicitId) this.client.addSecret(explicitId);
    this.log.debug(`manager ${url.href} (auth ${auth}${ca ? `, CA bundle ${ca.value}` : ""})`);
    return this.client;
  }

  /** Whether a manager client has been made (and so requests may have been sent). */
  get managerOpened(): boolean {
    return this.client !== undefined;
  }

  /** The external ID sources, most direct first: the ID itself, a stored copy, the manager. */
  externalIdSources(): ExternalIdSources {
    const { externalId, externalIdFrom } = this.settings;
    return {
      explicit: externalId ? { value: externalId.value, origin: externalId.origin } : undefined,
      from: externalIdFrom ? { location: externalIdFrom.value, origin: externalIdFrom.origin } : undefined,
      manager: () => this.manager(),
    };
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    const { requests, attempts } = client.transport.stats;
    this.log.debug(`manager: ${requests} request(s), ${attempts} attempt(s)`);
    await client.close();
  }
}

/**
 * Reads a file that holds a secret or a certificate: a clear error for a missing file, a folder or
 * an unreadable file, and a warning when others may read a secret.
 */
export function readSecretFile(setting: Setting, name: SettingName, log: Log, options: { secret?: boolean } = {}): string {
  const path = setting.value;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be opened (${code})`;
    throw new SettingError(name, `${setting.origin}: ${path} ${why}.`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new SettingError(name, `${setting.origin}: ${path} is a folder, not a file.`);
    if (!stat.isFile()) throw new SettingError(name, `${setting.origin}: ${path} is not a regular file.`);
    if (stat.size > 1 << 20)
      throw new SettingError(name, `${setting.origin}: ${path} is ${stat.size} bytes; that is not a key or a certificate.`);
    if ((options.secret ?? true) && (stat.mode & 0o077) !== 0) {
      log.warn(`${setting.origin}: ${path} may be read by other users (mode ${(stat.mode & 0o777).toString(8)}); run chmod 600 ${path}`);
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

function readCaBundle(setting: Setting): string {
  const pem = readSecretFile(setting, "caBundle", silentLog, { secret: false });
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new SettingError("caBundle", `${setting.origin}: ${setting.value} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  return pem;
}

function formatEvent(event: TransportEvent): string {
  switch (event.type) {
    case "response":
      return `[http] ${event.method} ${event.path} -> ${event.status} in ${Math.round(event.ms)} ms (attempt ${event.attempt})`;
    case "network-error":
      return `[http] ${event.method} ${event.path} -> ${event.code} after ${Math.round(event.ms)} ms (attempt ${event.attempt})`;
    case "retry":
      return `[http] retrying ${event.method} ${event.path} in ${event.delayMs} ms (${event.reason}; attempt ${event.attempt + 1} of ${event.maxAttempts})`;
  }
}
