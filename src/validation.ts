/**
 * Validation of the values this project takes from users: external IDs, account IDs,
 * partitions and ARNs. Pure functions; no I/O.
 *
 * Every check returns `undefined` when the value is fine, or a {@link Problem} that says
 * what is wrong and how to fix it. Callers attach the field path and gather every
 * problem before throwing one {@link ValidationError}, so that users see all of them at once.
 */

/** What is wrong with one value, and how to fix it. */
export interface Problem {
  readonly problem: string;
  readonly fix: string;
}

/** One problem found at one field. */
export interface ValidationIssue extends Problem {
  /** Where the value came from, e.g. `externalIds[1]` or `accounts[3].accountId`. */
  readonly path: string;
}

/** Thrown for bad user input. Lists every issue found, not just the first. */
export class ValidationError extends Error {
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], context?: string) {
    const lines = issues.map((i) => `  - ${i.path}: ${i.problem}. ${i.fix}`);
    const head = context ?? `${issues.length === 1 ? "1 invalid value" : `${issues.length} invalid values`}`;
    super(`${head}:\n${lines.join("\n")}`);
    this.name = "ValidationError";
    this.issues = issues;
  }
}

/** Gathers problems under field paths and throws them together. */
export class IssueCollector {
  readonly issues: ValidationIssue[] = [];

  /** Records `problem` (when defined) at `path`. Returns true when the value was fine. */
  check(path: string, problem: Problem | undefined): boolean {
    if (problem) this.issues.push({ path, ...problem });
    return problem === undefined;
  }

  throwIfAny(context?: string): void {
    if (this.issues.length > 0) throw new ValidationError(this.issues, context);
  }
}

export const PARTITIONS = ["aws", "aws-cn", "aws-us-gov"] as const;
export type Partition = (typeof PARTITIONS)[number];

/**
 * AWS's rule for `sts:ExternalId`: 2 to 1,224 characters of `[\w+=,.@:/-]`. Spelled without
 * backslashes so that the same source works in JavaScript and in Terraform's `regex()` (HCL
 * strings do not accept `\w`).
 */
export const EXTERNAL_ID_PATTERN_SOURCE = "^[A-Za-z0-9_+=,.@:/-]{2,1224}$";
/** The characters alone (Terraform's RE2 refuses repeat counts above 1,000: check the length apart). */
export const EXTERNAL_ID_CHARSET_SOURCE = "^[A-Za-z0-9_+=,.@:/-]+$";
export const EXTERNAL_ID_LENGTH = { min: 2, max: 1224 } as const;
export const EXTERNAL_ID_PATTERN = new RegExp(EXTERNAL_ID_PATTERN_SOURCE);
const EXTERNAL_ID_BAD_CHAR = /[^A-Za-z0-9_+=,.@:/-]/;

export function checkExternalId(value: unknown): Problem | undefined {
  if (typeof value !== "string") {
    return { problem: `expected a string, got ${describe(value)}`, fix: "Pass the tenant external ID as a string" };
  }
  if (value.length < 2 || value.length > 1224) {
    return {
      problem: `is ${value.length} characters long; AWS accepts 2 to 1,224`,
      fix: "Use the external ID exactly as the manager shows it (Administration > AWS external ID)",
    };
  }
  const bad = EXTERNAL_ID_BAD_CHAR.exec(value);
  if (bad) {
    return {
      problem: `contains ${JSON.stringify(bad[0])} at position ${bad.index + 1}; AWS allows only letters, digits and +=,.@:/_-`,
      fix: "Check for pasted spaces, quotes or line breaks; use the external ID exactly as the manager shows it",
    };
  }
  return undefined;
}

/** A 12-digit AWS account ID (a string, so that leading zeros stay). */
export const ACCOUNT_ID_PATTERN = /^\d{12}$/;

export function checkAccountId(value: unknown): Problem | undefined {
  if (typeof value !== "string" || !ACCOUNT_ID_PATTERN.test(value)) {
    return {
      problem: `${describe(value)} is not an AWS account ID (12 digits)`,
      fix:
        typeof value === "number"
          ? "Quote the account ID as a string so that leading zeros are kept"
          : 'Use the 12-digit account ID, with leading zeros, e.g. "012345678901"',
    };
  }
  return undefined;
}

export function checkPartition(value: unknown): Problem | undefined {
  if (typeof value !== "string" || !(PARTITIONS as readonly string[]).includes(value)) {
    return { problem: `${describe(value)} is not a known AWS partition`, fix: `Use one of ${PARTITIONS.join(", ")}` };
  }
  return undefined;
}

/** The parts of an IAM ARN: `arn:<partition>:iam::<account>:<resource>`. */
export interface IamArn {
  readonly partition: Partition;
  readonly accountId: string;
  /** `root`, `role/path/name`, `user/name`, `policy/name`, ... */
  readonly resource: string;
}

