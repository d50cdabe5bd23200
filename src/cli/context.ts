/**
 * What every command shares: the global options and environment, the output, and (made only
 * when a command needs it) the manager client.
 */
import { existsSync, readFileSync } from "node:fs";
import { UsageError } from "../errors";
import type { ExternalIdSources } from "../external-id/resolve";
import type { ManagerClient } from "../manager/client";
import type { AuthScheme, TransportEvent } from "../manager/http";
import { defaultAuthScheme, parseAuthScheme, parseManagerUrl } from "../manager/url";
import { Io, type OutputMode } from "./io";

export interface GlobalArgs {
  managerUrl?: string;
  apiKeyFile?: string;
  apiKey?: string;
  auth?: string;
  externalId?: string;
  externalIdFrom?: string;
  caBundle?: string;
  insecure?: boolean;
  timeout?: number;
  output: OutputMode;
  verbose: boolean;
}

export class Context {
  readonly io: Io;
  readonly args: GlobalArgs;
  private client?: ManagerClient;

  constructor(
    args: GlobalArgs,
    readonly env: NodeJS.ProcessEnv = process.env,
    io?: Io,
  ) {
    this.args = { ...args };
    this.io = io ?? new Io(args.output, args.verbose);
    // Known before anything can print: a key that leaks into a message is still redacted.
    this.io.addSecret(env.DS_API_KEY?.trim());
    this.io.addSecret(args.apiKey?.trim());
  }

  /**
   * The lowest-priority manager settings (a config's): each is used only where neither a flag
   * nor the environment gives one. Call before the manager client is made.
   */
  useDefaults(defaults: { managerUrl?: string; auth?: string; caBundle?: string }): void {
    const a = this.args;
    if (!a.managerUrl && !this.env.DS_MANAGER_URL && defaults.managerUrl) a.managerUrl = defaults.managerUrl;
    if (!a.auth && !this.env.DS_AUTH_SCHEME && defaults.auth) a.auth = defaults.auth;
    if (!a.caBundle && !this.env.DS_CA_BUNDLE && defaults.caBundle) a.caBundle = defaults.caBundle;
  }

  /** The manager client, made once; throws a usage error naming what is missing. */
  manager(): ManagerClient {
    if (this.client) return this.client;
    const url = this.managerUrl();
    const auth: AuthScheme = this.args.auth
      ? parseAuthScheme(this.args.auth, "--auth")
      : this.env.DS_AUTH_SCHEME
        ? parseAuthScheme(this.env.DS_AUTH_SCHEME, "DS_AUTH_SCHEME")
        : defaultAuthScheme(url);
    const apiKey = this.apiKey();
    const caPath = this.args.caBundle ?? this.env.DS_CA_BUNDLE;
    const caBundle = caPath ? readCaBundle(caPath, this.args.caBundle ? "--ca-bundle" : "DS_CA_BUNDLE") : undefined;
    if (this.args.insecure)
      this.io.warn(
        "--insecure: TLS certificate verification is off; anyone on the network path can read the API key. Use --ca-bundle instead.",
      );
    const timeout = this.args.timeout ?? 30;
    const { ManagerClient } = require("../manager/client") as typeof import("../manager/client");
    this.client = ManagerClient.create({
      baseUrl: url.href,
      apiKey,
      auth,
      caBundle,
      insecure: this.args.insecure,
      readTimeoutMs: timeout * 1000,
      log: this.args.verbose ? (event) => this.io.debug(formatEvent(event)) : undefined,
    });
    this.io.debug(`manager ${url.href} (auth ${auth}${caBundle ? `, CA bundle ${caPath}` : ""})`);
    return this.client;
  }

  managerUrl(): URL {
    const text = this.args.managerUrl ?? this.env.DS_MANAGER_URL;
    if (!text) {
      throw new UsageError(
        "No manager URL: pass --manager-url or set DS_MANAGER_URL (e.g. https://dsm.example.com:4119/api). To try ds-onboard locally, run `ds-onboard sandbox` and paste the lines it prints.",
      );
    }
    return parseManagerUrl(text, this.args.managerUrl ? "--manager-url" : "DS_MANAGER_URL");
  }

  /** The API key: --api-key-file, --api-key (warns), DS_API_KEY, then DS_API_KEY_FILE. */
  apiKey(): string {
    let key: string | undefined;
    let origin: string;
    const file = this.args.apiKeyFile ?? (this.args.apiKey || this.env.DS_API_KEY ? undefined : this.env.DS_API_KEY_FILE);
    if (file) {
      origin = this.args.apiKeyFile ? `--api-key-file ${file}` : `DS_API_KEY_FILE ${file}`;
      if (!existsSync(file)) throw new UsageError(`${origin}: the file does not exist.`);
      key = readFileSync(file, "utf8").trim();
    } else if (this.args.apiKey) {
      origin = "--api-key";
      this.io.warn("--api-key puts the key in your shell history and the process list; use DS_API_KEY or --api-key-file.");
      key = this.args.apiKey.trim();
    } else {
      origin = "DS_API_KEY";
      key = this.env.DS_API_KEY?.trim();
    }
    if (!key)
      throw new UsageError(
        "No API key: set DS_API_KEY or pass --api-key-file <file>. Create a key in the manager under Administration > User Management > API Keys.",
      );
    this.io.addSecret(key);
    if (/\s/.test(key))
      throw new UsageError(`The API key from ${origin} contains white space; check for a pasted line break or space inside it.`);
    return key;
  }

  /** The external ID sources, in the order the CLI reference gives. */
  externalIdSources(): ExternalIdSources {
    const explicit =
      this.args.externalId !== undefined
        ? { value: this.args.externalId, origin: "--external-id" }
        : this.env.DS_EXTERNAL_ID
          ? { value: this.env.DS_EXTERNAL_ID, origin: "DS_EXTERNAL_ID" }
          : undefined;
    const from =
      this.args.externalIdFrom !== undefined
        ? { location: this.args.externalIdFrom, origin: "--external-id-from" }
        : this.env.DS_EXTERNAL_ID_FROM
          ? { location: this.env.DS_EXTERNAL_ID_FROM, origin: "DS_EXTERNAL_ID_FROM" }
          : undefined;
    return { explicit, from, manager: () => this.manager() };
  }

  async close(): Promise<void> {
    if (!this.client) return;
    const { requests, attempts } = this.client.transport.stats;
    this.io.debug(`manager: ${requests} request(s), ${attempts} attempt(s)`);
    await this.client.close();
  }
}

function readCaBundle(path: string, origin: string): string {
  if (!existsSync(path)) throw new UsageError(`${origin}: ${path} does not exist.`);
  const pem = readFileSync(path, "utf8");
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new UsageError(`${origin}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
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
