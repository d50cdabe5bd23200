/**
 * The onboarding config file (JSON or YAML): the tenant, where the external ID comes from, the
 * role options, and the accounts (listed, or discovered in AWS Organizations). Validated with zod;
 * the JSON Schema for editors is generated from the same definition
 * (`schema/onboarding-config.schema.json`, `npm run schema`).
 *
 * The schema states shapes; the rules are the constructs' own: each field is checked by the
 * validator the constructs use, the role options come from their rule table, and the rules that
 * tie fields together (duplicate accounts, roleName with roleNamePrefix, a principal's partition)
 * run through the same planner the constructs run. The API key is never in the config.
 */
import { z } from "zod";
import { isProblem, parseExternalIdSource, SOURCE_FORMS } from "../external-id/source";
import { AUTH_SCHEMES, PRODUCTS } from "../manager/schemes";
import { parseManagerUrl } from "../manager/url";
import { checkRegion, planAccounts, REGION_PATTERN } from "../policy/accounts";
import { checkBackend } from "../policy/backend";
import { checkOrganizationId, DEFAULT_DEPLOYER_ROLE_NAME, deploymentRoleProblems } from "../policy/deployment-role";
import type { ManagerPrincipal } from "../policy/principal";
import { AWS_PROVIDER_VERSION_RANGE, checkProviderVersion } from "../policy/provider-version";
import { planRole } from "../policy/role";
import {
  type ConfigurableRoleOptions,
  checkMaxSessionDuration,
  type OptionRule,
  type OptionShape,
  ROLE_OPTION_RULES,
} from "../policy/role-options";
import {
  ACCOUNT_ID_PATTERN,
  checkAccountId,
  checkIamArn,
  checkRoleName,
  EXTERNAL_ID_PATTERN_SOURCE,
  type Problem,
  ValidationError,
} from "../validation";

/** A string checked by one of the constructs' validators. */
function checked(check: (value: string) => Problem | undefined) {
  return z.string().superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: "custom", message: `${problem.problem}. ${problem.fix}` });
  });
}

const accountId = checked(checkAccountId).meta({ pattern: ACCOUNT_ID_PATTERN.source }).describe("12-digit AWS account ID, quoted");
const roleArn = checked((v) => checkIamArn(v, ["role"])).describe("IAM role ARN, e.g. arn:aws:iam::123456789012:role/Name");
const roleName = checked((v) => checkRoleName(v)).describe("IAM role name");
const region = checked(checkRegion).meta({ pattern: REGION_PATTERN.source }).describe("AWS region");
const ouId = z
  .string()
  .regex(/^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$/, "is not an organization root (r-...) or OU ID (ou-...-...)")
  .describe("organization root or OU ID");

function checkManagerUrl(value: string): Problem | undefined {
  try {
    parseManagerUrl(value, "url");
    return undefined;
  } catch (error) {
    return {
      problem: (error as Error).message.replace(/^url: /, "").replace(/\.$/, ""),
      fix: "Use e.g. https://dsm.example.com:4119/api or https://workload.us-1.cloudone.trendmicro.com/api",
    };
  }
}

/** Where the tenant's external ID comes from. */
export const externalIdSource = checked((value) => {
  const source = parseExternalIdSource(value);
  return isProblem(source) ? source : undefined;
}).describe(`${SOURCE_FORMS}. IDs match ${EXTERNAL_ID_PATTERN_SOURCE}`);

const principal = z
  .union([
    z.object({ type: z.literal("workload-security") }).strict(),
    z.object({ type: z.literal("on-premises"), accountId }).strict(),
    z.object({ type: z.literal("on-premises"), arn: checked((v) => checkIamArn(v, ["role", "user", "root"])) }).strict(),
    z.object({ type: z.literal("custom"), arn: checked((v) => checkIamArn(v, ["root", "role", "user", "assumed-role"])) }).strict(),
  ])
  .describe("whom the role trusts: workload-security (default), on-premises (accountId or arn), or custom (arn)");

