/**
 * The bootstrap artifacts of the least-privilege deployment role, from an onboarding config
 * with `deployment.deploymentRole`: a CloudFormation template (a service-managed StackSet with
 * auto-deployment, AFT customizations, or one stack), or a cdktf stack that creates the role in
 * every account of the config through `OrganizationAccountAccessRole` (applied once per new
 * account; afterwards the pipeline assumes only the deployment role).
 */
import { rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Session } from "../app/session";
import { loadConfig } from "../config/load";
import type { OnboardingConfig } from "../config/schema";
import { UsageError } from "../errors";
import { publishDirectory, writeFileAtomic } from "../files";
import { deploymentActions } from "../policy/deployment-role";
import { deploymentRoleTemplate } from "../policy/deployment-role-template";

export type DeploymentRoleFormat = "cloudformation" | "cdktf";

export interface DeploymentRoleArtifactOptions {
  /** The onboarding config (it must set `deployment.deploymentRole`). */
  readonly configPath: string;
  readonly format: DeploymentRoleFormat;
  /**
   * Where to write: the template file, or the cdktf output folder.
   * @default `ds-onboard-deployment-role.template.json`, or `cdktf.out.deployment-role`, beside the config
   */
  readonly out?: string;
  /** For the cdktf stack: the session that discovers the accounts (AWS Organizations). @default required for cdktf */
  readonly session?: Session;
}

export interface DeploymentRoleArtifacts {
  readonly format: DeploymentRoleFormat;
  /** The template file, or the stack's folder (holding cdk.tf.json). */
  readonly path: string;
  readonly roleName: string;
  /** The accounts the cdktf stack creates the role in. */
  readonly accountIds?: readonly string[];
  /** The actions the role is granted. */
  readonly actions: readonly string[];
}

export const DEPLOYMENT_ROLE_STACK = "ds-onboard-deployment-role";

export async function writeDeploymentRoleArtifacts(options: DeploymentRoleArtifactOptions): Promise<DeploymentRoleArtifacts> {
  const loaded = loadConfig(options.configPath);
  const config = loaded.config;
  const deploymentRole = config.deployment?.deploymentRole;
  if (!deploymentRole) {
    throw new UsageError(
      `${loaded.path} has no deployment.deploymentRole, so there is no deployment role to create. Add it with the pipeline's role ARN, e.g.\n  deployment:\n    deploymentRole:\n      trustedPrincipals: ["arn:aws:iam::<management account>:role/<CI role>"]`,
    );
  }
  const deepSecurityRole = config.role ?? {};
  const roleName = config.deployment?.deploymentRoleName ?? "";
  const actions = deploymentActions(deepSecurityRole);
  if (options.format === "cloudformation") {
    const path = resolve(options.out ?? join(loaded.dir, "ds-onboard-deployment-role.template.json"));
    const template = deploymentRoleTemplate({ ...deploymentRole, deepSecurityRole, tags: config.role?.tags });
    writeFileAtomic(path, `${JSON.stringify(template, null, 2)}\n`);
    return { format: "cloudformation", path, roleName, actions };
  }
  if (!options.session) throw new Error("internal error: the cdktf bootstrap stack needs a session to discover the accounts");
  const { Project } = require("../app/project") as typeof import("../app/project");
  const project = await Project.fromConfig(options.session, loaded.path);
  const outdir = resolve(options.out ?? join(loaded.dir, "cdktf.out.deployment-role"));
  const { App } = require("cdktf") as typeof import("cdktf");
  const { addDeploymentRoleStack } = require("../../constructs/deployment-role") as typeof import("../../constructs/deployment-role");
  // Synthesized beside the output, then moved into place file by file: never half-written.
  const staging = `${outdir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const app = new App({ outdir: staging, skipValidation: false });
  const stackDir = join(outdir, "stacks", DEPLOYMENT_ROLE_STACK);
  addDeploymentRoleStack(app, {
    ...deploymentRole,
    deepSecurityRole,
    tags: config.role?.tags,
    accounts: project.accounts,
    region: config.deployment?.region,
    providerVersion: config.deployment?.providerVersion,
    stackName: DEPLOYMENT_ROLE_STACK,
    backend: backendOf(config, loaded.dir, stackDir),
  });
  try {
    app.synth();
    publishDirectory(staging, outdir, (file) => file.endsWith("manifest.json"));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { format: "cdktf", path: stackDir, roleName, accountIds: project.accounts.map((a) => a.accountId), actions };
}

/** The config's backend; a local state file beside the config (as `synth` keeps it), by a relative path. */
function backendOf(config: OnboardingConfig, configDir: string, stackDir: string) {
  const backend = config.deployment?.backend;
  if (backend?.type === "s3" || backend?.type === "remote") return backend;
  const stateDir = resolve(configDir, backend?.type === "local" ? (backend.directory ?? ".") : ".");
  return { type: "local" as const, directory: relative(stackDir, stateDir) || "." };
}
