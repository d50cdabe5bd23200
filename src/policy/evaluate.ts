/**
 * A small IAM evaluator for the two questions the local AWS endpoint must answer like AWS:
 * may this caller assume this role (trust policy, with sts:ExternalId), and may this role call
 * this action (its identity policies). Explicit Deny wins, then Allow, else implicit deny.
 * Conditions are evaluated for the string, Null and Bool operators; any other operator fails
 * closed (it does not match), so an unknown condition never grants access.
 */
import { actionMatches, type PolicyDocument, type PolicyStatement, parsePolicy, toList, wildcardToRegExp } from "./document";

export type Decision = "Allow" | "ExplicitDeny" | "ImplicitDeny";

export interface TrustRequest {
  /** The caller: a user, role, assumed-role session or root ARN. */
  readonly callerArn: string;
  readonly action?: string;
  /** Request context keys, e.g. `{ "sts:ExternalId": "..." }`; absent keys are missing. */
  readonly context?: Readonly<Record<string, string>>;
}

/** Evaluates a resource (trust) policy for a caller. */
export function evaluateTrust(policy: PolicyDocument | string, request: TrustRequest): Decision {
  const doc = parsePolicy(policy);
  const action = request.action ?? "sts:AssumeRole";
  let allowed = false;
  for (const s of toList(doc.Statement)) {
    if (!principalMatches(s, request.callerArn) || !statementActionMatches(s, action) || !conditionsMatch(s, request.context ?? {}))
      continue;
    if (s.Effect === "Deny") return "ExplicitDeny";
    allowed = true;
  }
  return allowed ? "Allow" : "ImplicitDeny";
}

/**
 * Evaluates identity policies (attached and inline) for one action: on `resource` when given
 * (an ARN; statements whose Resource patterns do not match it are skipped), otherwise on any
 * resource (only statements on every resource count).
 */
export function evaluateIdentity(
  policies: readonly (PolicyDocument | string)[],
  action: string,
  context: Readonly<Record<string, string>> = {},
  resource?: string,
): Decision {
  let allowed = false;
  const covers = (pattern: string) =>
    resource === undefined ? pattern === "*" || wildcardToRegExp(pattern).test("*") : wildcardToRegExp(pattern).test(resource);
  for (const policy of policies) {
    for (const s of toList(parsePolicy(policy).Statement)) {
      if (!statementActionMatches(s, action) || !conditionsMatch(s, context)) continue;
      if (s.Resource !== undefined && !toList(s.Resource).some(covers)) continue;
      if (s.Effect === "Deny") return "ExplicitDeny";
      allowed = true;
    }
  }
  return allowed ? "Allow" : "ImplicitDeny";
}

function statementActionMatches(s: PolicyStatement, action: string): boolean {
  if (s.NotAction !== undefined) return !toList(s.NotAction).some((a) => actionMatches(a, action));
  return toList(s.Action).some((a) => actionMatches(a, action));
}

/** The account and the role (if any) behind a caller ARN. */
export function callerParts(arn: string): { account: string; roleArn?: string } {
  const parts = arn.split(":");
  const account = parts[4] ?? "";
  const resource = parts.slice(5).join(":");
  const assumed = /^assumed-role\/([^/]+)\//.exec(resource);
  if (assumed) return { account, roleArn: `arn:${parts[1]}:iam::${account}:role/${assumed[1]}` };
  return { account };
}

function principalMatches(s: PolicyStatement, callerArn: string): boolean {
  const matches = (principal: PolicyStatement["Principal"]): boolean => {
    if (principal === "*") return true;
    if (!principal || typeof principal !== "object") return false;
    return toList(principal.AWS).some((p) => awsPrincipalMatches(String(p), callerArn));
  };
  if (s.NotPrincipal !== undefined) return !matches(s.NotPrincipal);
  return matches(s.Principal);
}

function awsPrincipalMatches(principal: string, callerArn: string): boolean {
  if (principal === "*") return true;
  const { account, roleArn } = callerParts(callerArn);
  if (principal === account) return true;
  const p = principal.split(":");
  if (p[5] === "root") return p[4] === account && p[1] === callerArn.split(":")[1];
  // Role ARNs name the role whatever its path; an assumed-role session is its role.
  const roleName = (arn: string) =>
    arn
      .split(":")
      .slice(5)
      .join(":")
      .replace(/^role\/(.*\/)?/, "role/");
  if (roleArn && p[4] === account && roleName(principal) === roleName(roleArn)) return true;
  return principal === callerArn;
}

function conditionsMatch(s: PolicyStatement, context: Readonly<Record<string, string>>): boolean {
  for (const [operator, block] of Object.entries(s.Condition ?? {})) {
    for (const [key, raw] of Object.entries(block)) {
      const values = toList(raw).map(String);
      const present = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      if (!conditionMatches(operator, values, present)) return false;
    }
  }
  return true;
}

function conditionMatches(operator: string, values: string[], present: string | undefined): boolean {
  let op = operator.replace(/^(ForAnyValue|ForAllValues):/i, "");
  const forAll = /^ForAllValues:/i.test(operator);
  const ifExists = /IfExists$/i.test(op);
  if (ifExists) op = op.slice(0, -8);
  const lower = op.toLowerCase();
  if (lower === "null") return values.some((v) => (v.toLowerCase() === "true") === (present === undefined));
  if (present === undefined) return ifExists || forAll || lower.startsWith("stringnot");
  switch (lower) {
    case "stringequals":
      return values.includes(present);
    case "stringnotequals":
      return !values.includes(present);
    case "stringequalsignorecase":
      return values.some((v) => v.toLowerCase() === present.toLowerCase());
    case "stringnotequalsignorecase":
      return !values.some((v) => v.toLowerCase() === present.toLowerCase());
    case "stringlike":
      return values.some((v) => new RegExp(wildcardToRegExp(v).source).test(present));
    case "stringnotlike":
      return !values.some((v) => new RegExp(wildcardToRegExp(v).source).test(present));
    case "bool":
      return values.some((v) => v.toLowerCase() === present.toLowerCase());
    default:
      return false; // fail closed
  }
}