export const managerSchema = z
  .object({
    url: checked(checkManagerUrl).optional().describe("the manager API base URL ending in /api (or DS_MANAGER_URL)"),
    product: z.enum(PRODUCTS).optional().describe("sets the default auth scheme and principal"),
    auth: z.enum(AUTH_SCHEMES).optional().describe("authentication scheme; default from the host"),
    caBundle: z.string().optional().describe("PEM file of the manager's CA (on-premises), relative to the config file"),
    principal: principal.optional(),
  })
  .strict();

function shape(s: OptionShape): z.ZodType {
  if (typeof s === "object") return z.enum(s.enum as [string, ...string[]]);
  switch (s) {
    case "string":
      return z.string();
    case "integer":
      return z.number().int();
    case "boolean":
      return z.boolean();
    case "string-list":
      return z.array(z.string());
    case "string-map":
      return z.record(z.string(), z.string());
  }
}

/** A role option's schema: its shape, checked by its rule (literal values: the config has no tokens). */
function roleOption(rule: OptionRule<unknown>) {
  return shape(rule.shape)
    .superRefine((value, ctx) => {
      for (const p of rule.check(value, () => false)) {
        ctx.addIssue({ code: "custom", message: `${p.problem}. ${p.fix}`, path: p.at ? pathOf(p.at) : [] });
      }
    })
    .optional()
    .describe(rule.description);
}

/** `[2]` → [2]; `.Team` → ["Team"]. */
function pathOf(at: string): PropertyKey[] {
  return at.startsWith("[") ? [Number(at.slice(1, -1))] : [at.slice(1)];
}

export const roleSchema = z
  .object(Object.fromEntries(Object.entries(ROLE_OPTION_RULES).map(([name, rule]) => [name, roleOption(rule as OptionRule<unknown>)])))
  .strict() as unknown as z.ZodType<ConfigurableRoleOptions>;

export const accountSchema = z
  .object({
    accountId,
    displayName: z.string().min(1).max(255).optional(),
    deploymentRoleName: roleName.optional(),
    deploymentRoleArn: roleArn.optional(),
    region: region.optional(),
  })
  .strict();

export const organizationsSchema = z
  .object({
    includeOus: z.array(ouId).optional().describe("roots or OUs whose accounts (nested too) are included; default: the whole organization"),
    excludeOus: z.array(ouId).optional().describe("OUs whose accounts (nested too) are left out"),
    excludeAccounts: z.array(accountId).optional(),
    skipSuspended: z.boolean().optional().describe("leave out suspended and closed accounts; default true"),
    includeManagementAccount: z.boolean().optional().describe("include the organization's management account; default false"),
  })
  .strict();

const backendSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("local"),
      directory: z.string().min(1).optional().describe("folder of the state files, relative to the config; default the config's folder"),
    })
    .strict(),
  z
    .object({
      type: z.literal("s3"),
      bucket: z.string().describe("the bucket"),
      keyPrefix: z.string().optional().describe('each stack\'s key is <keyPrefix><stack>.tfstate; default "ds-onboard/"'),
      region: region.optional().describe("the bucket's region; default the stacks' region"),
      useLockfile: z.boolean().optional().describe("lock with a .tflock object beside the state (Terraform/OpenTofu 1.10+); default true"),
      encrypt: z.boolean().optional().describe("default true"),
      endpoint: z.string().optional().describe("an S3-compatible endpoint instead of AWS's; default AWS"),
    })
    .strict(),
  z
    .object({
      type: z.literal("remote"),
      organization: z.string().describe("the HCP Terraform / Terraform Enterprise organization"),
      workspacePrefix: z.string().optional().describe('each stack\'s workspace is <workspacePrefix><stack>; default "ds-onboard-"'),
      hostname: z.string().optional().describe('default "app.terraform.io"'),
    })
    .strict(),
]);

