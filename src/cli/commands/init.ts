import { existsSync, mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DEFAULT_ENGINE, ENGINES, type EngineName } from "../../engine/engines";
import { UsageError } from "../../errors";
import { CI_SYSTEMS, type CiSystem, DEFAULT_SCHEDULE, DEFAULT_SHARDS, MAX_SHARDS } from "../../generator/ci-options";
import { PRODUCTS, type Product } from "../../manager/schemes";
import { defineCommand } from "../define";
import { integer } from "../options";

interface InitArgs {
  dir: string;
  account?: string[];
  orgOu?: string[];
  product?: Product;
  principalAccount?: string;
  principalArn?: string;
  externalIdSource: string;
  layout?: "single-stack" | "stack-per-account";
  deploymentRole?: string;
  region?: string;
  package?: string;
  engine: EngineName;
  force: boolean;
  stateBucket?: string;
  stateKeyPrefix?: string;
  ci?: CiSystem;
  shards: number;
  ciRoleArn?: string;
  ciPlanRoleArn?: string;
  ciSchedule: string;
  ciBranch: string;
}

export const initCommand = defineCommand<InitArgs>({
  command: "init [dir]",
  describe:
    "Write a ready cdktf onboarding project (package.json, cdktf.json, main.ts, ds-onboard.yaml, .gitignore, README; with --ci a CI workflow)",
  builder: (y) =>
    y
      .positional("dir", { type: "string", default: ".", describe: "project folder" })
      .option("account", { type: "string", array: true, describe: "an AWS account ID to onboard (repeat for more)" })
      .option("org-ou", { type: "string", array: true, describe: "discover the accounts under this root or OU (repeat for more)" })
      .option("product", {
        choices: PRODUCTS,
        describe: "the manager product",
      })
      .option("principal-account", { type: "string", describe: "on-premises manager: the AWS account it runs in" })
      .option("principal-arn", { type: "string", describe: "on-premises manager: the role or user ARN it runs as" })
      .option("external-id-source", {
        type: "string",
        default: "manager",
        describe: "manager, env:NAME, ssm:..., secretsmanager:... or file:...",
      })
      .option("layout", { choices: ["single-stack", "stack-per-account"] as const, describe: "Terraform stack layout" })
      .option("deployment-role", {
        type: "string",
        describe: "role Terraform assumes in each account (default OrganizationAccountAccessRole)",
      })
      .option("region", { type: "string", describe: "provider region (default us-east-1)" })
      .option("package", {
        type: "string",
        describe:
          "how the project depends on ds-onboard (default: this version from the registry, or a tarball of this copy packed into the project)",
      })
      .option("engine", {
        choices: ENGINES,
        default: DEFAULT_ENGINE,
        describe: "the construct framework: cdktf, or its fork CDK Terrain (cdktn)",
      })
      .option("force", { type: "boolean", default: false, describe: "overwrite existing files" })
      .option("state-bucket", {
        type: "string",
        describe: "keep the Terraform state in this S3 bucket (native locking; Terraform 1.10+) instead of local files",
      })
      .option("state-key-prefix", { type: "string", implies: "state-bucket", describe: 'the state keys\' prefix (default "ds-onboard/")' })
      .option("ci", {
        choices: CI_SYSTEMS,
        describe: "also write a CI workflow: synth, plan, apply and onboard per shard, and a scheduled reconcile (needs a shared state)",
      })
      .option("shards", {
        type: "string",
        default: DEFAULT_SHARDS,
        coerce: integer("shards", 1, MAX_SHARDS),
        describe: "with --ci: how many parallel jobs the accounts are split into (keep it: an account's shard depends on it)",
      })
      .option("ci-role-arn", {
        type: "string",
        implies: "ci",
        describe: "with --ci: the IAM role the pipeline assumes through OIDC (default: a CI variable, DS_ONBOARD_AWS_ROLE_ARN)",
      })
      .option("ci-plan-role-arn", {
        type: "string",
        implies: "ci",
        describe: "with --ci: a read-only role for the plans of pull/merge requests (default: --ci-role-arn)",
      })
      .option("ci-schedule", {
        type: "string",
        default: DEFAULT_SCHEDULE,
        describe: "with --ci: when the scheduled reconcile runs (cron, UTC)",
      })
      .option("ci-branch", {
        type: "string",
        default: "main",
        describe: "with --ci, GitHub: the branch that applies (GitLab: the default branch)",
      })
      .example("$0 init onboarding --account 111122223333 --account 444455556666", "two accounts, Workload Security")
      .example("$0 init org --org-ou ou-ab12-cdef3456 --layout stack-per-account", "every account under an OU")
      .example(
        "$0 init org --org-ou r-ab12 --layout stack-per-account --state-bucket my-tf-state --ci github-actions --shards 8 --ci-role-arn arn:aws:iam::111122223333:role/ds-onboard-ci",
        "an organization, onboarded by GitHub Actions in 8 shards",
      )
      .example(
        "$0 init org --org-ou r-ab12 --state-bucket my-tf-state --ci gitlab",
        "the same on GitLab CI (role ARN from a CI/CD variable)",
      ),
  handler: async ({ io, runtime }, args) => {
    const { projectFiles, CONFIG_FILE } = require("../../generator/init") as typeof import("../../generator/init");
    const { parseConfig } = require("../../config/load") as typeof import("../../config/load");
    const { stringify } = require("yaml") as typeof import("yaml");
    const { writeFileAtomic } = require("../../files") as typeof import("../../files");
    const dir = resolve(args.dir);

    let accounts = args.account ?? [];
    let managerUrl = args.managerUrl;
    if (accounts.length === 0 && !args.orgOu?.length) {
      if (!runtime.stdin.isTTY)
        throw new UsageError("Name the accounts: --account <id> (repeatable) or --org-ou <root or OU ID> for Organizations discovery.");
      const readline = require("node:readline/promises") as typeof import("node:readline/promises");
      const rl = readline.createInterface({ input: runtime.stdin, output: runtime.stderr });
      try {
        accounts = (await rl.question("AWS account IDs to onboard (comma-separated): ")).split(/[\s,]+/).filter(Boolean);
        if (!managerUrl)
          managerUrl = (await rl.question("Manager API URL (blank: use DS_MANAGER_URL at synth time): ")).trim() || undefined;
      } finally {
        rl.close();
      }
    }
    const principal = args.principalArn
      ? { type: "on-premises" as const, arn: args.principalArn }
      : args.principalAccount
        ? { type: "on-premises" as const, accountId: args.principalAccount }
        : undefined;
    const config = {
      manager: {
        ...(managerUrl ? { url: managerUrl } : {}),
        ...(args.product ? { product: args.product } : {}),
        ...(principal ? { principal } : {}),
      },
      externalId: args.externalIdSource,
      deployment: {
        ...(args.layout ? { layout: args.layout } : {}),
        ...(args.deploymentRole ? { deploymentRoleName: args.deploymentRole } : {}),
        ...(args.region ? { region: args.region } : {}),
        ...(args.stateBucket
          ? { backend: { type: "s3", bucket: args.stateBucket, ...(args.stateKeyPrefix ? { keyPrefix: args.stateKeyPrefix } : {}) } }
          : {}),
      },
      ...(accounts.length ? { accounts: accounts.map((accountId) => ({ accountId })) } : {}),
      ...(args.orgOu?.length ? { organizations: { includeOus: args.orgOu, skipSuspended: true, includeManagementAccount: false } } : {}),
    };
    // The same validation as synth: a bad flag fails here, not later.
    const validated = parseConfig(stringify(config), "the init flags");
    const ci = args.ci ? ciOptions(args, validated) : undefined;
    const names = Object.keys(projectFiles({ projectName: "x", packageSpec: "x", config: validated, engine: args.engine, ci }));
    const existing = names.filter((f) => existsSync(join(dir, f)));
    if (existing.length && !args.force)
      throw new UsageError(`${dir} already has ${existing.join(", ")}; nothing was written. Use --force to overwrite.`);
    mkdirSync(dir, { recursive: true });
    // Not from the registry: the project depends on a tarball of this very copy, packed beside it.
    const { dependencyOnSelf } = require("../../engine/package-spec") as typeof import("../../engine/package-spec");
    const dependency = args.package ? { spec: args.package, note: undefined } : dependencyOnSelf(dir);
    if (dependency.note) io.info(dependency.note);
    const files = projectFiles({
      projectName: sanitize(basename(dir)),
      packageSpec: dependency.spec,
      config: validated,
      engine: args.engine,
      ci,
    });
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileAtomic(join(dir, name), content);
    }
    io.result(
      { dir, files: Object.keys(files), config: CONFIG_FILE, engine: args.engine, dependency: dependency.spec, note: dependency.note },
      [
        `wrote ${Object.keys(files).join(", ")} to ${dir}`,
        "",
        "Next:",
        `  cd ${args.dir} && npm install`,
        `  npx ds-onboard synth --config ${CONFIG_FILE} --engine ${args.engine}   # or: npm run synth`,
      ].join("\n"),
    );
    return undefined;
  },
});

