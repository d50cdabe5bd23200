/**
 * Post-deploy verification of each role: its trust policy (the policy module on the live
 * document), its permissions, and, where the caller can act as the trusted principal, the
 * assume-role itself (with the ID: allowed; without it or with a wrong one: refused; then
 * ec2:DescribeRegions with the session). A check that could not run says so and why; it is
 * never reported as passed.
 */
import { randomBytes } from "node:crypto";
import { ExitCode, UserError } from "../errors";
import { evaluateIdentity, evaluateTrust } from "../policy/evaluate";
import { requiredActions } from "../policy/permissions";
import { checkTrustPolicy } from "../policy/trust";
import { maskExternalId } from "../redact";
import { mapLimit, sleep } from "./pool";
import type { RoleTarget } from "./targets";

/** Static AWS credentials, as AssumeRole returns them. */
type AwsCredentialIdentity = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export type CheckStatus = "pass" | "fail" | "not-run";

export interface CheckResult {
  readonly status: CheckStatus;
  readonly detail: string;
  /** Field-by-field drift, for failures. */
  readonly drift?: readonly string[];
  /** What to do about a failure. */
  readonly fix?: string;
  /**
   * A named outcome: the check did not run because the caller cannot act as the trusted
   * principal; the role does not exist (not deployed yet, or deleted).
   */
  readonly code?: "cannot-act-as-principal" | "role-missing";
}

export interface VerifyResult {
  readonly accountId: string;
  readonly roleArn: string;
  readonly displayName: string;
  readonly ok: boolean;
  readonly checks: {
    readonly role: CheckResult;
    readonly trust: CheckResult;
    readonly permissions: CheckResult;
    readonly assumeRole: CheckResult;
  };
  readonly ms: number;
}

export interface VerifyOptions {
  readonly principalArn: string;
  /** The IDs the role must accept: the tenant's, and during a migration the old one. */
  readonly externalIds: readonly string[];
  readonly includeWorkspaces?: boolean;
  /** A role that is the trusted principal (or in its account), to run the assume-role check as. */
  readonly assumeAs?: string;
  /** How long to wait for a new role to become visible and assumable. Default: 60 s. */
  readonly propagationTimeoutMs?: number;
  readonly concurrency?: number;
  /** Only read the role and check its trust policy (register's safety check). Default: false. */
  readonly trustOnly?: boolean;
  readonly onResult?: (result: VerifyResult) => void;
}

const region = () => process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
const NOT_READ_ONLY = /^(?:\*|[\w-]+:\*|[\w-]+:(?!Describe|Get|List|Search|Lookup|BatchGet|Select|View)\w.*)$/i;

export async function verifyRoles(targets: readonly RoleTarget[], options: VerifyOptions): Promise<VerifyResult[]> {
  const sdk = loadSdk();
  const sts = new sdk.sts.STSClient({ region: region() });
  try {
    const caller = (await sts.send(new sdk.sts.GetCallerIdentityCommand({}))).Arn ?? "";
    // Who runs the assume-role check: the caller itself if the role's principal covers it, or options.assumeAs.
    // `canRun` false: the check cannot run, and `why` says so (it is reported as not-run).
    let principalCredentials: AwsCredentialIdentity | undefined;
    let principalWhy: string;
    let principalCode: CheckResult["code"];
    let canRun = true;
    if (options.assumeAs && !options.trustOnly) {
      const deadline = Date.now() + (options.propagationTimeoutMs ?? 60_000);
      for (let wait = 1000; !principalCredentials; wait = Math.min(wait * 2, 10_000)) {
        try {
          principalCredentials = await assume(sts, options.assumeAs, undefined, "ds-onboard-verify");
        } catch (error) {
          if (Date.now() + wait > deadline) {
            throw new UserError(
              `The role to run the assume-role check as, ${options.assumeAs}, cannot be assumed (${describeAwsError(error)}). It must trust ${caller}.`,
              ExitCode.failed,
              { cause: error },
            );
          }
          await sleep(wait);
        }
      }
      principalWhy = `as ${options.assumeAs}`;
    } else if (coversCaller(options.principalArn, caller)) {
      principalWhy = `as the caller ${caller}`;
    } else {
      canRun = false;
      principalWhy = `the trusted principal is ${options.principalArn} and this caller is ${caller}, which cannot act as it${options.principalArn.includes(":147995105371:") ? " (it is the vendor's account)" : ""}; name a role of the principal to run it as`;
      principalCode = "cannot-act-as-principal";
    }
    const principal = { canRun, credentials: principalCredentials, why: principalWhy, code: principalCode };
    return await mapLimit(targets, options.concurrency ?? 8, async (target) => {
      const started = Date.now();
      const result = await verifyOne(sdk, sts, target, options, principal, caller);
      const done = { ...result, ms: Date.now() - started };
      options.onResult?.(done);
      return done;
    });
  } finally {
    sts.destroy();
  }
}