/** The least-privilege deployment role (its rules are the construct's: src/policy/deployment-role.ts). */
const deploymentRoleSchema = z
  .object({
    trustedPrincipals: z
      .array(checked((v) => checkIamArn(v, ["role", "user", "root"])))
      .describe("who may assume the deployment role: the pipeline's role ARN(s), user ARNs or account roots"),
    name: roleName.optional().describe(`the deployment role's name; default ${DEFAULT_DEPLOYER_ROLE_NAME}`),
    organizationId: checked(checkOrganizationId)
      .optional()
      .describe("accept only callers of this organization (aws:PrincipalOrgID), e.g. o-a1b2c3d4e5; default no such condition"),
    maxSessionDurationSeconds: z
      .number()
      .superRefine((value, ctx) => {
        const problem = checkMaxSessionDuration(value);
        if (problem) ctx.addIssue({ code: "custom", message: `${problem.problem}. ${problem.fix}` });
      })
      .optional()
      .describe("the deployment role's maximum session, 3600 to 43200 seconds; default 3600"),
    bootstrapRoleName: roleName
      .optional()
      .describe(
        "the role the cdktf bootstrap stack assumes once per account to create the deployment role; default OrganizationAccountAccessRole",
      ),
  })
  .strict();

export const deploymentSchema = z
  .object({
    layout: z.enum(["single-stack", "stack-per-account"]).optional().describe("default single-stack"),
    stackName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "may hold only letters, digits, _ and -")
      .optional()
      .describe("default deep-security-roles"),
    deploymentRoleName: roleName
      .optional()
      .describe("role Terraform assumes in each account; default OrganizationAccountAccessRole, or deploymentRole's name when that is set"),
    deploymentRole: deploymentRoleSchema
      .optional()
      .describe(
        "use a least-privilege deployment role (created by a StackSet or `ds-onboard deployment-role`) instead of OrganizationAccountAccessRole: it may manage only the Deep Security role and its policy",
      ),
    region: region.optional().describe("default us-east-1"),
    providerVersion: z
      .string()
      .min(1)
      .optional()
      .describe(`the hashicorp/aws version constraint of every stack; default "${AWS_PROVIDER_VERSION_RANGE}"`),
    backend: backendSchema.optional().describe("where each stack keeps its Terraform state; default a local file beside the config"),
    removedAccounts: z
      .enum(["deregister", "keep"])
      .optional()
      .describe("what `ds-onboard offboard` does with the connector of an account that left: deregister it (default) or keep it"),
    registration: z
      .object({
        command: z.string().min(1).optional().describe('how to run ds-onboard at apply time; default "npx --no-install ds-onboard"'),
        onDestroy: z.enum(["keep", "deregister"]).optional().describe("default keep"),
      })
      .strict()
      .optional()
      .describe("register each account during cdktf deploy (a terraform_data step); the API key is read from DS_API_KEY at apply time"),
  })
  .strict();

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    manager: managerSchema.optional(),
    externalId: externalIdSource.optional().describe('default "manager"'),
    role: roleSchema.optional(),
    deployment: deploymentSchema.optional(),
    accounts: z.array(accountSchema).optional(),
    organizations: organizationsSchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (!config.accounts?.length && !config.organizations) {
      ctx.addIssue({
        code: "custom",
        path: ["accounts"],
        message: "no accounts: list them under accounts, or discover them with organizations (or both)",
      });
    }
    if (config.manager?.product === "deep-security-manager" && !config.manager.principal) {
      ctx.addIssue({
        code: "custom",
        path: ["manager", "principal"],
        message:
          'is required for an on-premises Deep Security Manager. Give { type: on-premises, accountId: "<the manager\'s AWS account>" } or its role ARN',
      });
    }
    for (const issue of crossFieldIssues(config)) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    // The constructs' own checks of the deployment settings.
    const d = config.deployment;
    for (const issue of d?.backend ? checkBackend(d.backend, "") : []) {
      ctx.addIssue({
        code: "custom",
        path: ["deployment", "backend", ...issue.path.split(".")],
        message: `${issue.problem}. ${issue.fix}`,
      });
    }
    if (d?.deploymentRole) {
      for (const p of deploymentRoleProblems(d.deploymentRole, config.role ?? {})) {
        ctx.addIssue({ code: "custom", path: ["deployment", "deploymentRole", ...splitPath(p.path)], message: `${p.problem}. ${p.fix}` });
      }
      const name = d.deploymentRole.name ?? DEFAULT_DEPLOYER_ROLE_NAME;
      if (d.deploymentRoleName !== undefined && d.deploymentRoleName !== name) {
        ctx.addIssue({
          code: "custom",
          path: ["deployment", "deploymentRoleName"],
          message: `is ${d.deploymentRoleName} but deploymentRole creates ${name}. Remove deploymentRoleName (deploymentRole sets it), or make the names the same`,
        });
      }
    }
    if (d?.providerVersion !== undefined) {
      try {
        checkProviderVersion(d.providerVersion, "providerVersion");
      } catch (error) {
        for (const i of (error as ValidationError).issues)
          ctx.addIssue({ code: "custom", path: ["deployment", "providerVersion"], message: `${i.problem}. ${i.fix}` });
      }
    }
  });

