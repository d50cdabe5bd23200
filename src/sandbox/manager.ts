/**
 * The sandbox manager: a local server on 127.0.0.1 that speaks the manager API as the vendor's
 * OpenAPI description gives it (paths, headers, field names and casing, status codes), for
 * trying ds-onboard and testing onboarding pipelines offline. It is not a mock of our client:
 * it keeps state, checks keys and rights, honours the retrieval setting, and can be slowed,
 * rate-limited and made to fail.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { writeFileAtomic } from "../files";
import type { ApiKeyCurrent, AWSConnector, SearchCriteria, SearchFilter } from "../manager/types";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../manager/types";
import { sleep } from "../onboard/pool";
import { checkIamArn, parseIamArn } from "../validation";
import { selfSignedCertificate } from "./cert";
import { closeServer, isLoopback, listenOnLoopback } from "./listen";

/** What a sandbox key's role may do. */
export interface SandboxRole {
  readonly name: string;
  readonly viewExternalId: boolean;
  readonly viewSettings: boolean;
  readonly modifySettings: boolean;
  readonly viewConnectors: boolean;
  readonly manageConnectors: boolean;
  readonly viewApiKeys: boolean;
}

export const SANDBOX_ROLES = {
  administrator: {
    name: "Full Access",
    viewExternalId: true,
    viewSettings: true,
    modifySettings: true,
    viewConnectors: true,
    manageConnectors: true,
    viewApiKeys: true,
  },
  restricted: {
    name: "Auditor without external ID",
    viewExternalId: false,
    viewSettings: true,
    modifySettings: false,
    viewConnectors: true,
    manageConnectors: true,
    viewApiKeys: true,
  },
} as const satisfies Record<string, SandboxRole>;

/** The manager's answer when it assumes a role: ok, or the reason it could not. */
export type AssumeRoleCheck = (
  roleArn: string,
  externalId: string,
) => Promise<{ ok: true } | { ok: false; message: string; stage?: "assume" | "permissions" }>;

export interface FailureKnobs {
  /** Share of requests answered 502, 503 or 504. Default: 0. */
  readonly rate5xx?: number;
  /** Share of requests answered 429 with Retry-After. Default: 0. */
  readonly rate429?: number;
  /** Share of requests whose connection is dropped without an answer. Default: 0. */
  readonly dropRate?: number;
  /**
   * Share of connector creates that are carried out and then answered 502/503/504 or dropped:
   * the client cannot tell that the connector exists. Default: 0.
   */
  readonly createThenFailRate?: number;
  /** Share of connector creates that are carried out and then never answered (a client timeout). Default: 0. */
  readonly createThenHangRate?: number;
  /**
   * Share of connector creates that are never answered and carried out only once the client
   * has given up on them (closed the connection), `createLateMs` after that. Default: 0.
   */
  readonly createLateRate?: number;
  /** How long after the client gave up those creates are carried out, in ms. Default: 1000. */
  readonly createLateMs?: number;
}

export interface SandboxManagerOptions {
  /** Default: 127.0.0.1. Only loopback addresses are accepted. */
  readonly host?: string;
  /** Default: 0 (any free port). */
  readonly port?: number;
  /** Serve HTTPS with a generated self-signed certificate. Default: false. */
  readonly https?: boolean;
  /** The tenant's external ID. Default: a new UUID. */
  readonly externalId?: string;
  /** The administrator key. Default: generated. */
  readonly adminKey?: string;
  /** The key whose role may not view the external ID. Default: generated. */
  readonly restrictedKey?: string;
  /** Added before every answer. Default: 0. */
  readonly latencyMs?: number;
  readonly failures?: FailureKnobs;
  /** Requests per second served; more are answered 429. Default: unlimited. */
  readonly rateLimit?: number;
  /** Seed for the failure draws, for repeatable runs. Default: random. */
  readonly seed?: number;
  /** Keep the tenant, settings and connectors in this JSON file across restarts. Default: memory only. */
  readonly stateFile?: string;
  /** How the manager assumes a connector's role. Default: every well-formed role ARN succeeds. */
  readonly assumeRole?: AssumeRoleCheck;
  /** Record every exchange (without keys) in `exchanges`, for conformance tests. Default: false. */
  readonly record?: boolean;
}

