/**
 * Library errors say what happened in terms of things; here they get the flags and variables
 * that fix them on the command line.
 */
import { ENVIRONMENT } from "../app/environment";
import { SettingError, type SettingName } from "../app/session";
import { UserError } from "../errors";
import { ManagerError } from "../manager/errors";

const SETTING_FLAGS: Record<SettingName, string> = {
  managerUrl: `pass --manager-url or set ${ENVIRONMENT.managerUrl} (e.g. https://dsm.example.com:4119/api). To try ds-onboard locally, run \`ds-onboard sandbox\` and paste the lines it prints`,
  auth: `pass --auth or set ${ENVIRONMENT.auth}: api-secret-key (Deep Security Manager, legacy Cloud One keys) or apikey (Cloud One keys)`,
  apiKey: `set ${ENVIRONMENT.apiKey} or pass --api-key-file <file>`,
  apiKeyFile: "",
  caBundle: `check --ca-bundle or ${ENVIRONMENT.caBundle}`,
  insecure: "",
  timeoutSeconds: "check --timeout",
  externalId: `check --external-id or ${ENVIRONMENT.externalId}`,
  externalIdFrom: `check --external-id-from or ${ENVIRONMENT.externalIdFrom}`,
};

const STORED_COPY = `read a stored copy with --external-id-from ssm:<parameter> | secretsmanager:<secret> | file:<path> (or ${ENVIRONMENT.externalIdFrom}), or pass the ID itself in ${ENVIRONMENT.externalId}`;

/** The advice for an error on the command line, or undefined. */
export function adviceFor(error: unknown): string | undefined {
  if (error instanceof SettingError) return SETTING_FLAGS[error.setting] || undefined;
  if (error instanceof ManagerError) return managerAdvice(error);
  if (error instanceof UserError) {
    switch (error.errorCode) {
      case "retrieval-disable-without-stored-copy":
        return "Store it first (`ds-onboard external-id get --store ssm:/deep-security/external-id`), then run `ds-onboard external-id retrieval disable --external-id-from ssm:/deep-security/external-id`; --force disables it anyway";
      case "retrieval-stored-copy-differs":
        return `Run \`ds-onboard external-id get --store ${String(error.data?.storedCopy ?? "<location>")} --force\` first`;
      case "store-would-replace":
        return "Name another location, or pass --force to replace it";
      case "no-accounts":
        return "See `ds-onboard synth --list-accounts` for why each account was left out";
      default:
        return undefined;
    }
  }
  return undefined;
}

function managerAdvice(error: ManagerError): string | undefined {
  const url = `check --manager-url or ${ENVIRONMENT.managerUrl}`;
  switch (error.kind) {
    case "unauthorized":
      return `Check ${ENVIRONMENT.apiKey} or --api-key-file, and the scheme (--auth apikey for Cloud One keys, --auth api-secret-key for Deep Security Manager keys)`;
    case "forbidden":
      switch (error.reason) {
        case "retrieval-disabled":
          return `To go on, ${STORED_COPY}; an administrator can turn retrieval back on with \`ds-onboard external-id retrieval enable\``;
        case "missing-right":
        case "undetermined":
          return `To go on without the manager's answer, ${STORED_COPY}`;
        default:
          return undefined;
      }
    case "tls":
      return error.reason === "wrong-host"
        ? `Use the host name the certificate was issued for in --manager-url`
        : `If the manager uses its own CA (common for on-premises Deep Security Manager), pass its certificate with --ca-bundle <file.pem> or ${ENVIRONMENT.caBundle} (--insecure skips verification and is not recommended)`;
    case "refused":
      return `${url}; for a local sandbox, start it with \`ds-onboard sandbox\``;
    case "dns":
    case "redirect":
    case "not-found":
    case "bad-response":
      return error.reason === "no-such-object" ? undefined : url;
    case "timeout":
      return error.reason === "deadline"
        ? "Raise --timeout if the manager is slow, or check the network path"
        : "Check the network path to the manager";
    default:
      return undefined;
  }
}

/** Verification results with the flags that would let a check run. */
export function adviseVerifyResults<R extends { checks: Record<string, { code?: string; detail: string }> }>(results: readonly R[]): R[] {
  return results.map((r) => ({
    ...r,
    checks: Object.fromEntries(
      Object.entries(r.checks).map(([name, check]) => [
        name,
        check.code === "cannot-act-as-principal" ? { ...check, detail: `${check.detail} (--assume-as <role ARN>)` } : check,
      ]),
    ),
  }));
}
