import type { Argv, CommandModule } from "yargs";
import { ExitCode, UsageError, UserError } from "../../errors";
import { maskExternalId } from "../../redact";
import type { GlobalArgs } from "../context";
import { command } from "../run";

interface GetArgs {
  store?: string;
}

interface RetrievalArgs {
  action: "status" | "enable" | "disable" | "reset";
  force?: boolean;
}

const get: CommandModule<GlobalArgs, GlobalArgs & GetArgs> = {
  command: "get",
  describe: "Print the tenant external ID (explicit value, stored copy, or manager API, in that order)",
  builder: (y) =>
    y
      .option("store", {
        type: "string",
        describe: "Also store it: ssm:<parameter> (SecureString), secretsmanager:<secret> or file:<path> (mode 0600)",
      })
      .example("$0 external-id get", "print the ID from the manager")
      .example("$0 external-id get --store ssm:/deep-security/external-id", "print it and keep a copy in SSM") as Argv<
      GlobalArgs & GetArgs
    >,
  handler: command<GetArgs>(async (ctx, args) => {
    const { resolveExternalId } = require("../../external-id/resolve") as typeof import("../../external-id/resolve");
    const store = require("../../external-id/store") as typeof import("../../external-id/store");
    const target = args.store === undefined ? undefined : store.parseLocation(args.store, "--store");
    const { externalId, source } = await resolveExternalId(ctx.externalIdSources());
    ctx.io.debug(`external ID ${maskExternalId(externalId)} from ${source}`);
    if (target) {
      await store.writeStored(target, externalId);
      ctx.io.info(
        `stored the external ID in ${store.describeLocation(target)}; read it later with --external-id-from ${store.describeLocation(target)}`,
      );
    }
    ctx.io.result({ externalId, source, ...(target ? { storedIn: store.describeLocation(target) } : {}) }, externalId);
  }),
};

const retrieval: CommandModule<GlobalArgs, GlobalArgs & RetrievalArgs> = {
  command: "retrieval <action>",
  describe: 'Read or change the manager setting "Enable retrieval and viewing of AWS external ID"',
  builder: (y) =>
    y
      .positional("action", {
        choices: ["status", "enable", "disable", "reset"] as const,
        demandOption: true,
        describe: "status, enable, disable, or reset to the default",
      })
      .option("force", { type: "boolean", default: false, describe: "disable even without a readable stored copy of the ID" })
      .example("$0 external-id get --store ssm:/ds/external-id", "first keep a copy")
      .example("$0 external-id retrieval disable --external-id-from ssm:/ds/external-id", "then disable retrieval") as Argv<
      GlobalArgs & RetrievalArgs
    >,
  handler: command<RetrievalArgs>(async (ctx, args) => {
    const { EXTERNAL_ID_RETRIEVAL_SETTING: SETTING } = require("../../manager/types") as typeof import("../../manager/types");
    const report = (value: string, changed: boolean) => {
      const enabled = value === "true";
      ctx.io.result({ setting: SETTING, value, enabled, changed }, enabled ? "enabled" : "disabled");
    };
    const client = ctx.manager();
    switch (args.action) {
      case "status":
        return report(await client.getSetting(SETTING), false);
      case "enable":
        return report(await client.setSetting(SETTING, "true"), true);
      case "reset":
        return report(await client.resetSetting(SETTING), true);
      case "disable": {
        const sources = ctx.externalIdSources();
        if (!sources.from && !args.force) {
          throw new UsageError(
            "Refusing to disable retrieval: no stored copy of the external ID was named, so nobody could read the ID afterwards. " +
              "Store it first (`ds-onboard external-id get --store ssm:/deep-security/external-id`), then run " +
              "`ds-onboard external-id retrieval disable --external-id-from ssm:/deep-security/external-id`. --force disables it anyway.",
          );
        }
        if (sources.from) {
          const { resolveExternalId } = require("../../external-id/resolve") as typeof import("../../external-id/resolve");
          const stored = await resolveExternalId({ from: sources.from });
          const current = await client.getExternalId().catch((error: unknown) => {
            if (error instanceof UserError && error.exitCode === ExitCode.refused) return undefined; // already disabled
            throw error;
          });
          if (current !== undefined && current !== stored.externalId) {
            throw new UserError(
              `The stored copy at ${stored.source} (${maskExternalId(stored.externalId)}) differs from the manager's external ID (${maskExternalId(current)}); retrieval stays enabled. Store the current ID first with \`ds-onboard external-id get --store ${stored.source}\`.`,
            );
          }
          if (current === undefined)
            ctx.io.warn(
              "the manager did not return the external ID (retrieval may already be off), so the stored copy could not be compared with it",
            );
          const value = await client.setSetting(SETTING, "false");
          ctx.io.info(
            `Retrieval is disabled. Read the stored copy with --external-id-from ${stored.source} (or DS_EXTERNAL_ID_FROM=${stored.source}).`,
          );
          return report(value, true);
        }
        ctx.io.warn("--force: disabling retrieval without a verified stored copy of the external ID");
        return report(await client.setSetting(SETTING, "false"), true);
      }
    }
  }),
};

export const externalIdCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "external-id",
  describe: "Get, store and manage the tenant external ID",
  builder: (y) => y.command(get).command(retrieval).demandCommand(1, "Name a subcommand: get or retrieval"),
  handler: () => undefined,
};
