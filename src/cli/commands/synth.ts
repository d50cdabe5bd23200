import { ENGINES, type EngineName } from "../../engine/engines";
import { defineCommand } from "../define";
import { type SelectionArgs, selectionFromArgs, selectionOptions } from "../options";

interface SynthArgs extends SelectionArgs {
  config: string;
  out?: string;
  listAccounts: boolean;
  engine?: EngineName;
  forgetRemoved?: string[];
}

export const synthCommand = defineCommand<SynthArgs>({
  command: "synth",
  describe: "Resolve the external ID once and write Terraform JSON for every account in the config",
  builder: (y) =>
    selectionOptions(y)
      .option("config", { type: "string", demandOption: true, describe: "the onboarding config (YAML or JSON)" })
      .option("out", {
        type: "string",
        describe: "output folder (default: cdktf.out beside the config; cdktf.out/<shard> for a selection)",
      })
      .option("engine", {
        choices: ENGINES,
        describe: "the construct framework: cdktf or cdktn (default: cdktf when installed, else cdktn)",
      })
      .option("forget-removed", {
        type: "string",
        array: true,
        describe:
          "an account that left whose resources cannot be destroyed (e.g. closed): stop keeping its provider (then remove its resources from the state by hand)",
      })
      .option("list-accounts", {
        type: "boolean",
        default: false,
        describe: "show the accounts (discovered or listed) and why each is in or out; write nothing",
      })
      .example("$0 synth --config ds-onboard.yaml", "write cdktf.out/stacks/*/cdk.tf.json")
      .example("$0 synth --config ds-onboard.yaml --list-accounts", "what Organizations discovery finds")
      .example("$0 synth --config ds-onboard.yaml --shard 2/8", "one pipeline job's share: cdktf.out/shard-2-of-8"),
  handler: async ({ io, session, runtime }, args) => {
    const { Project } = require("../../app/project") as typeof import("../../app/project");
    const project = await Project.fromConfig(session, args.config, { selection: selectionFromArgs(args, runtime.env) });
    if (args.listAccounts) {
      const { describeSelection, isWholeProject } = require("../../policy/selection") as typeof import("../../policy/selection");
      const discovered = project.discovery ?? [];
      const listed = project.accounts.filter((a) => !discovered.some((d) => d.accountId === a.accountId && d.included));
      const lines = [
        ...listed.map((a) => `include  ${a.accountId}  ${a.displayName ?? ""}  (listed in the config)`),
        ...discovered.map((d) => {
          const selected = d.included && project.selects(d.accountId);
          const reason = d.included && !selected ? `not in this run's selection: ${describeSelection(project.scope.selection)}` : d.reason;
          return `${selected ? "include" : "exclude"}  ${d.accountId}  ${d.name}  ${d.ouPath}  (${reason})`;
        }),
        `${project.accounts.length} account(s) to onboard${isWholeProject(project.scope.selection) ? "" : ` (${describeSelection(project.scope.selection)}, of ${project.scope.allAccounts.length})`}`,
      ];
      io.result({ accounts: project.accounts, discovery: discovered }, lines.join("\n"));
      return undefined;
    }
    const { loadEngine } = require("../../engine") as typeof import("../../engine");
    const { synthesizeProject, deployCommands } = loadEngine(args.engine).generator;
    const result = await synthesizeProject(project, { outdir: args.out, forgetRemoved: args.forgetRemoved });
    const commands = deployCommands(result);
    io.result(
      {
        outdir: result.outdir,
        stacks: result.stacks,
        accounts: result.accounts.length,
        externalIdSource: result.externalIdSource,
        externalId: result.maskedExternalId,
        staleStacks: result.staleStacks,
        retiredStacks: result.retiredStacks,
        lifecycle: result.lifecycle,
        deployCommands: commands,
      },
      [
        `wrote ${result.stacks.length} stack(s) for ${result.accounts.length} account(s) to ${result.outdir} (external ID ${result.maskedExternalId} from ${result.externalIdSource})`,
        ...result.stacks.slice(0, 20).map((s) => `  ${s.name}  ${s.accountIds.length} account(s)  ${s.dir}/cdk.tf.json`),
        ...(result.stacks.length > 20 ? [`  ... and ${result.stacks.length - 20} more`] : []),
        ...(result.retiredStacks ?? []).map(
          (s) => `  ${s.name}  retired: only its provider, so that apply destroys what is left  ${s.dir}/cdk.tf.json`,
        ),
        "",
        "Deploy with one of:",
        ...commands.map((c) => `  ${c}`),
      ].join("\n"),
    );
    return undefined;
  },
});
