import { defineCommand } from "../define";
import { duration } from "../options";
import { statusTable } from "../render";

interface StatusArgs {
  config?: string;
  maxSyncAge: number;
}

export const statusCommand = defineCommand<StatusArgs>({
  command: "status",
  describe: "The manager's AWS connectors: account, role, last synchronization, state, and (with --config) which no known account owns",
  builder: (y) =>
    y
      .option("config", { type: "string", describe: "the onboarding config whose accounts (listed and discovered) own connectors" })
      .option("max-sync-age", {
        type: "string",
        default: "24h",
        coerce: duration("max-sync-age"),
        describe: "a connector not synchronized for longer is stale (e.g. 90m, 24h, 2d)",
      })
      .example("$0 status --config ds-onboard.yaml", "every connector, and those no account of the config owns"),
  handler: async ({ io, session }, args) => {
    const { managerStatus } = require("../../workflows/status") as typeof import("../../workflows/status");
    const { Project } = require("../../app/project") as typeof import("../../app/project");
    const project = args.config ? await Project.fromConfig(session, args.config) : undefined;
    const report = await managerStatus(session, { project, maxSyncAgeMs: args.maxSyncAge });
    io.result(report, statusTable(report));
    return undefined;
  },
});
