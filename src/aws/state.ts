/**
 * Terraform states in an S3 backend, read to tell whether a stack still holds resources (an
 * account that left is forgotten once its resources are gone, as with a local state file).
 */
import type { S3StateBackend } from "../policy/backend";

/** A stack's state: its JSON, `null` when the object does not exist, absent when it could not be read. */
export type StateReads = ReadonlyMap<string, string | null>;

/** The key of a stack's state, as the S3 backend of the constructs writes it. */
export function stateKey(backend: S3StateBackend, stack: string): string {
  return `${backend.keyPrefix ?? "ds-onboard/"}${stack}.tfstate`;
}

/**
 * Reads the states of these stacks. A state that cannot be read (no access, no network) is left
 * out, and `onError` says why: the caller then keeps what it would have removed.
 */
export async function readS3States(
  backend: S3StateBackend,
  stacks: readonly string[],
  options: { region: string; onError: (stack: string, message: string) => void },
): Promise<StateReads> {
  const out = new Map<string, string | null>();
  if (stacks.length === 0) return out;
  const { S3Client, GetObjectCommand } = require("@aws-sdk/client-s3") as typeof import("@aws-sdk/client-s3");
  const client = new S3Client({
    region: backend.region ?? options.region,
    maxAttempts: 5,
    ...(backend.endpoint ? { endpoint: backend.endpoint, forcePathStyle: true } : {}),
  });
  try {
    for (const stack of new Set(stacks)) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: backend.bucket, Key: stateKey(backend, stack) }));
        out.set(stack, (await object.Body?.transformToString("utf8")) ?? "");
      } catch (error) {
        const name = (error as Error).name;
        if (name === "NoSuchKey" || name === "NotFound") out.set(stack, null);
        else options.onError(stack, `${name}: ${(error as Error).message}`);
      }
    }
  } finally {
    client.destroy();
  }
  return out;
}
