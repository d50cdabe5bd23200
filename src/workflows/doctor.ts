/**
 * Checks the manager URL, TLS, the key and its rights, the external ID sources, and the AWS
 * credentials in use, and says which check failed and why.
 */
import type { Session } from "../app/session";
import { ExitCode, UserError } from "../errors";
import { resolveExternalId } from "../external-id/resolve";
import type { ManagerError } from "../manager/errors";
import { EXTERNAL_ID_RETRIEVAL_SETTING } from "../manager/types";
import { maskExternalId } from "../redact";

export interface DoctorCheck {
  readonly name: string;
  readonly status: "pass" | "warn" | "fail" | "skip";
  readonly detail: string;
  /** The error behind a failure, for advice. */
  readonly error?: unknown;
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
  readonly exitCode: ExitCode;
}

export async function runDoctor(session: Session): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const add = (name: string, status: DoctorCheck["status"], detail: string, error?: unknown) =>
    checks.push({ name, status, detail, error });
  let refused = false;
  const failWith = (name: string, error: unknown) => {
    if (error instanceof UserError && error.exitCode === ExitCode.refused) refused = true;
    add(name, "fail", error instanceof Error ? error.message : String(error), error);
  };

  let ready = true;
  try {
    const url = session.managerUrl();
    const api = url.pathname.endsWith("/api");
    add("manager URL", api ? "pass" : "warn", api ? url.href : `${url.href} does not end in /api; the API usually lives there`);
  } catch (error) {
    failWith("manager URL", error);
    ready = false;
  }
  try {
    session.apiKey();
    add("API key", "pass", "present (not shown)");
  } catch (error) {
    failWith("API key", error);
    ready = false;
  }

  const sources = session.externalIdSources();
  if (ready) {
    const client = session.manager();
    let connected = false;
    try {
      const key = await client.currentApiKey();
      connected = true;
      add("connection and TLS", "pass", `${client.transport.baseUrl.protocol === "https:" ? "TLS verified, " : ""}the manager answered`);
      add(
        "key is valid",
        "pass",
        `key "${key.keyName ?? "?"}" (ID ${key.ID ?? "?"}, role ID ${key.roleID ?? "?"})${key.active === false ? ", but it is locked out" : ""}`,
      );
    } catch (error) {
      const kind = (error as ManagerError).kind;
      if (kind === "forbidden") {
        connected = true;
        add("connection and TLS", "pass", "the manager answered");
        add("key is valid", "warn", "the key was accepted but may not describe itself (view API keys)");
      } else if (kind === "unauthorized") {
        add("connection and TLS", "pass", "the manager answered");
        failWith("key is valid", error);
      } else {
        failWith("connection and TLS", error);
      }
    }
    if (connected && !refused) {
      const fallback = sources.explicit ?? sources.from;
      try {
        const id = await client.getExternalId();
        session.log.addSecret(id);
        add("right: view the external ID", "pass", `external ID ${maskExternalId(id)}`);
      } catch (error) {
        if (fallback && (error as ManagerError).kind === "forbidden") {
          add("right: view the external ID", "warn", `refused, but a stored or explicit ID is configured. ${(error as Error).message}`);
        } else failWith("right: view the external ID", error);
      }
      try {
        const value = await client.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
        add("right: view settings", "pass", `external ID retrieval is ${value === "true" ? "enabled" : "disabled"}`);
      } catch (error) {
        add("right: view settings", "warn", `${(error as Error).message} (needed only to change the retrieval setting)`);
      }
      try {
        const found = await client.searchConnectors({ maxItems: 1 });
        add("right: view AWS connectors", "pass", found.length ? "at least one connector registered" : "no connectors registered yet");
      } catch (error) {
        failWith("right: view AWS connectors", error);
      }
    }
  }

  if (sources.from || sources.explicit) {
    try {
      const resolved = await resolveExternalId({ explicit: sources.explicit, from: sources.from });
      session.log.addSecret(resolved.externalId);
      add("external ID source", "pass", `${resolved.source}: ${maskExternalId(resolved.externalId)}`);
    } catch (error) {
      failWith("external ID source", error);
    }
  }

  try {
    const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts");
    const sts = new STSClient({});
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}));
      add("AWS credentials", "pass", `${me.Arn} (account ${me.Account})`);
    } finally {
      sts.destroy();
    }
  } catch (error) {
    add(
      "AWS credentials",
      "warn",
      `none usable (${(error as Error).message}); needed to store the external ID in SSM or Secrets Manager and to verify roles. Configure a profile, SSO or AWS_* variables.`,
    );
  }

  const failed = checks.some((c) => c.status === "fail");
  const exitCode = refused ? ExitCode.refused : failed ? ExitCode.failed : ExitCode.ok;
  return { ok: exitCode === ExitCode.ok, checks, exitCode };
}
