/**
 * The choices of `ds-onboard init --ci` and their defaults, apart from the templates (which load
 * the YAML library): the command line declares its options from these without loading it.
 */
export const CI_SYSTEMS = ["github-actions", "gitlab"] as const;
export type CiSystem = (typeof CI_SYSTEMS)[number];

/** The file each CI system reads. */
export const CI_FILES: Readonly<Record<CiSystem, string>> = {
  "github-actions": ".github/workflows/ds-onboard.yml",
  gitlab: ".gitlab-ci.yml",
};

/** @default 4 shards: four parallel jobs; an account's shard depends only on its ID and the count. */
export const DEFAULT_SHARDS = 4;
/** At most this many shards (one CI job each). */
export const MAX_SHARDS = 256;
/** Daily, at a minute few others pick (CI schedulers are busiest on the hour). */
export const DEFAULT_SCHEDULE = "17 5 * * *";
/** Terraform 1.10 is the first with S3 native locking (`use_lockfile`); 1.11 is the release the tests run. */
export const TERRAFORM_VERSION = "1.11.4";

/** The CI variable (GitHub repository variable, GitLab CI/CD variable) that holds the role ARN when no ARN is given. */
export const ROLE_ARN_VARIABLE = "DS_ONBOARD_AWS_ROLE_ARN";

export interface CiOptions {
  readonly system: CiSystem;
  /**
   * How many shards (parallel jobs) the accounts are split into.
   * @default DEFAULT_SHARDS
   */
  readonly shards?: number;
  /**
   * The IAM role the pipeline assumes through OIDC (it must trust the CI's identity provider).
   * @default the CI variable DS_ONBOARD_AWS_ROLE_ARN
   */
  readonly roleArn?: string;
  /**
   * A role for plans of pull/merge requests, which run the request's code: give it read-only
   * access and the state bucket's read (and lock) permissions.
   * @default roleArn
   */
  readonly planRoleArn?: string;
  /**
   * When the scheduled run (synth, apply, onboard, then reconcile) happens: cron, UTC.
   * @default DEFAULT_SCHEDULE
   */
  readonly schedule?: string;
  /**
   * GitHub: the branch whose pushes apply (GitLab uses the project's default branch).
   * @default "main"
   */
  readonly branch?: string;
  /**
   * The config file, relative to the repository root.
   * @default "ds-onboard.yaml"
   */
  readonly configFile?: string;
}
