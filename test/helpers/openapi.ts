/**
 * Validation against the vendor's OpenAPI subset (a copy in test/fixtures, kept equal to the
 * shared reference by a test). Object schemas are made strict (no properties beyond the spec's),
 * so that a misspelt or wrongly cased field fails.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ValidateFunction } from "ajv";

export const SPEC_PATH = join(__dirname, "..", "fixtures", "workload-security-openapi-subset.json");
type Json = Record<string, any>;
export const spec: Json = JSON.parse(readFileSync(SPEC_PATH, "utf8"));

function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.type === "object" && out.properties) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
for (const format of ["int32", "int64", "double", "float"])
  ajv.addFormat(format, { type: "number", validate: (n: number) => Number.isFinite(n) });
ajv.addSchema({ $id: "spec", components: strict(spec.components) });

const compiled = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) {
    v = ajv.compile({ $ref: `spec${ref}` });
    compiled.set(ref, v);
  }
  return v;
}

export interface Operation {
  template: string;
  method: string;
  op: Json;
}

/** The spec operation for a concrete path (`/awsconnectors/3`) and method. */
export function findOperation(method: string, path: string): Operation | undefined {
  // Literal paths first: /awsconnectors/search is not /awsconnectors/{awsConnectorID}.
  const templates = Object.entries<Json>(spec.paths).sort(([a], [b]) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  for (const [template, item] of templates) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    const op = item[method.toLowerCase()];
    if (re.test(path) && op) return { template, method, op };
  }
  return undefined;
}

/** Problems with a body against a schema `$ref` ("" when valid). */
export function validate(ref: string, body: unknown): string {
  const v = validator(ref.replace(/^#/, "#"));
  return v(body) ? "" : ajv.errorsText(v.errors);
}

export function requestSchemaRef(op: Json): string | undefined {
  const body = op.requestBody?.$ref ? resolveRef(op.requestBody.$ref) : op.requestBody;
  return body?.content?.["application/json"]?.schema?.$ref;
}

export function responseSchemaRef(op: Json, status: number): string | undefined {
  return op.responses?.[String(status)]?.content?.["application/json"]?.schema?.$ref;
}

function resolveRef(ref: string): Json {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .reduce((node: Json, key) => node[key], spec);
}
