import { defineCommand } from "../define";

interface GetArgs {
  store?: string;
  force: boolean;
}

export const externalIdGetCommand = defineCommand<GetArgs>({
  command: "get",
  describe: "Print the tenant external ID (explicit value, stored copy, or manager API, in that order)",
  builder: (y) =>
    y
      .option("store", {
        type: "string",
        describe: "Also store it: ssm:<parameter> (SecureString), secretsmanager:<secret> or file:<path> (mode 0600)",
      })
      .option("force", { type: "boolean", default: false, describe: "with --store file:, replace a file that holds something else" })
      .example("$0 external-id get", "print the ID from the manager")
      .example("$0 external-id get --store ssm:/deep-security/external-id", "print it and keep a copy in SSM"),
  handler: async ({ io, session }, args) => {
    const { getExternalId } = require("../../workflows/external-id") as typeof import("../../workflows/external-id");
    const report = await getExternalId(session, { store: args.store, force: args.force });
    if (report.storedIn) io.info(`stored the external ID in ${report.storedIn}; read it later with --external-id-from ${report.storedIn}`);
    // Printing the ID is this command's purpose: the only place it is shown.
    io.allow(report.externalId);
    io.result(report, report.externalId);
    return undefined;
  },
});
