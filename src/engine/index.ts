/**
 * The construct framework a synthesis runs on, cdktf or CDK Terrain (cdktn), and everything
 * that differs between them at run time: the framework's classes, ds-onboard's constructs built
 * against it, and the generator (synthesizeOnboarding) built against those.
 *
 * cdktf is what the sources import; the build writes a second compiled tree, `dist/cdktn/`,
 * whose framework modules import cdktn instead (see build-tree.ts). Nothing here imports either
 * framework by a literal name, so that this module belongs to neither tree.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as Cdktf from "cdktf";
import type * as Constructs from "../../constructs";
import { UsageError, UserError } from "../errors";
import type * as Generator from "../generator/synthesize";
import { DEFAULT_ENGINE, ENGINE_INFO, ENGINES, type EngineInfo, type EngineName, engineInstallCommand, isEngineName } from "./engines";

export {
  DEFAULT_ENGINE,
  ENGINE_INFO,
  ENGINES,
  type EngineInfo,
  type EngineName,
  engineInstallCommand,
  isEngineName,
} from "./engines";
export { type DependencyOnSelf, dependencyOnSelf, type InstallSource, installSource, packageRoot } from "./package-spec";

/** An engine, loaded. The framework is typed as cdktf's: cdktn's classes have the same shape. */
export interface Engine {
  readonly name: EngineName;
  readonly info: EngineInfo;
  /** The framework module: `require("cdktf")` or `require("cdktn")`. */
  readonly framework: typeof Cdktf;
  readonly App: typeof Cdktf.App;
  readonly TerraformStack: typeof Cdktf.TerraformStack;
  readonly LocalBackend: typeof Cdktf.LocalBackend;
  /** ds-onboard's constructs for this engine (`ds-onboard` or `ds-onboard/cdktn`). */
  readonly constructs: typeof Constructs;
  /** ds-onboard's generator for this engine: synthesizeOnboarding, deployCommands, ... */
  readonly generator: typeof Generator;
}

/** Where the compiled trees are: dist/ (cdktf) and dist/cdktn/. Works from src/ (tests) and from dist/. */
function trees(): { cdktf: string; cdktn: string; fromSource: boolean } {
  const fromSource = __filename.endsWith(".ts");
  const root = join(__dirname, "..", "..");
  // From the sources, the cdktf modules are the sources themselves (jest compiles them).
  return fromSource
    ? { cdktf: root, cdktn: join(root, "dist", "cdktn"), fromSource }
    : { cdktf: root, cdktn: join(root, "cdktn"), fromSource };
}

function resolves(specifier: string): boolean {
  try {
    require.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Whether the engine's framework and AWS provider bindings can be loaded from here. */
export function engineInstalled(name: EngineName): boolean {
  const info = ENGINE_INFO[name];
  return resolves(info.framework) && resolves(`${info.providerAws}/lib/provider`) && resolves("constructs");
}

/** The engines installed beside ds-onboard. */
export function installedEngines(): EngineName[] {
  return ENGINES.filter(engineInstalled);
}

/**
 * The engine to use when none is named: cdktf when it is installed (what ds-onboard has always
 * used), else cdktn when it is, else cdktf (and loading it says what to install).
 */
export function defaultEngine(): EngineName {
  const installed = installedEngines();
  return installed.includes(DEFAULT_ENGINE) ? DEFAULT_ENGINE : (installed[0] ?? DEFAULT_ENGINE);
}

/** A `--engine` value, checked: the name, or a usage error that lists the choices. */
export function parseEngineName(value: unknown): EngineName {
  if (isEngineName(value)) return value;
  throw new UsageError(`--engine ${String(value)} is not an engine ds-onboard knows; use one of ${ENGINES.join(", ")}.`);
}

const loaded = new Map<EngineName, Engine>();

/**
 * Loads an engine: its framework now (a missing one fails here, with the command that installs
 * it), ds-onboard's constructs and generator for it when first used.
 */
export function loadEngine(name: EngineName = defaultEngine()): Engine {
  const cached = loaded.get(name);
  if (cached) return cached;
  const info = ENGINE_INFO[parseEngineName(name)];
  if (!engineInstalled(name)) {
    const missing = [info.framework, `${info.providerAws}/lib/provider`, "constructs"].filter((s) => !resolves(s));
    throw new UserError(
      `The ${name} engine needs ${missing.map((s) => s.replace(/\/lib\/provider$/, "")).join(", ")} beside ds-onboard, and they are not installed. In the project: ${engineInstallCommand(name)}` +
        (name === "cdktn" ? " (CDK Terrain's packages ask for Node.js 22)." : "."),
    );
  }
  const where = trees();
  const dir = name === "cdktf" ? where.cdktf : where.cdktn;
  const constructsPath = join(dir, "constructs");
  const generatorPath = join(dir, "src", "generator", "synthesize");
  if (name === "cdktn" && !existsSync(`${constructsPath}.js`) && !existsSync(join(constructsPath, "index.js")))
    throw new UserError(`ds-onboard's cdktn build is missing (${dir}); run npm run build in ds-onboard.`);
  const framework = require(info.framework) as typeof Cdktf;
  let constructs: typeof Constructs | undefined;
  let generator: typeof Generator | undefined;
  const engine: Engine = {
    name,
    info,
    framework,
    App: framework.App,
    TerraformStack: framework.TerraformStack,
    LocalBackend: framework.LocalBackend,
    get constructs() {
      constructs ??= require(constructsPath) as typeof Constructs;
      return constructs;
    },
    get generator() {
      generator ??= require(generatorPath) as typeof Generator;
      return generator;
    },
  };
  loaded.set(name, engine);
  return engine;
}