type Sdk = ReturnType<typeof loadSdk>;

function loadSdk() {
  return {
    sts: require("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts"),
    iam: require("@aws-sdk/client-iam") as typeof import("@aws-sdk/client-iam"),
    ec2: require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2"),
  };
}

async function verifyOne(
  sdk: Sdk,
  sts: InstanceType<Sdk["sts"]["STSClient"]>,
  target: RoleTarget,
  options: VerifyOptions,
  principal: { canRun: boolean; credentials?: AwsCredentialIdentity; why: string; code?: CheckResult["code"] },
  caller: string,
): Promise<Omit<VerifyResult, "ms">> {
  const notRun = (why: string): CheckResult => ({ status: "not-run", detail: why });
  const base = { accountId: target.accountId, roleArn: target.roleArn, displayName: target.displayName };
  const unreadable = (role: CheckResult): Omit<VerifyResult, "ms"> => {
    const skipped = notRun("the role could not be read");
    return { ...base, ok: false, checks: { role, trust: skipped, permissions: skipped, assumeRole: skipped } };
  };
  const deadline = Date.now() + (options.propagationTimeoutMs ?? 60_000);

  // 1. Read the role, through the deployment role when the caller is elsewhere.
  let iam: InstanceType<Sdk["iam"]["IAMClient"]>;
  try {
    iam = await openIam(sdk, sts, caller, target);
  } catch (error) {
    const role: CheckResult = {
      status: "fail",
      detail: `cannot reach account ${target.accountId}: ${describeAwsError(error)}`,
      fix: `Check that ${target.deploymentRoleArn} exists and trusts ${caller}, or run verify with credentials of that account`,
    };
    return unreadable(role);
  }
  try {
    const roleName = target.roleArn.split("/").pop()!;
    const document = await getTrustPolicy(sdk, iam, roleName, deadline);
    if (document === undefined) {
      const role: CheckResult = {
        status: "fail",
        detail: `${target.roleArn} does not exist (waited for IAM to propagate)`,
        fix: "Deploy the stack (cdktf deploy), or check the role name and path",
        code: "role-missing",
      };
      return {
        ...base,
        ok: false,
        checks: { role, trust: notRun("no role"), permissions: notRun("no role"), assumeRole: notRun("no role") },
      };
    }
    const role: CheckResult = { status: "pass", detail: "exists" };

    // 2. Trust.
    const check = checkTrustPolicy(document ?? "", { principalArn: options.principalArn, externalIds: options.externalIds });
    const trust: CheckResult = check.ok
      ? {
          status: "pass",
          detail: `trusts only ${options.principalArn}, with external ID ${options.externalIds.map(maskExternalId).join(" and ")}`,
        }
      : {
          status: "fail",
          detail: check.findings.map((f) => f.code).join(", "),
          drift: [
            `accepted external IDs: ${check.acceptsAnyExternalId ? "any (or none)" : check.acceptedExternalIds.map(maskExternalId).join(", ") || "none"}; expected ${options.externalIds.map(maskExternalId).join(", ")}`,
            ...check.findings.map((f) => f.message),
          ],
          fix: "Re-deploy the role from ds-onboard synth (or fix the trust policy) so that it trusts only the manager's principal with the tenant's external ID",
        };

    if (options.trustOnly) {
      const skipped = notRun("trust check only");
      return { ...base, ok: trust.status === "pass", checks: { role, trust, permissions: skipped, assumeRole: skipped } };
    }

    // 3. Permissions.
    const policies = await rolePolicies(sdk, iam, roleName);
    const needed = requiredActions({ includeWorkspaces: options.includeWorkspaces });
    const missing = needed.filter((a) => evaluateIdentity(policies, a) !== "Allow");
    const extra = [...new Set(policies.flatMap(allowedActions).filter((a) => NOT_READ_ONLY.test(a)))];
    const permissions: CheckResult = missing.length
      ? {
          status: "fail",
          detail: `missing ${missing.join(", ")}`,
          drift: [`missing: ${missing.join(", ")}`, ...(extra.length ? [`beyond read-only: ${extra.join(", ")}`] : [])],
          fix: "Attach the ds-onboard permissions policy (it grants exactly the documented read-only actions)",
        }
      : {
          status: "pass",
          detail: extra.length
            ? `all ${needed.length} actions granted; beyond read-only: ${extra.join(", ")}`
            : `all ${needed.length} read-only actions granted`,
          ...(extra.length ? { drift: [`beyond read-only: ${extra.join(", ")}`] } : {}),
        };

    // 4. The assume-role itself.
    let assumeRole: CheckResult;
    if (!principal.canRun) assumeRole = { ...notRun(principal.why), code: principal.code };
    else assumeRole = await assumeCheck(sdk, target, options, principal.credentials, principal.why, deadline);

    const ok = [role, trust, permissions, assumeRole].every((c) => c.status !== "fail");
    return { ...base, ok, checks: { role, trust, permissions, assumeRole } };
  } catch (error) {
    const role: CheckResult = {
      status: "fail",
      detail: `reading ${target.roleArn} failed: ${describeAwsError(error)}`,
      fix: "Check that the credentials may call iam:GetRole, iam:List*RolePolicies, iam:GetRolePolicy, iam:GetPolicy and iam:GetPolicyVersion",
    };
    return unreadable(role);
  } finally {
    iam.destroy();
  }
}

