/**
 * Session settings from the environment, as pipelines set them (`DS_MANAGER_URL`, `DS_API_KEY`...).
 * The CLI lays its flags over these; a library caller (a project's `main.ts`) uses them as they are.
 */
import type { SessionSettings, Setting } from "./session";

/** The variables, by setting. */
export const ENVIRONMENT = {
  managerUrl: "DS_MANAGER_URL",
  auth: "DS_AUTH_SCHEME",
  apiKey: "DS_API_KEY",
  apiKeyFile: "DS_API_KEY_FILE",
  caBundle: "DS_CA_BUNDLE",
  externalId: "DS_EXTERNAL_ID",
  externalIdFrom: "DS_EXTERNAL_ID_FROM",
} as const satisfies Partial<Record<keyof SessionSettings, string>>;

export function settingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): SessionSettings {
  const read = (name: string): Setting | undefined => {
    const value = env[name];
    return value === undefined || value === "" ? undefined : { value, origin: name };
  };
  const apiKey = read(ENVIRONMENT.apiKey);
  return {
    managerUrl: read(ENVIRONMENT.managerUrl),
    auth: read(ENVIRONMENT.auth),
    apiKey,
    // The key itself wins over a file that holds it.
    apiKeyFile: apiKey ? undefined : read(ENVIRONMENT.apiKeyFile),
    caBundle: read(ENVIRONMENT.caBundle),
    externalId: read(ENVIRONMENT.externalId),
    externalIdFrom: read(ENVIRONMENT.externalIdFrom),
  };
}
