/**
 * The onboarding config file (JSON or YAML): the tenant, where the external ID comes from, the
 * role options, and the accounts (listed, or discovered in AWS Organizations). Validated with
 * zod; the JSON Schema for editors is generated from the same definition
 * (`schema/onboarding-config.schema.json`, `npm run schema`).
 *
 * The API key is never in the config: it comes from the environment.
 */
import { z } from "zod";
import { parseManagerUrl } from "../manager/url";
import {
  checkExternalId,
  checkIamArn,
  checkIamPath,
  checkRoleName,
  EXTERNAL_ID_PATTERN_SOURCE,
  PARTITIONS,
  type Problem,
} from "../validation";

/** A string checked by one of our validators, so that the config and the constructs agree. */
function checked(check: (value: string) => Problem | undefined, base: z.ZodString = z.string()) {
  return base.superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: "custom", message: `${problem.problem}. ${problem.fix}` });
  });
}

const accountId = z
  .string()
  .regex(/^\d{12}$/, 'is not a 12-digit AWS account ID. Use the 12 digits, quoted, with leading zeros, e.g. "012345678901"')
  .describe("12-digit AWS account ID, quoted");
const roleArn = checked((v) => checkIamArn(v, ["role"])).describe("IAM role ARN, e.g. arn:aws:iam::123456789012:role/Name");
const policyArn = checked((v) => checkIamArn(v, ["policy"])).describe("IAM managed policy ARN");
const roleName = checked((v) => checkRoleName(v)).describe("IAM role name");
const region = z
  .string()
  .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "is not an AWS region name. Use e.g. us-east-1 or eu-west-1")
  .describe("AWS region");
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
export const externalIdSource = z
  .string()
  .superRefine((value, ctx) => {
    const m = /^(manager|env:|ssm:|secretsmanager:|file:|literal:)(.*)$/.exec(value);
    if (m?.[1] === "manager" && m[2] === "") return;
    if (m && m[1] !== "manager" && m[1] !== "literal:") {
      if (m[2] === "")
        ctx.addIssue({ code: "custom", message: `names no ${m[1].slice(0, -1)} location. Write e.g. ssm:/deep-security/external-id` });
      if (m[1] === "env:" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[2]))
        ctx.addIssue({ code: "custom", message: `${JSON.stringify(m[2])} is not an environment variable name` });
      return;
    }
    const problem = checkExternalId(m?.[1] === "literal:" ? m[2] : value);
    if (problem)
      ctx.addIssue({
        code: "custom",
        message: `is neither a source (manager, env:, ssm:, secretsmanager:, file:) nor a valid literal external ID: it ${problem.problem}. ${problem.fix}`,
      });
  })
  .describe(
    `"manager" (the API), env:NAME, ssm:<parameter>, secretsmanager:<secret>, file:<path>, or the ID itself (literal:<id> when it could be read as a source). IDs match ${EXTERNAL_ID_PATTERN_SOURCE}`,
  );

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
    product: z
      .enum(["workload-security", "deep-security-manager", "vision-one"])
      .optional()
      .describe("sets the default auth scheme and principal"),
    auth: z.enum(["api-secret-key", "apikey"]).optional().describe("authentication scheme; default from the host"),
    caBundle: z.string().optional().describe("PEM file of the manager's CA (on-premises), relative to the config file"),
    principal: principal.optional(),
  })
  .strict();

export const roleSchema = z
  .object({
    partition: z.enum(PARTITIONS).optional().describe("default aws"),
    roleName: roleName.optional().describe("default DeepSecurityCrossAccountRole"),
    roleNamePrefix: checked((v) => checkRoleName(v, 38)).optional(),
    path: checked(checkIamPath).optional().describe("default /"),
    permissionsBoundaryArn: policyArn.optional(),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).optional(),
    maxSessionDurationSeconds: z.number().int().min(3600).max(43200).optional().describe("default 3600"),
    managedPolicyArns: z.array(policyArn).optional(),
    includeWorkspaces: z.boolean().optional().describe("default true"),
    denyWithoutExternalId: z.boolean().optional().describe("default false"),
    trustPolicySizeLimit: z.number().int().min(2048).max(4096).optional().describe("default 2048"),
  })
  .strict();

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

export const deploymentSchema = z
  .object({
    layout: z.enum(["single-stack", "stack-per-account"]).optional().describe("default single-stack"),
    stackName: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "may hold only letters, digits, _ and -")
      .optional()
      .describe("default deep-security-roles"),
    deploymentRoleName: roleName.optional().describe("role Terraform assumes in each account; default OrganizationAccountAccessRole"),
    region: region.optional().describe("default us-east-1"),
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
    const seen = new Map<string, number>();
    config.accounts?.forEach((a, i) => {
      const first = seen.get(a.accountId);
      if (first !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["accounts", i, "accountId"],
          message: `${a.accountId} is listed already at accounts[${first}]. List each account once`,
        });
      else seen.set(a.accountId, i);
      if (a.deploymentRoleArn && !a.deploymentRoleArn.includes(`::${a.accountId}:`)) {
        ctx.addIssue({
          code: "custom",
          path: ["accounts", i, "deploymentRoleArn"],
          message: `is a role in another account than ${a.accountId}. Use the deployment role of the account itself`,
        });
      }
    });
    if (config.role?.roleName && config.role.roleNamePrefix) {
      ctx.addIssue({ code: "custom", path: ["role", "roleName"], message: "is set together with roleNamePrefix. Set one of them" });
    }
    if (config.manager?.product === "deep-security-manager" && !config.manager.principal) {
      ctx.addIssue({
        code: "custom",
        path: ["manager", "principal"],
        message:
          'is required for an on-premises Deep Security Manager. Give { type: on-premises, accountId: "<the manager\'s AWS account>" } or its role ARN',
      });
    }
  });

export type OnboardingConfig = z.infer<typeof configSchema>;

/** The JSON Schema for editors, generated from the zod definition. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { target: "draft-7", unrepresentable: "any" }),
    title: "ds-onboard onboarding config",
  };
}