export interface RecordedExchange {
  readonly method: string;
  /** The path under /api, e.g. `/awsconnectors/3`. */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly apiVersion?: string;
  readonly authHeader?: "api-secret-key" | "authorization";
  readonly requestBody?: unknown;
  readonly status: number;
  readonly responseBody?: unknown;
}

interface State {
  externalId: string;
  settings: Record<string, string>;
  connectors: AWSConnector[];
  nextId: number;
  /** Connectors added by older managers with a user-defined external ID, by connector ID. */
  legacyExternalIds: Record<string, string>;
}

const SETTING_DEFAULTS: Record<string, string> = { [EXTERNAL_ID_RETRIEVAL_SETTING]: "true" };

/** A create that happened, whose answer the client never gets. */
class LostAnswer extends Error {
  constructor(
    readonly how: "hang" | "drop" | "5xx",
    /** For a hang: what the manager does once the client has given up (closed the connection). */
    readonly onGiveUp?: () => void,
  ) {
    super(how);
  }
}

class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class SandboxManager {
  /** The base URL, ending in /api. */
  url = "";
  readonly keys: { readonly admin: string; readonly restricted: string };
  /** PEM of the self-signed certificate, when serving HTTPS (pass it as --ca-bundle). */
  caCertificate?: string;
  readonly exchanges: RecordedExchange[] = [];
  /** Requests by `METHOD /path-template`, and in all. */
  readonly calls = new Map<string, number>();
  totalCalls = 0;
  /** Requests refused by the rate limit (429). */
  rateLimited = 0;

  private server?: Server;
  /** Creates still to be carried out late (`createLateRate`): waiting for the client to give up, then for their time. */
  private readonly late = new Set<{ timer?: NodeJS.Timeout }>();
  private stopped = false;
  /** The connectors that creates carried out late made (`createLateRate`), as first made. */
  readonly madeLate: AWSConnector[] = [];
  /** Requests being worked on, and late creates being made. */
  private working = 0;
  private state: State;
  private readonly rng: () => number;
  private tokens: number;
  private lastRefill = Date.now();
  private readonly roles: Map<string, { role: SandboxRole; id: number; label: string }>;

