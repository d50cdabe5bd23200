/**
 * The local AWS endpoint's IAM and STS state: roles and policies per account, sessions issued
 * by AssumeRole, and IAM's propagation delay. The decisions use the same evaluation rules as
 * AWS (src/policy/evaluate.ts): a wrong trust policy is refused here as it would be there.
 */
import { randomBytes } from "node:crypto";
import { callerParts, evaluateIdentity, evaluateTrust } from "../policy/evaluate";

export interface LocalRole {
  readonly name: string;
  readonly path: string;
  readonly arn: string;
  readonly roleId: string;
  trustPolicy: string;
  maxSessionDuration: number;
  description?: string;
  /** The permissions boundary's policy ARN. */
  permissionsBoundary?: string;
  /** Tags in the order they were set. */
  tags: Record<string, string>;
  /** When it was created (ms): it can be assumed `propagationDelayMs` later. */
  readonly createdAt: number;
}

/** One version of a managed policy (IAM keeps up to five). */
export interface LocalPolicyVersion {
  readonly versionId: string;
  readonly document: string;
  readonly createdAt: number;
}

export interface LocalPolicy {
  readonly name: string;
  readonly arn: string;
  readonly path: string;
  readonly policyId: string;
  readonly description?: string;
  /** The default version's document. */
  document: string;
  defaultVersionId: string;
  /** Every version, oldest first. */
  readonly versions: LocalPolicyVersion[];
  /** The number the next version takes (`v<n>`; IAM never reuses one). */
  nextVersion: number;
  tags: Record<string, string>;
  readonly createdAt: number;
  updatedAt: number;
}

export interface LocalAccount {
  readonly roles: Map<string, LocalRole>;
  /** Managed policies by ARN (AWS-managed ones are shared across accounts, see `awsManaged`). */
  readonly policies: Map<string, LocalPolicy>;
  /** Role name → attached managed policy ARNs. */
  readonly attached: Map<string, string[]>;
  /** Role name → inline policy name → document. */
  readonly inline: Map<string, Map<string, string>>;
}

/** What an identity policy is evaluated against: the resource's ARN and the request's condition keys. */
export interface RequestTarget {
  readonly resource?: string;
  readonly context: Readonly<Record<string, string>>;
}

/** Role attributes CreateRole takes besides the name and trust policy. */
export interface RoleAttributes {
  readonly path?: string;
  readonly maxSessionDuration?: number;
  readonly partition?: string;
  readonly description?: string;
  readonly permissionsBoundary?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** When it was created (ms). Default: now. An earlier time makes a role assumable at once. */
  readonly createdAt?: number;
}

export interface Session {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly arn: string;
  readonly roleArn: string;
  /** The role's ID and the session name: `<roleId>:<sessionName>` is the session's user ID. */
  readonly roleId: string;
  readonly sessionName: string;
  readonly expiration: Date;
}

/** An AWS error as the SDK parses it: its code (`__type` or `<Code>`), message and status. */
/** Parses a policy document as IAM does before storing it: JSON, or MalformedPolicyDocument. */
function parseDocument(document: string): void {
  try {
    JSON.parse(document);
  } catch {
    throw new AwsFault("MalformedPolicyDocument", "Syntax errors in policy.", 400);
  }
}

export class AwsFault extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const READ_ONLY_AWS_POLICIES: Record<string, string> = {
  "arn:aws:iam::aws:policy/AdministratorAccess": JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
  }),
  "arn:aws:iam::aws:policy/ReadOnlyAccess": JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["ec2:Describe*", "iam:Get*", "iam:List*", "workspaces:Describe*"], Resource: "*" }],
  }),
};

/** IAM allows this many versions of one managed policy. */
export const MAX_POLICY_VERSIONS = 5;

const builtIns = new Map<string, LocalPolicy>(
  Object.entries(READ_ONLY_AWS_POLICIES).map(([arn, document]) => [arn, newPolicy(arn, arn.split("/").pop()!, "/", document)]),
);