export type OnboardingConfig = z.infer<typeof configSchema>;

/** A placeholder for the tenant's ID, which the config does not hold: only the other rules are checked. */
const PLACEHOLDER_ID = "config-check";

/**
 * The rules that tie fields together, from the constructs' own planner: duplicate accounts, a
 * deployment role in another account, roleName with roleNamePrefix, a principal's partition.
 */
function crossFieldIssues(config: OnboardingConfig): { path: PropertyKey[]; message: string }[] {
  const options = {
    ...config.role,
    principal: config.manager?.principal as ManagerPrincipal | undefined,
    externalIds: [PLACEHOLDER_ID],
    deploymentRoleName: config.deployment?.deploymentRoleName,
    region: config.deployment?.region,
  };
  try {
    if (config.accounts?.length) planAccounts({ ...options, accounts: config.accounts }, () => false, { validateOnly: true });
    else planRole(options, () => false);
    return [];
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return error.issues
      .filter((i) => !i.path.startsWith("externalIds"))
      .map((i) => ({ path: configPath(i.path), message: `${i.problem}. ${i.fix}` }));
  }
}

/** A planner's path (`roleName`, `principal`, `accounts[2].accountId`) as a config path. */
function configPath(path: string): PropertyKey[] {
  const parts = splitPath(path);
  const head = parts[0];
  if (head === "accounts") return parts;
  if (head === "principal") return ["manager", "principal"];
  if (head === "deploymentRoleName" || head === "region") return ["deployment", ...parts];
  return ["role", ...parts];
}

/**
 * The config as the stacks read it: with `deployment.deploymentRole`, Terraform assumes that role
 * in each account (unless an account names its own deployment role).
 */
export function withDeploymentRoleName(config: OnboardingConfig): OnboardingConfig {
  const d = config.deployment;
  if (!d?.deploymentRole || d.deploymentRoleName !== undefined) return config;
  return { ...config, deployment: { ...d, deploymentRoleName: d.deploymentRole.name ?? DEFAULT_DEPLOYER_ROLE_NAME } };
}

/** `accounts[2].accountId` → ["accounts", 2, "accountId"]. */
function splitPath(path: string): PropertyKey[] {
  return path.split(/\.|(?=\[)/).map((p) => (p.startsWith("[") ? Number(p.slice(1, -1)) : p));
}

/** The JSON Schema for editors, generated from the zod definition. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { target: "draft-7", unrepresentable: "any" }),
    title: "ds-onboard onboarding config",
  };
}
