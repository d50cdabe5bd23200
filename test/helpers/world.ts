/**
 * An in-process world for workflow tests: the sandbox manager and the local AWS endpoint on
 * loopback, the AWS SDK pointed at them through the environment, and helpers that "deploy" roles
 * as the constructs would.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Log } from "../../src/app/log";
import { Session, type SessionSettings } from "../../src/app/session";
import type { AWSConnector } from "../../src/manager/types";
import type { PolicyDocument } from "../../src/policy/document";
import { buildPermissionsPolicy } from "../../src/policy/permissions";
import { buildTrustPolicy } from "../../src/policy/trust";
import type { SandboxManagerOptions } from "../../src/sandbox/manager";
import { type Sandbox, startSandbox } from "../../src/sandbox/start";
import { pipelineEnv } from "./sandbox";

export const WS_ROOT = "arn:aws:iam::147995105371:root";
export const PIPELINE_ROOT = "arn:aws:iam::000000000000:root";

export function allowFrom(principal: string): PolicyDocument {
  return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: principal }, Action: "sts:AssumeRole" }] };
}

/** A log that keeps what it is told, for assertions. */
export class MemoryLog implements Log {
  readonly lines: string[] = [];
  readonly secrets = new Set<string>();
  info(message: string): void {
    this.lines.push(message);
  }
  warn(message: string): void {
    this.lines.push(`warning: ${message}`);
  }
  debug(message: string): void {
    this.lines.push(`debug: ${message}`);
  }
  addSecret(value: string | undefined): void {
    if (value) this.secrets.add(value);
  }
  get text(): string {
    return this.lines.join("\n");
  }
}

export interface World {
  sb: Sandbox;
  /** A role in the vendor's account that the pipeline may assume, to run the assume-role check as. */
  verifyAs: string;
  dir: string;
  /** A session on the sandbox manager (and a log to read). */
  session(extra?: Partial<SessionSettings>): { session: Session; log: MemoryLog };
  /** Runs `work` with a new session (as `session` gives), and closes the session after, also on failure. */
  withSession<T>(work: (session: Session, log: MemoryLog) => Promise<T>, extra?: Partial<SessionSettings>): Promise<T>;
  /** "Deploys" a role into a fresh account, as the constructs would, unless told otherwise. */
  /** `deploymentRole: false`: the account has one already (e.g. from the organization). */
  deploy(options?: { trust?: PolicyDocument; permissions?: PolicyDocument; accountId?: string; deploymentRole?: boolean }): {
    accountId: string;
    roleArn: string;
  };
  /** Writes an onboarding config for these accounts into the world's folder. */
  config(accounts: string[], extra?: Record<string, unknown>, name?: string): string;
  /** The environment a pipeline runs the CLI with against this world, plus `extra`. */
  cliEnv(extra?: Record<string, string>): Record<string, string>;
  /** `--role-arn` for each, and the deployment role `deploy` made, as CLI arguments. */
  roleArgs(...roleArns: string[]): string[];
  /** The manager's connectors for this account. */
  connectorsOf(accountId: string): AWSConnector[];
}

let nextAccount = 400000000000;

/** Starts the world before the file's tests, stops it after; sets the AWS environment for the SDK. */
export function useWorld(options: { manager?: SandboxManagerOptions } = {}): World {
  const world = {} as World;
  const saved = { ...process.env };
  beforeAll(async () => {
    world.sb = await startSandbox({ manager: { record: false, ...options.manager } });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: world.sb.aws.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIAPIPELINE00000000",
      AWS_SECRET_ACCESS_KEY: "pipeline",
      AWS_EC2_METADATA_DISABLED: "true",
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
    world.verifyAs = world.sb.aws.iam.createRole("147995105371", "VerifyAs", JSON.stringify(allowFrom(PIPELINE_ROOT))).arn;
    world.dir = mkdtempSync(join(tmpdir(), "ds-onboard-world-"));
  });
  afterAll(async () => {
    await world.sb?.stop();
    process.env = saved;
  });
  world.session = (extra = {}) => {
    const log = new MemoryLog();
    const session = new Session(
      {
        managerUrl: { value: world.sb.manager.url, origin: "test" },
        apiKey: { value: world.sb.manager.keys.admin, origin: "test" },
        ...extra,
      },
      log,
    );
    return { session, log };
  };
  world.withSession = async (work, extra) => {
    const { session, log } = world.session(extra);
    try {
      return await work(session, log);
    } finally {
      await session.close();
    }
  };
  world.deploy = (o = {}) => {
    const accountId = o.accountId ?? String(nextAccount++);
    const iam = world.sb.aws.iam;
    if (o.deploymentRole !== false) {
      iam.createRole(accountId, "OrganizationAccountAccessRole", JSON.stringify(allowFrom(PIPELINE_ROOT)));
      iam.putInline(
        accountId,
        "OrganizationAccountAccessRole",
        "admin",
        JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }] }),
      );
    }
    const trust = o.trust ?? buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [world.sb.manager.externalId] });
    const role = iam.createRole(accountId, "DeepSecurityCrossAccountRole", JSON.stringify(trust));
    const policy = iam.createPolicy(
      accountId,
      "DeepSecurityCrossAccountRolePolicy",
      JSON.stringify(o.permissions ?? buildPermissionsPolicy()),
    );
    iam.attach(accountId, role.name, policy.arn);
    return { accountId, roleArn: role.arn };
  };
  world.config = (accounts, extra = {}, name = `config-${accounts.join("-")}.yaml`) => {
    const path = join(world.dir, name);
    writeFileSync(path, stringify({ accounts: accounts.map((accountId) => ({ accountId })), ...extra }));
    return path;
  };
  world.cliEnv = (extra = {}) => ({ ...pipelineEnv(world.sb), ...extra });
  world.roleArgs = (...roleArns) => [
    ...roleArns.flatMap((a) => ["--role-arn", a]),
    "--deployment-role-name",
    "OrganizationAccountAccessRole",
  ];
  world.connectorsOf = (accountId) => world.sb.manager.connectors.filter((c) => c.accountId === accountId);
  return world;
}
