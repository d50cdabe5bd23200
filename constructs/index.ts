/**
 * ds-onboard: cdktf constructs for the Deep Security cross-account role, the presets of whom it
 * trusts, and the trust-policy checker. The generator (a config file to Terraform JSON) is the
 * `ds-onboard/generator` entry point. Everything else is internal.
 */

export {
  buildDeploymentPolicy,
  buildDeploymentTrustPolicy,
  type DeployedRoleScope,
  type DeploymentRoleOptions,
  deploymentActions,
} from "../src/policy/deployment-role";
export { deploymentRoleTemplate } from "../src/policy/deployment-role-template";
export type { PolicyDocument, PolicyStatement } from "../src/policy/document";
export { type ManagerPrincipal, ManagerPrincipals, WORKLOAD_SECURITY_ACCOUNT_ID } from "../src/policy/principal";
export type { RoleOptions, RolePlan } from "../src/policy/role";
export {
  buildTrustPolicy,
  checkTrustPolicy,
  describeTrustCheck,
  type Finding,
  type FindingCode,
  type TrustCheckResult,
  type TrustExpectation,
  type TrustPolicyOptions,
} from "../src/policy/trust";
export { type Partition, ValidationError, type ValidationIssue } from "../src/validation";
export { DeepSecurityCrossAccountRole, type DeepSecurityCrossAccountRoleProps, type RegistrationOptions } from "./cross-account-role";
export {
  addDeploymentRoleStack,
  DeepSecurityDeploymentRole,
  type DeepSecurityDeploymentRoleProps,
  type DeploymentRoleStackProps,
} from "./deployment-role";
export {
  type AccountStacksProps,
  type AccountStacksSynthesis,
  type AccountTarget,
  addAccountStacks,
  DEFAULT_SYNTH_BATCH_SIZE,
  DeepSecurityAccountRoles,
  type DeepSecurityAccountRolesProps,
  type StackLayout,
  type SynthesizeAccountStacksProps,
  synthesizeAccountStacks,
} from "./multi-account";
export { AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION_RANGE } from "./provider-source";