/** An IAM client for the target's account: through its deployment role when the caller is elsewhere. */
async function openIam(
  sdk: Sdk,
  sts: InstanceType<Sdk["sts"]["STSClient"]>,
  caller: string,
  target: RoleTarget,
): Promise<InstanceType<Sdk["iam"]["IAMClient"]>> {
  const sameAccount = caller.split(":")[4] === target.accountId;
  const credentials =
    !sameAccount && target.deploymentRoleArn ? await assume(sts, target.deploymentRoleArn, undefined, "ds-onboard-verify") : undefined;
  return new sdk.iam.IAMClient({ region: region(), credentials });
}

/** The role's trust policy (decoded), polling while IAM propagates; undefined when it never appears. */
async function getTrustPolicy(
  sdk: Sdk,
  iam: InstanceType<Sdk["iam"]["IAMClient"]>,
  roleName: string,
  deadline: number,
): Promise<string | undefined> {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 10_000)) {
    try {
      const document = (await iam.send(new sdk.iam.GetRoleCommand({ RoleName: roleName }))).Role?.AssumeRolePolicyDocument;
      return document === undefined ? undefined : decodeURIComponent(document);
    } catch (error) {
      if ((error as Error).name !== "NoSuchEntityException" && (error as Error).name !== "NoSuchEntity") throw error;
      if (Date.now() + wait > deadline) return undefined;
      await sleep(wait);
    }
  }
}

/**
 * The live trust policies of these roles (for the migration): the document, or why it could not
 * be read. The documents hold external IDs: callers must not print them.
 */
export async function readTrustPolicies(
  targets: readonly RoleTarget[],
  options: { concurrency?: number; propagationTimeoutMs?: number } = {},
): Promise<{ target: RoleTarget; document?: string; error?: string }[]> {
  const sdk = loadSdk();
  const sts = new sdk.sts.STSClient({ region: region() });
  try {
    const caller = (await sts.send(new sdk.sts.GetCallerIdentityCommand({}))).Arn ?? "";
    return await mapLimit(targets, options.concurrency ?? 8, async (target) => {
      let iam: InstanceType<Sdk["iam"]["IAMClient"]> | undefined;
      try {
        iam = await openIam(sdk, sts, caller, target);
        const document = await getTrustPolicy(sdk, iam, target.roleArn.split("/").pop()!, Date.now() + (options.propagationTimeoutMs ?? 0));
        return document === undefined ? { target, error: `${target.roleArn} does not exist` } : { target, document };
      } catch (error) {
        return { target, error: describeAwsError(error) };
      } finally {
        iam?.destroy();
      }
    });
  } finally {
    sts.destroy();
  }
}

