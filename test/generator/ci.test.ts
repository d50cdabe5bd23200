/**
 * The CI templates of `ds-onboard init --ci`: each generated file validates against the CI's
 * published JSON schema (vendored in test/fixtures/schemas, see its README), a typo'd key does not,
 * the API key is only ever a reference to the secret store, and every `ds-onboard` command line in
 * them names a command and flags our own CLI declares.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import { parse } from "yaml";
import yargs from "yargs";
import { buildCli } from "../../src/cli/main";
import { globalOptions } from "../../src/cli/options";
import { parseConfig } from "../../src/config/load";
import type { OnboardingConfig } from "../../src/config/schema";
import { CI_FILES, type CiOptions, type CiSystem, checkCiBackend, checkSchedule, ciFiles } from "../../src/generator/ci";
import { projectFiles } from "../../src/generator/init";
import { runCli } from "../helpers/cli";

const SCHEMAS = join(__dirname, "..", "fixtures", "schemas");

function validator(file: string): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, logger: false });
  // GitLab's schema annotates with this keyword (for its editor); it constrains nothing.
  ajv.addKeyword("markdownDescription");
  ajv.addFormat("uri", (s: string) => URL.canParse(s));
  for (const format of ["uri-reference", "date-time", "regex"]) ajv.addFormat(format, true);
  return ajv.compile(JSON.parse(readFileSync(join(SCHEMAS, file), "utf8")));
}
const validate: Record<CiSystem, ValidateFunction> = {
  "github-actions": validator("github-workflow.json"),
  gitlab: validator("gitlab-ci.json"),
};

function errorsOf(system: CiSystem, text: string): string[] {
  const v = validate[system];
  const check = (doc: unknown) => (v(doc) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
  const doc = parse(text);
  // GitLab's schema takes a hidden job (`.ds-onboard`) as any YAML: check each job also as GitLab
  // runs it, with what it extends merged in (hashes deeply, the job's own keys win).
  return system === "gitlab" ? [...check(doc), ...check(expandExtends(doc))] : check(doc);
}

function expandExtends(doc: Record<string, any>): Record<string, unknown> {
  const merge = (base: any, own: any): any =>
    base && own && typeof base === "object" && typeof own === "object" && !Array.isArray(base) && !Array.isArray(own)
      ? Object.fromEntries(
          [...new Set([...Object.keys(base), ...Object.keys(own)])].map((k) => [k, k in own ? merge(base[k], own[k]) : base[k]]),
        )
      : own;
  return Object.fromEntries(
    Object.entries(doc)
      .filter(([name]) => !name.startsWith("."))
      .map(([name, job]) => {
        if (!job?.extends) return [name, job];
        const { extends: parent, ...own } = job;
        return [name, merge(doc[parent], own)];
      }),
  );
}

const config = (deployment: Record<string, unknown>, extra: Record<string, unknown> = {}): OnboardingConfig =>
  parseConfig(JSON.stringify({ accounts: [{ accountId: "111122223333" }], deployment, ...extra }), "test");

const S3 = { backend: { type: "s3", bucket: "tf-state", keyPrefix: "ds/" }, region: "eu-west-1" };
const CONFIGS: Record<string, OnboardingConfig> = {
  "s3, external ID from the manager": config(S3),
  "s3, stack per account, registration in apply": config({ ...S3, layout: "stack-per-account", registration: { onDestroy: "deregister" } }),
  "HCP Terraform, external ID from SSM, manager URL in the config": config(
    { backend: { type: "remote", organization: "acme" } },
    { externalId: "ssm:/ds/external-id", manager: { url: "https://dsm.example.com:4119/api" } },
  ),
};
const OPTIONS: Omit<CiOptions, "system">[] = [
  {},
  { shards: 1 },
  { shards: 8, roleArn: "arn:aws:iam::111122223333:role/ds-onboard-ci", schedule: "0 3 * * 1-5", branch: "trunk" },
  { shards: 3, roleArn: "arn:aws:iam::111122223333:role/ci", planRoleArn: "arn:aws:iam::111122223333:role/ci-plan" },
];

const cases = (["github-actions", "gitlab"] as const).flatMap((system) =>
  Object.entries(CONFIGS).flatMap(([name, cfg]) => OPTIONS.map((o) => ({ system, name, cfg, options: { system, ...o } }))),
);

describe("generated CI files against the published schemas", () => {
  test.each(cases)("$system, $name, $options", ({ system, cfg, options }) => {
    const files = ciFiles(cfg, options);
    expect(Object.keys(files)).toEqual([CI_FILES[system]]);
    expect(errorsOf(system, files[CI_FILES[system]])).toEqual([]);
  });

  // The schemas reject unknown keys: so the test above can fail.
  test.each([
    ["github-actions", "runs-on:", "run-on:"],
    ["github-actions", "cancel-in-progress:", "cancel-in-progess:"],
    ["github-actions", "id-token: write", "id-token: rw"],
    ["gitlab", "resource_group:", "resource_grup:"],
    ["gitlab", "extends:", "extend:"],
    ["gitlab", "id_tokens:", "id_token:"],
    ["gitlab", "aud: sts.amazonaws.com", "aud: [sts.amazonaws.com, {}]"],
    ["gitlab", "artifacts:", "artifact:"],
    ["gitlab", "stage: deploy", "stages: deploy"],
  ] as const)("%s: %s mutated to %s fails", (system, from, to) => {
    const text = ciFiles(CONFIGS["s3, external ID from the manager"], { system })[CI_FILES[system]];
    expect(text).toContain(from);
    expect(errorsOf(system, text.replace(from, to)).length).toBeGreaterThan(0);
  });
});

describe("what the workflows do", () => {
  const cfg = CONFIGS["s3, external ID from the manager"];
  const github = parse(ciFiles(cfg, { system: "github-actions", shards: 4 })[CI_FILES["github-actions"]]);
  const gitlab = parse(ciFiles(cfg, { system: "gitlab", shards: 4 })[CI_FILES.gitlab]);

  test("GitHub: a matrix of shards, OIDC, apply only off pull requests, one run per shard at a time, a scheduled reconcile", () => {
    expect(github.permissions).toEqual({ contents: "read" });
    expect(github.on.schedule).toEqual([{ cron: "17 5 * * *" }]);
    for (const job of ["plan", "deploy", "reconcile"]) {
      expect(github.jobs[job].strategy.matrix.shard).toEqual([1, 2, 3, 4]);
      expect(github.jobs[job].permissions["id-token"]).toBe("write");
      const aws = github.jobs[job].steps.find((s: { uses?: string }) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
      expect(aws.with["role-to-assume"]).toBe("${{ vars.DS_ONBOARD_AWS_ROLE_ARN }}");
      expect(aws.uses).toMatch(/@v\d+$/);
    }
    expect(github.jobs.plan.if).toBe("github.event_name == 'pull_request'");
    expect(github.jobs.plan.steps.map((s: { name: string }) => s.name)).not.toContain("Terraform apply");
    expect(github.jobs.deploy.if).toContain("github.event_name != 'pull_request'");
    expect(github.jobs.deploy.concurrency).toEqual({ group: "ds-onboard-shard-${{ matrix.shard }}-of-4", "cancel-in-progress": false });
    expect(github.jobs.reconcile.concurrency).toEqual(github.jobs.deploy.concurrency);
    expect(github.jobs.reconcile.if).toContain("'schedule'");
    const run = github.jobs.deploy.steps.map((s: { run?: string }) => s.run ?? "").join("\n");
    expect(run).toContain("-input=false");
    expect(run).toMatch(/plan -input=false -lock-timeout=5m -out=tfplan/);
    expect(github.env.TF_PLUGIN_CACHE_DIR).toBeDefined();
    expect(github.jobs.deploy.steps.find((s: { uses?: string }) => s.uses?.startsWith("hashicorp/setup-terraform@"))).toBeDefined();
  });

  test("GitLab: a job per shard, OIDC through the SDKs' web identity chain, resource groups, apply only on the default branch", () => {
    expect(gitlab[".ds-onboard"].id_tokens).toEqual({ AWS_ID_TOKEN: { aud: "sts.amazonaws.com" } });
    expect(gitlab[".ds-onboard"].variables.AWS_ROLE_ARN).toBe("$DS_ONBOARD_AWS_ROLE_ARN");
    expect(gitlab[".ds-onboard"].variables.AWS_WEB_IDENTITY_TOKEN_FILE).toBeDefined();
    for (let i = 1; i <= 4; i++) {
      expect(gitlab[`plan shard ${i}/4`].rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }]);
      expect(gitlab[`plan shard ${i}/4`].script.join("\n")).not.toContain(" apply ");
      expect(gitlab[`deploy shard ${i}/4`].resource_group).toBe(`ds-onboard-shard-${i}-of-4`);
      expect(gitlab[`deploy shard ${i}/4`].rules[0].if).toContain("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH");
      expect(gitlab[`deploy shard ${i}/4`].variables.DS_ONBOARD_SHARD).toBe(`${i}/4`);
      expect(gitlab[`reconcile shard ${i}/4`].rules[0].if).toContain('$CI_PIPELINE_SOURCE == "schedule"');
      expect(gitlab[`reconcile shard ${i}/4`].resource_group).toBe(`ds-onboard-shard-${i}-of-4`);
    }
    expect(gitlab.variables.TF_PLUGIN_CACHE_DIR).toBeDefined();
  });

  test("a given role ARN replaces the placeholder variable", () => {
    const roleArn = "arn:aws:iam::111122223333:role/ds-onboard-ci";
    for (const system of ["github-actions", "gitlab"] as const) {
      const text = ciFiles(cfg, { system, roleArn })[CI_FILES[system]];
      expect(text).toContain(roleArn);
      expect(text).not.toContain("$DS_ONBOARD_AWS_ROLE_ARN");
      expect(text).not.toContain("vars.DS_ONBOARD_AWS_ROLE_ARN");
    }
  });
});

describe("the API key", () => {
  test.each(cases)("$system, $name: only a secret reference, and only where a step needs it", ({ system, cfg, options }) => {
    const text = ciFiles(cfg, options)[CI_FILES[system]];
    const doc = parse(text);
    // Every script line: none mentions the key (no echo, no argument), whatever the config.
    const scripts =
      system === "github-actions"
        ? Object.values(doc.jobs).flatMap((j: any) => j.steps.map((s: any) => s.run ?? ""))
        : Object.values(doc).flatMap((j: any) => [...(j?.script ?? []), ...(j?.before_script ?? [])]);
    for (const line of scripts) expect(line).not.toMatch(/DS_API_KEY|api-key/i);
    if (system === "github-actions") {
      const refs = text.match(/DS_API_KEY: .*/g) ?? [];
      expect(refs.length).toBeGreaterThan(0);
      for (const r of refs) expect(r).toBe("DS_API_KEY: ${{ secrets.DS_API_KEY }}");
      // Terraform steps get it only when the apply itself registers (deployment.registration).
      for (const job of Object.values(doc.jobs) as any[])
        for (const step of job.steps)
          if (step.env?.DS_API_KEY)
            expect(
              /ds-onboard (synth|offboard|onboard|reconcile)/.test(step.run) ||
                (step.name === "Terraform apply" && cfg.deployment?.registration),
            ).toBeTruthy();
    } else {
      // GitLab hands CI/CD variables to jobs by itself: the file never defines the key.
      expect(text).not.toMatch(/^\s*DS_API_KEY:/m);
    }
  });

  test("init --ci never writes the key it was given, in any file", async () => {
    const key = "k3y-sentinel-0123456789abcdef";
    for (const system of ["github-actions", "gitlab"] as const) {
      const dir = mkdtempSync(join(tmpdir(), "ds-onboard-ci-"));
      const r = await runCli(
        ["init", dir, "--account", "111122223333", "--state-bucket", "tf-state", "--ci", system, "--package", "0.1.0"],
        { DS_API_KEY: key, DS_MANAGER_URL: "https://dsm.example.com/api" },
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const files = projectNames(dir, system);
      for (const f of files) expect(readFileSync(join(dir, f), "utf8")).not.toContain(key);
      expect(r.stdout).not.toContain(key);
    }
  });
});

