/**
 * Where a stack keeps its Terraform state, and the rules of its settings (pure: the constructs
 * write the backend block, the config schema checks the same settings).
 */
import type { ValidationIssue } from "../validation";

export type StateBackend = LocalStateBackend | S3StateBackend | RemoteStateBackend;

export interface LocalStateBackend {
  readonly type: "local";
  /**
   * The folder of the state files (`terraform.<stack>.tfstate`), absolute or relative to the
   * stack's output folder.
   * @default cdktf's own default (the stack's folder)
   */
  readonly directory?: string;
}

export interface S3StateBackend {
  readonly type: "s3";
  /** The bucket. */
  readonly bucket: string;
  /**
   * Prepended to each stack's key: the state of stack `s` is `<keyPrefix><s>.tfstate`.
   * @default "ds-onboard/"
   */
  readonly keyPrefix?: string;
  /**
   * The bucket's region.
   * @default the stacks' region
   */
  readonly region?: string;
  /**
   * Lock the state with a `.tflock` object next to it (Terraform 1.10 and later, OpenTofu 1.10
   * and later); no DynamoDB table.
   * @default true
   */
  readonly useLockfile?: boolean;
  /**
   * Server-side encryption of the state object.
   * @default true
   */
  readonly encrypt?: boolean;
  /**
   * An S3-compatible endpoint instead of AWS's (path-style requests; no AWS account lookup).
   * @default AWS
   */
  readonly endpoint?: string;
}

export interface RemoteStateBackend {
  readonly type: "remote";
  /** The HCP Terraform or Terraform Enterprise organization. */
  readonly organization: string;
  /**
   * Each stack's workspace is `<workspacePrefix><stack>`.
   * @default "ds-onboard-"
   */
  readonly workspacePrefix?: string;
  /**
   * @default "app.terraform.io"
   */
  readonly hostname?: string;
}

export const BACKEND_TYPES = ["local", "s3", "remote"] as const;

const BUCKET = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KEY_PREFIX = /^[A-Za-z0-9!_.*'()/-]*$/;
const ORGANIZATION = /^[A-Za-z0-9_-]{1,90}$/;
const WORKSPACE = /^[A-Za-z0-9_-]*$/;

/** Every problem with a backend's settings; `at` prefixes the paths (e.g. `deployment.backend.`). */
export function checkBackend(backend: StateBackend, at = "backend."): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const bad = (field: string, problem: string, fix: string) => issues.push({ path: `${at}${field}`, problem, fix });
  switch (backend.type) {
    case "local":
      break;
    case "s3":
      if (!BUCKET.test(backend.bucket ?? ""))
        bad(
          "bucket",
          `${JSON.stringify(backend.bucket)} is not an S3 bucket name`,
          "Use 3 to 63 lower-case letters, digits, dots and hyphens",
        );
      if (backend.keyPrefix !== undefined && !KEY_PREFIX.test(backend.keyPrefix))
        bad("keyPrefix", "holds characters S3 keys should not", "Use letters, digits and !_.*'()/-");
      if (backend.endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(backend.endpoint))
        bad("endpoint", "is not an http(s) URL", "Use e.g. https://s3.example.com");
      break;
    case "remote":
      if (!ORGANIZATION.test(backend.organization ?? ""))
        bad("organization", `${JSON.stringify(backend.organization)} is not an organization name`, "Use letters, digits, _ and -");
      if (backend.workspacePrefix !== undefined && !WORKSPACE.test(backend.workspacePrefix))
        bad("workspacePrefix", "holds characters workspace names cannot", "Use letters, digits, _ and -");
      break;
    default:
      bad(
        "type",
        `${JSON.stringify((backend as { type?: unknown }).type)} is not a backend type`,
        `Use one of ${BACKEND_TYPES.join(", ")}`,
      );
  }
  return issues;
}
