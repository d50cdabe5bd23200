/**
 * Helpers for tests that install the packed ds-onboard into throwaway apps, as a user would.
 * Installs use the local npm cache first (--prefer-offline); nothing but the npm registry is
 * reached, and only for what the cache lacks.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { projectTsconfig } from "../../src/generator/init";

export const REPO = join(__dirname, "..", "..");
export const PACKAGE = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  engines: { node: string };
  exports: Record<string, string | { types: string; default: string }>;
  files: string[];
  bin: Record<string, string>;
};

/** Long enough for a cold install of the provider bindings (a 37 MB download, 400 MB on disk). */
export const INSTALL_TIMEOUT_MS = 10 * 60_000;

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment for child processes: this one without what `npm test` and the developer's
 * shell add (npm's idea of the current project, CDKTF_*, DS_*), so that a child npm works on
 * the temporary app and synthesis reads only what the test gives it.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_config_local_prefix|npm_package_|npm_lifecycle_|npm_command$|INIT_CWD$|CDKTF_|DS_|JEST_|AWS_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, AWS_EC2_METADATA_DISABLED: "true", ...extra };
}

export function run(
  command: string,
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(options.env), timeout: options.timeoutMs ?? INSTALL_TIMEOUT_MS, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs and fails the test with the command's output when it fails. */
export async function runOk(
  command: string,
  args: string[],
  cwd: string,
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Run> {
  const r = await run(command, args, cwd, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Packs this repository (as built: `npm test` builds first) into `destination`; returns the tarball's path. */
export async function packRepo(destination: string): Promise<string> {
  const r = await runOk("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", destination], REPO, { timeoutMs: 120_000 });
  return join(destination, (JSON.parse(r.stdout.slice(r.stdout.indexOf("["))) as { filename: string }[])[0].filename);
}

/** `npm install <specs>` in `dir`, from the cache where it can. */
export function npmInstall(dir: string, specs: string[] = []): Promise<Run> {
  return runOk("npm", ["install", ...specs, "--prefer-offline", "--no-audit", "--no-fund"], dir);
}

/** The framework engine's exact version installed in an app. */
export function installedVersion(dir: string, pkg: string): string {
  return (JSON.parse(readFileSync(join(dir, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
}

/** Every file under an output folder, by relative path, as text. */
export function outputFiles(outdir: string): Record<string, string> {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  if (!existsSync(outdir)) throw new Error(`${outdir} was not written`);
  return Object.fromEntries(walk(outdir).map((f) => [relative(outdir, f), readFileSync(f, "utf8")]));
}

/** Each stack's cdk.tf.json under an output folder, by stack name, as text. */
export function stackFiles(outdir: string): Record<string, string> {
  const dir = join(outdir, "stacks");
  return Object.fromEntries(readdirSync(dir).map((s) => [s, readFileSync(join(dir, s, "cdk.tf.json"), "utf8")]));
}

/**
 * A stack's cdk.tf.json with what differs by engine replaced by a placeholder: the framework's
 * version stamp (`//.metadata.version`) and the provider version constraints that each engine's
 * provider bindings write (`terraform.required_providers.*.version`). These are the only
 * `"version"` keys in a stack (checked); everything else must be the same, byte for byte.
 */
export function withoutEngineStamps(text: string): string {
  const json = JSON.parse(text) as { terraform?: { required_providers?: Record<string, { version?: string }> } };
  const expected = 1 + Object.values(json.terraform?.required_providers ?? {}).filter((p) => p.version !== undefined).length;
  const stamp = /^(\s*)"version": "[^"]*"(,?)$/gm;
  const found = text.match(stamp)?.length ?? 0;
  if (found !== expected) throw new Error(`expected ${expected} "version" keys (the stamp and the provider constraints), found ${found}`);
  return text.replace(stamp, '$1"version": "<engine stamp>"$2');
}

/**
 * The Terraform addresses of everything in a stack: resources and data sources (`type.name`),
 * providers (`provider.aws` or `provider.aws.<alias>`), outputs, variables and locals. Terraform
 * keys its state by these: the same addresses on both engines keep a state valid across a move.
 */
export function addresses(text: string): string[] {
  const json = JSON.parse(text) as Record<string, any>;
  const out: string[] = [];
  for (const kind of ["resource", "data"] as const)
    for (const [type, byName] of Object.entries<Record<string, unknown>>(json[kind] ?? {}))
      for (const name of Object.keys(byName)) out.push(`${kind === "data" ? "data." : ""}${type}.${name}`);
  for (const [name, configs] of Object.entries<{ alias?: string }[]>(json.provider ?? {}))
    for (const c of configs) out.push(`provider.${name}${c.alias ? `.${c.alias}` : ""}`);
  for (const kind of ["output", "variable", "locals"] as const)
    for (const name of Object.keys(json[kind] ?? {})) out.push(`${kind}.${name}`);
  return out.sort();
}

/**
 * A TypeScript app that builds the same stacks on either engine: one role with registration and
 * the Deny, a role with its external ID from a Terraform variable (preconditions, Fn and Op),
 * and two accounts with a stack each.
 */
export function roleApp(engine: "cdktf" | "cdktn", outdir: string): string {
  const entry = engine === "cdktf" ? "ds-onboard" : "ds-onboard/cdktn";
  return `import { AwsProvider } from "@${engine}/provider-aws/lib/provider";
import { App, LocalBackend, TerraformStack, TerraformVariable } from "${engine}";
import { addAccountStacks, DeepSecurityCrossAccountRole, ManagerPrincipals } from "${entry}";

const app = new App({ outdir: ${JSON.stringify(outdir)} });
const stack = new TerraformStack(app, "deep-security-role");
new AwsProvider(stack, "aws", { region: "us-east-1" });
new DeepSecurityCrossAccountRole(stack, "deep-security", {
  externalIds: ["ds-onboard-engine-test-id"],
  principal: ManagerPrincipals.workloadSecurity(),
  tags: { "managed-by": "ds-onboard" },
  denyWithoutExternalId: true,
  registration: { onDestroy: "deregister", managerUrl: "https://dsm.example.com:4119/api" },
});

const tokenStack = new TerraformStack(app, "deep-security-token");
const aws = new AwsProvider(tokenStack, "aws", { region: "eu-west-1" });
const externalId = new TerraformVariable(tokenStack, "ds_external_id", { type: "string", sensitive: true });
new DeepSecurityCrossAccountRole(tokenStack, "deep-security", { provider: aws, externalIds: [externalId.stringValue] });

const accountStacks = addAccountStacks(app, {
  layout: "stack-per-account",
  externalIds: ["ds-onboard-engine-test-id"],
  principal: ManagerPrincipals.onPremisesAccount("444455556666"),
  accounts: [
    { accountId: "111111111111" },
    { accountId: "222222222222", deploymentRoleArn: "arn:aws:iam::222222222222:role/AWSControlTowerExecution" },
  ],
});
// State by a relative path: the default is the absolute path of the working folder.
for (const s of [stack, tokenStack, ...accountStacks]) new LocalBackend(s, { path: \`terraform.\${s.node.id}.tfstate\` });
app.synth();
`;
}

/** A tsconfig that type-checks and compiles role.ts against the app's own packages. */
export const ROLE_TSCONFIG = projectTsconfig(["role.ts"], []);

/** The repository's TypeScript compiler, run with this Node.js. */
export const TSC = [join(REPO, "node_modules", "typescript", "bin", "tsc")];
