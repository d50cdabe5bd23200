/**
 * Where an external ID is kept outside the manager: an SSM SecureString parameter, a Secrets
 * Manager secret, a file (mode 0600), or an environment variable. The AWS clients use the SDK's
 * default credential chain (profiles, SSO, environment) and `AWS_ENDPOINT_URL` when set.
 */
import { lstatSync, readFileSync, statSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { UsageError, UserError } from "../errors";
import { writeFileAtomic } from "../files";
import { describeLocation, isProblem, parseStoredLocation, type StoredLocation } from "./source";

export type { StoredLocation };

/** A file that would be replaced holds something else than this external ID: nothing was written. */
export class StoredFileConflictError extends UsageError {
  constructor(
    readonly path: string,
    readonly found: "another value" | "an unreadable file" | "not a regular file",
  ) {
    super(
      found === "not a regular file"
        ? `Nothing was written: ${path} exists and is not a regular file (a folder, device or socket). Choose a file path.`
        : `Nothing was written: ${path} already exists and holds ${found === "another value" ? "something other than this external ID (another ID, or other data)" : "content that could not be read to compare"}. Replacing it could destroy a value still in use. Check what the file is for; to replace it anyway, force the write; or choose another file.`,
      { errorCode: "store-would-replace" },
    );
    this.name = "StoredFileConflictError";
  }
}

/** A `file:` location that cannot be read as an external ID: which file, what is wrong, the fix. */
export class StoredFileReadError extends UsageError {
  constructor(
    readonly path: string,
    readonly problem: "missing" | "directory" | "not-a-file" | "unreadable" | "empty",
    detail?: string,
  ) {
    const message = {
      missing: `The external ID file ${path} does not exist. Store the ID first (read it from the manager and store it in that file), or check the path.`,
      directory: `The external ID file ${path} is a folder, not a file. Name the file inside it that holds the ID.`,
      "not-a-file": `The external ID file ${path} is not a regular file (a device, pipe or socket). Name a regular file that holds the ID.`,
      unreadable: `The external ID file ${path} cannot be read${detail ? ` (${detail})` : ""}. Check its permissions: the user running this needs read access (the file should be mode 0600, owned by that user).`,
      empty: `The external ID file ${path} is empty. Store the ID there again (read it from the manager and store it), or check that it is the right file.`,
    }[problem];
    super(message);
    this.name = "StoredFileReadError";
  }
}

/** Parses `ssm:/ds/external-id`, `secretsmanager:ds-external-id`, `file:./id.txt` (and `env:NAME` when allowed); `what` names the input. */
export function parseLocation(text: string, what: string, options: { allowEnv?: boolean } = {}): StoredLocation {
  const location = parseStoredLocation(text, options);
  if (isProblem(location)) throw new UsageError(`${what}: ${location.problem}. ${location.fix}.`);
  return location.kind === "file" ? { kind: "file", path: resolvePath(location.path) } : location;
}

export { describeLocation };

/** Reads the stored ID (trimmed). A Secrets Manager JSON secret may hold it as `externalId`. */
export async function readStored(location: StoredLocation): Promise<string> {
  const where = describeLocation(location);
  switch (location.kind) {
    case "env": {
      const value = process.env[location.name];
      if (!value) throw new UsageError(`The environment variable ${location.name} named as the external ID source is not set.`);
      return value.trim();
    }
    case "file":
      return readIdFile(location.path);
    case "ssm": {
      const { SSMClient, GetParameterCommand } = require("@aws-sdk/client-ssm") as typeof import("@aws-sdk/client-ssm");
      const client = new SSMClient({});
      try {
        const out = await client.send(new GetParameterCommand({ Name: location.name, WithDecryption: true }));
        const value = out.Parameter?.Value;
        if (!value) throw new UserError(`The SSM parameter ${location.name} is empty.`);
        return value.trim();
      } catch (error) {
        throw awsStoreError(error, where, "read", "ssm:GetParameter (and kms:Decrypt on its key)");
      } finally {
        client.destroy();
      }
    }
    case "secretsmanager": {
      const { SecretsManagerClient, GetSecretValueCommand } =
        require("@aws-sdk/client-secrets-manager") as typeof import("@aws-sdk/client-secrets-manager");
      const client = new SecretsManagerClient({});
      try {
        const out = await client.send(new GetSecretValueCommand({ SecretId: location.name }));
        const text = out.SecretString?.trim();
        if (!text) throw new UserError(`The secret ${location.name} has no string value.`);
        return fromSecretString(text);
      } catch (error) {
        throw awsStoreError(error, where, "read", "secretsmanager:GetSecretValue (and kms:Decrypt on its key)");
      } finally {
        client.destroy();
      }
    }
  }
}

export interface WriteOptions {
  /**
   * Replace a file that holds something else than this external ID (another ID, other data,
   * or content that cannot be read). Default: false: such a file is left alone and
   * StoredFileConflictError is thrown. A file that already holds this ID is rewritten (0600).
   */
  readonly force?: boolean;
}

/**
 * Writes the ID: SSM SecureString (overwritten), a Secrets Manager secret (created or updated),
 * or a 0600 file (never replacing one that holds something else, unless forced).
 */
export async function writeStored(location: StoredLocation, value: string, options: WriteOptions = {}): Promise<void> {
  const where = describeLocation(location);
  switch (location.kind) {
    case "env":
      throw new UsageError("env: cannot be written to; store the ID in ssm:, secretsmanager: or file:.");
    case "file":
      checkReplaceable(location.path, value, options.force ?? false);
      try {
        writeFileAtomic(location.path, `${value}\n`, 0o600);
      } catch (error) {
        throw new UserError(
          `Could not write ${location.path}: ${(error as Error).message}. Check that the folder exists and is writable.`,
          undefined,
          { cause: error },
        );
      }
      return;
    case "ssm": {
      const { SSMClient, PutParameterCommand } = require("@aws-sdk/client-ssm") as typeof import("@aws-sdk/client-ssm");
      const client = new SSMClient({});
      try {
        await client.send(
          new PutParameterCommand({
            Name: location.name,
            Value: value,
            Type: "SecureString",
            Overwrite: true,
            Description: "Deep Security tenant external ID (ds-onboard)",
          }),
        );
      } catch (error) {
        throw awsStoreError(error, where, "write", "ssm:PutParameter (and kms:Encrypt on the key)");
      } finally {
        client.destroy();
      }
      return;
    }
    case "secretsmanager": {
      const sm = require("@aws-sdk/client-secrets-manager") as typeof import("@aws-sdk/client-secrets-manager");
      const client = new sm.SecretsManagerClient({});
      try {
        try {
          await client.send(new sm.PutSecretValueCommand({ SecretId: location.name, SecretString: value }));
        } catch (error) {
          if ((error as { name?: string }).name !== "ResourceNotFoundException") throw error;
          await client.send(
            new sm.CreateSecretCommand({
              Name: location.name,
              SecretString: value,
              Description: "Deep Security tenant external ID (ds-onboard)",
            }),
          );
        }
      } catch (error) {
        throw awsStoreError(error, where, "write", "secretsmanager:PutSecretValue and secretsmanager:CreateSecret");
      } finally {
        client.destroy();
      }
    }
  }
}

function readIdFile(path: string): string {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new StoredFileReadError(path, "missing");
    throw new StoredFileReadError(path, "unreadable", code);
  }
  if (stat.isDirectory()) throw new StoredFileReadError(path, "directory");
  if (!stat.isFile()) throw new StoredFileReadError(path, "not-a-file");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StoredFileReadError(path, code === "EISDIR" ? "directory" : "unreadable", code);
  }
  const id = text.trim();
  if (!id) throw new StoredFileReadError(path, "empty");
  return id;
}

