/**
 * The cross-account role's trust policy: building it, and checking any trust policy
 * against what it should be.
 *
 * The check is semantic, not textual. For the intended principal it works out which
 * external IDs each statement admits (including "none at all" and "any"), applies the
 * Deny statements it can reason about, and compares the result with the intended IDs.
 * Anything that lets another caller in, or lets the intended caller in without the
 * exact external ID, is reported as an opening.
 */
import { maskExternalId } from "../redact";
import { parseIamArn } from "../validation";
import {
  actionMatches,
  POLICY_VERSION,
  type PolicyDocument,
  type PolicyStatement,
  parsePolicy,
  toList,
  wildcardToRegExp,
} from "./document";

export const ASSUME_ROLE = "sts:AssumeRole";
export const EXTERNAL_ID_KEY = "sts:ExternalId";

export interface TrustPolicyOptions {
  /** The ARN of the principal the role trusts. */
  readonly principalArn: string;
  /** The external IDs the role accepts: one, or two during a migration. */
  readonly externalIds: readonly string[];
  /**
   * Add an explicit Deny for any caller that does not present one of `externalIds`.
   * Defense in depth against a broader Allow added to the policy later.
   * @default false
   */
  readonly denyWithoutExternalId?: boolean;
}

export const TRUST_ALLOW_SID = "DeepSecurityManagerAssumeRole";
export const TRUST_DENY_SID = "DenyWithoutTenantExternalId";

/** Builds the trust policy the vendor's templates use, for one or more external IDs. */
export function buildTrustPolicy(options: TrustPolicyOptions): PolicyDocument {
  const ids = [...options.externalIds];
  const idValue = ids.length === 1 ? ids[0] : ids;
  const statements: PolicyStatement[] = [
    {
      Sid: TRUST_ALLOW_SID,
      Effect: "Allow",
      Principal: { AWS: options.principalArn },
      Action: ASSUME_ROLE,
      Condition: { StringEquals: { [EXTERNAL_ID_KEY]: idValue } },
    },
  ];
  if (options.denyWithoutExternalId) {
    statements.push({
      Sid: TRUST_DENY_SID,
      Effect: "Deny",
      Principal: { AWS: "*" },
      Action: ASSUME_ROLE,
      Condition: { StringNotEquals: { [EXTERNAL_ID_KEY]: idValue } },
    });
  }
  return { Version: POLICY_VERSION, Statement: statements };
}

// ---------------------------------------------------------------------------------------
// Checking

export interface TrustExpectation {
  /** The one principal that may assume the role (an account root, role or user ARN). */
  readonly principalArn: string;
  /** Exactly the external IDs that must be accepted; no others may be. */
  readonly externalIds: readonly string[];
  /**
   * Require a Deny statement that refuses callers without one of the IDs.
   * @default false
   */
  readonly requireDenyGuard?: boolean;
}

export type FindingCode =
  | "invalid-document"
  | "no-allow"
  | "missing-condition"
  | "wildcard-principal"
  | "extra-principal"
  | "not-principal"
  | "string-like-wildcard"
  | "if-exists"
  | "null-test"
  | "ignore-case"
  | "negated-condition"
  | "for-all-values"
  | "missing-deny"
  | "extra-action"
  | "not-action"
  | "missing-external-id"
  | "unexpected-external-id"
  | "denied";

/**
 * - `opening`: someone other than the intended caller, or the intended caller without the
 *   exact external ID, can assume the role (or do more than assume it).
 * - `mismatch`: the intended caller cannot assume the role with the intended ID.
 */
export type FindingSeverity = "opening" | "mismatch";

export interface Finding {
  readonly code: FindingCode;
  readonly severity: FindingSeverity;
  /** The statement concerned: its Sid, or `Statement[i]`. */
  readonly statement?: string;
  readonly message: string;
}

export interface TrustCheckResult {
  /** True when the policy grants sts:AssumeRole to exactly the principal, with exactly the IDs. */
  readonly ok: boolean;
  readonly findings: readonly Finding[];
  /** The external IDs with which the intended principal can assume the role. */
  readonly acceptedExternalIds: readonly string[];
  /** True when the intended principal can assume the role with no external ID, or with any. */
  readonly acceptsAnyExternalId: boolean;
}

/** What one statement admits for the intended principal calling sts:AssumeRole. */
interface Admission {
  /** A caller sending no external ID is admitted; the reason, if so. */
  absent?: FindingCode;
  /** Present IDs admitted: a finite set, or any (with the reason). */
  present: Set<string> | { any: FindingCode };
}

