/**
 * The manager's base URL and the authentication scheme that goes with it.
 */
import { UsageError } from "../errors";
import type { AuthScheme } from "./http";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * Checks a base URL such as `https://dsm.example.com:4119/api`. Plain http is accepted only on
 * loopback addresses (the sandbox): elsewhere it would send the API key in the clear.
 */
export function parseManagerUrl(text: string, origin = "--manager-url"): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new UsageError(
      `${origin}: ${JSON.stringify(text)} is not a URL. Use e.g. https://dsm.example.com:4119/api or https://workload.us-1.cloudone.trendmicro.com/api.`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`${origin}: the scheme must be https, not ${url.protocol.replace(":", "")}.`);
  }
  if (url.protocol === "http:" && !LOOPBACK.test(url.hostname)) {
    throw new UsageError(`${origin}: plain http would send the API key unencrypted; use https://${url.host}${url.pathname}.`);
  }
  if (url.username || url.password)
    throw new UsageError(`${origin}: remove the user name and password from the URL; the API key goes in the environment or a key file.`);
  if (url.search || url.hash) throw new UsageError(`${origin}: remove the query string or fragment from the URL.`);
  url.pathname = url.pathname.replace(/\/+$/, "");
  return url;
}

/** Cloud One hosts use `Authorization: ApiKey`; Deep Security Manager and others `api-secret-key`. */
export function defaultAuthScheme(url: URL): AuthScheme {
  return /(^|\.)cloudone\.trendmicro\.com$/.test(url.hostname) && url.hostname !== "cloudone.trendmicro.com" ? "apikey" : "api-secret-key";
}

export function parseAuthScheme(text: string, origin: string): AuthScheme {
  if (text === "api-secret-key" || text === "apikey") return text;
  throw new UsageError(
    `${origin}: ${JSON.stringify(text)} is not an authentication scheme. Use api-secret-key (Deep Security Manager, legacy Cloud One keys) or apikey (Cloud One keys).`,
  );
}
