/**
 * The rule of each role option, written once: the cross-account role's planner (and so the
 * constructs) checks literal values with it, and the onboarding config's schema is built from it
 * (its types, its checks and its editor descriptions). Adding a role option means adding it to
 * `RoleOptions` (with its `@default`), one entry here, the docs, and its tests; the compiler
 * refuses a `RoleOptions` field without an entry.
 */
import { checkIamArn, checkIamPath, checkPartition, checkRoleName, describe, PARTITIONS, type Problem } from "../validation";
import { POLICY_LIMITS } from "./document";
import type { RoleOptions } from "./role";

/** The options a config sets for every account (the external IDs and principal come from elsewhere). */
export type ConfigurableRoleOptions = Omit<RoleOptions, "externalIds" | "principal">;

/** A value's type, as the config schema declares it. */
export type OptionShape = "string" | "integer" | "boolean" | "string-list" | "string-map" | { readonly enum: readonly string[] };

/** A problem with part of a value (`at` is appended to the option's path, e.g. `[2]` or `.Team`). */
export interface OptionProblem extends Problem {
  readonly at?: string;
}

export interface OptionRule<T> {
  readonly shape: OptionShape;
  /** What the option does and its default, for the config schema. */
  readonly description: string;
  /** The problems with a literal value (parts that are unresolved tokens are skipped). */
  readonly check: (value: T, isToken: (value: string) => boolean) => readonly OptionProblem[];
}

type Rules = { readonly [K in keyof ConfigurableRoleOptions]-?: OptionRule<NonNullable<ConfigurableRoleOptions[K]>> };

const one = (problem: Problem | undefined): OptionProblem[] => (problem ? [problem] : []);
const literal = (check: (value: string) => Problem | undefined) => (value: string, isToken: (value: string) => boolean) =>
  isToken(value) ? [] : one(check(value));

/** IAM's maximum session duration: 1 to 12 hours. */
export function checkMaxSessionDuration(value: unknown): Problem | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= 3600 && value <= 43200) return undefined;
  return {
    problem: `${describe(value)} is outside 3,600 to 43,200 seconds`,
    fix: "Use a whole number of seconds from 3600 (1 hour) to 43200 (12 hours)",
  };
}

/** The trust policy size quota of an account: 2,048 by default, raisable to 4,096. */
export function checkTrustPolicySizeLimit(value: unknown): Problem | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= POLICY_LIMITS.trustPolicy && value <= POLICY_LIMITS.trustPolicyMax)
    return undefined;
  return {
    problem: `${describe(value)} is not an IAM trust policy quota`,
    fix: "Use 2048 (the default quota) up to 4096 (the most AWS grants)",
  };
}

/** IAM tags: keys of 1 to 128 characters, string values of at most 256. */
export function checkTags(tags: Readonly<Record<string, unknown>>): OptionProblem[] {
  return Object.entries(tags)
    .filter(([key, value]) => key.length < 1 || key.length > 128 || typeof value !== "string" || value.length > 256)
    .map(([key]) => ({
      at: `.${key}`,
      problem: "is not a valid IAM tag (key 1 to 128 characters, value a string of at most 256)",
      fix: "Shorten the tag key or value",
    }));
}

function checkBoolean(value: unknown): OptionProblem[] {
  return typeof value === "boolean" ? [] : [{ problem: `${describe(value)} is not true or false`, fix: "Use true or false" }];
}

export const ROLE_OPTION_RULES: Rules = {
  partition: {
    shape: { enum: PARTITIONS },
    description: "the AWS partition of the roles; default aws",
    check: (v) => one(checkPartition(v)),
  },
  roleName: {
    shape: "string",
    description: "the role name; default DeepSecurityCrossAccountRole",
    check: literal((v) => checkRoleName(v)),
  },
  roleNamePrefix: {
    shape: "string",
    description: "a name prefix (Terraform adds a unique suffix) instead of roleName; default none",
    check: literal((v) => checkRoleName(v, 38)),
  },
  path: { shape: "string", description: "the IAM path of the role and its policy; default /", check: literal(checkIamPath) },
  permissionsBoundaryArn: {
    shape: "string",
    description: "a managed policy ARN to use as permissions boundary; default none",
    check: literal((v) => checkIamArn(v, ["policy"])),
  },
  tags: { shape: "string-map", description: "tags on the role and its policy; default none", check: (v) => checkTags(v) },
  maxSessionDurationSeconds: {
    shape: "integer",
    description: "the maximum session length in seconds, 3600 to 43200; default 3600",
    check: (v) => one(checkMaxSessionDuration(v)),
  },
  managedPolicyArns: {
    shape: "string-list",
    description: "more managed policies to attach; default none",
    check: (list, isToken) =>
      list.flatMap((arn, i) => (isToken(arn) ? [] : one(checkIamArn(arn, ["policy"])).map((p) => ({ ...p, at: `[${i}]` })))),
  },
  includeWorkspaces: {
    shape: "boolean",
    description: "grant the WorkSpaces read actions, and enable WorkSpaces on the connectors; default true",
    check: checkBoolean,
  },
  denyWithoutExternalId: {
    shape: "boolean",
    description: "add an explicit Deny for callers without the external ID; default false",
    check: checkBoolean,
  },
  trustPolicySizeLimit: {
    shape: "integer",
    description: "the account's trust policy size quota, 2048 to 4096; default 2048",
    check: (v) => one(checkTrustPolicySizeLimit(v)),
  },
};

/** Checks every role option that is set; problems carry the option's name as their path. */
export function checkRoleOptions(
  options: Partial<ConfigurableRoleOptions>,
  isToken: (value: string) => boolean,
): (OptionProblem & { path: string })[] {
  const problems: (OptionProblem & { path: string })[] = [];
  for (const [name, rule] of Object.entries(ROLE_OPTION_RULES) as [keyof Rules, OptionRule<unknown>][]) {
    const value = options[name];
    if (value === undefined) continue;
    for (const p of rule.check(value, isToken)) problems.push({ path: `${name}${p.at ?? ""}`, problem: p.problem, fix: p.fix });
  }
  return problems;
}
