import type { TerraformStack } from "cdktf";

/** The AWS provider's fully qualified source, so that Terraform and OpenTofu resolve it alike. */
export const AWS_PROVIDER_SOURCE = "hashicorp/aws";

/**
 * Writes `required_providers.aws.source` as `hashicorp/aws`. Terraform reads a bare `aws` as
 * `registry.terraform.io/hashicorp/aws`, OpenTofu as its own registry's copy; the qualified name
 * means the same provider to both.
 */
export function pinProviderSource(stack: TerraformStack): void {
  if (pinned.has(stack)) return;
  pinned.add(stack);
  stack.addOverride("terraform.required_providers.aws.source", AWS_PROVIDER_SOURCE);
}

const pinned = new WeakSet<TerraformStack>();
