import { ExitCode } from "../../errors";
import { defineCommand } from "../define";
import { duration, integer, type SelectionArgs, seconds, selectionFromArgs, selectionOptions } from "../options";
import { reconcileTable } from "../render";

interface ReconcileArgs extends SelectionArgs {
  config: string;
  applyRegistration: boolean;
  maxSyncAge: number;
  concurrency: number;
  assumeRetryTimeout: number;
}

export const reconcileCommand = defineCommand<ReconcileArgs>({
  command: "reconcile",
  describe:
    "Compare the config's accounts (and Organizations) with the manager's connectors and the live roles: to onboard, healthy, drifted, to offboard; for a scheduled pipeline",
  builder: (y) =>
    selectionOptions(y)
      .option("config", {
        type: "string",
        demandOption: true,
        describe: "the onboarding config: its accounts (and discovery) and role settings",
      })
      .option("apply-registration", {
        type: "boolean",
        default: false,
        describe: "register new accounts, repair and resynchronize connectors, deregister accounts that left (roles stay Terraform's)",
      })
      .option("max-sync-age", {
        type: "string",
        default: "24h",
        coerce: duration("max-sync-age"),
        describe: "a connector not synchronized for longer is drifted (e.g. 90m, 24h, 2d)",
      })
      .option("concurrency", { type: "string", default: 8, coerce: integer("concurrency", 1, 256), describe: "accounts handled at once" })
      .option("assume-retry-timeout", {
        type: "string",
        default: 180,
        coerce: seconds("assume-retry-timeout", 0, 3600),
        describe: "seconds a registration retries while the manager cannot assume a new role (IAM propagation)",
      })
      .example("$0 reconcile --config ds-onboard.yaml --output json", "report only; exit 4 when an account needs action")
      .example("$0 reconcile --config ds-onboard.yaml --shard 2/8 --apply-registration", "one pipeline job: converge shard 2 of 8")
      .epilogue(
        "Exit codes: 0 nothing needs action (or everything converged); 4 an account still needs action (see each account's fix); 1 failure; 2 bad input; 3 refused by the manager.",
      ),
  handler: async ({ io, session, runtime }, args) => {
    const { Project } = require("../../app/project") as typeof import("../../app/project");
    const { reconcileProject } = require("../../workflows/reconcile") as typeof import("../../workflows/reconcile");
    const project = await Project.fromConfig(session, args.config, { selection: selectionFromArgs(args, runtime.env) });
    const report = await reconcileProject(project, {
      applyRegistration: args.applyRegistration,
      maxSyncAgeMs: args.maxSyncAge,
      concurrency: args.concurrency,
      assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
      onStep: (line) => io.debug(line),
    });
    io.result(report, reconcileTable(report));
    return report.ok ? ExitCode.ok : ExitCode.verification;
  },
});
