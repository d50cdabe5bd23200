/**
 * How a command is declared: its name, its options and its handler, typed by the arguments it
 * reads. One place does the cast from the types yargs infers (flags read as strings and coerced,
 * choices) to the command's own argument interface.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { Project } from "../app/project";
import type { ExitCode } from "../errors";
import { type GlobalArgs, type RegisterArgs, type TargetArgs, targetOptions, type VerifyArgs } from "./options";
import type { Progress } from "./progress";
import { type CommandContext, command, type Handler, projectCommand } from "./run";

export interface CommandSpec<A> {
  /** The yargs command string, with its positionals (`retrieval <action>`). */
  readonly command: string;
  readonly describe: string;
  /** Adds the command's own options and examples. */
  readonly builder?: (y: Argv<GlobalArgs>) => Argv<unknown>;
  readonly handler: Handler<A>;
}

/** A command whose handler gets A's arguments (and the global ones). */
export function defineCommand<A>(spec: CommandSpec<A>): CommandModule<GlobalArgs, GlobalArgs & A> {
  const { builder } = spec;
  return {
    command: spec.command,
    describe: spec.describe,
    ...(builder ? { builder: (y: Argv<GlobalArgs>) => builder(y) as unknown as Argv<GlobalArgs & A> } : {}),
    handler: parsed(command<A>(spec.handler)),
  };
}

export interface ProjectCommandSpec<A extends TargetArgs> {
  readonly command: string;
  readonly describe: string;
  /** Options besides the targets' (`--config`, `--role-arn`...), which every project command takes. */
  readonly options?: (y: Argv<GlobalArgs>) => Argv<unknown>;
  /** How many progress steps a run has (default: one per target). */
  readonly steps?: (project: Project, args: A) => number;
  readonly handler: (ctx: CommandContext & { project: Project; progress: Progress }, args: A & GlobalArgs) => Promise<ExitCode | undefined>;
}

/** A command over a project's accounts: the target options, then its own; the progress is labelled with its name. */
export function defineProjectCommand<A extends TargetArgs>(spec: ProjectCommandSpec<A>): CommandModule<GlobalArgs, GlobalArgs & A> {
  const { options } = spec;
  const name = spec.command.split(" ")[0];
  return {
    command: spec.command,
    describe: spec.describe,
    builder: (y) => {
      const targets = targetOptions(y) as unknown as Argv<GlobalArgs>;
      return (options ? options(targets) : targets) as unknown as Argv<GlobalArgs & A>;
    },
    handler: parsed(projectCommand<A>(name, spec.handler, spec.steps)),
  };
}

/** yargs hands over its parse (camel-case keys beside the dashed ones) of the options declared for A. */
function parsed<A>(handler: (args: A & GlobalArgs) => Promise<void>): (args: ArgumentsCamelCase<GlobalArgs & A>) => Promise<void> {
  return (args) => handler(args as unknown as A & GlobalArgs);
}

/** What `verify` and `onboard` pass to verification, from their flags (seconds become ms). */
export function verifyWorkflowOptions(args: VerifyArgs) {
  return {
    assumeAs: args.assumeAs,
    propagationTimeoutMs: args.propagationTimeout * 1000,
    alsoAccept: args.alsoAccept,
    concurrency: args.concurrency,
  };
}

/** What `register` and `onboard` pass to registration, from their flags (seconds become ms). */
export function registerWorkflowOptions(args: RegisterArgs) {
  return {
    checkTrust: args.checkTrust,
    sync: args.sync,
    removeDuplicates: args.removeDuplicates,
    assumeRetryTimeoutMs: args.assumeRetryTimeout * 1000,
    concurrency: args.concurrency,
  };
}