function projectNames(dir: string, system: CiSystem): string[] {
  const names = [CI_FILES[system], "ds-onboard.yaml", "README.md", ".gitignore", "package.json", "main.ts"];
  for (const n of names) expect(existsSync(join(dir, n))).toBe(true);
  return names;
}

describe("init --ci", () => {
  test("writes the workflow, a backend in the config, a CI section in the README", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ds-onboard-ci-"));
    const r = await runCli([
      "init",
      dir,
      "--org-ou",
      "r-ab12",
      "--layout",
      "stack-per-account",
      "--state-bucket",
      "tf-state",
      "--ci",
      "gitlab",
      "--shards",
      "6",
      "--ci-role-arn",
      "arn:aws:iam::111122223333:role/ds-onboard-ci",
      "--package",
      "0.1.0",
    ]);
    expect(r.code).toBe(0);
    const gitlab = readFileSync(join(dir, ".gitlab-ci.yml"), "utf8");
    expect(errorsOf("gitlab", gitlab)).toEqual([]);
    expect(gitlab).toContain("deploy shard 6/6");
    expect(gitlab).toContain("arn:aws:iam::111122223333:role/ds-onboard-ci");
    expect(parse(readFileSync(join(dir, "ds-onboard.yaml"), "utf8")).deployment.backend).toEqual({ type: "s3", bucket: "tf-state" });
    const readme = readFileSync(join(dir, "README.md"), "utf8");
    expect(readme).toContain("## CI");
    expect(readme).toContain("--shard I/6");
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toContain(".terraform-plugin-cache/");
  });

  test("refuses a local state, and writes nothing", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "ds-onboard-ci-")), "p");
    const r = await runCli(["init", dir, "--account", "111122223333", "--ci", "github-actions", "--package", "0.1.0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("local file");
    expect(r.stderr).toContain("--state-bucket");
    expect(existsSync(dir)).toBe(false);
  });

  test.each([
    [["--ci-role-arn", "not-an-arn"], "--ci-role-arn"],
    [["--ci-schedule", "daily"], "--ci-schedule"],
    [["--shards", "0"], "--shards"],
  ])("refuses %j", async (flags, named) => {
    const dir = join(mkdtempSync(join(tmpdir(), "ds-onboard-ci-")), "p");
    const r = await runCli([
      "init",
      dir,
      "--account",
      "111122223333",
      "--state-bucket",
      "tf-state",
      "--ci",
      "gitlab",
      ...flags,
      "--package",
      "0.1.0",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(named);
    expect(existsSync(dir)).toBe(false);
  });

  test("the rules behind the refusals", () => {
    expect(checkCiBackend(config({}))?.problem).toContain("local file");
    expect(checkCiBackend(config({ backend: { type: "local", directory: "state" } }))).toBeDefined();
    expect(checkCiBackend(config({ backend: { type: "s3", bucket: "tf-state", useLockfile: false } }))?.problem).toContain("locking");
    expect(checkCiBackend(config(S3))).toBeUndefined();
    expect(checkSchedule("17 5 * * *")).toBeUndefined();
    expect(checkSchedule("*/15 * * * MON-FRI")).toBeUndefined();
    expect(checkSchedule("5 * * *")).toBeDefined();
  });

  test("projectFiles without ci writes no CI file", () => {
    const files = projectFiles({ projectName: "p", packageSpec: "0.1.0", config: config(S3) });
    expect(Object.keys(files).filter((f) => f.includes(".gitlab-ci") || f.startsWith(".github"))).toEqual([]);
    expect(files["README.md"]).not.toContain("## CI");
  });
});