function newPolicy(arn: string, name: string, path: string, document: string, description?: string, tags = {}): LocalPolicy {
  const now = Date.now();
  return {
    name,
    arn,
    path,
    policyId: `ANPA${randomBytes(8).toString("hex").toUpperCase()}`,
    description,
    document,
    defaultVersionId: "v1",
    versions: [{ versionId: "v1", document, createdAt: now }],
    nextVersion: 2,
    tags: { ...tags },
    createdAt: now,
    updatedAt: now,
  };
}

const noSuchRole = (name: string) => new AwsFault("NoSuchEntity", `The role with name ${name} cannot be found.`, 404);

export class LocalIam {
  readonly accounts = new Map<string, LocalAccount>();
  readonly sessions = new Map<string, Session>();
  /** A role can be assumed only this long after it was created, as IAM propagates. */
  propagationDelayMs = 0;
  /** A new role is not even visible to GetRole for this long (IAM is eventually consistent). */
  visibilityDelayMs = 0;
  /** A delay for some roles only (by ARN), overriding `propagationDelayMs` where it answers. */
  propagationDelayFor?: (roleArn: string) => number | undefined;

  account(id: string): LocalAccount {
    let account = this.accounts.get(id);
    if (!account) {
      account = { roles: new Map(), policies: new Map(), attached: new Map(), inline: new Map() };
      this.accounts.set(id, account);
    }
    return account;
  }

  createRole(accountId: string, name: string, trustPolicy: string, options: RoleAttributes = {}): LocalRole {
    const account = this.account(accountId);
    if (account.roles.has(name)) throw new AwsFault("EntityAlreadyExists", `Role with name ${name} already exists.`, 409);
    parseDocument(trustPolicy);
    const path = options.path ?? "/";
    const role: LocalRole = {
      name,
      path,
      arn: `arn:${options.partition ?? "aws"}:iam::${accountId}:role${path}${name}`,
      roleId: `AROA${randomBytes(8).toString("hex").toUpperCase()}`,
      trustPolicy,
      maxSessionDuration: options.maxSessionDuration ?? 3600,
      description: options.description,
      permissionsBoundary: options.permissionsBoundary,
      tags: { ...options.tags },
      createdAt: options.createdAt ?? Date.now(),
    };
    account.roles.set(name, role);
    return role;
  }

