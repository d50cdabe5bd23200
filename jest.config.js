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
  // DS_ONBOARD_SKIP_TERRAFORM=1 leaves the real-Terraform tests out (they fail, saying what to
  // install, where Terraform or the provider mirror is missing).
  testPathIgnorePatterns: ["/node_modules/", ...(process.env.DS_ONBOARD_SKIP_TERRAFORM === "1" ? ["<rootDir>/test/terraform/"] : [])],
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" } }],
  },
  moduleNameMapper:
    engine === "cdktn" ? { "^cdktf$": "cdktn", "^cdktf/(.*)$": "cdktn/$1", "^@cdktf/provider-aws/(.*)$": "@cdktn/provider-aws/$1" } : {},
  setupFilesAfterEnv: ["<rootDir>/test/setup.ts"],
  testTimeout: 30000,
  // Most files wait (latencies, timeouts, child processes, Terraform's provider) rather than
  // compute: four workers on these two cores overlap the waiting. The suite without test/terraform
  // and test/package took 172 s on two workers and 72 s on four, measured back to back.
  maxWorkers: 4,
};
