/**
 * Where the tenant's external ID comes from, written as text in the config, in flags and in the
 * environment: `manager`, `env:NAME`, `ssm:<parameter>`, `secretsmanager:<secret>`,
 * `file:<path>`, `literal:<id>` or the ID itself. One parser for all of them.
 */
import { checkExternalId, type Problem } from "../validation";

/** The places a stored copy can be kept (and `env:`, which can only be read). */
export const STORED_KINDS = ["ssm", "secretsmanager", "file", "env"] as const;
export type StoredKind = (typeof STORED_KINDS)[number];

export type StoredLocation =
  | { readonly kind: "ssm"; readonly name: string }
  | { readonly kind: "secretsmanager"; readonly name: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "env"; readonly name: string };

export type ExternalIdSource = { readonly kind: "manager" } | { readonly kind: "literal"; readonly value: string } | StoredLocation;

/** The forms, for messages and help texts. */
export const STORED_FORMS = "ssm:<parameter-name>, secretsmanager:<secret-name> or file:<path>";
export const SOURCE_FORMS = `manager, env:<VARIABLE>, ${STORED_FORMS}, or the ID itself (literal:<id>)`;

/**
 * Parses a stored location. File paths are returned as written; callers resolve them against the
 * folder they are relative to.
 */
export function parseStoredLocation(text: string, options: { allowEnv?: boolean } = {}): StoredLocation | Problem {
  const forms = options.allowEnv ? `${STORED_FORMS} or env:<VARIABLE>` : STORED_FORMS;
  const m = /^(ssm|secretsmanager|file|env):(.*)$/s.exec(text.trim());
  if (!m) return { problem: `${JSON.stringify(text)} is not a storage location`, fix: `Use ${forms}` };
  const [, kind, rest] = m;
  if (rest === "")
    return {
      problem: `names no ${kind} location`,
      fix: `Write e.g. ${kind === "file" ? "file:./external-id.txt" : kind === "env" ? "env:DS_EXTERNAL_ID" : `${kind}:/deep-security/external-id`}`,
    };
  switch (kind) {
    case "ssm":
      if (!/^[a-zA-Z0-9_.\-/]{1,2048}$/.test(rest))
        return { problem: `${JSON.stringify(rest)} is not a valid SSM parameter name`, fix: "Use letters, digits and _.-/" };
      return { kind, name: rest };
    case "secretsmanager":
      if (!/^[a-zA-Z0-9/_+=.@:-]{1,2048}$/.test(rest))
        return {
          problem: `${JSON.stringify(rest)} is not a valid Secrets Manager secret name or ARN`,
          fix: "Use letters, digits and /_+=.@-",
        };
      return { kind, name: rest };
    case "file":
      if (/[\0\r\n]/.test(rest)) return { problem: "holds a control character in its path", fix: "Check for a pasted line break" };
      return { kind, path: rest };
    default:
      if (!options.allowEnv) return { problem: "env: is not accepted here", fix: `Use ${STORED_FORMS}` };
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest))
        return {
          problem: `${JSON.stringify(rest)} is not an environment variable name`,
          fix: "Use letters, digits and _, not starting with a digit",
        };
      return { kind: "env", name: rest };
  }
}

/** Parses an external ID source as the config's `externalId` takes it. */
export function parseExternalIdSource(text: string): ExternalIdSource | Problem {
  if (text === "manager") return { kind: "manager" };
  if (/^(ssm|secretsmanager|file|env):/.test(text)) return parseStoredLocation(text, { allowEnv: true });
  const value = text.startsWith("literal:") ? text.slice("literal:".length) : text;
  const problem = checkExternalId(value);
  if (problem) {
    return { problem: `is neither a source (${SOURCE_FORMS}) nor a valid external ID: it ${problem.problem}`, fix: problem.fix };
  }
  return { kind: "literal", value };
}

export function isProblem<T extends object>(value: T | Problem): value is Problem {
  return "problem" in value && "fix" in value;
}

export function describeLocation(location: StoredLocation): string {
  return location.kind === "file" ? `file:${location.path}` : `${location.kind}:${location.name}`;
}
