import { RETRIEVAL_ACTIONS, type RetrievalAction } from "../../workflows/external-id";
import { defineCommand } from "../define";

interface RetrievalArgs {
  action: RetrievalAction;
  force: boolean;
}

export const externalIdRetrievalCommand = defineCommand<RetrievalArgs>({
  command: "retrieval <action>",
  describe: 'Read or change the manager setting "Enable retrieval and viewing of AWS external ID"',
  builder: (y) =>
    y
      .positional("action", {
        choices: RETRIEVAL_ACTIONS,
        demandOption: true,
        describe: "status, enable, disable, or reset to the default",
      })
      .option("force", { type: "boolean", default: false, describe: "disable even without a readable stored copy of the ID" })
      .example("$0 external-id get --store ssm:/ds/external-id", "first keep a copy")
      .example("$0 external-id retrieval disable --external-id-from ssm:/ds/external-id", "then disable retrieval"),
  handler: async ({ io, session }, args) => {
    const { retrievalSetting } = require("../../workflows/external-id") as typeof import("../../workflows/external-id");
    const report = await retrievalSetting(session, args.action, { force: args.force });
    if (report.storedCopy)
      io.info(
        `Retrieval is disabled. Read the stored copy with --external-id-from ${report.storedCopy} (or DS_EXTERNAL_ID_FROM=${report.storedCopy}).`,
      );
    io.result(report, report.enabled ? "enabled" : "disabled");
    return undefined;
  },
});