async function assumeCheck(
  sdk: Sdk,
  target: RoleTarget,
  options: VerifyOptions,
  credentials: AwsCredentialIdentity | undefined,
  who: string,
  deadline: number,
): Promise<CheckResult> {
  const sts = new sdk.sts.STSClient({ region: region(), credentials });
  try {
    let session: AwsCredentialIdentity | undefined;
    const failures: string[] = [];
    for (const id of options.externalIds) {
      for (let wait = 1000; ; wait = Math.min(wait * 2, 10_000)) {
        try {
          session = await assume(sts, target.roleArn, id, "ds-onboard-verify");
          break;
        } catch (error) {
          if (Date.now() + wait > deadline) {
            failures.push(`with external ID ${maskExternalId(id)}: ${describeAwsError(error)}`);
            break;
          }
          await sleep(wait); // a new role is not assumable until IAM has propagated it
        }
      }
    }
    const wrongId = `ds-onboard-wrong-${randomBytes(6).toString("hex")}`;
    const refused = async (externalId: string | undefined) => {
      try {
        await assume(sts, target.roleArn, externalId, "ds-onboard-verify");
        return false;
      } catch (error) {
        return /AccessDenied/.test((error as Error).name);
      }
    };
    if (!(await refused(undefined))) failures.push("the role can be assumed WITHOUT an external ID (confused deputy)");
    if (!(await refused(wrongId))) failures.push("the role can be assumed with a WRONG external ID");
    if (session) {
      const ec2 = new sdk.ec2.EC2Client({ region: region(), credentials: session });
      try {
        await ec2.send(new sdk.ec2.DescribeRegionsCommand({}));
      } catch (error) {
        failures.push(`ec2:DescribeRegions with the session failed: ${describeAwsError(error)}`);
      } finally {
        ec2.destroy();
      }
    }
    if (failures.length)
      return {
        status: "fail",
        detail: failures[0],
        drift: failures,
        fix: "Fix the trust policy (principal and sts:ExternalId condition) and the permissions, then verify again",
      };
    return {
      status: "pass",
      detail: `${who}: allowed with the external ID; refused without it and with a wrong one; ec2:DescribeRegions works`,
    };
  } finally {
    sts.destroy();
  }
}

async function assume(
  sts: { send: (c: never) => Promise<unknown> },
  roleArn: string,
  externalId: string | undefined,
  sessionName: string,
): Promise<AwsCredentialIdentity> {
  const { AssumeRoleCommand } = require("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts");
  const out = (await sts.send(
    new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, ExternalId: externalId }) as never,
  )) as { Credentials?: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } };
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole on ${roleArn} returned no credentials`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

async function rolePolicies(sdk: Sdk, iam: InstanceType<Sdk["iam"]["IAMClient"]>, roleName: string): Promise<string[]> {
  const docs: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam.send(new sdk.iam.ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    for (const p of page.AttachedPolicies ?? []) {
      const policy = await iam.send(new sdk.iam.GetPolicyCommand({ PolicyArn: p.PolicyArn }));
      const version = await iam.send(
        new sdk.iam.GetPolicyVersionCommand({ PolicyArn: p.PolicyArn, VersionId: policy.Policy?.DefaultVersionId }),
      );
      if (version.PolicyVersion?.Document) docs.push(decodeURIComponent(version.PolicyVersion.Document));
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  do {
    const page = await iam.send(new sdk.iam.ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
    for (const name of page.PolicyNames ?? []) {
      const inline = await iam.send(new sdk.iam.GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
      if (inline.PolicyDocument) docs.push(decodeURIComponent(inline.PolicyDocument));
    }
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return docs;
}

function allowedActions(policy: string): string[] {
  const doc = JSON.parse(policy) as { Statement: unknown };
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as {
    Effect?: string;
    Action?: string | string[];
    NotAction?: unknown;
  }[];
  return statements
    .filter((s) => s.Effect === "Allow")
    .flatMap((s) => (s.NotAction !== undefined ? ["NotAction"] : Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []));
}

/** Whether a trust on `principalArn` lets this caller in (same rules as AWS). */
function coversCaller(principalArn: string, callerArn: string): boolean {
  return (
    evaluateTrust({ Statement: [{ Effect: "Allow", Principal: { AWS: principalArn }, Action: "sts:AssumeRole" }] }, { callerArn }) ===
    "Allow"
  );
}

export function describeAwsError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e.name ?? "Error"}: ${e.message ?? String(error)}`;
}
