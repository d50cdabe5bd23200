import type { CommandModule } from "yargs";
import type { GlobalArgs } from "../options";
import { externalIdGetCommand } from "./external-id-get";
import { externalIdRetrievalCommand } from "./external-id-retrieval";

export const externalIdCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "external-id",
  describe: "Get, store and manage the tenant external ID",
  builder: (y) =>
    y.command(externalIdGetCommand).command(externalIdRetrievalCommand).demandCommand(1, "Name a subcommand: get or retrieval"),
  handler: () => undefined,
};
