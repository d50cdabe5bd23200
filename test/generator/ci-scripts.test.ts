/**
 * The shell the CI templates run, run here: the Terraform loops go on past a failing stack and
 * fail the job at its end; the accounts record is pushed by a shard racing another, by a runner
 * with no git identity configured.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { parseConfig } from "../../src/config/load";
import { ciFiles } from "../../src/generator/ci";

const config = parseConfig(
  JSON.stringify({
    externalId: "manager",
    deployment: { layout: "stack-per-account", backend: { type: "s3", bucket: "tf-state" } },
    accounts: [{ accountId: "111111111111" }],
  }),
  "test",
);
const steps: { name: string; run?: string }[] = parse(
  ciFiles(config, { system: "github-actions", shards: 2 })[".github/workflows/ds-onboard.yml"],
).jobs.deploy.steps;
const step = (name: string) => steps.find((s) => s.name === name)!.run!;

/** Runs a step's script as GitHub does (`bash -e`), in `cwd`, with `env`. */
function run(script: string, cwd: string, env: Record<string, string>) {
  return spawnSync("bash", ["-e", "-c", script], { cwd, env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8" });
}

describe("the Terraform loops", () => {
  it("plan and apply go on past a failing stack; the job fails at its end, naming it", () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-ci-loop-"));
    for (const s of ["a-111", "b-222", "c-333"]) mkdirSync(join(dir, "cdktf.out", "stacks", s), { recursive: true });
    // A terraform that fails to plan stack b and records what it ran.
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(
      join(bin, "terraform"),
      `#!/bin/sh
echo "$*" >> "${dir}/ran.txt"
case "$*" in *b-222*plan*) exit 1;; *plan*) touch "\${1#-chdir=}tfplan";; esac
exit 0
`,
    );
    chmodSync(join(bin, "terraform"), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}` };
    expect(run(step("Terraform plan"), dir, env).status).toBe(0);
    expect(run(step("Terraform apply"), dir, env).status).toBe(0);
    const ran = readFileSync(join(dir, "ran.txt"), "utf8");
    expect(ran).toMatch(/c-333\/ plan/);
    expect(ran).toMatch(/a-111\/ apply .* tfplan/);
    expect(ran).toMatch(/c-333\/ apply .* tfplan/);
    expect(ran).not.toMatch(/b-222\/ apply/);
    const check = run(step("Fail if a stack failed"), dir, env);
    expect(check.status).toBe(1);
    expect(check.stderr).toMatch(/cdktf\.out\/stacks\/b-222\//);
  });

  it("a shard without stacks runs no Terraform and passes", () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-ci-empty-"));
    mkdirSync(join(dir, "cdktf.out", "stacks"), { recursive: true });
    const env = { PATH: `/nonexistent:${process.env.PATH}` };
    for (const name of ["Terraform plan", "Terraform apply", "Fail if a stack failed"]) expect(run(step(name), dir, env).status).toBe(0);
  });
});

describe("the accounts record", () => {
  const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: isolated, encoding: "utf8" });
  const home = mkdtempSync(join(tmpdir(), "ds-ci-home-"));
  // No global or system git configuration: no identity, as on a fresh runner.
  const isolated = { PATH: process.env.PATH ?? "", HOME: home, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };

  it("is committed and pushed after another shard pushed first, by a runner without a git identity", () => {
    const root = mkdtempSync(join(tmpdir(), "ds-ci-git-"));
    const remote = join(root, "remote.git");
    git(root, "init", "-q", "--bare", "-b", "main", remote);
    const seed = join(root, "seed");
    git(root, "clone", "-q", remote, seed);
    writeFileSync(join(seed, "ds-onboard.yaml"), "accounts: []\n");
    git(seed, "add", ".");
    git(seed, "-c", "user.name=seed", "-c", "user.email=seed@example.invalid", "commit", "-q", "-m", "seed");
    git(seed, "push", "-q", "origin", "HEAD:main");
    const shard1 = join(root, "shard1");
    const shard2 = join(root, "shard2");
    git(root, "clone", "-q", remote, shard1);
    git(root, "clone", "-q", remote, shard2);
    // Shard 2 pushes its record first.
    writeFileSync(join(shard2, "ds-onboard.shard-2-of-2.accounts.json"), "{}\n");
    const env = (shard: string) => ({ ...isolated, GITHUB_REF_NAME: "main", DS_ONBOARD_SHARD: shard });
    const second = run(step("Commit the accounts record"), shard2, env("2/2"));
    expect(second.status).toBe(0);
    // Shard 1, behind it, must rebase (a commit of its own) and push.
    writeFileSync(join(shard1, "ds-onboard.shard-1-of-2.accounts.json"), "{}\n");
    const first = run(step("Commit the accounts record"), shard1, env("1/2"));
    expect(first.status).toBe(0);
    const files = git(remote, "ls-tree", "--name-only", "main");
    expect(files.split("\n").filter(Boolean).sort()).toEqual([
      "ds-onboard.shard-1-of-2.accounts.json",
      "ds-onboard.shard-2-of-2.accounts.json",
      "ds-onboard.yaml",
    ]);
    expect(git(remote, "log", "-1", "--format=%an %s", "main")).toMatch(
      /^ds-onboard ds-onboard: accounts record of shard 1\/2 \[skip ci\]/,
    );
    // Nothing changed since: nothing to commit, and the step passes.
    expect(run(step("Commit the accounts record"), shard1, env("1/2")).status).toBe(0);
  });
});
