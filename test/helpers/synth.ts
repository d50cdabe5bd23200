import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type TerraformStack, Testing } from "cdktf";

export type TfJson = {
  resource: Record<string, Record<string, Record<string, any>>>;
  provider?: Record<string, Record<string, any>[]>;
  output?: Record<string, { value: string; sensitive?: boolean }>;
  terraform: { required_providers: Record<string, { source: string; version: string }> };
  variable?: Record<string, any>;
};

/** Synthesizes one stack and returns its Terraform JSON. */
export function synthJson(stack: TerraformStack): TfJson {
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

/** Every resource of one type in a stack's JSON, as a list. */
export function resources(json: TfJson, type: string): Record<string, any>[] {
  return Object.values(json.resource[type] ?? {});
}

/** A real App writing into a fresh temporary folder (app.synth() also checks providers). */
export function tempApp(): App {
  return new App({ outdir: mkdtempSync(join(tmpdir(), "ds-onboard-synth-")), skipValidation: false });
}
