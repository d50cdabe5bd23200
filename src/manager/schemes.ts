/**
 * The choices about the manager, listed once for the config schema, the CLI and the code.
 */

/** `api-secret-key`: Deep Security Manager and legacy Cloud One keys; `apikey`: `Authorization: ApiKey` (Cloud One keys). */
export const AUTH_SCHEMES = ["api-secret-key", "apikey"] as const;
export type AuthSchemeName = (typeof AUTH_SCHEMES)[number];

/** The manager products: they share the API, and differ in the default auth scheme and principal. */
export const PRODUCTS = ["workload-security", "deep-security-manager", "vision-one"] as const;
export type Product = (typeof PRODUCTS)[number];
