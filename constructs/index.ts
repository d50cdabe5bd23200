/**
 * ds-onboard: cdktf constructs for the Deep Security cross-account role, and the pure policy
 * logic behind them (building and checking trust policies).
 */

export * from "../src/policy/accounts";
export * from "../src/policy/document";
export * from "../src/policy/permissions";
export * from "../src/policy/principal";
export * from "../src/policy/role";
export * from "../src/policy/trust";
export { maskExternalId } from "../src/redact";
export * from "../src/validation";
export * from "./cross-account-role";
export * from "./multi-account";
export * from "./provider-source";