  /** DeleteRole: refused while the role has attached or inline policies, as in IAM. */
  deleteRole(accountId: string, name: string): void {
    this.role(accountId, name);
    const account = this.account(accountId);
    if ((account.attached.get(name) ?? []).length > 0 || (account.inline.get(name)?.size ?? 0) > 0)
      throw new AwsFault("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409);
    account.roles.delete(name);
    account.attached.delete(name);
    account.inline.delete(name);
  }

  /** CreatePolicy: refused when a policy of that path and name exists. */
  createPolicy(
    accountId: string,
    name: string,
    document: string,
    path = "/",
    options: { description?: string; tags?: Readonly<Record<string, string>> } = {},
  ): LocalPolicy {
    parseDocument(document);
    const arn = `arn:aws:iam::${accountId}:policy${path}${name}`;
    const account = this.account(accountId);
    if (account.policies.has(arn))
      throw new AwsFault("EntityAlreadyExists", `A policy called ${name} already exists. Duplicate names are not allowed.`, 409);
    const policy = newPolicy(arn, name, path, document, options.description, options.tags);
    account.policies.set(arn, policy);
    return policy;
  }

  /** The caller's own managed policy (for changes: AWS-managed and other accounts' policies are not). */
  ownPolicy(accountId: string, arn: string): LocalPolicy {
    const policy = this.accounts.get(accountId)?.policies.get(arn);
    if (!policy) throw new AwsFault("NoSuchEntity", `Policy ${arn} does not exist or is not attachable.`, 404);
    return policy;
  }

  /** CreatePolicyVersion: at most five versions; optionally the new default. */
  createPolicyVersion(accountId: string, arn: string, document: string, setAsDefault: boolean): LocalPolicyVersion {
    const policy = this.ownPolicy(accountId, arn);
    parseDocument(document);
    if (policy.versions.length >= MAX_POLICY_VERSIONS)
      throw new AwsFault(
        "LimitExceeded",
        `A managed policy can have up to ${MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version.`,
        409,
      );
    const version = { versionId: `v${policy.nextVersion++}`, document, createdAt: Date.now() };
    policy.versions.push(version);
    if (setAsDefault) this.setDefaultPolicyVersion(accountId, arn, version.versionId);
    return version;
  }

  policyVersion(accountId: string, arn: string, versionId: string): LocalPolicyVersion {
    const version = this.policy(accountId, arn).versions.find((v) => v.versionId === versionId);
    if (!version) throw new AwsFault("NoSuchEntity", `Policy ${arn} version ${versionId} does not exist or is not attachable.`, 404);
    return version;
  }

  setDefaultPolicyVersion(accountId: string, arn: string, versionId: string): void {
    const policy = this.ownPolicy(accountId, arn);
    const version = this.policyVersion(accountId, arn, versionId);
    policy.defaultVersionId = version.versionId;
    policy.document = version.document;
    policy.updatedAt = Date.now();
  }

  deletePolicyVersion(accountId: string, arn: string, versionId: string): void {
    const policy = this.ownPolicy(accountId, arn);
    this.policyVersion(accountId, arn, versionId);
    if (versionId === policy.defaultVersionId) throw new AwsFault("DeleteConflict", "Cannot delete the default version of a policy.", 409);
    policy.versions.splice(
      policy.versions.findIndex((v) => v.versionId === versionId),
      1,
    );
  }

  /** DeletePolicy: refused while attached or while it has versions besides the default, as in IAM. */
  deletePolicy(accountId: string, arn: string): void {
    const policy = this.ownPolicy(accountId, arn);
    if (this.attachmentCount(arn) > 0) throw new AwsFault("DeleteConflict", "Cannot delete a policy attached to entities.", 409);
    if (policy.versions.length > 1)
      throw new AwsFault(
        "DeleteConflict",
        "This policy has more than one version. Before you delete a policy, you must delete the policy's non-default versions.",
        409,
      );
    this.account(accountId).policies.delete(arn);
  }

  /** How many roles (in any account) have the policy attached. */
  attachmentCount(arn: string): number {
    let count = 0;
    for (const account of this.accounts.values()) for (const arns of account.attached.values()) if (arns.includes(arn)) count++;
    return count;
  }

  attach(accountId: string, roleName: string, policyArn: string): void {
    const account = this.account(accountId);
    this.role(accountId, roleName);
    const list = account.attached.get(roleName) ?? [];
    if (!list.includes(policyArn)) list.push(policyArn);
    account.attached.set(roleName, list);
  }

  detach(accountId: string, roleName: string, policyArn: string): void {
    this.role(accountId, roleName);
    const list = this.account(accountId).attached.get(roleName) ?? [];
    if (!list.includes(policyArn)) throw new AwsFault("NoSuchEntity", `Policy ${policyArn} was not found.`, 404);
    list.splice(list.indexOf(policyArn), 1);
  }

  deleteInline(accountId: string, roleName: string, policyName: string): void {
    this.role(accountId, roleName);
    const map = this.account(accountId).inline.get(roleName);
    if (!map?.delete(policyName)) throw new AwsFault("NoSuchEntity", `The role policy with name ${policyName} cannot be found.`, 404);
  }

  putInline(accountId: string, roleName: string, policyName: string, document: string): void {
    this.role(accountId, roleName);
    const account = this.account(accountId);
    const map = account.inline.get(roleName) ?? new Map<string, string>();
    map.set(policyName, document);
    account.inline.set(roleName, map);
  }

  role(accountId: string, name: string): LocalRole {
    const role = this.accounts.get(accountId)?.roles.get(name);
    if (!role) throw noSuchRole(name);
    return role;
  }

  /** The role as IAM's read API sees it: not found until it has become visible. */
  visibleRole(accountId: string, name: string): LocalRole {
    const role = this.role(accountId, name);
    if (Date.now() - role.createdAt < this.visibilityDelayMs) throw noSuchRole(name);
    return role;
  }

  policy(accountId: string, arn: string): LocalPolicy {
    const builtIn = builtIns.get(arn);
    if (builtIn) return builtIn;
    const policy =
      this.accounts.get(accountId)?.policies.get(arn) ?? [...this.accounts.values()].find((a) => a.policies.has(arn))?.policies.get(arn);
    if (!policy) throw new AwsFault("NoSuchEntity", `Policy ${arn} does not exist or is not attachable.`, 404);
    return policy;
  }

  /** The role's identity policies: attached managed ones and inline ones. */
  rolePolicies(accountId: string, roleName: string): string[] {
    const account = this.account(accountId);
    const attached = (account.attached.get(roleName) ?? []).flatMap((arn) => {
      try {
        return [this.policy(accountId, arn).document];
      } catch {
        return [];
      }
    });
    return [...attached, ...(account.inline.get(roleName)?.values() ?? [])];
  }

  /** sts:AssumeRole as AWS decides it; returns a session or throws AccessDenied. */
  assumeRole(callerArn: string, roleArn: string, sessionName: string, externalId: string | undefined, durationSeconds = 3600): Session {
    const denied = () =>
      new AwsFault("AccessDenied", `User: ${callerArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
    const m = /^arn:([\w-]+):iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    if (!m) throw new AwsFault("ValidationError", `${roleArn} is invalid`, 400);
    const role = this.accounts.get(m[2])?.roles.get(m[3]);
    if (!role || Date.now() - role.createdAt < (this.propagationDelayFor?.(role.arn) ?? this.propagationDelayMs)) throw denied();
    const context: Record<string, string> = externalId === undefined ? {} : { "sts:ExternalId": externalId };
    if (evaluateTrust(role.trustPolicy, { callerArn, context }) !== "Allow") throw denied();
    const session: Session = {
      accessKeyId: `ASIA${randomBytes(8).toString("hex").toUpperCase()}`,
      secretAccessKey: randomBytes(20).toString("base64"),
      sessionToken: randomBytes(32).toString("base64"),
      arn: `arn:${m[1]}:sts::${m[2]}:assumed-role/${role.name}/${sessionName}`,
      roleArn: role.arn,
      roleId: role.roleId,
      sessionName,
      expiration: new Date(Date.now() + durationSeconds * 1000),
    };
    this.sessions.set(session.accessKeyId, session);
    return session;
  }

  /**
   * Whether a caller may call an action: sessions by their role's policies (on the request's
   * resource and condition keys, when known); other identities may.
   */
  mayCall(callerArn: string, action: string, target?: RequestTarget): boolean {
    const { account, roleArn } = callerParts(callerArn);
    if (!roleArn) return true;
    const roleName = roleArn.split("/").pop()!;
    return evaluateIdentity(this.rolePolicies(account, roleName), action, target?.context, target?.resource) === "Allow";
  }

  /**
   * The resource and condition keys of an IAM request (a role by `RoleName`, a policy by
   * `PolicyArn` or by the name `CreatePolicy` gives it; `iam:PolicyARN`, `iam:PermissionsBoundary`),
   * so that resource-scoped policies are enforced as AWS does. Other requests: no resource.
   */
  iamRequestTarget(callerArn: string, action: string, param: (name: string) => string | undefined): RequestTarget {
    const partition = callerArn.split(":")[1] || "aws";
    const { account } = callerParts(callerArn);
    const context: Record<string, string> = {};
    const boundary = param("PermissionsBoundary");
    if (boundary) context["iam:PermissionsBoundary"] = boundary;
    const roleName = param("RoleName");
    const policyArn = param("PolicyArn");
    if (roleName && !param("InstanceProfileName")) {
      if (policyArn) context["iam:PolicyARN"] = policyArn;
      const path = this.accounts.get(account)?.roles.get(roleName)?.path ?? param("Path") ?? "/";
      return { resource: `arn:${partition}:iam::${account}:role${path}${roleName}`, context };
    }
    if (policyArn) return { resource: policyArn, context };
    const policyName = param("PolicyName");
    if (action === "CreatePolicy" && policyName)
      return { resource: `arn:${partition}:iam::${account}:policy${param("Path") ?? "/"}${policyName}`, context };
    return { context };
  }
}
