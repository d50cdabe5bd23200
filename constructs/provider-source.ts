import { type TerraformStack, Token } from "cdktf";
import { AWS_PROVIDER_VERSION_RANGE, checkProviderVersion as checkProviderVersionRule } from "../src/policy/provider-version";
import { ValidationError } from "../src/validation";

/** The AWS provider's fully qualified source, so that Terraform and OpenTofu resolve it alike. */
export const AWS_PROVIDER_SOURCE = "hashicorp/aws";

export { AWS_PROVIDER_VERSION_RANGE } from "../src/policy/provider-version";

/** {@link checkProviderVersionRule} with cdktf's tokens refused. */
export function checkProviderVersion(value: unknown, path = "providerVersion"): void {
  checkProviderVersionRule(value, path, (v) => Token.isUnresolved(v));
}

/**
 * Writes `required_providers.aws` as `hashicorp/aws` and a version range. Terraform reads a
 * bare `aws` as `registry.terraform.io/hashicorp/aws`, OpenTofu as its own registry's copy;
 * the qualified name means the same provider to both. The version is
 * {@link AWS_PROVIDER_VERSION_RANGE} unless `version` overrides it; two different overrides in
 * one stack are an error.
 */
export function pinProviderSource(stack: TerraformStack, version?: string): void {
  if (version !== undefined) checkProviderVersion(version);
  const current = pinned.get(stack);
  if (current === undefined) {
    stack.addOverride("terraform.required_providers.aws.source", AWS_PROVIDER_SOURCE);
  } else if (version === undefined || version === current.version) {
    return;
  } else if (current.explicit) {
    throw new ValidationError([
      {
        path: "providerVersion",
        problem: `"${version}" differs from "${current.version}", given earlier in stack ${stack.node.id}`,
        fix: "Give every construct of one stack the same providerVersion, or leave it out",
      },
    ]);
  }
  const explicit = version !== undefined;
  const value = version ?? AWS_PROVIDER_VERSION_RANGE;
  pinned.set(stack, { version: value, explicit });
  stack.addOverride("terraform.required_providers.aws.version", value);
}

const pinned = new WeakMap<TerraformStack, { version: string; explicit: boolean }>();
