/**
 * The ds-onboard command line. Commands load their heavy modules (AWS SDK, undici, cdktf) only
 * when they run, so that `--help` and light commands start fast.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { ExitCode, UserError } from "../errors";
import { demoCommand } from "./commands/demo";
import { doctorCommand } from "./commands/doctor";
import { externalIdCommand } from "./commands/external-id";
import { initCommand } from "./commands/init";
import { migrateCommand } from "./commands/migrate";
import { deregisterCommand, onboardCommand, registerCommand, verifyCommand } from "./commands/onboard";
import { sandboxCommand } from "./commands/sandbox";
import { synthCommand } from "./commands/synth";
import type { GlobalArgs } from "./context";

export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName("ds-onboard")
    .usage("$0 <command> [options]\n\nConnect AWS accounts to Deep Security / Workload Security through a cross-account role.")
    .options({
      "manager-url": { type: "string", describe: "manager API base URL ending in /api [env DS_MANAGER_URL]", global: true },
      "api-key-file": { type: "string", describe: "file holding the API key [env DS_API_KEY holds the key itself]", global: true },
      "api-key": { type: "string", describe: "the API key (lands in shell history: prefer DS_API_KEY)", global: true, hidden: true },
      auth: {
        type: "string",
        choices: ["api-secret-key", "apikey"],
        describe: "authentication scheme; default from the host [env DS_AUTH_SCHEME]",
        global: true,
      },
      "external-id": { type: "string", describe: "use this external ID instead of asking the manager [env DS_EXTERNAL_ID]", global: true },
      "external-id-from": {
        type: "string",
        describe: "read the external ID from ssm:, secretsmanager: or file: [env DS_EXTERNAL_ID_FROM]",
        global: true,
      },
      "ca-bundle": { type: "string", describe: "PEM file of a CA to trust for the manager's certificate [env DS_CA_BUNDLE]", global: true },
      insecure: { type: "boolean", describe: "skip TLS verification (warns every time)", global: true },
      timeout: { type: "number", describe: "seconds to wait for a manager answer", default: 30, global: true },
      output: {
        type: "string",
        choices: ["text", "json"] as const,
        default: "text" as const,
        describe: "json: one JSON document on stdout",
        global: true,
      },
      verbose: { type: "boolean", default: false, describe: "details and stack traces on stderr", global: true },
    })
    .command(externalIdCommand)
    .command(doctorCommand)
    .command(initCommand)
    .command(synthCommand)
    .command(verifyCommand)
    .command(registerCommand)
    .command(onboardCommand)
    .command(deregisterCommand)
    .command(migrateCommand)
    .command(demoCommand)
    .command(sandboxCommand)
    .demandCommand(1, "Name a command; see --help.")
    .recommendCommands()
    .strict()
    .env(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((message, error) => {
      // Handlers report their own errors; what lands here is yargs' parsing and option checks
      // (yargs wraps errors thrown by coerce functions in its own YError).
      process.stderr.write(`error: ${error ? error.message : message}\nRun \`ds-onboard --help\` for the commands and options.\n`);
      process.exit(error instanceof UserError ? error.exitCode : ExitCode.usage);
    });
}

export async function main(argv: string[] = hideBin(process.argv)): Promise<void> {
  // The SDK warns on Node 20 about its future releases; the pinned version supports Node 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  await buildCli(argv).parseAsync();
  // The command is done: exit once stdout and stderr have drained (a pipe takes large output
  // in pieces), instead of waiting for HTTP clients' idle timers.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
  process.exit();
}

export type { GlobalArgs };
