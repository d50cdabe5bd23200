/**
 * DS_ONBOARD_ENGINE=cdktn runs the same tests on CDK Terrain: every import of cdktf and of its
 * AWS provider bindings, in the sources and in the tests, resolves to cdktn's instead.
 * @type {import('jest').Config}
 */
const engine = process.env.DS_ONBOARD_ENGINE ?? "cdktf";
if (!["cdktf", "cdktn"].includes(engine)) throw new Error(`DS_ONBOARD_ENGINE=${engine}: use cdktf or cdktn`);

module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
  },
  moduleNameMapper:
    engine === "cdktn" ? { "^cdktf$": "cdktn", "^cdktf/(.*)$": "cdktn/$1", "^@cdktf/provider-aws/(.*)$": "@cdktn/provider-aws/$1" } : {},
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  testTimeout: 30000,
  // Most files wait on I/O (latencies, timeouts, child processes): two workers on two cores took
  // the suite (Terraform and package tests aside) from 292 s to 172 s, measured back to back.
  maxWorkers: 2,
};