const IAM_ARN = /^arn:([a-z-]+):iam::(\d{12}|aws):(.+)$/;

/** Parses an IAM ARN; returns undefined when it is not one. */
export function parseIamArn(value: string): IamArn | undefined {
  const m = IAM_ARN.exec(value);
  if (!m || !(PARTITIONS as readonly string[]).includes(m[1])) return undefined;
  return { partition: m[1] as Partition, accountId: m[2], resource: m[3] };
}

/** Which kinds of IAM resource an ARN may name, e.g. `["role"]` or `["root", "role", "user"]`. */
export type IamResourceKind = "root" | "role" | "user" | "policy" | "assumed-role";

const NAME_PATH = /^([\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;

export function checkIamArn(value: unknown, kinds: readonly IamResourceKind[]): Problem | undefined {
  const example = exampleArn(kinds[0]);
  if (typeof value !== "string") {
    return { problem: `expected an ARN string, got ${describe(value)}`, fix: `Use an ARN such as ${example}` };
  }
  if (!value.startsWith("arn:")) {
    return { problem: `${JSON.stringify(value)} is not an ARN`, fix: `Use a full ARN such as ${example}` };
  }
  const partition = value.split(":")[1];
  if (!(PARTITIONS as readonly string[]).includes(partition)) {
    return {
      problem: `${JSON.stringify(value)} is in partition ${JSON.stringify(partition)}, which is not a known AWS partition`,
      fix: `ARNs start with ${PARTITIONS.map((p) => `arn:${p}:`).join(", ")}`,
    };
  }
  const arn = parseIamArn(value);
  if (!arn) {
    return {
      problem: `${JSON.stringify(value)} is not a well-formed IAM ARN (arn:<partition>:iam::<12-digit account>:<resource>)`,
      fix: `Use an ARN such as ${example}`,
    };
  }
  const kind = arnKind(arn);
  if (!kind || !kinds.includes(kind)) {
    return {
      problem: `${JSON.stringify(value)} names ${kind ? `a ${kind}` : "an unknown IAM resource"}; expected ${kinds.map((k) => `a ${k}`).join(" or ")}`,
      fix: `Use an ARN such as ${example}`,
    };
  }
  if (kind === "role" || kind === "user" || kind === "policy") {
    const rest = arn.resource.slice(kind.length + 1);
    if (!NAME_PATH.test(rest)) {
      return {
        problem: `${JSON.stringify(value)} has an invalid ${kind} name or path`,
        fix: "Names use letters, digits and +=,.@_- (at most 128 characters); paths are /segment/segment/",
      };
    }
  }
  if (arn.accountId === "aws" && kind !== "policy") {
    return { problem: `${JSON.stringify(value)} names the AWS-owned account`, fix: `Use your own account ID, e.g. ${example}` };
  }
  return undefined;
}

function arnKind(arn: IamArn): IamResourceKind | undefined {
  if (arn.resource === "root") return "root";
  const kind = arn.resource.split("/")[0];
  return (["role", "user", "policy", "assumed-role"] as const).find((k) => k === kind);
}

function exampleArn(kind: IamResourceKind | undefined): string {
  switch (kind) {
    case "root":
      return "arn:aws:iam::123456789012:root";
    case "user":
      return "arn:aws:iam::123456789012:user/dsm";
    case "policy":
      return "arn:aws:iam::aws:policy/ReadOnlyAccess";
    default:
      return "arn:aws:iam::123456789012:role/DeepSecurityManager";
  }
}

/** IAM role name rules: 1 to 64 characters of `[\w+=,.@-]`. */
export function checkRoleName(value: unknown, maxLength = 64): Problem | undefined {
  if (typeof value !== "string" || value.length < 1 || value.length > maxLength || !/^[\w+=,.@-]+$/.test(value)) {
    return {
      problem: `${describe(value)} is not a valid IAM role name`,
      fix: `Use 1 to ${maxLength} characters of letters, digits and +=,.@_-`,
    };
  }
  return undefined;
}

/** IAM paths: `/` or `/segment/.../`, at most 512 characters. */
export function checkIamPath(value: unknown): Problem | undefined {
  if (typeof value !== "string" || value.length > 512 || !/^\/([\w+=,.@-]+\/)*$/.test(value)) {
    return {
      problem: `${describe(value)} is not a valid IAM path`,
      fix: 'Use "/" or a path such as "/security/deep-security/" (starts and ends with /)',
    };
  }
  return undefined;
}

/** A short, safe description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return "a list";
  return `a${typeof value === "object" ? "n object" : ` ${typeof value}`}`;
}
