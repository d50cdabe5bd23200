/**
 * Where an external ID is kept outside the manager: an SSM SecureString parameter, a Secrets
 * Manager secret, a file (mode 0600), or an environment variable. The AWS clients use the SDK's
 * default credential chain (profiles, SSO, environment) and `AWS_ENDPOINT_URL` when set.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { UsageError, UserError } from "../errors";
import { writeFileAtomic } from "../files";

export type StoredLocation =
  | { readonly kind: "ssm"; readonly name: string }
  | { readonly kind: "secretsmanager"; readonly name: string }
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "env"; readonly name: string };

const FORMS = "ssm:<parameter-name>, secretsmanager:<secret-name> or file:<path>";

/** Parses `ssm:/ds/external-id`, `secretsmanager:ds-external-id`, `file:./id.txt` (and `env:NAME` when allowed). */
export function parseLocation(text: string, what: string, options: { allowEnv?: boolean } = {}): StoredLocation {
  const m = /^(ssm|secretsmanager|file|env):(.+)$/.exec(text.trim());
  const forms = options.allowEnv ? `${FORMS} or env:<VARIABLE>` : FORMS;
  if (!m) throw new UsageError(`${what}: ${JSON.stringify(text)} is not a storage location. Use ${forms}.`);
  const [, kind, rest] = m;
  switch (kind) {
    case "ssm":
      if (!/^[a-zA-Z0-9_.\-/]{1,2048}$/.test(rest))
        throw new UsageError(`${what}: ${JSON.stringify(rest)} is not a valid SSM parameter name (letters, digits and _.-/).`);
      return { kind, name: rest };
    case "secretsmanager":
      if (!/^[a-zA-Z0-9/_+=.@:-]{1,2048}$/.test(rest))
        throw new UsageError(`${what}: ${JSON.stringify(rest)} is not a valid Secrets Manager secret name or ARN.`);
      return { kind, name: rest };
    case "file":
      return { kind, path: resolvePath(rest) };
    default:
      if (!options.allowEnv) throw new UsageError(`${what}: env: is not accepted here. Use ${FORMS}.`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(rest))
        throw new UsageError(`${what}: ${JSON.stringify(rest)} is not an environment variable name.`);
      return { kind: "env", name: rest };
  }
}

export function describeLocation(location: StoredLocation): string {
  return location.kind === "file" ? `file:${location.path}` : `${location.kind}:${location.name}`;
}

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
      if (!existsSync(location.path))
        throw new UsageError(
          `The external ID file ${location.path} does not exist. Store the ID first with \`ds-onboard external-id get --store file:${location.path}\`.`,
        );
      return readFileSync(location.path, "utf8").trim();
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

/** Writes the ID: SSM SecureString (overwritten), a Secrets Manager secret (created or updated), or a 0600 file. */
export async function writeStored(location: StoredLocation, value: string, _options: { force?: boolean } = {}): Promise<void> {
  const where = describeLocation(location);
  switch (location.kind) {
    case "env":
      throw new UsageError("env: cannot be written to; store the ID in ssm:, secretsmanager: or file:.");
    case "file":
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