/** Checks any trust policy (object, JSON, or IAM's URL-encoded JSON) against the expectation. */
export function checkTrustPolicy(policy: unknown, expected: TrustExpectation): TrustCheckResult {
  let doc: PolicyDocument;
  try {
    doc = parsePolicy(policy);
  } catch (e) {
    const finding: Finding = { code: "invalid-document", severity: "mismatch", message: (e as Error).message };
    return { ok: false, findings: [finding], acceptedExternalIds: [], acceptsAnyExternalId: false };
  }
  const partition = parseIamArn(expected.principalArn)?.partition ?? "aws";
  const intended = normalizePrincipal(expected.principalArn, partition);
  const findings: Finding[] = [];
  const add = (code: FindingCode, severity: FindingSeverity, statement: string | undefined, message: string) =>
    findings.push({ code, severity, statement, message });

  const admissions: { where: string; admission: Admission }[] = [];
  let guard: Set<string> | undefined; // IDs a Deny statement limits the principal to
  let guardsAbsent = false; // a Deny refuses callers without an ID
  let deniedOutright: string | undefined;

  toList(doc.Statement).forEach((s, i) => {
    const where = s.Sid ? `Statement ${JSON.stringify(s.Sid)}` : `Statement[${i}]`;
    const reach = principalReach(s, intended, partition);
    const grantsAssume =
      s.NotAction !== undefined
        ? !toList(s.NotAction).some((a) => actionMatches(a, ASSUME_ROLE))
        : toList(s.Action).some((a) => actionMatches(a, ASSUME_ROLE));

    if (s.Effect === "Deny") {
      if (!reach.intended || !grantsAssume) return;
      const denyGuard = readDenyGuard(s);
      if (denyGuard === "all") deniedOutright = where;
      else if (denyGuard) {
        if (denyGuard.ids) guard = guard ? intersect(guard, denyGuard.ids) : denyGuard.ids;
        guardsAbsent = true;
      }
      return;
    }

    // Allow
    if (s.NotPrincipal !== undefined) {
      add(
        "not-principal",
        "opening",
        where,
        `${where} allows with NotPrincipal, which grants access to every principal not listed; name the manager's principal in Principal instead`,
      );
    }
    if (reach.wildcard) {
      add(
        "wildcard-principal",
        "opening",
        where,
        `${where} trusts a wildcard principal (${reach.wildcard}); any AWS account could assume the role. Trust only ${expected.principalArn}`,
      );
    }
    for (const other of reach.others) {
      add(
        "extra-principal",
        "opening",
        where,
        `${where} also trusts ${other}; remove it so that only ${expected.principalArn} can assume the role`,
      );
    }
    if (!reach.intended) return;

    if (s.NotAction !== undefined) {
      add(
        "not-action",
        "opening",
        where,
        `${where} uses NotAction, which grants every action not listed to the manager's principal; use "Action": "${ASSUME_ROLE}"`,
      );
    } else {
      const extras = toList(s.Action).filter((a) => a.toLowerCase() !== ASSUME_ROLE.toLowerCase());
      if (extras.length > 0) {
        add(
          "extra-action",
          "opening",
          where,
          `${where} grants ${extras.join(", ")} besides ${ASSUME_ROLE}; the manager needs only ${ASSUME_ROLE}`,
        );
      }
    }
    if (grantsAssume) admissions.push({ where, admission: readAdmission(s) });
  });

  // Combine the Allow statements, then apply the Deny statements we could read.
  const accepted = new Set<string>();
  let anyPresent = false; // any presented ID is accepted
  let anyAbsent = false; // a caller without an ID is accepted
  for (const { where, admission } of admissions) {
    const gaps: FindingCode[] = [];
    if (admission.absent && !guardsAbsent) gaps.push(admission.absent);
    if (admission.present instanceof Set) {
      for (const id of admission.present) if (!guard || guard.has(id)) accepted.add(id);
    } else if (guard) {
      for (const id of guard) accepted.add(id);
    } else {
      gaps.push(admission.present.any);
      anyPresent = true;
    }
    for (const code of new Set(gaps))
      add(
        code,
        "opening",
        where,
        `${where} ${GAP_TEXT[code]}; no Deny statement closes the gap. Use StringEquals on ${EXTERNAL_ID_KEY} with the tenant's external ID`,
      );
    if (admission.absent && !guardsAbsent) anyAbsent = true;
  }
  if (deniedOutright) {
    add(
      "denied",
      "mismatch",
      deniedOutright,
      `${deniedOutright} denies sts:AssumeRole to the manager's principal unconditionally; the manager cannot assume the role`,
    );
    accepted.clear();
    anyPresent = anyAbsent = false;
  }

  if (admissions.length === 0) {
    add(
      "no-allow",
      "mismatch",
      undefined,
      `no statement allows ${expected.principalArn} to call ${ASSUME_ROLE}; the manager cannot assume the role`,
    );
  } else if (!deniedOutright) {
    const wanted = new Set(expected.externalIds);
    for (const id of wanted) {
      if (!accepted.has(id) && !anyPresent) {
        add(
          "missing-external-id",
          "mismatch",
          undefined,
          `the policy does not accept the external ID ${maskExternalId(id)}; the manager cannot assume the role with it`,
        );
      }
    }
    for (const id of accepted) {
      if (!wanted.has(id)) {
        add(
          "unexpected-external-id",
          "opening",
          undefined,
          `the policy also accepts the external ID ${maskExternalId(id)}, which is not the tenant's; remove it once no connector uses it`,
        );
      }
    }
  }
  if (expected.requireDenyGuard && !guardsAbsent) {
    add(
      "missing-deny",
      "opening",
      undefined,
      `no Deny statement refuses callers without the tenant's external ID, and one is expected; add a Deny on ${ASSUME_ROLE} with StringNotEquals on ${EXTERNAL_ID_KEY}`,
    );
  }

  return {
    ok: findings.length === 0,
    findings,
    acceptedExternalIds: [...accepted],
    acceptsAnyExternalId: anyPresent || anyAbsent,
  };
}

