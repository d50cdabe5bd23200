/**
 * The options several commands share, their checks, and how they become a session and a project.
 */
import type { Argv } from "yargs";
import { ENVIRONMENT, settingsFromEnvironment } from "../app/environment";
import type { Project } from "../app/project";
import { Session, type SessionSettings, type Setting } from "../app/session";
import { UsageError } from "../errors";
import { AUTH_SCHEMES } from "../manager/schemes";
import type { ManagerPrincipal } from "../policy/principal";
import { parseShard, type Selection, type Shard } from "../policy/selection";
import type { Io, OutputMode } from "./io";

export interface GlobalArgs {
  managerUrl?: string;
  apiKeyFile?: string;
  apiKey?: string;
  auth?: string;
  externalId?: string;
  externalIdFrom?: string;
  caBundle?: string;
  insecure?: boolean;
  timeout: number;
  deadline?: number;
  output: OutputMode;
  verbose: boolean;
}

/** A whole number within bounds: counts such as `--concurrency`. */
export function integer(flag: string, min: number, max: number) {
  return (value: unknown): number => {
    const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UsageError(`--${flag}: ${JSON.stringify(value)} is not a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Seconds within bounds: `--timeout`, `--propagation-timeout`... */
export function seconds(flag: string, min: number, max: number, options: { exclusiveMin?: boolean } = {}) {
  return (value: unknown): number => {
    const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
    const low = options.exclusiveMin ? n > min : n >= min;
    if (!Number.isFinite(n) || !low || n > max) {
      throw new UsageError(
        `--${flag}: ${JSON.stringify(value)} is not a number of seconds ${options.exclusiveMin ? "above" : "from"} ${min} ${options.exclusiveMin ? "and up" : ""} to ${max}.`.replace(
          "  ",
          " ",
        ),
      );
    }
    return n;
  };
}

/** A duration: `90m`, `24h`, `2d`, or seconds (`3600`); in milliseconds. */
export function duration(flag: string) {
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  return (value: unknown): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(String(value));
    if (!m || Number(m[1]) <= 0) throw new UsageError(`--${flag}: ${JSON.stringify(value)} is not a duration; write e.g. 90m, 24h or 2d.`);
    return Number(m[1]) * units[m[2] || "s"] * 1000;
  };
}

/** The options every command takes. */
export function globalOptions<T>(y: Argv<T>) {
  return y.options({
    "manager-url": { type: "string", describe: `manager API base URL ending in /api [env ${ENVIRONMENT.managerUrl}]`, global: true },
    "api-key-file": {
      type: "string",
      describe: `file holding the API key [env ${ENVIRONMENT.apiKey} holds the key itself, ${ENVIRONMENT.apiKeyFile} a file]`,
      global: true,
    },
    "api-key": { type: "string", describe: "the API key (lands in shell history: prefer DS_API_KEY)", global: true, hidden: true },
    auth: {
      type: "string",
      choices: AUTH_SCHEMES,
      describe: `authentication scheme; default from the host [env ${ENVIRONMENT.auth}]`,
      global: true,
    },
    "external-id": {
      type: "string",
      describe: `use this external ID instead of asking the manager [env ${ENVIRONMENT.externalId}]`,
      global: true,
    },
    "external-id-from": {
      type: "string",
      describe: `read the external ID from ssm:, secretsmanager:, file: or env: [env ${ENVIRONMENT.externalIdFrom}]`,
      global: true,
    },
    "ca-bundle": {
      type: "string",
      describe: `PEM file of a CA to trust for the manager's certificate [env ${ENVIRONMENT.caBundle}]`,
      global: true,
    },
    insecure: { type: "boolean", describe: "skip TLS verification (warns every time)", global: true },
    timeout: {
      type: "string",
      default: 30,
      coerce: seconds("timeout", 0, 3600, { exclusiveMin: true }),
      describe: "seconds one manager request may take (headers and body); each is tried at most 5 times",
      global: true,
    },
    deadline: {
      type: "string",
      coerce: seconds("deadline", 0, 7 * 24 * 3600, { exclusiveMin: true }),
      describe: "seconds the whole command may take; past it, it stops with exit code 1 and says what was done (a rerun continues)",
      global: true,
    },
    output: {
      type: "string",
      choices: ["text", "json"] as const,
      default: "text" as const,
      describe: "json: one JSON document on stdout, also on failure",
      global: true,
    },
    verbose: { type: "boolean", default: false, describe: "details and stack traces on stderr", global: true },
  });
}