/** Throws unless the file is absent, already holds this ID, or the write is forced. */
function checkReplaceable(path: string, value: string, force: boolean): void {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(path);
  } catch {
    return; // nothing there (or the folder is missing: the write says so)
  }
  const target = stat.isSymbolicLink() ? safeStat(path) : stat;
  if (target && !target.isFile()) throw new StoredFileConflictError(path, "not a regular file");
  if (force) return;
  let current: string;
  try {
    current = readFileSync(path, "utf8");
  } catch {
    throw new StoredFileConflictError(path, "an unreadable file");
  }
  if (current.trim() !== value.trim()) throw new StoredFileConflictError(path, "another value");
}

function safeStat(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function fromSecretString(text: string): string {
  if (!text.startsWith("{")) return text;
  try {
    const parsed = JSON.parse(text) as { externalId?: unknown };
    if (typeof parsed.externalId === "string") return parsed.externalId.trim();
  } catch {
    // not JSON after all: use it as it is
  }
  throw new UserError(
    'The secret holds JSON without an "externalId" string. Store the ID as the plain secret string, or as {"externalId": "..."}.',
  );
}

function awsStoreError(error: unknown, where: string, verb: "read" | "write", rights: string): UserError {
  if (error instanceof UserError) return error;
  const name = (error as { name?: string }).name ?? "Error";
  const message = (error as Error).message ?? String(error);
  if (name === "ParameterNotFound" || name === "ResourceNotFoundException") {
    return new UserError(
      `${where} does not exist. Store the ID there first with \`ds-onboard external-id get --store ${where}\`, or check the name and the AWS region (AWS_REGION).`,
      undefined,
      { cause: error },
    );
  }
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/.test(name)) {
    return new UserError(`AWS refused to ${verb} ${where} (${name}). The credentials in use need ${rights}.`, undefined, { cause: error });
  }
  if (name === "CredentialsProviderError" || /credentials/i.test(message)) {
    return new UserError(
      `No AWS credentials to ${verb} ${where}: ${message}. Configure a profile (AWS_PROFILE), SSO, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.`,
      undefined,
      { cause: error },
    );
  }
  if (/region/i.test(message)) {
    return new UserError(`Cannot ${verb} ${where}: ${message}. Set AWS_REGION (or a region in your profile).`, undefined, { cause: error });
  }
  return new UserError(`Could not ${verb} ${where}: ${name}: ${message}`, undefined, { cause: error });
}
