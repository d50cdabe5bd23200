/**
 * IAM policy documents: types, parsing from every shape AWS accepts, and size limits.
 */

export type OneOrMany<T> = T | T[];

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, OneOrMany<string>>;
  NotPrincipal?: "*" | Record<string, OneOrMany<string>>;
  Action?: OneOrMany<string>;
  NotAction?: OneOrMany<string>;
  Resource?: OneOrMany<string>;
  NotResource?: OneOrMany<string>;
  Condition?: Record<string, Record<string, OneOrMany<string | boolean | number>>>;
}

export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: OneOrMany<PolicyStatement>;
}

export const POLICY_VERSION = "2012-10-17";

/** IAM quotas, counted on the document without white space. */
export const POLICY_LIMITS = {
  /** A customer managed policy. */
  managedPolicy: 6144,
  /** A role trust policy, by default; AWS raises it to 4,096 on request. */
  trustPolicy: 2048,
  trustPolicyMax: 4096,
} as const;

export function toList<T>(value: OneOrMany<T> | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Reads a policy document given as an object, a JSON string, or the URL-encoded JSON
 * that IAM's GetRole returns.
 */
export function parsePolicy(input: unknown): PolicyDocument {
  let doc = input;
  if (typeof doc === "string") {
    let text = doc.trim();
    if (text.startsWith("%7B") || text.startsWith("%7b")) text = decodeURIComponent(text);
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new PolicyFormatError(`the policy is not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new PolicyFormatError("the policy must be a JSON object with a Statement");
  }
  const statements = (doc as { Statement?: unknown }).Statement;
  if (statements === undefined) throw new PolicyFormatError("the policy has no Statement");
  for (const [i, s] of toList(statements as OneOrMany<unknown>).entries()) {
    if (typeof s !== "object" || s === null || Array.isArray(s)) {
      throw new PolicyFormatError(`Statement[${i}] is not an object`);
    }
    const effect = (s as { Effect?: unknown }).Effect;
    if (effect !== "Allow" && effect !== "Deny") {
      throw new PolicyFormatError(`Statement[${i}].Effect must be "Allow" or "Deny", got ${JSON.stringify(effect)}`);
    }
  }
  return doc as PolicyDocument;
}

export class PolicyFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PolicyFormatError";
  }
}

/** The size IAM counts against its quotas: the JSON without white space outside strings. */
export function policySize(doc: PolicyDocument | string): number {
  return (typeof doc === "string" ? JSON.stringify(JSON.parse(doc)) : JSON.stringify(doc)).length;
}

/** Matches an IAM action pattern (`sts:Assume*`, `*`) against an action, case-insensitively. */
export function actionMatches(pattern: string, action: string): boolean {
  return wildcardToRegExp(pattern).test(action);
}

const patternCache = new Map<string, RegExp>();

/** IAM wildcard matching: `*` any run, `?` one character; case-insensitive. */
export function wildcardToRegExp(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    const body = pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".");
    re = new RegExp(`^${body}$`, "i");
    patternCache.set(pattern, re);
  }
  return re;
}