const GAP_TEXT: Partial<Record<FindingCode, string>> = {
  "missing-condition":
    "allows sts:AssumeRole without an sts:ExternalId condition, so anyone acting as the manager's principal can assume the role without the external ID (the confused-deputy problem)",
  "if-exists": "tests sts:ExternalId with an ...IfExists operator, which also admits callers that send no external ID",
  "null-test": "has a Null test on sts:ExternalId that admits callers that send no external ID",
  "string-like-wildcard": "matches sts:ExternalId with StringLike and a wildcard, which admits other external IDs",
  "ignore-case": "compares sts:ExternalId ignoring case, which admits external IDs that differ in letter case",
  "negated-condition":
    "allows on a negated sts:ExternalId test (StringNot...), which admits every other external ID and callers that send none",
  "for-all-values": "tests sts:ExternalId with ForAllValues, which is true when no external ID is sent",
};

interface Reach {
  /** The statement applies to the intended principal. */
  intended: boolean;
  /** A wildcard principal, as written. */
  wildcard?: string;
  /** Other principals named, as written. */
  others: string[];
}

function principalReach(s: PolicyStatement, intended: string, partition: string): Reach {
  const reach: Reach = { intended: false, others: [] };
  if (s.NotPrincipal !== undefined) {
    const excluded = principalsOf(s.NotPrincipal).map(([, v]) => normalizePrincipal(v, partition));
    reach.intended = !excluded.includes(intended) && !excluded.includes("*");
    return reach;
  }
  if (s.Principal === undefined) return reach;
  for (const [type, value] of principalsOf(s.Principal)) {
    if (value === "*" || (type === "AWS" && value.includes("*"))) {
      reach.wildcard = type === "*" ? '"*"' : `${type}: ${value}`;
      reach.intended = true;
    } else if (type === "AWS" && normalizePrincipal(value, partition) === intended) {
      reach.intended = true;
    } else {
      reach.others.push(type === "AWS" ? value : `${type}: ${value}`);
    }
  }
  return reach;
}

function principalsOf(principal: PolicyStatement["Principal"]): [string, string][] {
  if (principal === "*") return [["*", "*"]];
  if (!principal || typeof principal !== "object") return [];
  return Object.entries(principal).flatMap(([type, v]) => toList(v).map((x): [string, string] => [type, String(x)]));
}

/** `"123456789012"` means that account's root in IAM; compare principals in ARN form. */
export function normalizePrincipal(value: string, partition: string): string {
  return /^\d{12}$/.test(value) ? `arn:${partition}:iam::${value}:root` : value;
}

/** Splits `ForAnyValue:StringEqualsIfExists` into its parts. */
function parseOperator(op: string): { set?: "any" | "all"; base: string; ifExists: boolean } {
  const m = /^(?:(ForAnyValue|ForAllValues):)?(.*?)(IfExists)?$/i.exec(op)!;
  const set = m[1] === undefined ? undefined : m[1].toLowerCase() === "foranyvalue" ? "any" : "all";
  return { set, base: m[2], ifExists: m[3] !== undefined };
}

