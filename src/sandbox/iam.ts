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
  readonly maxSessionDuration: number;
  /** When it was created (ms): it can be assumed `propagationDelayMs` later. */
  readonly createdAt: number;
}

export interface LocalPolicy {
  readonly name: string;
  readonly arn: string;
  readonly path: string;
  readonly document: string;
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

export interface Session {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly arn: string;
  readonly roleArn: string;
  readonly expiration: Date;
}

/** An AWS error as the SDK parses it: its code (`__type` or `<Code>`), message and status. */
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

  createRole(
    accountId: string,
    name: string,
    trustPolicy: string,
    options: { path?: string; maxSessionDuration?: number; partition?: string } = {},
  ): LocalRole {
    const account = this.account(accountId);
    if (account.roles.has(name)) throw new AwsFault("EntityAlreadyExists", `Role with name ${name} already exists.`, 409);
    JSON.parse(trustPolicy); // MalformedPolicyDocument otherwise
    const path = options.path ?? "/";
    const role: LocalRole = {
      name,
      path,
      arn: `arn:${options.partition ?? "aws"}:iam::${accountId}:role${path}${name}`,
      roleId: `AROA${randomBytes(8).toString("hex").toUpperCase()}`,
      trustPolicy,
      maxSessionDuration: options.maxSessionDuration ?? 3600,
      createdAt: Date.now(),
    };
    account.roles.set(name, role);
    return role;
  }

  createPolicy(accountId: string, name: string, document: string, path = "/"): LocalPolicy {
    const policy = { name, path, arn: `arn:aws:iam::${accountId}:policy${path}${name}`, document };
    this.account(accountId).policies.set(policy.arn, policy);
    return policy;
  }

  attach(accountId: string, roleName: string, policyArn: string): void {
    const account = this.account(accountId);
    this.role(accountId, roleName);
    const list = account.attached.get(roleName) ?? [];
    if (!list.includes(policyArn)) list.push(policyArn);
    account.attached.set(roleName, list);
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
    if (!role) throw new AwsFault("NoSuchEntity", `The role with name ${name} cannot be found.`, 404);
    return role;
  }

  /** The role as IAM's read API sees it: not found until it has become visible. */
  visibleRole(accountId: string, name: string): LocalRole {
    const role = this.role(accountId, name);
    if (Date.now() - role.createdAt < this.visibilityDelayMs)
      throw new AwsFault("NoSuchEntity", `The role with name ${name} cannot be found.`, 404);
    return role;
  }

  policy(accountId: string, arn: string): LocalPolicy {
    const builtIn = READ_ONLY_AWS_POLICIES[arn];
    if (builtIn) return { name: arn.split("/").pop()!, arn, path: "/", document: builtIn };
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
      expiration: new Date(Date.now() + durationSeconds * 1000),
    };
    this.sessions.set(session.accessKeyId, session);
    return session;
  }

  /** Whether a caller may call an action: sessions by their role's policies; other identities may. */
  mayCall(callerArn: string, action: string): boolean {
    const { account, roleArn } = callerParts(callerArn);
    if (!roleArn) return true;
    const roleName = roleArn.split("/").pop()!;
    return evaluateIdentity(this.rolePolicies(account, roleName), action) === "Allow";
  }
}
