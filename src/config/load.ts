/**
 * Reading the onboarding config: JSON or YAML, every problem listed with its path
 * (`accounts[3].accountId`), what is wrong and how to fix it.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { UsageError } from "../errors";
import { ValidationError, type ValidationIssue } from "../validation";
import { configSchema, type OnboardingConfig, withDeploymentRoleName } from "./schema";

export interface LoadedConfig {
  readonly path: string;
  /** The folder relative paths in the config are resolved from. */
  readonly dir: string;
  readonly config: OnboardingConfig;
}

export function loadConfig(path: string): LoadedConfig {
  const full = resolve(path);
  let text: string;
  try {
    if (statSync(full).isDirectory())
      throw new UsageError(
        `The config ${full} is a folder, not a file. Name the config file in it (e.g. ${join(full, "ds-onboard.yaml")}).`,
      );
    text = readFileSync(full, "utf8");
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UsageError(`The config file ${full} does not exist. Create one with \`ds-onboard init\`.`);
    throw new UsageError(`The config file ${full} cannot be read (${code ?? (error as Error).message}). Check its permissions.`);
  }
  return { path: full, dir: dirname(full), config: parseConfig(text, full) };
}

/** Parses and validates config text; `name` appears in messages. */
export function parseConfig(text: string, name: string): OnboardingConfig {
  if (text.trim() === "")
    throw new ValidationError(
      [{ path: "(file)", problem: "is empty", fix: "Start from `ds-onboard init`, or see the README for an example" }],
      `Invalid config ${name}`,
    );
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({
      path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "(file)",
      problem: `is not valid ${name.endsWith(".json") ? "JSON" : "YAML"}: ${e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "")}`,
      fix: "Fix the syntax (indentation, quotes, colons)",
    }));
    throw new ValidationError(issues, `Invalid config ${name}`);
  }
  let data: unknown;
  try {
    // A document of aliases that expand to millions of nodes (a "billion laughs") is refused.
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new ValidationError(
      [
        {
          path: "(file)",
          problem: `cannot be read: ${(error as Error).message}`,
          fix: "Write the values out instead of using many YAML aliases",
        },
      ],
      `Invalid config ${name}`,
    );
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ValidationError(
      [
        {
          path: "(file)",
          problem: "is not a mapping of keys to values",
          fix: "The config is an object with manager, externalId, role, accounts...",
        },
      ],
      `Invalid config ${name}`,
    );
  }
  const result = configSchema.safeParse(data, { reportInput: true });
  if (!result.success) {
    // A rule that ties fields together may restate a field's own problem: list each once.
    const seen = new Set<string>();
    const issues = result.error.issues.flatMap(toIssues).filter((i) => {
      const key = `${i.path}\n${i.problem}`;
      return !seen.has(key) && seen.add(key) !== undefined;
    });
    throw new ValidationError(issues, `Invalid config ${name}`);
  }
  return withDeploymentRoleName(result.data);
}

/** `["accounts", 3, "accountId"]` → `accounts[3].accountId`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>((out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), "") ||
    "(top level)"
  );
}

function toIssues(issue: z.core.$ZodIssue): ValidationIssue[] {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const secret = issue.keys.filter((k) => /api.?key|secret/i.test(k));
    const other = issue.keys.filter((k) => !secret.includes(k));
    const list = (keys: string[]) => keys.map((k) => JSON.stringify(k)).join(", ");
    return [
      ...(secret.length
        ? [
            {
              path,
              problem: `has ${list(secret)}: the API key never goes in the config`,
              fix: "Remove it; give the key in the environment (DS_API_KEY) or in a file (DS_API_KEY_FILE)",
            },
          ]
        : []),
      ...(other.length
        ? [
            {
              path,
              problem: `has unknown key${other.length > 1 ? "s" : ""} ${list(other)}`,
              fix: "Remove it or fix its spelling; schema/onboarding-config.schema.json lists the keys",
            },
          ]
        : []),
    ];
  }
  return [toIssue(issue, path)];
}

function toIssue(issue: z.core.$ZodIssue, path: string): ValidationIssue {
  switch (issue.code) {
    case "invalid_type":
      return {
        path,
        problem:
          issue.input === undefined
            ? "is missing"
            : `expected ${issue.expected}, got ${Array.isArray(issue.input) ? "a list" : issue.input === null ? "null" : typeof issue.input}`,
        fix:
          issue.expected === "string" && typeof issue.input === "number"
            ? "Quote the value (account IDs are strings, so that leading zeros stay)"
            : `Give a ${issue.expected}`,
      };
    case "invalid_value":
      return {
        path,
        problem: `is ${JSON.stringify(issue.input)}`,
        fix: `Use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "invalid_union":
      return {
        path,
        problem: "does not match any accepted form",
        fix: 'Use { type: workload-security }, { type: on-premises, accountId: "..." }, { type: on-premises, arn: "..." } or { type: custom, arn: "..." }',
      };
    case "too_small":
    case "too_big":
      return { path, problem: issue.message.replace(/^Too (small|big): /, "is too $1: "), fix: "Use a value within the range" };
    default: {
      // Our own messages read "<problem>. <fix>".
      const [problem, ...fix] = issue.message.split(". ");
      return { path, problem, fix: fix.join(". ") || "See the README's config reference" };
    }
  }
}
