import { ENGINES, type EngineName } from "../../engine/engines";
import { ExitCode } from "../../errors";
import { PHASES, type Phase } from "../../migrate/state";
import { defineCommand } from "../define";
import { principalFromFlags, principalOptions } from "../options";
import { migrationText } from "../render";

interface MigrateArgs {
  phase: Phase;
  config?: string;
  state?: string;
  out?: string;
  dryRun: boolean;
  engine?: EngineName;
  principalAccount?: string;
  principalArn?: string;
  deploymentRoleName?: string;
}

export const migrateCommand = defineCommand<MigrateArgs>({
  command: "migrate-external-id <phase>",
  describe: "Move roles and connectors from a user-defined external ID to the manager-defined one, without lost access",
  builder: (y) =>
    principalOptions(y, "without --config")
      .positional("phase", {
        choices: PHASES,
        demandOption: true,
        describe: "the step to run; each refuses to start before the one it needs",
      })
      .option("config", { type: "string", describe: "the onboarding config (default: the accounts of the manager's connectors)" })
      .option("state", {
        type: "string",
        describe: "the migration state file (default: beside the config, or ./ds-onboard-migration.json)",
      })
      .option("out", {
        type: "string",
        describe: "where widen and narrow write (default: the config's cdktf.out, or ./migration-trust-policies)",
      })
      .option("engine", {
        choices: ENGINES,
        describe: "the construct framework widen and narrow synthesize with (default: cdktf when installed, else cdktn)",
      })
      .option("dry-run", { type: "boolean", default: false, describe: "say what would happen; write and change nothing" })
      .example("$0 migrate-external-id discover --config ds-onboard.yaml", "classify every account")
      .example("$0 migrate-external-id widen --config ds-onboard.yaml", "write roles that accept both IDs; deploy; run it again to verify"),
  handler: async ({ io, session }, args) => {
    const { migrate, openMigrationProject } = require("../../workflows/migrate") as typeof import("../../workflows/migrate");
    const project = await openMigrationProject(session, {
      config: args.config,
      principal: principalFromFlags(args),
      deploymentRoleName: args.deploymentRoleName,
    });
    const report = await migrate(project, {
      phase: args.phase,
      statePath: args.state,
      out: args.out,
      dryRun: args.dryRun,
      engine: args.engine,
    });
    io.result(report, migrationText(report));
    return report.failed ? ExitCode.failed : ExitCode.ok;
  },
});
