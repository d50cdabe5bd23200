/**
 * The sandbox as one piece: the manager and the local AWS endpoint, wired so that the manager
 * assumes connector roles through the endpoint's STS as the manager's own AWS identity, with
 * the tenant's external ID. A wrong trust policy fails registration as it would for real.
 */
import { WORKLOAD_SECURITY_ACCOUNT_ID } from "../policy/principal";
import { LocalAws, type LocalAwsOptions } from "./aws";
import { type AssumeRoleCheck, SandboxManager, type SandboxManagerOptions } from "./manager";

/** The access key the sandbox manager signs its STS calls with. */
export const MANAGER_ACCESS_KEY_ID = "AKIASANDBOXMANAGER00";
/** Workload Security's identity in the sandbox: a session in the vendor's account. */
export const SANDBOX_MANAGER_IDENTITY = `arn:aws:sts::${WORKLOAD_SECURITY_ACCOUNT_ID}:assumed-role/WorkloadSecurityConnector/deep-security-manager`;

export interface SandboxOptions {
  readonly manager?: SandboxManagerOptions;
  readonly aws?: LocalAwsOptions;
  /** The AWS identity the manager assumes roles as. Default: Workload Security's account. */
  readonly managerIdentity?: string;
}

export interface Sandbox {
  readonly manager: SandboxManager;
  readonly aws: LocalAws;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const aws = await LocalAws.start(options.aws);
  aws.addIdentity(MANAGER_ACCESS_KEY_ID, options.managerIdentity ?? SANDBOX_MANAGER_IDENTITY);
  try {
    const manager = await SandboxManager.start({ assumeRole: assumeThroughSts(aws.url), ...options.manager });
    return { manager, aws, stop: async () => void (await Promise.all([manager.stop(), aws.stop()])) };
  } catch (error) {
    await aws.stop();
    throw error;
  }
}

/**
 * The manager's side of a connector, over HTTP with the real SDK clients against the local
 * endpoint: AssumeRole with the external ID, then the three EC2 calls without which the
 * connection fails (DescribeImages, DescribeInstances, DescribeTags).
 */
export function assumeThroughSts(endpoint: string, accessKeyId = MANAGER_ACCESS_KEY_ID): AssumeRoleCheck {
  const { STSClient, AssumeRoleCommand } = require("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts");
  const ec2 = require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2");
  const sts = new STSClient({
    endpoint,
    region: "us-east-1",
    maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: "sandbox-manager" },
  });
  return async (roleArn, externalId) => {
    let session: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string } | undefined;
    try {
      session = (
        await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: "DeepSecurityManager", ExternalId: externalId }))
      ).Credentials;
    } catch (error) {
      return { ok: false, stage: "assume", message: `${(error as Error).name}: ${(error as Error).message}` };
    }
    const client = new ec2.EC2Client({
      endpoint,
      region: "us-east-1",
      maxAttempts: 1,
      credentials: { accessKeyId: session!.AccessKeyId!, secretAccessKey: session!.SecretAccessKey!, sessionToken: session!.SessionToken },
    });
    try {
      for (const command of [
        new ec2.DescribeImagesCommand({ Owners: ["self"] }),
        new ec2.DescribeInstancesCommand({}),
        new ec2.DescribeTagsCommand({}),
      ]) {
        try {
          await client.send(command as never);
        } catch (error) {
          return { ok: false, stage: "permissions", message: `${(error as Error).name}: ${(error as Error).message}` };
        }
      }
      return { ok: true };
    } finally {
      client.destroy();
    }
  };
}
