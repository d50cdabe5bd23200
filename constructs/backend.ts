/**
 * Where a stack keeps its Terraform state: a local file (one engineer), an S3 bucket with native
 * locking (a pipeline and laptops sharing it), or HCP Terraform / Terraform Enterprise (the
 * `remote` backend). Each stack gets its own state: its own file, key or workspace.
 */
import { LocalBackend, RemoteBackend, S3Backend, type TerraformStack } from "cdktf";
import { checkBackend, type StateBackend } from "../src/policy/backend";
import { ValidationError } from "../src/validation";

export type { LocalStateBackend, RemoteStateBackend, S3StateBackend, StateBackend } from "../src/policy/backend";
export { BACKEND_TYPES, checkBackend } from "../src/policy/backend";

/** Gives a stack its backend. `region` is the stacks' region (the S3 bucket's default). */
export function addBackend(stack: TerraformStack, backend: StateBackend, options: { region?: string } = {}): void {
  const issues = checkBackend(backend);
  if (issues.length) throw new ValidationError(issues, "Invalid Terraform state backend");
  const name = stack.node.id;
  switch (backend.type) {
    case "local":
      if (backend.directory !== undefined)
        new LocalBackend(stack, { path: `${backend.directory.replace(/\/+$/, "")}/terraform.${name}.tfstate` });
      return;
    case "s3": {
      new S3Backend(stack, {
        bucket: backend.bucket,
        key: `${backend.keyPrefix ?? "ds-onboard/"}${name}.tfstate`,
        region: backend.region ?? options.region ?? "us-east-1",
        encrypt: backend.encrypt ?? true,
        ...(backend.endpoint
          ? { endpoints: { s3: backend.endpoint }, usePathStyle: true, skipCredentialsValidation: true, skipRequestingAccountId: true }
          : {}),
      });
      // cdktf 0.21's S3Backend has no property for it yet.
      if (backend.useLockfile ?? true) stack.addOverride("terraform.backend.s3.use_lockfile", true);
      return;
    }
    case "remote":
      new RemoteBackend(stack, {
        organization: backend.organization,
        hostname: backend.hostname ?? "app.terraform.io",
        workspaces: { name: `${backend.workspacePrefix ?? "ds-onboard-"}${name}` },
      });
  }
}
