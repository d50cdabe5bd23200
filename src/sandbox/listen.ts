/** Listening on loopback only, and closing, for the sandbox's servers. */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Listens on a loopback address; returns the port (the one given, or a free one for 0). */
export async function listenOnLoopback(server: Server, host: string, port: number, what: string): Promise<number> {
  if (!isLoopback(host)) throw new Error(`The ${what} listens on loopback addresses only (127.0.0.0/8, ::1, localhost), not ${host}.`);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server and every connection it still has. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