function externalIdValues(block: Record<string, unknown>): string[] | undefined {
  for (const [key, value] of Object.entries(block)) {
    if (key.toLowerCase() === EXTERNAL_ID_KEY.toLowerCase()) return toList(value as string | string[]).map(String);
  }
  return undefined;
}

/** Works out which external IDs an Allow statement admits for the principal. */
function readAdmission(s: PolicyStatement): Admission {
  // Start from "no constraint" and narrow with each operator on sts:ExternalId (they AND together).
  let absent: FindingCode | undefined = "missing-condition";
  let present: Admission["present"] = { any: "missing-condition" };
  const narrow = (filter: (id: string) => boolean, values: string[], weak: FindingCode | undefined) => {
    if (present instanceof Set) present = new Set([...present].filter(filter));
    else if (weak) present = { any: weak };
    else present = new Set(values);
  };

  for (const [op, block] of Object.entries(s.Condition ?? {})) {
    const values = externalIdValues(block);
    if (!values) continue;
    const { set, base, ifExists } = parseOperator(op);
    const lower = base.toLowerCase();
    // What a missing key does: IfExists, negated operators and ForAllValues are true without it.
    const negated = lower.startsWith("stringnot");
    if (lower === "null") {
      const wantsAbsent = values.some((v) => String(v).toLowerCase() === "true");
      if (wantsAbsent) {
        absent = absent ? "null-test" : undefined;
        present = new Set();
      } else absent = undefined;
      continue;
    }
    const keepsAbsent = ifExists || negated || set === "all";
    if (!keepsAbsent) absent = undefined;
    else if (absent) absent = set === "all" ? "for-all-values" : negated ? "negated-condition" : "if-exists";

    switch (lower) {
      case "stringequals":
        narrow((id) => values.includes(id), values, undefined);
        break;
      case "stringlike": {
        const wild = values.some((v) => /[*?]/.test(v));
        const res = values.map(wildcardToCaseSensitive);
        narrow((id) => res.some((r) => r.test(id)), values, wild ? "string-like-wildcard" : undefined);
        break;
      }
      case "stringequalsignorecase": {
        const lowered = values.map((v) => v.toLowerCase());
        narrow((id) => lowered.includes(id.toLowerCase()), values, "ignore-case");
        break;
      }
      case "stringnotequals":
      case "stringnotlike":
      case "stringnotequalsignorecase": {
        const res = values.map(wildcardToCaseSensitive);
        narrow((id) => !values.includes(id) && !(lower === "stringnotlike" && res.some((r) => r.test(id))), values, "negated-condition");
        break;
      }
      default:
        // Operators that cannot pin a string ID (Arn*, Numeric*, Bool...) leave it unconstrained.
        break;
    }
  }
  return { absent, present };
}

function wildcardToCaseSensitive(pattern: string): RegExp {
  return new RegExp(wildcardToRegExp(pattern).source);
}

/**
 * Reads a Deny statement that applies to the principal's sts:AssumeRole:
 * - `"all"`: it has no condition, so nobody can assume the role;
 * - `{ ids }`: StringNotEquals on sts:ExternalId, so only those IDs pass (and no ID is refused);
 * - `{}`: a Null test that refuses callers without an ID;
 * - `undefined`: other conditions we do not reason about (they are not counted as closing a gap).
 */
function readDenyGuard(s: PolicyStatement): "all" | { ids?: Set<string> } | undefined {
  const ops = Object.entries(s.Condition ?? {});
  if (ops.length === 0) return "all";
  if (ops.length !== 1) return undefined;
  const [op, block] = ops[0];
  if (Object.keys(block).length !== 1) return undefined;
  const values = externalIdValues(block);
  if (!values) return undefined;
  const { set, base } = parseOperator(op);
  if (set) return undefined;
  if (base.toLowerCase() === "stringnotequals") return { ids: new Set(values) };
  if (base.toLowerCase() === "null" && values.every((v) => String(v).toLowerCase() === "true")) return {};
  return undefined;
}

function intersect<T>(a: Set<T>, b: Set<T>): Set<T> {
  return new Set([...a].filter((x) => b.has(x)));
}

/** A one-paragraph, human-readable summary of a check. */
export function describeTrustCheck(result: TrustCheckResult): string {
  if (result.ok) return "trust policy is correct";
  return result.findings.map((f) => `[${f.code}] ${f.message}`).join("\n");
}
