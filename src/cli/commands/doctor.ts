import type { CommandModule } from "yargs";
import { ExitCode, UserError } from "../../errors";
import type { ManagerError } from "../../manager/errors";
import { maskExternalId } from "../../redact";
import type { Context, GlobalArgs } from "../context";
import { command } from "../run";

export interface DoctorCheck {
  readonly name: string;
  readonly status: "pass" | "warn" | "fail" | "skip";
  readonly detail: string;
}

/** Checks the manager URL, TLS, the key and its rights, the external ID sources, and the AWS credentials. */
export async function runDoctor(ctx: Context): Promise<{ checks: DoctorCheck[]; exitCode: ExitCode }> {
  const checks: DoctorCheck[] = [];
  const add = (name: string, status: DoctorCheck["status"], detail: string) => checks.push({ name, status, detail });
  let refused = false;
  const failWith = (name: string, error: unknown) => {
    if (error instanceof UserError && error.exitCode === ExitCode.refused) refused = true;
    add(name, "fail", error instanceof Error ? error.message : String(error));
  };

  let ready = true;
  try {
    const url = ctx.managerUrl();
    add(
      "manager URL",
      url.pathname.endsWith("/api") ? "pass" : "warn",
      url.pathname.endsWith("/api") ? url.href : `${url.href} does not end in /api; the API usually lives there`,
    );
  } catch (error) {
    failWith("manager URL", error);
    ready = false;
  }
  try {
    ctx.apiKey();
    add("API key", "pass", "present (not shown)");
  } catch (error) {
    failWith("API key", error);
    ready = false;
  }

  if (ready) {
    const client = ctx.manager();
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
      const sources = ctx.externalIdSources();
      const fallback = sources.explicit ?? sources.from;
      try {
        const id = await client.getExternalId();
        add("right: view the external ID", "pass", `external ID ${maskExternalId(id)}`);
      } catch (error) {
        if (fallback && (error as ManagerError).kind === "forbidden")
          add("right: view the external ID", "warn", `refused, but a stored or explicit ID is configured. ${(error as Error).message}`);
        else failWith("right: view the external ID", error);
      }
      try {
        const { EXTERNAL_ID_RETRIEVAL_SETTING } = require("../../manager/types") as typeof import("../../manager/types");
        const value = await client.getSetting(EXTERNAL_ID_RETRIEVAL_SETTING);
        add("right: view settings", "pass", `external ID retrieval is ${value === "true" ? "enabled" : "disabled"}`);
      } catch (error) {
        add("right: view settings", "warn", `${(error as Error).message} (needed only for \`external-id retrieval\`)`);
      }
      try {
        const found = await client.searchConnectors({ maxItems: 1 });
        add("right: view AWS connectors", "pass", found.length ? "at least one connector registered" : "no connectors registered yet");
      } catch (error) {
        failWith("right: view AWS connectors", error);
      }
    }
  }

  const sources = ctx.externalIdSources();
  if (sources.from || sources.explicit) {
    try {
      const { resolveExternalId } = require("../../external-id/resolve") as typeof import("../../external-id/resolve");
      const resolved = await resolveExternalId({ explicit: sources.explicit, from: sources.from });
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
      `none usable (${(error as Error).message}); needed for --store ssm:/secretsmanager: and for verifying roles. Configure a profile, SSO or AWS_* variables.`,
    );
  }

  const failed = checks.some((c) => c.status === "fail");
  return { checks, exitCode: refused ? ExitCode.refused : failed ? ExitCode.failed : ExitCode.ok };
}

export const doctorCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "doctor",
  describe: "Check the manager URL, TLS, the API key and its rights, and the AWS credentials in use",
  handler: command(async (ctx) => {
    const { checks, exitCode } = await runDoctor(ctx);
    const width = Math.max(...checks.map((c) => c.name.length));
    const text = checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`).join("\n");
    ctx.io.result({ ok: exitCode === ExitCode.ok, checks }, text);
    return exitCode;
  }),
};