  private constructor(private readonly options: SandboxManagerOptions) {
    this.keys = {
      admin: options.adminKey ?? `1:${randomBytes(24).toString("base64url")}`,
      restricted: options.restrictedKey ?? `2:${randomBytes(24).toString("base64url")}`,
    };
    this.roles = new Map([
      [this.keys.admin, { role: SANDBOX_ROLES.administrator, id: 1, label: "sandbox administrator" }],
      [this.keys.restricted, { role: SANDBOX_ROLES.restricted, id: 2, label: "sandbox restricted" }],
    ]);
    this.state = this.loadState();
    this.rng = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 31));
    this.tokens = options.rateLimit ?? Number.POSITIVE_INFINITY;
  }

  static async start(options: SandboxManagerOptions = {}): Promise<SandboxManager> {
    const host = options.host ?? "127.0.0.1";
    if (!isLoopback(host))
      throw new Error(`The sandbox manager listens on loopback addresses only (127.0.0.0/8, ::1, localhost), not ${host}.`);
    const sandbox = new SandboxManager(options);
    const handler = (req: IncomingMessage, res: ServerResponse) => void sandbox.handle(req, res);
    if (options.https) {
      const { cert, key } = await selfSignedCertificate();
      sandbox.caCertificate = cert;
      sandbox.server = createHttpsServer({ cert, key }, handler);
    } else {
      sandbox.server = createHttpServer(handler);
    }
    sandbox.server.keepAliveTimeout = 5_000;
    const port = await listenOnLoopback(sandbox.server, host, options.port ?? 0, "sandbox manager");
    const shownHost = host.includes(":") ? `[${host}]` : host;
    sandbox.url = `${options.https ? "https" : "http"}://${shownHost}:${port}/api`;
    return sandbox;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const pending of this.late) clearTimeout(pending.timer);
    this.late.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  get externalId(): string {
    return this.state.externalId;
  }

  /** A copy of the registered connectors. */
  get connectors(): AWSConnector[] {
    return this.state.connectors.map((c) => ({ ...c }));
  }

  /**
   * Adds a connector as an older manager would have: with a user-defined external ID, which
   * the manager keeps using for it until the connector is modified with its role ARN and no
   * external ID (the vendor's switch procedure).
   */
  addLegacyConnector(input: { crossAccountRoleArn: string; externalId: string; displayName?: string }): AWSConnector {
    const accountId = parseIamArn(input.crossAccountRoleArn)?.accountId;
    const connector: AWSConnector = {
      displayName: input.displayName ?? accountId,
      accountId,
      crossAccountRoleArn: input.crossAccountRoleArn,
      useInstanceRole: false,
      workspacesEnabled: false,
      ID: this.state.nextId++,
    };
    sync(connector);
    this.state.connectors.push(connector);
    this.state.legacyExternalIds[String(connector.ID)] = input.externalId;
    this.saveState();
    return { ...connector };
  }

  /** The external ID the manager presents for a connector: its legacy one, or the tenant's. */
  externalIdFor(connectorId: number): string {
    return this.state.legacyExternalIds[String(connectorId)] ?? this.state.externalId;
  }

  /** Whether the manager can assume a connector's role right now (for tests of lost access). */
  async canAssume(connectorId: number): Promise<boolean> {
    const c = this.state.connectors.find((x) => x.ID === connectorId);
    if (!c?.crossAccountRoleArn || !this.options.assumeRole) return false;
    return (await this.options.assumeRole(c.crossAccountRoleArn, this.externalIdFor(connectorId))).ok;
  }

  /**
   * Time passes: every connector's last synchronization moves `ms` into the past; then the
   * manager synchronizes the connectors whose role it can assume, as it does on its schedule.
   * Connectors it cannot assume keep their old time (and regions): they are stale; so do those
   * in `failing` (a synchronization that fails on the manager's side).
   */
  async elapse(ms: number, options: { failing?: readonly number[] } = {}): Promise<void> {
    for (const c of this.state.connectors) if (c.lastSyncTime !== undefined) c.lastSyncTime -= ms;
    for (const c of this.state.connectors)
      if (c.ID !== undefined && !options.failing?.includes(c.ID) && (await this.canAssume(c.ID))) sync(c);
    this.saveState();
  }

  setting(name: string): string | undefined {
    return this.state.settings[name] ?? SETTING_DEFAULTS[name];
  }

  // -------------------------------------------------------------------------------------

  /**
   * Resolves once the manager is idle: no connection open (so every request a client sent
   * before it was killed has been read), none being worked on, no create still to be carried
   * out late.
   */
  async idle(): Promise<void> {
    for (;;) {
      const server = this.server;
      const open = server ? await new Promise<number>((resolve) => server.getConnections((_, n) => resolve(n ?? 0))) : 0;
      if (open === 0 && this.working === 0 && this.late.size === 0) return;
      await sleep(20);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.working++;
    try {
      await this.work(req, res);
    } finally {
      this.working--;
    }
  }

  private async work(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sandbox");
    const path = url.pathname.replace(/^\/api(?=\/|$)/, "");
    const method = req.method ?? "GET";
    let requestBody: unknown;
    let status = 500;
    let responseBody: unknown;
    let headers: Record<string, string> = {};
    try {
      const raw = await readRequest(req);
      if (this.options.latencyMs) await sleep(this.options.latencyMs);
      if (!url.pathname.startsWith("/api/") && url.pathname !== "/api") {
        throw new HttpAnswer(404, "Not found. The API lives under /api.");
      }
      this.count(method, path);
      this.rateLimit();
      if (this.injectFailure(res)) return;
      if (raw.length > 0) {
        try {
          requestBody = JSON.parse(raw);
        } catch {
          throw new HttpAnswer(400, "The request body is not valid JSON.");
        }
      }
      const caller = this.authenticate(req);
      responseBody = await this.route(method, path, url.searchParams, requestBody, caller);
      status = 200;
    } catch (e) {
      if (e instanceof LostAnswer) {
        if (e.how === "hang") {
          // The socket stays open until the client gives up.
          const socket = res.socket;
          if (e.onGiveUp) {
            if (!socket || socket.destroyed) e.onGiveUp();
            else socket.once("close", e.onGiveUp);
          }
          return;
        }
        if (e.how === "drop") {
          res.socket?.destroy();
          return;
        }
        status = [502, 503, 504][Math.floor(this.rng() * 3)];
        responseBody = { message: `Injected failure ${status} after the connector was created.` };
      } else if (e instanceof HttpAnswer) {
        status = e.status;
        headers = e.headers;
        responseBody = { message: e.message };
      } else {
        status = 500;
        responseBody = { message: "Internal sandbox error." };
      }
    }
    if (this.options.record) {
      this.exchanges.push({
        method,
        path,
        query: Object.fromEntries(url.searchParams),
        apiVersion: header(req, "api-version"),
        authHeader:
          header(req, "api-secret-key") !== undefined
            ? "api-secret-key"
            : header(req, "authorization") !== undefined
              ? "authorization"
              : undefined,
        requestBody,
        status,
        responseBody,
      });
    }
    const text = responseBody === undefined ? "" : JSON.stringify(responseBody);
    res.writeHead(status, {
      ...headers,
      ...(text ? { "content-type": "application/json" } : {}),
      "content-length": Buffer.byteLength(text),
      "x-dsm-version": "Deep Security/20.0.1 (ds-onboard sandbox)",
    });
    res.end(text);
  }

  private count(method: string, path: string): void {
    const template = path.replace(/\/\d+$/, "/{awsConnectorID}").replace(/^\/systemsettings\/[^/]+$/, "/systemsettings/{name}");
    const key = `${method} ${template}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    this.totalCalls++;
  }

  /** A token bucket holding one second of requests. */
  private rateLimit(): void {
    const limit = this.options.rateLimit;
    if (!limit) return;
    const now = Date.now();
    this.tokens = Math.min(limit, this.tokens + ((now - this.lastRefill) / 1000) * limit);
    this.lastRefill = now;
    if (this.tokens < 1) {
      const waitS = Math.max(1, Math.ceil((1 - this.tokens) / limit));
      this.rateLimited++;
      throw new HttpAnswer(429, "Too many requests.", { "retry-after": String(waitS) });
    }
    this.tokens -= 1;
  }

  /** Draws a failure for this request; returns true when the connection was dropped. */
  private injectFailure(res: ServerResponse): boolean {
    const f = this.options.failures;
    if (!f) return false;
    const draw = this.rng();
    const drop = f.dropRate ?? 0;
    const tooMany = drop + (f.rate429 ?? 0);
    const server = tooMany + (f.rate5xx ?? 0);
    if (draw < drop) {
      res.socket?.destroy();
      return true;
    }
    if (draw < tooMany) throw new HttpAnswer(429, "Too many requests (injected).", { "retry-after": "0" });
    if (draw < server) {
      const status = [502, 503, 504][Math.floor(this.rng() * 3)];
      throw new HttpAnswer(status, `Injected failure ${status}.`);
    }
    return false;
  }

  private authenticate(req: IncomingMessage): { role: SandboxRole; id: number; label: string } {
    const version = header(req, "api-version");
    if (version === undefined) throw new HttpAnswer(400, "The api-version header is required; send api-version: v1.");
    if (version !== "v1") throw new HttpAnswer(400, `Unsupported api-version ${JSON.stringify(version)}; use v1.`);
    const secret = header(req, "api-secret-key");
    const authorization = header(req, "authorization");
    const key = secret ?? (authorization?.startsWith("ApiKey ") ? authorization.slice(7) : undefined);
    const caller = key === undefined ? undefined : this.roles.get(key);
    if (!caller) throw new HttpAnswer(401, "Authentication failed: the API key is missing, wrong, expired or locked.");
    return caller;
  }

  private async route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
    caller: { role: SandboxRole; id: number; label: string },
  ): Promise<unknown> {
    const { role } = caller;
    const need = (allowed: boolean, message: string) => {
      if (!allowed) throw new HttpAnswer(403, message);
    };
    if (path === "/awsconnectorsettings" && method === "GET") {
      need(
        role.viewExternalId && this.setting(EXTERNAL_ID_RETRIEVAL_SETTING) !== "false",
        "Not authorized to retrieve connector settings.",
      );
      return { externalId: this.state.externalId };
    }
    const setting = /^\/systemsettings\/([^/]+)$/.exec(path);
    if (setting) {
      const m = setting;
      const name = decodeURIComponent(m[1]);
      if (method === "GET") {
        need(role.viewSettings, "Not authorized to view settings.");
        return { value: this.knownSetting(name) };
      }
      if (method === "POST" || method === "DELETE") {
        need(role.modifySettings, "Not authorized to modify settings or the requested modification is not permitted.");
        this.knownSetting(name);
        if (method === "DELETE") delete this.state.settings[name];
        else {
          const value = isObject(body) ? body.value : undefined;
          if (value !== "true" && value !== "false") throw new HttpAnswer(400, 'The value must be the string "true" or "false".');
          this.state.settings[name] = value;
        }
        this.saveState();
        return { value: this.knownSetting(name) };
      }
    }
    if (path === "/awsconnectors" && method === "GET") {
      need(role.viewConnectors, "Not authorized to view AWS Connectors.");
      return { awsConnectors: this.connectors };
    }
    if (path === "/awsconnectors" && method === "POST") {
      need(role.manageConnectors, "Not authorized to create AWS Connectors.");
      const f = this.options.failures;
      if (f?.createLateRate && this.rng() < f.createLateRate) {
        const pending: { timer?: NodeJS.Timeout } = {};
        this.late.add(pending);
        throw new LostAnswer("hang", () => {
          if (this.stopped) return;
          pending.timer = setTimeout(() => {
            this.late.delete(pending);
            this.working++; // busy until it is made
            this.create(body)
              .then(
                (made) => this.madeLate.push({ ...made }),
                () => undefined, // refused then (e.g. the role cannot be assumed): nothing is made
              )
              .finally(() => this.working--);
          }, f.createLateMs ?? 1000);
        });
      }
      const created = await this.create(body);
      const draw = this.rng();
      if (draw < (f?.createThenHangRate ?? 0)) throw new LostAnswer("hang");
      if (draw < (f?.createThenHangRate ?? 0) + (f?.createThenFailRate ?? 0)) throw new LostAnswer(this.rng() < 0.25 ? "drop" : "5xx");
      return created;
    }
    if (path === "/awsconnectors/search" && method === "POST") {
      need(role.viewConnectors, "Not authorized to view AWS Connectors.");
      return { awsConnectors: search(this.state.connectors, isObject(body) ? (body as SearchFilter) : {}) };
    }
    const one = /^\/awsconnectors\/(\d+)$/.exec(path);
    if (one) {
      const m = one;
      const id = Number(m[1]);
      const index = this.state.connectors.findIndex((c) => c.ID === id);
      if (method === "GET") {
        need(role.viewConnectors, "Not authorized to view AWS Connectors.");
        if (index < 0) throw new HttpAnswer(404, "The AWS Connector does not exist.");
        return { ...this.state.connectors[index] };
      }
      if (method === "POST") {
        need(role.manageConnectors, "Not authorized to modify AWS Connectors or the requested modification is not permitted.");
        if (index < 0) throw new HttpAnswer(404, "The AWS account does not exist.");
        return this.modify(index, body, query.get("sync") === "true");
      }
      if (method === "DELETE") {
        need(role.manageConnectors, "Not authorized to delete AWS Connectors.");
        if (index < 0) throw new HttpAnswer(404, "The AWS Connector does not exist.");
        delete this.state.legacyExternalIds[String(this.state.connectors[index].ID)];
        this.state.connectors.splice(index, 1);
        this.saveState();
        return undefined;
      }
    }
    if (path === "/apikeys/current") {
      need(role.viewApiKeys, "Not authorized to view API keys.");
      if (method === "GET") return this.describeKey(caller);
      if (method === "POST") {
        const update = isObject(body) ? body : {};
        const label = typeof update.keyName === "string" ? update.keyName : caller.label;
        caller.label = label;
        return this.describeKey(caller);
      }
    }
    throw new HttpAnswer(404, `No such API path: ${method} /api${path}.`);
  }

  private knownSetting(name: string): string {
    const value = this.setting(name);
    if (value === undefined) throw new HttpAnswer(404, "The setting does not exist.");
    return value;
  }

  private describeKey(caller: { role: SandboxRole; id: number; label: string }): ApiKeyCurrent {
    return {
      keyName: caller.label,
      description: `ds-onboard sandbox key (${caller.role.name})`,
      locale: "en-US",
      roleID: caller.id,
      timeZone: "UTC",
      active: true,
      created: 1_700_000_000_000,
      unsuccessfulSignInAttempts: 0,
      serviceAccount: false,
      roleURN: `urn:tmds:identity:sandbox:0:role/${caller.role.name}`,
      tenantID: 0,
      ID: caller.id,
    };
  }

  private async create(body: unknown): Promise<AWSConnector> {
    if (!isObject(body)) throw new HttpAnswer(400, "The request body must be an AWS connector object.");
    const input = body as AWSConnector;
    checkBoolean(input, "workspacesEnabled");
    const arn = input.crossAccountRoleArn;
    if (arn === undefined && !input.accessKey && !input.useInstanceRole) {
      throw new HttpAnswer(400, "A cross account role ARN, an access key or the instance role is required.");
    }
    let accountId = input.accountId;
    if (arn !== undefined) {
      if (checkIamArn(arn, ["role"])) throw new HttpAnswer(400, `Invalid cross account role ARN: ${String(arn)}.`);
      const fromArn = parseIamArn(arn)!.accountId;
      if (accountId !== undefined && accountId !== fromArn)
        throw new HttpAnswer(400, "The account ID does not match the cross account role ARN.");
      accountId = fromArn;
      await this.assume(arn);
    }
    const connector: AWSConnector = {
      displayName: input.displayName ?? accountId,
      accountId,
      accountAlias: input.accountAlias,
      crossAccountRoleArn: arn,
      accessKey: input.accessKey,
      useInstanceRole: input.useInstanceRole ?? false,
      seedRegion: input.seedRegion,
      workspacesEnabled: input.workspacesEnabled ?? false,
      ID: this.state.nextId++,
    };
    sync(connector);
    this.state.connectors.push(connector);
    this.saveState();
    return { ...connector };
  }

  private async modify(index: number, body: unknown, doSync: boolean): Promise<AWSConnector> {
    if (!isObject(body)) throw new HttpAnswer(400, "The request body must be an AWS connector object.");
    const input = body as AWSConnector;
    checkBoolean(input, "workspacesEnabled");
    const current = { ...this.state.connectors[index] };
    if (input.crossAccountRoleArn !== undefined) {
      if (checkIamArn(input.crossAccountRoleArn, ["role"]))
        throw new HttpAnswer(400, `Invalid cross account role ARN: ${String(input.crossAccountRoleArn)}.`);
      if (parseIamArn(input.crossAccountRoleArn)!.accountId !== current.accountId) {
        throw new HttpAnswer(400, "The cross account role must belong to the connector's AWS account.");
      }
      current.crossAccountRoleArn = input.crossAccountRoleArn;
    }
    for (const field of ["displayName", "accountAlias", "seedRegion", "workspacesEnabled"] as const) {
      if (input[field] !== undefined) (current as Record<string, unknown>)[field] = input[field];
    }
    // A modify that names the role ARN (and, in this API, no external ID) puts the connector on
    // the tenant's external ID: the vendor's way off a user-defined ID. If the role does not
    // accept the tenant's ID yet, the modify fails and the connector keeps its old ID.
    const legacy = this.state.legacyExternalIds[String(current.ID)];
    const switching = input.crossAccountRoleArn !== undefined && legacy !== undefined;
    if ((input.crossAccountRoleArn !== undefined || doSync) && current.crossAccountRoleArn) {
      await this.assume(current.crossAccountRoleArn, switching || legacy === undefined ? this.state.externalId : legacy);
    }
    if (switching) delete this.state.legacyExternalIds[String(current.ID)];
    if (doSync) sync(current);
    this.state.connectors[index] = current;
    this.saveState();
    return { ...current };
  }

  private async assume(roleArn: string, externalId = this.state.externalId): Promise<void> {
    if (!this.options.assumeRole) return;
    const result = await this.options.assumeRole(roleArn, externalId);
    if (!result.ok) {
      throw new HttpAnswer(
        400,
        result.stage === "permissions"
          ? `The cross account role ${roleArn} is missing permissions: ${result.message}`
          : `Unable to assume the cross account role ${roleArn}: ${result.message}`,
      );
    }
  }

  private loadState(): State {
    const file = this.options.stateFile;
    if (file && existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, "utf8")) as State;
      return {
        externalId: saved.externalId,
        settings: saved.settings ?? {},
        connectors: saved.connectors ?? [],
        nextId: saved.nextId ?? 1,
        legacyExternalIds: saved.legacyExternalIds ?? {},
      };
    }
    return { externalId: this.options.externalId ?? randomUUID(), settings: {}, connectors: [], nextId: 1, legacyExternalIds: {} };
  }

  private saveState(): void {
    if (this.options.stateFile) writeFileAtomic(this.options.stateFile, JSON.stringify(this.state, null, 2), 0o600);
  }
}

// ---------------------------------------------------------------------------------------

function sync(connector: AWSConnector): void {
  connector.lastSyncTime = Date.now();
  connector.syncedRegions = [{ region: connector.seedRegion ?? "us-east-1", computersSynced: 0, workspacesSynced: 0 }];
}

/** The manager's search: every criterion must hold. */
export function search(connectors: readonly AWSConnector[], filter: SearchFilter): AWSConnector[] {
  const criteria = Array.isArray(filter.searchCriteria) ? filter.searchCriteria : [];
  let found = connectors.filter((c) => criteria.every((k) => matches(c, k)));
  if (filter.sortByObjectID) found = [...found].sort((a, b) => (a.ID ?? 0) - (b.ID ?? 0));
  return found.slice(0, filter.maxItems ?? 5000).map((c) => ({ ...c }));
}

function matches(connector: AWSConnector, k: SearchCriteria): boolean {
  if (k.idTest !== undefined || k.idValue !== undefined) return compare(connector.ID ?? 0, k.idTest ?? "equal", Number(k.idValue));
  const value = k.fieldName ? (connector as Record<string, unknown>)[k.fieldName] : undefined;
  if (k.stringValue !== undefined || k.stringTest !== undefined) {
    const text = typeof value === "string" ? value : "";
    const equal = k.stringWildcards ? likePattern(k.stringValue ?? "").test(text) : text === k.stringValue;
    return (k.stringTest ?? "equal") === "equal" ? equal : !equal;
  }
  if (k.numericValue !== undefined || k.numericTest !== undefined)
    return compare(Number(value), k.numericTest ?? "equal", Number(k.numericValue));
  if (k.booleanTest !== undefined) return value === k.booleanTest;
  return true;
}

function compare(a: number, test: string, b: number): boolean {
  switch (test) {
    case "less-than":
      return a < b;
    case "less-than-or-equal":
      return a <= b;
    case "greater-than-or-equal":
      return a >= b;
    case "greater-than":
      return a > b;
    case "not-equal":
      return a !== b;
    default:
      return a === b;
  }
}

/** The manager's wildcards: `%` any run, `_` one character. */
function likePattern(pattern: string): RegExp {
  const body = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    .replace(/%/g, ".*")
    .replace(/_/g, ".");
  return new RegExp(`^${body}$`);
}

/** The manager refuses a field of the wrong JSON type. */
function checkBoolean(input: AWSConnector, field: "workspacesEnabled"): void {
  const value = (input as Record<string, unknown>)[field];
  if (value !== undefined && typeof value !== "boolean") throw new HttpAnswer(400, `The field ${field} must be true or false.`);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function readRequest(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new HttpAnswer(413, "The request body is too large.");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** mulberry32: small, fast and good enough for failure draws. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
