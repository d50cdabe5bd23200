/**
 * A misbehaving manager for tests: a tiny node:http server on 127.0.0.1 whose every answer is
 * scripted: slow or trickled bodies, truncated JSON, HTML pages, error bodies that echo the
 * key and the external ID in any form, redirects, escape sequences, huge bodies, wrong shapes.
 * It records each request (method, path, headers, body) so that tests can check what the
 * client sent, and where.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HostileRequest {
  readonly n: number;
  readonly method: string;
  /** The path with its query, e.g. `/api/awsconnectors?sync=true`. */
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

export type Behaviour =
  /** A JSON answer. */
  | { readonly kind: "json"; readonly status?: number; readonly body: unknown; readonly headers?: Record<string, string> }
  /** Any bytes, as they are. */
  | { readonly kind: "raw"; readonly status?: number; readonly body: string | Buffer; readonly headers?: Record<string, string> }
  /** Headers at once, then the body `bytesPerTick` bytes every `intervalMs`. */
  | {
      readonly kind: "trickle";
      readonly status?: number;
      readonly body: string;
      readonly intervalMs: number;
      readonly bytesPerTick?: number;
      readonly headers?: Record<string, string>;
    }
  /** Never answers (the socket stays open). */
  | { readonly kind: "hang" }
  /** Sends the headers, then nothing. */
  | { readonly kind: "headers-then-hang"; readonly status?: number }
  /** Declares `declaredLength` bytes, sends `body`, then closes the connection. */
  | { readonly kind: "truncate"; readonly body: string; readonly declaredLength: number; readonly status?: number }
  /** Bytes written to the socket as they are (a status line and headers Node.js would refuse), then closed. */
  | { readonly kind: "wire"; readonly data: string | Buffer }
  /** Closes the connection without an answer. */
  | { readonly kind: "drop" }
  | { readonly kind: "redirect"; readonly status: 301 | 302 | 303 | 307 | 308; readonly location: string }
  /** `bytes` of `fill`, declared up front or chunked. */
  | { readonly kind: "huge"; readonly bytes: number; readonly declare: boolean; readonly status?: number; readonly fill?: string };

export type Script = (request: HostileRequest) => Behaviour;

export class HostileManager {
  url = "";
  readonly requests: HostileRequest[] = [];
  /** Scripts that failed (a test's mistake, not the client's): the socket was closed. */
  readonly errors: Error[] = [];
  private server?: Server;
  private readonly timers = new Set<NodeJS.Timeout>();

  /** A server not yet listening: `listen` (or `serveDuringTests`) starts it. */
  constructor(private script: Script) {}

  static async start(script: Script): Promise<HostileManager> {
    const m = new HostileManager(script);
    await m.listen();
    return m;
  }

  /** Listens on a free loopback port; `url` is set once this resolves. */
  async listen(): Promise<void> {
    const server = createServer((req, res) =>
      this.handle(req, res).catch((error) => {
        this.errors.push(error as Error);
        req.socket.destroy();
      }),
    );
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  }

  /** Forgets the requests and script errors recorded so far. */
  clear(): void {
    this.requests.length = 0;
    this.errors.length = 0;
  }

  /** The server's origin, e.g. `http://127.0.0.1:1234`. */
  get origin(): string {
    return this.url.replace(/\/api$/, "");
  }

  /** Replaces the script (for a server shared by several tests). */
  use(script: Script): void {
    this.script = script;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: HostileRequest = {
      n: this.requests.length + 1,
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: req.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    this.requests.push(request);
    const b = this.script(request);
    switch (b.kind) {
      case "json": {
        const text = JSON.stringify(b.body);
        res.writeHead(b.status ?? 200, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...b.headers });
        res.end(text);
        return;
      }
      case "raw":
        res.writeHead(b.status ?? 200, { "content-type": "text/html", "content-length": Buffer.byteLength(b.body), ...b.headers });
        res.end(b.body);
        return;
      case "trickle": {
        const bytes = Buffer.from(b.body);
        res.writeHead(b.status ?? 200, { "content-type": "application/json", "content-length": bytes.length, ...b.headers });
        res.flushHeaders();
        let at = 0;
        const step = b.bytesPerTick ?? 1;
        const timer = setInterval(() => {
          if (res.destroyed || at >= bytes.length) {
            clearInterval(timer);
            this.timers.delete(timer);
            if (!res.destroyed) res.end();
            return;
          }
          res.write(bytes.subarray(at, at + step));
          at += step;
        }, b.intervalMs);
        this.timers.add(timer);
        res.on("close", () => {
          clearInterval(timer);
          this.timers.delete(timer);
        });
        return;
      }
      case "hang":
        return;
      case "headers-then-hang":
        res.writeHead(b.status ?? 200, { "content-type": "application/json", "content-length": 100 });
        res.flushHeaders();
        return;
      case "truncate":
        res.writeHead(b.status ?? 200, { "content-type": "application/json", "content-length": b.declaredLength });
        res.write(b.body, () => res.destroy());
        return;
      case "drop":
        req.socket.destroy();
        return;
      case "wire":
        req.socket.end(b.data);
        return;
      case "redirect":
        res.writeHead(b.status, { location: b.location, "content-length": 0 });
        res.end();
        return;
      case "huge": {
        const chunk = Buffer.from((b.fill ?? "x").repeat(64 * 1024)).subarray(0, 64 * 1024);
        res.writeHead(b.status ?? 200, {
          "content-type": "application/json",
          ...(b.declare ? { "content-length": b.bytes } : {}),
        });
        let left = b.bytes;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            const piece = chunk.subarray(0, Math.min(left, chunk.length));
            left -= piece.length;
            if (!res.write(piece)) {
              res.once("drain", pump);
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        res.on("error", () => undefined);
        pump();
        return;
      }
    }
  }
}

/** The ways a careless server, proxy or log echoes a secret. */
export function echoForms(secret: string): Record<string, string> {
  const bytes = Buffer.from(secret, "utf8");
  return {
    plain: secret,
    "upper-case": secret.toUpperCase(),
    "percent-encoded": encodeURIComponent(secret),
    "percent-encoded, every byte": [...bytes].map((x) => `%${x.toString(16).padStart(2, "0")}`).join(""),
    base64: bytes.toString("base64"),
    "base64 url-safe": bytes.toString("base64url"),
    "base64 inside Basic credentials": `Basic ${Buffer.from(`apiuser:${secret}`).toString("base64")}`,
    "JSON-escaped": JSON.stringify(secret).slice(1, -1).replace(/\//g, "\\/"),
    "unicode-escaped": [...secret].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
  };
}

/** A raw HTTP/1.1 answer, for headers that Node.js would refuse to send (control characters). */
export function wire(status: number, headers: Record<string, string>, body = ""): string {
  const lines = Object.entries({ ...headers, "content-length": String(Buffer.byteLength(body)), connection: "close" }).map(
    ([k, v]) => `${k}: ${v}`,
  );
  return `HTTP/1.1 ${status} X\r\n${lines.join("\r\n")}\r\n\r\n${body}`;
}

/** For a file of tests that share servers: they listen before its tests, stop after, and each test starts with clear records. */
export function serveDuringTests(...managers: HostileManager[]): void {
  beforeAll(() => Promise.all(managers.map((m) => m.listen())));
  afterAll(() => Promise.all(managers.map((m) => m.stop())));
  beforeEach(() => {
    for (const m of managers) m.clear();
  });
}
