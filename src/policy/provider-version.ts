/**
 * The versions of the Terraform AWS provider the synthesized stacks accept (pure: the constructs
 * write the constraint, the config schema checks an override with the same rule).
 */
import { ValidationError } from "../validation";

/**
 * The AWS provider versions the synthesized stacks accept: every 5.x release from 5.100.0 and
 * every 6.x release. The resources and provider arguments the constructs use (`aws_iam_role`,
 * `aws_iam_policy`, `aws_iam_role_policy_attachment`, `terraform_data`; `region`, `alias`,
 * `allowed_account_ids`, `assume_role`) mean the same in both majors, and Terraform runs of
 * the stacks are tested against provider 5.100.0. @cdktf/provider-aws would otherwise pin the
 * exact version its bindings were generated from (6.25.0), which fails `terraform init`
 * wherever only another release is at hand (a mirror, a lock file, an air-gapped site).
 * A 7.0 release may change these resources, hence the upper bound.
 */
export const AWS_PROVIDER_VERSION_RANGE = ">= 5.100.0, < 7.0.0";

/**
 * One part of a Terraform version constraint: an optional operator and a version of one to
 * three numbers with an optional pre-release suffix (`~> 5.0`, `>= 5.100.0`, `6.25.0`).
 */
const CONSTRAINT_PART = /^\s*(=|!=|>=|<=|>|<|~>)?\s*\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?\s*$/;

/**
 * Checks that `value` is a plausible Terraform version constraint (comma-separated parts, each
 * an optional operator and a version). Throws a {@link ValidationError} naming `path` otherwise.
 */
export function checkProviderVersion(value: unknown, path = "providerVersion", isToken: (value: string) => boolean = () => false): void {
  const fix = `Give a Terraform version constraint such as "${AWS_PROVIDER_VERSION_RANGE}" or "~> 6.0", or leave ${path} out for the default`;
  let problem: string | undefined;
  if (typeof value !== "string") problem = `must be a string, not ${typeof value}`;
  else if (isToken(value)) problem = "is a token; Terraform reads required_providers before any variable, so it must be a literal";
  else if (value.trim() === "") problem = "is empty";
  else {
    const bad = value.split(",").filter((part) => !CONSTRAINT_PART.test(part));
    if (bad.length > 0)
      problem = `"${value}" is not a Terraform version constraint (cannot read ${bad.map((b) => `"${b.trim()}"`).join(", ")})`;
  }
  if (problem) throw new ValidationError([{ path, problem, fix }]);
}
