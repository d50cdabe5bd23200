/**
 * Loads the roles of a synthesized `cdk.tf.json` into the local AWS endpoint. This stands in
 * for `cdktf deploy` (which needs real AWS): each aws_iam_role, aws_iam_policy and attachment
 * is created in the account its provider is locked to, and each provider's deployment role is
 * created there too, trusting the pipeline's account.
 */
import { randomBytes } from "node:crypto";
import type { LocalIam } from "./iam";

interface TfJson {
  provider?: { aws?: { alias?: string; allowed_account_ids?: string[]; assume_role?: { role_arn?: string }[] }[] };
  resource?: Record<string, Record<string, Record<string, unknown>>>;
}

export interface SeedOptions {
  /** The account of a provider without assume_role / allowed_account_ids. */
  readonly defaultAccountId?: string;
  /** Who may assume the deployment roles. Default: the sandbox pipeline's account root. */
  readonly pipelinePrincipal?: string;
}

export const SANDBOX_PIPELINE_ACCOUNT = "000000000000";

/** Creates the stack's roles; returns the ARNs of the roles created (deployment roles excluded). */
export function seedFromTerraform(iam: LocalIam, json: TfJson, options: SeedOptions = {}): string[] {
  const providers = new Map<string, string>(); // "aws" or "aws.alias" → account
  for (const p of json.provider?.aws ?? []) {
    const key = p.alias ? `aws.${p.alias}` : "aws";
    const deployArn = p.assume_role?.[0]?.role_arn;
    const account = p.allowed_account_ids?.[0] ?? deployArn?.split(":")[4] ?? options.defaultAccountId;
    if (!account) throw new Error(`provider ${key} names no account; pass defaultAccountId`);
    providers.set(key, account);
    if (deployArn) {
      const name = deployArn.split("/").pop()!;
      if (!iam.accounts.get(account)?.roles.has(name)) {
        const trust = JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: options.pipelinePrincipal ?? `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:root` },
              Action: "sts:AssumeRole",
            },
          ],
        });
        iam.createRole(account, name, trust, {
          path: `/${deployArn.split(":role/")[1].split("/").slice(0, -1).join("/")}/`.replace(/\/+/g, "/"),
        });
        iam.putInline(
          account,
          name,
          "AdministratorAccess",
          JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }),
        );
      }
    }
  }
  const accountOf = (resource: Record<string, unknown>) => {
    const key = String(resource.provider ?? "aws");
    const account = providers.get(key) ?? (key === "aws" ? options.defaultAccountId : undefined);
    if (!account) throw new Error(`no account for provider ${key}; pass defaultAccountId`);
    return account;
  };
  const literal = (value: unknown, what: string): string => {
    const text = String(value);
    if (/\$\{/.test(text.replace(/\$\{aws_iam_(role|policy)\.[^}]+\}/g, "")))
      throw new Error(`${what} holds an unresolved Terraform expression; the sandbox loads literal values only`);
    return text;
  };

  const roleNames = new Map<string, string>();
  const policyArns = new Map<string, string>();
  const created: string[] = [];
  for (const [key, r] of Object.entries(json.resource?.aws_iam_role ?? {})) {
    const name = r.name ? String(r.name) : `${String(r.name_prefix ?? "terraform-")}${randomBytes(6).toString("hex")}`;
    // Like an apply: create the role, or update the trust policy of the one already there.
    const account = accountOf(r);
    const trust = literal(r.assume_role_policy, `aws_iam_role.${key}.assume_role_policy`);
    const existing = iam.accounts.get(account)?.roles.get(name);
    if (existing) existing.trustPolicy = trust;
    const role =
      existing ??
      iam.createRole(account, name, trust, {
        path: r.path ? String(r.path) : undefined,
        maxSessionDuration: r.max_session_duration ? Number(r.max_session_duration) : undefined,
      });
    roleNames.set(key, name);
    created.push(role.arn);
  }
  for (const [key, p] of Object.entries(json.resource?.aws_iam_policy ?? {})) {
    const name = p.name ? String(p.name) : `${String(p.name_prefix ?? "terraform-")}${randomBytes(6).toString("hex")}`;
    policyArns.set(
      key,
      iam.createPolicy(accountOf(p), name, literal(p.policy, `aws_iam_policy.${key}.policy`), p.path ? String(p.path) : "/").arn,
    );
  }
  const ref = (value: unknown, map: Map<string, string>) => {
    const m = /^\$\{aws_iam_(?:role|policy)\.([^.]+)\.(?:name|arn)\}$/.exec(String(value));
    return m ? map.get(m[1]) : String(value);
  };
  for (const [, a] of Object.entries(json.resource?.aws_iam_role_policy_attachment ?? {})) {
    const roleName = ref(a.role, roleNames);
    const policyArn = ref(a.policy_arn, policyArns);
    if (roleName && policyArn) iam.attach(accountOf(a), roleName, policyArn);
  }
  return created;
}