/** The CI template's options from the flags, checked: a shared state, real role ARNs, a cron schedule. */
function ciOptions(args: InitArgs, config: import("../../config/schema").OnboardingConfig) {
  const { checkCiBackend, checkSchedule } = require("../../generator/ci") as typeof import("../../generator/ci");
  const { checkIamArn } = require("../../validation") as typeof import("../../validation");
  const backend = checkCiBackend(config);
  if (backend) throw new UsageError(`--ci: ${backend.problem}; nothing was written. Give --state-bucket <bucket> (S3, native locking).`);
  for (const [flag, arn] of [
    ["ci-role-arn", args.ciRoleArn],
    ["ci-plan-role-arn", args.ciPlanRoleArn],
  ] as const) {
    const problem = arn === undefined ? undefined : checkIamArn(arn, ["role"]);
    if (problem) throw new UsageError(`--${flag}: ${problem.problem}. ${problem.fix}.`);
  }
  const schedule = checkSchedule(args.ciSchedule);
  if (schedule) throw new UsageError(`--ci-schedule: ${schedule.problem}. ${schedule.fix}.`);
  return {
    system: args.ci as CiSystem,
    shards: args.shards,
    roleArn: args.ciRoleArn,
    planRoleArn: args.ciPlanRoleArn,
    schedule: args.ciSchedule,
    branch: args.ciBranch,
  };
}

function sanitize(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "deep-security-onboarding"
  );
}