/* The `ds-onboard` command lines in the workflows, checked against our own CLI: the command exists and declares every flag used. */
describe("the ds-onboard command lines parse with our CLI", () => {
  // yargs 17 keeps its registered commands behind an internal accessor its types do not declare.
  const cli = buildCli([]) as unknown as { getInternalMethods(): { getCommandInstance(): { getCommandHandlers(): unknown } } };
  const handlers = cli.getInternalMethods().getCommandInstance().getCommandHandlers() as Record<
    string,
    { builder: (y: ReturnType<typeof yargs>) => unknown }
  >;
  const declared = (command: string): Set<string> => {
    const y = globalOptions(yargs([]));
    handlers[command].builder(y as never);
    const options = (y as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions();
    return new Set(Object.keys(options.key));
  };

  const lines = (["github-actions", "gitlab"] as const).flatMap((system) =>
    Object.entries(CONFIGS).flatMap(([, cfg]) =>
      Object.values(ciFiles(cfg, { system })).flatMap((text) =>
        [...text.matchAll(/npx --no-install ds-onboard ([^\n>|&]+)/g)].map((m) => ({ system, line: m[1].trim() })),
      ),
    ),
  );

  test("the workflows run synth, onboard and reconcile", () => {
    const commands = new Set(lines.map((l) => l.line.split(/\s+/)[0]));
    expect([...commands].sort()).toEqual(["offboard", "onboard", "reconcile", "synth"]);
  });

  test.each(lines)("$system: ds-onboard $line", ({ line }) => {
    const [command, ...words] = line.split(/\s+/).map((w) => w.replace(/^"(.*)"$/, "$1"));
    expect(Object.keys(handlers)).toContain(command);
    const flags = words.filter((w) => w.startsWith("--")).map((w) => w.slice(2).split("=")[0]);
    const known = declared(command);
    expect(flags.filter((flag) => !known.has(flag))).toEqual([]);
    // Values as the CLI will see them: the config file exists in the project, the shard is I/N.
    expect(words).toContain("ds-onboard.yaml");
    expect(words).toContain("$DS_ONBOARD_SHARD");
  });
});