/** The session of a run: flags over the environment. */
export function sessionFromArgs(args: GlobalArgs, env: NodeJS.ProcessEnv, io: Io): Session {
  const fromEnv = settingsFromEnvironment(env);
  const flag = (name: string, value: string | undefined): Setting | undefined =>
    value === undefined ? undefined : { value, origin: `--${name}` };
  if (args.apiKey !== undefined)
    io.warn("--api-key puts the key in your shell history and the process list; use DS_API_KEY or --api-key-file.");
  // A key named on the command line (file or value) wins over the environment's.
  const keyFromFlags = args.apiKeyFile !== undefined || args.apiKey !== undefined;
  const settings: SessionSettings = {
    managerUrl: flag("manager-url", args.managerUrl) ?? fromEnv.managerUrl,
    auth: flag("auth", args.auth) ?? fromEnv.auth,
    apiKeyFile: keyFromFlags ? flag("api-key-file", args.apiKeyFile) : fromEnv.apiKeyFile,
    apiKey: keyFromFlags ? (args.apiKeyFile === undefined ? flag("api-key", args.apiKey) : undefined) : fromEnv.apiKey,
    caBundle: flag("ca-bundle", args.caBundle) ?? fromEnv.caBundle,
    insecure: args.insecure ? { value: true, origin: "--insecure" } : undefined,
    timeoutSeconds: args.timeout,
    externalId: flag("external-id", args.externalId) ?? fromEnv.externalId,
    externalIdFrom: flag("external-id-from", args.externalIdFrom) ?? fromEnv.externalIdFrom,
  };
  return new Session(settings, io);
}

/** Which of a config's accounts a run acts on. */
export interface SelectionArgs {
  config?: string;
  shard?: Shard;
  ou?: string[];
}

/** The shard variable pipelines set instead of `--shard` (e.g. from a CI matrix). */
export const SHARD_VARIABLE = "DS_ONBOARD_SHARD";

function shardFlag(value: unknown): Shard | undefined {
  if (value === undefined) return undefined;
  const shard = parseShard(String(value));
  if ("problem" in shard) throw new UsageError(`--shard: ${shard.problem}.`);
  return shard;
}

/** `--shard I/N` and `--ou`: a slice of a config's accounts, for one pipeline job each. */
export function selectionOptions<T>(y: Argv<T>) {
  return y
    .option("shard", {
      type: "string",
      coerce: shardFlag,
      describe: `with --config: only the accounts of shard I of N (e.g. 2/8), by a stable hash of the account ID [env ${SHARD_VARIABLE}]`,
    })
    .option("ou", {
      type: "string",
      array: true,
      describe: "with --config: only the accounts under this OU or root (repeat for more); reads the organization",
    });
}

/** The selection of a run: the flags, else the environment's shard. */
export function selectionFromArgs(args: SelectionArgs, env: NodeJS.ProcessEnv): Selection {
  if ((args.shard || args.ou?.length) && !args.config)
    throw new UsageError("--shard and --ou select accounts of a config: add --config <file>.");
  // The variable a CI job sets for every step applies to the steps with a config only.
  if (!args.config) return {};
  const fromEnv = env[SHARD_VARIABLE];
  let shard = args.shard;
  if (!shard && fromEnv) {
    const parsed = parseShard(fromEnv);
    if ("problem" in parsed) throw new UsageError(`${SHARD_VARIABLE}: ${parsed.problem}.`);
    shard = parsed;
  }
  return { ...(shard ? { shard } : {}), ...(args.ou?.length ? { ous: args.ou } : {}) };
}

/** Where a command takes its accounts: a config, or role ARNs. */
export interface TargetArgs extends SelectionArgs {
  config?: string;
  roleArn?: string[];
  principalAccount?: string;
  principalArn?: string;
  deploymentRoleName?: string;
  displayName?: string[];
  includeWorkspaces: boolean;
  concurrency: number;
}

