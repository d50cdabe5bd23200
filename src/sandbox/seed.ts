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

/** The role an organization's pipeline assumes in a member account, unless another is named. */
export const DEFAULT_DEPLOYMENT_ROLE = "OrganizationAccountAccessRole";

/**
 * Creates a deployment role as AWS Organizations does for a new member account: trusting
 * `principal` (the management account's root by default: any identity of that account whose
 * own policies allow sts:AssumeRole), with an inline `AdministratorAccess` policy. Leaves a
 * role already there as it is. `roleArnOrName` is a name (path `/`) or a role ARN. The role
 * is dated a day back: it exists long before any deployment, so IAM's propagation delay
 * (`propagationDelayMs`) is long over.
 */
export function createDeploymentRole(iam: LocalIam, accountId: string, roleArnOrName: string, principal: string) {
  const [, pathAndName = roleArnOrName] = roleArnOrName.split(":role/");
  const name = pathAndName.split("/").pop()!;
  const existing = iam.accounts.get(accountId)?.roles.get(name);
  if (existing) return existing;
  const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" }] };
  const role = iam.createRole(accountId, name, JSON.stringify(trust), {
    path: `/${pathAndName.split("/").slice(0, -1).join("/")}/`.replace(/\/+/g, "/"),
    createdAt: Date.now() - 86_400_000,
  });
  iam.putInline(
    accountId,
    name,
    "AdministratorAccess",
    JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }),
  );
  return role;
}

/** Creates the stack's roles; returns the ARNs of the roles created (deployment roles excluded). */
export function seedFromTerraform(iam: LocalIam, json: TfJson, options: SeedOptions = {}): string[] {
  const providers = new Map<string, string>(); // "aws" or "aws.alias" → account
  for (const p of json.provider?.aws ?? []) {
    const key = p.alias ? `aws.${p.alias}` : "aws";
    const deployArn = p.assume_role?.[0]?.role_arn;
    const account = p.allowed_account_ids?.[0] ?? deployArn?.split(":")[4] ?? options.defaultAccountId;
    if (!account) throw new Error(`provider ${key} names no account; pass defaultAccountId`);
    providers.set(key, account);
    if (deployArn)
      createDeploymentRole(iam, account, deployArn, options.pipelinePrincipal ?? `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:root`);
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
        description: optional(r.description),
        permissionsBoundary: optional(r.permissions_boundary),
        tags: tagsOf(r),
      });
    roleNames.set(key, name);
    created.push(role.arn);
  }
  for (const [key, p] of Object.entries(json.resource?.aws_iam_policy ?? {})) {
    const name = p.name ? String(p.name) : `${String(p.name_prefix ?? "terraform-")}${randomBytes(6).toString("hex")}`;
    const account = accountOf(p);
    const path = p.path ? String(p.path) : "/";
    const document = literal(p.policy, `aws_iam_policy.${key}.policy`);
    // Like an apply: create the policy, or make the new document the default version.
    const existing = iam.accounts.get(account)?.policies.get(`arn:aws:iam::${account}:policy${path}${name}`);
    if (existing && existing.document !== document) {
      for (const old of existing.versions.filter((v) => v.versionId !== existing.defaultVersionId))
        iam.deletePolicyVersion(account, existing.arn, old.versionId);
      iam.createPolicyVersion(account, existing.arn, document, true);
    }
    const policy = existing ?? iam.createPolicy(account, name, document, path, { description: optional(p.description), tags: tagsOf(p) });
    policyArns.set(key, policy.arn);
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

function optional(value: unknown): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

function tagsOf(resource: Record<string, unknown>): Record<string, string> | undefined {
  const tags = resource.tags;
  return tags && typeof tags === "object" ? Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, String(v)])) : undefined;
}
