/**
 * The CI workflow of a new onboarding project (`ds-onboard init` with a CI system): pure
 * templating, no I/O. Each shard of the accounts is one job of a matrix that synthesizes, plans,
 * applies and onboards; a scheduled run then reconciles each shard and fails when something still
 * needs action. The manager's API key comes from the CI's secret store, AWS access from OIDC role
 * assumption (no long-lived keys), and the Terraform state from the config's shared backend.
 */
import { Document, type Node, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from "yaml";
import type { OnboardingConfig } from "../config/schema";
import type { Problem } from "../validation";

import { CI_FILES, type CiOptions, DEFAULT_SCHEDULE, DEFAULT_SHARDS, ROLE_ARN_VARIABLE, TERRAFORM_VERSION } from "./ci-options";

export * from "./ci-options";

/**
 * Why a pipeline cannot run this config, if it cannot: shards running on throwaway machines need
 * one shared state with locking, or each run would start from an empty state (and fail on, or
 * duplicate, the roles it made before) and two shards could write one state at once.
 */
export function checkCiBackend(config: OnboardingConfig): Problem | undefined {
  const backend = config.deployment?.backend;
  const fix =
    "Set deployment.backend to a shared state: { type: s3, bucket: <bucket> } (native locking, Terraform 1.10+) or { type: remote, organization: <org> } (HCP Terraform)";
  if (!backend || backend.type === "local")
    return { problem: "the Terraform state is a local file, which a CI job throws away at its end", fix };
  if (backend.type === "s3" && backend.useLockfile === false)
    return {
      problem: "the S3 state has locking turned off (useLockfile: false), so two jobs could write it at once",
      fix: `${fix}; leave useLockfile on`,
    };
  return undefined;
}

/** A five-field cron expression (the syntax both CI systems schedule with), or a problem. */
export function checkSchedule(cron: string): Problem | undefined {
  const fields = cron.trim().split(/\s+/);
  if (fields.length === 5 && fields.every((f) => /^[0-9*/,\-A-Za-z]+$/.test(f))) return undefined;
  return {
    problem: `"${cron}" is not a five-field cron expression`,
    fix: 'Use minute hour day-of-month month day-of-week, e.g. "17 5 * * *" (daily, 05:17 UTC)',
  };
}

/** The CI file(s) for a project with this config: file name → content. */
export function ciFiles(config: OnboardingConfig, options: CiOptions): Record<string, string> {
  const plan = planOf(config, options);
  return { [CI_FILES[options.system]]: options.system === "github-actions" ? githubWorkflow(plan) : gitlabPipeline(plan) };
}

/** What both templates need, worked out once. */
interface Plan {
  readonly shards: number;
  readonly configFile: string;
  readonly schedule: string;
  readonly branch: string;
  readonly region: string;
  readonly roleArn?: string;
  readonly planRoleArn?: string;
  /** The config names the manager; else the pipeline sets DS_MANAGER_URL from a CI variable. */
  readonly managerUrlInConfig: boolean;
  /** Synthesis asks the manager for the external ID (so it needs the key). */
  readonly synthNeedsKey: boolean;
  /** `deployment.registration`: the apply itself runs `ds-onboard register` (so it needs the key). */
  readonly applyNeedsKey: boolean;
  /** HCP Terraform: no saved plan files with remote runs; a token instead of AWS access to the state. */
  readonly remoteBackend: boolean;
}

function planOf(config: OnboardingConfig, options: CiOptions): Plan {
  return {
    shards: options.shards ?? DEFAULT_SHARDS,
    configFile: options.configFile ?? "ds-onboard.yaml",
    schedule: options.schedule ?? DEFAULT_SCHEDULE,
    branch: options.branch ?? "main",
    region: config.deployment?.region ?? "us-east-1",
    roleArn: options.roleArn,
    planRoleArn: options.planRoleArn,
    managerUrlInConfig: config.manager?.url !== undefined,
    synthNeedsKey: (config.externalId ?? "manager") === "manager",
    applyNeedsKey: config.deployment?.registration !== undefined,
    remoteBackend: config.deployment?.backend?.type === "remote",
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The shell lines of one shard's work. `shard` is a shell word such as `"$DS_ONBOARD_SHARD"`. */
function commands(plan: Plan, shard: string) {
  const cfg = plan.configFile;
  // A shard may have no stack (a small organization): the loop then runs no Terraform. One
  // account's failure is its stack's alone: the loop goes on, notes the stack in
  // failed-stacks.txt, and the job fails at its end (checkFailures), after the others are done.
  const forEachStack = (body: string, what: string) =>
    `for d in cdktf.out/stacks/*/; do\n  [ -d "$d" ] || continue\n  if ! { ${body}; }; then\n    echo "${what} failed: $d" >&2; rm -f "$d/tfplan"; echo "$d" >> failed-stacks.txt\n  fi\ndone\n`;
  const init = 'terraform -chdir="$d" init -input=false';
  return {
    // Each job has its own workspace: the shard's stacks go to cdktf.out (not cdktf.out/shard-I-of-N).
    synth: `npx --no-install ds-onboard synth --config ${cfg} --shard ${shard} --out cdktf.out\n`,
    // Connectors of accounts that left go before their roles (the apply destroys them): a connector
    // whose role is gone fails every synchronization.
    offboard: `npx --no-install ds-onboard offboard --config ${cfg} --shard ${shard} --if-recorded --output json\n`,
    // The synthesized stacks are the truth: a config edited back to the local backend stops here.
    checkBackend: `node -e '${BACKEND_CHECK}'\n`,
    plan: forEachStack(
      plan.remoteBackend
        ? `${init} && terraform -chdir="$d" plan -input=false -lock-timeout=5m`
        : `${init} && terraform -chdir="$d" plan -input=false -lock-timeout=5m -out=tfplan`,
      "plan",
    ),
    // Only the stacks whose plan succeeded (a saved plan, or with HCP Terraform not noted as failed).
    apply: plan.remoteBackend
      ? forEachStack(
          `! grep -qxF "$d" failed-stacks.txt 2>/dev/null && terraform -chdir="$d" apply -input=false -lock-timeout=5m -auto-approve`,
          "apply",
        )
      : forEachStack(`[ ! -f "$d/tfplan" ] || terraform -chdir="$d" apply -input=false -lock-timeout=5m tfplan`, "apply"),
    checkFailures: `if [ -s failed-stacks.txt ]; then echo "stacks that failed (the others are done):" >&2; cat failed-stacks.txt >&2; exit 1; fi\n`,
    onboard: `npx --no-install ds-onboard onboard --config ${cfg} --shard ${shard} --output json\n`,
    // The report is kept (reconcile.json) and shown; the job ends with reconcile's exit code.
    // Repairs what the manager can (registration, connector drift, synchronization); the job fails
    // (exit 4) while anything is left that needs a person or Terraform. The report is kept.
    reconcile: `status=0\nnpx --no-install ds-onboard reconcile --config ${cfg} --shard ${shard} --apply-registration --output json > reconcile.json || status=$?\ncat reconcile.json\nexit "$status"\n`,
  };
}

/** Fails when a synthesized stack keeps its state in a local file or an unlocked S3 object (run by `node -e`). */
const BACKEND_CHECK = [
  'const fs = require("fs");',
  'const bad = fs.readdirSync("cdktf.out/stacks").filter((s) => {',
  '  const b = (JSON.parse(fs.readFileSync(`cdktf.out/stacks/${s}/cdk.tf.json`, "utf8")).terraform || {}).backend || {};',
  "  return !(b.remote || (b.s3 && b.s3.use_lockfile === true));",
  "});",
  'if (bad.length) { console.error(`no shared, locked state (deployment.backend) for: ${bad.join(", ")}`); process.exit(1); }',
].join("\n");

/**
 * Commits the shard's accounts record (how the next synthesis knows who left) and pushes it,
 * retrying on a race with other shards. A subshell: its exits end it alone. The identity is set
 * for every commit, the rebase's too (runners have none configured).
 */
function keepRecord(push: string, fetchAndRebase: string, guard = ""): string {
  return `(
${guard}export GIT_AUTHOR_NAME="ds-onboard" GIT_AUTHOR_EMAIL="ds-onboard@users.noreply.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git add -- '*.accounts.json'
if git diff --cached --quiet; then exit 0; fi
git commit -m "ds-onboard: accounts record of shard $DS_ONBOARD_SHARD [skip ci]"
for attempt in 1 2 3 4 5; do
  ${fetchAndRebase} && ${push} && exit 0
  git rebase --abort 2>/dev/null || true
  sleep $((attempt * 5))
done
echo "could not push the accounts record" >&2
exit 1
)
`;
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions

/*
 * Actions are pinned to their major version tag: it receives the publisher's fixes and security
 * updates without breaking changes. Where the supply chain must be frozen, replace each tag by the
 * full commit SHA it points to and let Dependabot or Renovate move it.
 */
const ACTIONS = {
  checkout: "actions/checkout@v5",
  node: "actions/setup-node@v5",
  terraform: "hashicorp/setup-terraform@v3",
  aws: "aws-actions/configure-aws-credentials@v5",
  upload: "actions/upload-artifact@v4",
} as const;

function githubWorkflow(plan: Plan): string {
  const n = plan.shards;
  const cmd = commands(plan, '"$DS_ONBOARD_SHARD"');
  const key = { DS_API_KEY: "${{ secrets.DS_API_KEY }}" };
  const role = plan.roleArn ?? `\${{ vars.${ROLE_ARN_VARIABLE} }}`;
  const planRole = plan.planRoleArn ?? role;
  const tfToken = plan.remoteBackend ? { TF_TOKEN_app_terraform_io: "${{ secrets.TF_API_TOKEN }}" } : undefined;
  const onBranch = `github.ref == 'refs/heads/${plan.branch}'`;
  const matrix = { strategy: { "fail-fast": false, matrix: { shard: range(n) } }, env: { DS_ONBOARD_SHARD: `\${{ matrix.shard }}/${n}` } };
  const shardGroup = { group: `ds-onboard-shard-\${{ matrix.shard }}-of-${n}`, "cancel-in-progress": false };

  const setup = (roleToAssume: string, withTerraform: boolean) => [
    { name: "Check out", uses: ACTIONS.checkout },
    { name: "Set up Node.js", uses: ACTIONS.node, with: { "node-version": 20, cache: "npm" } },
    { name: "Install (the versions in package-lock.json)", run: "npm ci" },
    ...(withTerraform
      ? [
          { name: "Set up Terraform", uses: ACTIONS.terraform, with: { terraform_version: TERRAFORM_VERSION, terraform_wrapper: false } },
          { name: "Provider cache", run: 'mkdir -p "$TF_PLUGIN_CACHE_DIR"' },
        ]
      : []),
    {
      name: "AWS credentials (OIDC)",
      uses: ACTIONS.aws,
      with: { "role-to-assume": roleToAssume, "aws-region": plan.region, "role-session-name": "ds-onboard-${{ github.run_id }}" },
    },
  ];
  const synthAndPlan = [
    { name: "Synthesize the shard", run: cmd.synth, ...(plan.synthNeedsKey ? { env: key } : {}) },
    { name: "Refuse a state that is not shared", run: cmd.checkBackend },
    { name: "Terraform plan", run: cmd.plan, ...(tfToken ? { env: tfToken } : {}) },
  ];
  const applyEnv = { ...(plan.applyNeedsKey ? key : {}), ...tfToken };

  const plain = {
    name: "ds-onboard",
    on: {
      push: { branches: [plan.branch] },
      pull_request: { branches: [plan.branch] },
      schedule: [{ cron: plan.schedule }],
      workflow_dispatch: {},
    },
    permissions: { contents: "read" },
    env: {
      ...(plan.managerUrlInConfig ? {} : { DS_MANAGER_URL: "${{ vars.DS_MANAGER_URL }}" }),
      TF_IN_AUTOMATION: "true",
      TF_PLUGIN_CACHE_DIR: "${{ github.workspace }}/.terraform-plugin-cache",
    },
    jobs: {
      plan: {
        name: `plan shard \${{ matrix.shard }}/${n}`,
        if: "github.event_name == 'pull_request'",
        "runs-on": "ubuntu-latest",
        permissions: { contents: "read", "id-token": "write" },
        concurrency: { group: `ds-onboard-plan-\${{ github.ref }}-shard-\${{ matrix.shard }}-of-${n}`, "cancel-in-progress": true },
        ...matrix,
        steps: [...setup(planRole, true), ...synthAndPlan, { name: "Fail if a stack failed", run: cmd.checkFailures }],
      },
      deploy: {
        name: `deploy shard \${{ matrix.shard }}/${n}`,
        if: `github.event_name != 'pull_request' && ${onBranch}`,
        "runs-on": "ubuntu-latest",
        permissions: { contents: "write", "id-token": "write" },
        concurrency: shardGroup,
        ...matrix,
        steps: [
          ...setup(role, true),
          ...synthAndPlan,
          { name: "Deregister the accounts that left", run: cmd.offboard, env: key },
          { name: "Terraform apply", run: cmd.apply, ...(Object.keys(applyEnv).length ? { env: applyEnv } : {}) },
          { name: "Verify and register the shard's accounts", run: cmd.onboard, env: key },
          {
            name: "Commit the accounts record",
            run: keepRecord('git push origin "HEAD:$GITHUB_REF_NAME"', 'git pull --rebase origin "$GITHUB_REF_NAME"'),
          },
          { name: "Fail if a stack failed", run: cmd.checkFailures },
        ],
      },
      reconcile: {
        name: `reconcile shard \${{ matrix.shard }}/${n}`,
        if: `!cancelled() && (github.event_name == 'schedule' || github.event_name == 'workflow_dispatch') && ${onBranch}`,
        needs: "deploy",
        "runs-on": "ubuntu-latest",
        permissions: { contents: "read", "id-token": "write" },
        concurrency: shardGroup,
        ...matrix,
        steps: [
          ...setup(role, false),
          { name: "Reconcile (exit 4: something still needs action)", run: cmd.reconcile, env: key },
          {
            name: "Keep the report",
            if: "always()",
            uses: ACTIONS.upload,
            with: { name: `reconcile-shard-\${{ matrix.shard }}-of-${n}`, path: "reconcile.json", "if-no-files-found": "ignore" },
          },
        ],
      },
    },
  };

  const doc = new Document(plain, { aliasDuplicateObjects: false });
  const variables = [
    plan.roleArn ? undefined : `${ROLE_ARN_VARIABLE} (the role to assume)`,
    plan.managerUrlInConfig ? undefined : "DS_MANAGER_URL",
  ].filter(Boolean);
  doc.commentBefore = [
    " Written by `ds-onboard init --ci github-actions`. Each shard of the accounts is a job: synth and plan on",
    ` pull requests; synth, plan, apply and onboard on pushes to ${plan.branch}, on the schedule and by hand.`,
    " The scheduled run then reconciles each shard: its job fails while anything still needs action (exit 4).",
    " Setup: the repository secret DS_API_KEY (the manager's API key, never printed),",
    ...(variables.length ? [` the repository variable${variables.length > 1 ? "s" : ""} ${variables.join(" and ")},`] : []),
    ...(plan.remoteBackend ? [" the secret TF_API_TOKEN (an HCP Terraform token),"] : []),
    " and an IAM OIDC provider for token.actions.githubusercontent.com that the role trusts.",
  ].join("\n");
  note(doc, ["on", "schedule"], " Daily (UTC). The same shard count keeps every account in its shard.");
  note(doc, ["permissions"], " Least privilege by default; each job asks for what it needs.");
  note(doc, ["env", "TF_PLUGIN_CACHE_DIR"], " Providers are downloaded once per job, not once per stack.");
  note(doc, ["jobs", "plan", "concurrency"], " A newer push to the same pull request replaces its running plan.");
  note(
    doc,
    ["jobs", "deploy", "concurrency"],
    " Two runs of one shard never overlap: the second waits (the state lock would refuse it anyway).",
  );
  note(doc, ["jobs", "deploy", "permissions"], " contents: write only to commit the shard's accounts record; id-token: write for OIDC.");
  note(doc, ["jobs", "reconcile", "needs"], " After the shard's deploy, even a failed one: a report of what is left to do.");
  for (const job of ["plan", "deploy", "reconcile"]) {
    noteStep(doc, job, "AWS credentials (OIDC)", [
      " OIDC: this job's GitHub token is exchanged for the role's temporary credentials; no stored AWS keys.",
      " Pinned to the action's major version tag: fixes without breaking changes (pin the commit SHA to freeze it).",
      ...(job === "plan" && !plan.planRoleArn ? [" A pull request runs its own code here: a read-only role for plans is safer."] : []),
    ]);
  }
  noteStep(doc, "deploy", "Commit the accounts record", [
    " One record per shard: how the next synthesis knows which accounts left, so that their roles are destroyed.",
  ]);
  return doc.toString({ lineWidth: 0 });
}

/** Puts a comment above the step of `job` named `name`. */
function noteStep(doc: Document, job: string, name: string, lines: string[]): void {
  const steps = doc.getIn(["jobs", job, "steps"]) as YAMLSeq;
  const step = (steps.items as YAMLMap[]).find((s) => s.get("name") === name);
  if (!step) throw new Error(`ci template: no step "${name}" in ${job}`);
  step.commentBefore = lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// GitLab CI

function gitlabPipeline(plan: Plan): string {
  const n = plan.shards;
  const cmd = commands(plan, '"$DS_ONBOARD_SHARD"');
  const roleArn = plan.roleArn ?? `$${ROLE_ARN_VARIABLE}`;
  const onDefaultBranch = '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE != "merge_request_event"';
  const shardVars = (i: number) => ({ DS_ONBOARD_SHARD: `${i}/${n}` });

  const writeToken = ['printf "%s" "$AWS_ID_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"\n'];
  const installTerraform = [
    `curl -fsSLo terraform.zip "https://releases.hashicorp.com/terraform/\${TERRAFORM_VERSION}/terraform_\${TERRAFORM_VERSION}_linux_amd64.zip"
curl -fsSL "https://releases.hashicorp.com/terraform/\${TERRAFORM_VERSION}/terraform_\${TERRAFORM_VERSION}_SHA256SUMS" | grep "_linux_amd64.zip" | sed "s/ .*/  terraform.zip/" | sha256sum -c -
unzip -oq terraform.zip -d /usr/local/bin && rm terraform.zip
`,
    'mkdir -p "$TF_PLUGIN_CACHE_DIR"\n',
  ];
  const npmCi = ["npm ci --cache .npm --prefer-offline\n"];
  const jobs: Record<string, unknown> = {};
  for (const i of range(n)) {
    jobs[`plan shard ${i}/${n}`] = {
      extends: ".ds-onboard",
      stage: "plan",
      variables: { ...shardVars(i), ...(plan.planRoleArn ? { AWS_ROLE_ARN: plan.planRoleArn } : {}) },
      rules: [{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }],
      script: [cmd.synth, cmd.checkBackend, cmd.plan, cmd.checkFailures],
    };
  }
  for (const i of range(n)) {
    jobs[`deploy shard ${i}/${n}`] = {
      extends: ".ds-onboard",
      stage: "deploy",
      variables: shardVars(i),
      resource_group: `ds-onboard-shard-${i}-of-${n}`,
      rules: [{ if: onDefaultBranch }],
      script: [
        cmd.synth,
        cmd.checkBackend,
        cmd.plan,
        cmd.offboard,
        cmd.apply,
        cmd.onboard,
        keepRecord(
          'git push "https://oauth2:${DS_ONBOARD_PUSH_TOKEN}@${CI_SERVER_HOST}/${CI_PROJECT_PATH}.git" "HEAD:$CI_COMMIT_BRANCH" -o ci.skip',
          'git fetch origin "$CI_COMMIT_BRANCH" && git rebase FETCH_HEAD',
          // Without the record the next run cannot tell which accounts left: a failure, not a warning.
          'if [ -z "$DS_ONBOARD_PUSH_TOKEN" ]; then echo "DS_ONBOARD_PUSH_TOKEN is not set: the accounts record cannot be kept, and the next run would not know which accounts left. Set it (a project access token with write_repository)." >&2; exit 1; fi\n',
        ),
        cmd.checkFailures,
      ],
    };
  }
  for (const i of range(n)) {
    jobs[`reconcile shard ${i}/${n}`] = {
      extends: ".ds-onboard",
      stage: "reconcile",
      variables: shardVars(i),
      resource_group: `ds-onboard-shard-${i}-of-${n}`,
      needs: [`deploy shard ${i}/${n}`],
      // when: always: also after a failed deploy, to report what is left to do.
      rules: [{ if: `$CI_PIPELINE_SOURCE == "schedule" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH`, when: "always" }],
      before_script: [...writeToken, ...npmCi],
      script: [cmd.reconcile],
      artifacts: { when: "always", paths: ["reconcile.json"], expire_in: "30 days" },
    };
  }

  const plain = {
    stages: ["plan", "deploy", "reconcile"],
    workflow: {
      rules: [{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }, { if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }],
    },
    variables: {
      ...(plan.managerUrlInConfig ? {} : { DS_MANAGER_URL: { value: "", description: "the manager's API URL, ending in /api" } }),
      TERRAFORM_VERSION: TERRAFORM_VERSION,
      TF_IN_AUTOMATION: "true",
      TF_PLUGIN_CACHE_DIR: "$CI_PROJECT_DIR/.terraform-plugin-cache",
      AWS_REGION: plan.region,
    },
    ".ds-onboard": {
      image: "node:20-bookworm",
      id_tokens: { AWS_ID_TOKEN: { aud: "sts.amazonaws.com" } },
      variables: {
        AWS_ROLE_ARN: roleArn,
        AWS_ROLE_SESSION_NAME: "ds-onboard-$CI_PIPELINE_ID",
        AWS_WEB_IDENTITY_TOKEN_FILE: "$CI_PROJECT_DIR/.aws-web-identity-token",
      },
      cache: [
        { key: "terraform-providers-$TERRAFORM_VERSION", paths: [".terraform-plugin-cache/"] },
        { key: { files: ["package-lock.json"] }, paths: [".npm/"] },
      ],
      before_script: [...writeToken, ...installTerraform, ...npmCi],
    },
    ...jobs,
  };

  const doc = new Document(plain, { aliasDuplicateObjects: false });
  doc.commentBefore = [
    " Written by `ds-onboard init --ci gitlab`. Each shard of the accounts is a job: synth and plan on",
    " merge requests; synth, plan, apply and onboard on the default branch. A scheduled pipeline then",
    " reconciles each shard; its job fails while anything still needs action (exit 4).",
    " Setup (Settings > CI/CD > Variables): DS_API_KEY, masked and protected (the manager's API key, never",
    ` printed)${plan.managerUrlInConfig ? "" : ", DS_MANAGER_URL"}${plan.roleArn ? "" : `, ${ROLE_ARN_VARIABLE} (the role to assume)`},`,
    " optionally DS_ONBOARD_PUSH_TOKEN (a project access token with write_repository, masked and",
    " protected) to commit each shard's accounts record; an IAM OIDC provider for this GitLab instance",
    " that the role trusts; and a pipeline schedule on the default branch (Build > Pipeline schedules,",
    ` e.g. "${plan.schedule}").`,
    ...(plan.remoteBackend ? [" HCP Terraform: a masked variable TF_TOKEN_app_terraform_io."] : []),
  ].join("\n");
  note(
    doc,
    ["variables", "TERRAFORM_VERSION"],
    " 1.10 or later: the S3 backend's native locking (use_lockfile). The download is checked against HashiCorp's SHA256SUMS.",
  );
  note(doc, ["variables", "TF_PLUGIN_CACHE_DIR"], " Providers are downloaded once per job (and cached), not once per stack.");
  note(
    doc,
    [".ds-onboard", "id_tokens"],
    " OIDC: GitLab's ID token for this job is exchanged for the role's temporary credentials by the AWS SDKs'\n default chain (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); Terraform's provider and S3 backend read the same.",
  );
  note(
    doc,
    [".ds-onboard", "variables", "AWS_ROLE_ARN"],
    plan.roleArn
      ? " The role this pipeline assumes."
      : ` Placeholder: set the CI/CD variable ${ROLE_ARN_VARIABLE} to the role's ARN (or write the ARN here).`,
  );
  if (plan.synthNeedsKey)
    note(
      doc,
      [`plan shard 1/${n}`],
      " Merge request pipelines do not see protected variables: synthesis there needs the external ID without\n the key (externalId: ssm:... or secretsmanager:... in the config, or an unprotected DS_EXTERNAL_ID).",
    );
  note(doc, [`deploy shard 1/${n}`, "resource_group"], " One job per shard at a time: two runs of the same shard never overlap.");
  return doc.toString({ lineWidth: 0 });
}

/** Puts a comment above the key at `path` (a map key, or an index in a sequence). */
function note(doc: Document, path: (string | number)[], text: string): void {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (typeof last === "number") {
    ((parent as YAMLSeq).items[last] as Node).commentBefore = text;
    return;
  }
  const pair = (parent as YAMLMap).items.find((p: Pair) => (p.key as Scalar).value === last);
  if (!pair) throw new Error(`ci template: no ${path.join(".")} to comment`);
  (pair.key as Scalar).commentBefore = text;
}