/** Whom roles named without a config trust, and how to read them. */
export function principalOptions<T>(y: Argv<T>, without: string) {
  return y
    .option("principal-account", {
      type: "string",
      describe: `${without}: an on-premises manager's AWS account (default: Workload Security)`,
    })
    .option("principal-arn", { type: "string", describe: `${without}: the role or user ARN an on-premises manager runs as` })
    .option("deployment-role-name", {
      type: "string",
      describe: `${without}: the role to assume in each account to read its IAM (default: the caller's own credentials; migration: OrganizationAccountAccessRole)`,
    });
}

export function targetOptions<T>(y: Argv<T>) {
  return selectionOptions(principalOptions(y, "with --role-arn"))
    .option("config", { type: "string", describe: "the onboarding config: its accounts (and discovery) and role settings" })
    .option("role-arn", { type: "string", array: true, describe: "a deployed role (repeat for more); the account is the one in the ARN" })
    .option("display-name", { type: "string", array: true, describe: "with --role-arn: the connector display names, in the same order" })
    .option("include-workspaces", {
      type: "boolean",
      default: true,
      describe:
        "with --role-arn: the roles grant the WorkSpaces actions, and connectors enable WorkSpaces (--no-include-workspaces: neither)",
    })
    .option("concurrency", { type: "string", default: 8, coerce: integer("concurrency", 1, 256), describe: "accounts handled at once" });
}

/** The trusted principal given by flags: an on-premises manager's role or account, else Workload Security. */
export function principalFromFlags(args: { principalArn?: string; principalAccount?: string }): ManagerPrincipal {
  if (args.principalArn) return { type: "on-premises", arn: args.principalArn };
  if (args.principalAccount) return { type: "on-premises", accountId: args.principalAccount };
  return { type: "workload-security" };
}

/** The project a command acts on: its config's, or the roles it names. */
export async function projectFromArgs(session: Session, args: TargetArgs, env: NodeJS.ProcessEnv): Promise<Project> {
  // Loaded here, not at start-up: it brings the config parser (yaml, zod).
  const { Project } = require("../app/project") as typeof import("../app/project");
  if (args.config && args.roleArn?.length) throw new UsageError("Give --config or --role-arn, not both.");
  const selection = selectionFromArgs(args, env);
  if (args.config) return Project.fromConfig(session, args.config, { selection });
  if (!args.roleArn?.length) throw new UsageError("Name the roles: --config <file> or --role-arn <arn> (repeatable).");
  return Project.fromRoleArns(session, {
    roleArns: args.roleArn,
    principal: principalFromFlags(args),
    deploymentRoleName: args.deploymentRoleName,
    displayNames: args.displayName,
    role: { includeWorkspaces: args.includeWorkspaces },
    origin: "--role-arn",
  });
}

export interface VerifyArgs extends TargetArgs {
  assumeAs?: string;
  propagationTimeout: number;
  alsoAccept?: string[];
}

export function verifyOptions<T>(y: Argv<T>) {
  return y
    .option("assume-as", {
      type: "string",
      describe: "a role that is (or is in the account of) the trusted principal, to run the assume-role check as",
    })
    .option("propagation-timeout", {
      type: "string",
      default: 60,
      coerce: seconds("propagation-timeout", 0, 3600),
      describe: "seconds to wait for a new role to be visible and assumable",
    })
    .option("also-accept", { type: "string", array: true, describe: "another external ID the roles may accept (a migration window)" });
}

export interface RegisterArgs extends TargetArgs {
  sync: boolean;
  removeDuplicates: boolean;
  assumeRetryTimeout: number;
  checkTrust: boolean;
}

export function registerOptions<T>(y: Argv<T>) {
  return y
    .option("sync", { type: "boolean", default: false, describe: "resynchronize connectors that are already right" })
    .option("remove-duplicates", {
      type: "boolean",
      default: false,
      describe: "delete connectors that duplicate an account's connector for the same role (found from earlier runs; always reported)",
    })
    .option("assume-retry-timeout", {
      type: "string",
      default: 180,
      coerce: seconds("assume-retry-timeout", 0, 3600),
      describe: "seconds to retry while the manager cannot assume a new role (IAM propagation)",
    })
    .option("check-trust", {
      type: "boolean",
      default: true,
      describe: "read each role first and refuse one whose trust policy is unsafe (needs AWS credentials; --no-check-trust skips)",
    });
}
