/**
 * The two construct frameworks ds-onboard runs on: cdktf (archived upstream on 2025-12-10; its
 * last release is 0.21.0) and its maintained fork CDK Terrain (cdktn). Pure data, no I/O: the
 * CLI's `--engine` choices, what `init` writes into a project's package.json, and the commands
 * each engine's users run.
 */

export const ENGINES = ["cdktf", "cdktn"] as const;
export type EngineName = (typeof ENGINES)[number];

/** The engine when none is named: cdktf, what ds-onboard was written for. */
export const DEFAULT_ENGINE: EngineName = "cdktf";

export interface EngineInfo {
  readonly name: EngineName;
  /** The framework package (`App`, `TerraformStack`, ...). */
  readonly framework: string;
  /** The prebuilt AWS provider bindings. */
  readonly providerAws: string;
  /** The command-line tool (`<cli> synth`, `<cli> deploy`), which users bring themselves. */
  readonly cli: { readonly package: string; readonly command: string };
  /** Where ds-onboard's constructs for this engine are imported from. */
  readonly constructsEntry: string;
  /** Where ds-onboard's generator (synthesizeOnboarding) for this engine is imported from. */
  readonly generatorEntry: string;
  /**
   * The exact versions a new project (`ds-onboard init`) depends on: the ones this repository
   * develops and tests with (its devDependencies; a test checks that they agree).
   */
  readonly projectDependencies: Readonly<Record<string, string>>;
  /** The lowest Node.js the engine's packages declare. */
  readonly node: string;
}

export const ENGINE_INFO: Readonly<Record<EngineName, EngineInfo>> = {
  cdktf: {
    name: "cdktf",
    framework: "cdktf",
    providerAws: "@cdktf/provider-aws",
    cli: { package: "cdktf-cli", command: "cdktf" },
    constructsEntry: "ds-onboard",
    generatorEntry: "ds-onboard/generator",
    projectDependencies: { "@cdktf/provider-aws": "21.22.1", cdktf: "0.21.0", constructs: "10.7.2" },
    node: "20.9",
  },
  cdktn: {
    name: "cdktn",
    framework: "cdktn",
    providerAws: "@cdktn/provider-aws",
    cli: { package: "cdktn-cli", command: "cdktn" },
    constructsEntry: "ds-onboard/cdktn",
    generatorEntry: "ds-onboard/cdktn/generator",
    projectDependencies: { "@cdktn/provider-aws": "25.7.0", cdktn: "0.24.0", constructs: "10.7.2" },
    node: "22.11",
  },
};

export function isEngineName(value: unknown): value is EngineName {
  return typeof value === "string" && (ENGINES as readonly string[]).includes(value);
}

/** The npm command that adds an engine to a project. */
export function engineInstallCommand(name: EngineName): string {
  const deps = Object.entries(ENGINE_INFO[name].projectDependencies).map(([pkg, version]) => `${pkg}@${version}`);
  return `npm install ${deps.join(" ")}`;
}
