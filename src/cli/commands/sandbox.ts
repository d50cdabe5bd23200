import { readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../errors";
import { writeFileAtomic } from "../../files";
import { maskExternalId } from "../../redact";
import { defineCommand } from "../define";
import { integer } from "../options";
import { handleSignalsInCommand } from "../run";

interface SandboxArgs {
  host: string;
  port: number;
  awsPort: number;
  https: boolean;
  latencyMs: number;
  fail5xx: number;
  fail429: number;
  dropRate: number;
  rateLimit?: number;
  seed?: number;
  stateFile?: string;
  tenantExternalId?: string;
  propagationDelay: number;
  load?: string[];
  legacyConnector?: string[];
}

const rate = (name: string) => (value: number) => {
  if (!(value >= 0 && value <= 1)) throw new UsageError(`--${name}: ${value} is not a share between 0 and 1.`);
  return value;
};

export const sandboxCommand = defineCommand<SandboxArgs>({
  command: "sandbox",
  describe: "Run a local manager (and a local AWS endpoint) for trying ds-onboard and testing pipelines offline",
  builder: (y) =>
    y
      .option("host", { type: "string", default: "127.0.0.1", describe: "loopback address to listen on" })
      .option("port", { type: "string", default: 4119, coerce: integer("port", 0, 65535), describe: "manager port (0: any free port)" })
      .option("aws-port", {
        type: "string",
        default: 4120,
        coerce: integer("aws-port", 0, 65535),
        describe: "local AWS endpoint port (0: any free port)",
      })
      .option("https", { type: "boolean", default: false, describe: "serve HTTPS with a generated self-signed certificate" })
      .option("latency-ms", { type: "number", default: 0, describe: "delay before every answer" })
      .option("fail-5xx", { type: "number", default: 0, coerce: rate("fail-5xx"), describe: "share of requests answered 502/503/504" })
      .option("fail-429", { type: "number", default: 0, coerce: rate("fail-429"), describe: "share of requests answered 429" })
      .option("drop-rate", {
        type: "number",
        default: 0,
        coerce: rate("drop-rate"),
        describe: "share of connections dropped without an answer",
      })
      .option("rate-limit", { type: "number", describe: "requests per second; more are answered 429 with Retry-After" })
      .option("seed", { type: "number", describe: "seed for the failure draws (repeatable runs)" })
      .option("state-file", { type: "string", describe: "keep tenant, settings and connectors in this JSON file" })
      .option("tenant-external-id", { type: "string", describe: "the sandbox tenant's external ID (default: a new UUID)" })
      .option("propagation-delay", { type: "number", default: 0, describe: "seconds before a new role can be assumed (IAM propagation)" })
      .option("load", {
        type: "string",
        array: true,
        describe: "load the roles of a synthesized output folder or cdk.tf.json (stands in for cdktf deploy)",
      })
      .option("legacy-connector", {
        type: "string",
        array: true,
        describe: "add a connector as an older manager made it: <role ARN>=<user-defined external ID> (to try migrate-external-id)",
      }),
  handler: async ({ io }, args) => {
    const { startSandbox } = require("../../sandbox/start") as typeof import("../../sandbox/start");
    const { seedFromTerraform } = require("../../sandbox/seed") as typeof import("../../sandbox/seed");
    let sandbox: import("../../sandbox/start").Sandbox;
    try {
      sandbox = await startSandbox({
        aws: { host: args.host, port: args.awsPort },
        manager: {
          host: args.host,
          port: args.port,
          https: args.https,
          latencyMs: args.latencyMs,
          failures: { rate5xx: args.fail5xx, rate429: args.fail429, dropRate: args.dropRate },
          rateLimit: args.rateLimit,
          seed: args.seed,
          stateFile: args.stateFile,
          externalId: args.tenantExternalId,
        },
      });
    } catch (error) {
      if ((error as { code?: string }).code === "EADDRINUSE")
        throw new UsageError(
          `Port ${(error as { port?: number }).port ?? ""} is in use; pick others with --port and --aws-port (0 picks a free one).`,
        );
      throw error;
    }
    // Whatever fails from here on (a bad --legacy-connector, an unreadable --load) stops the servers.
    try {
      const { manager, aws } = sandbox;
      aws.iam.propagationDelayMs = args.propagationDelay * 1000;
      for (const spec of args.legacyConnector ?? []) {
        const at = spec.lastIndexOf("=");
        const arn = spec.slice(0, at);
        const { checkIamArn, checkExternalId } = require("../../validation") as typeof import("../../validation");
        const problem =
          at < 0
            ? { problem: "is not <role ARN>=<external ID>", fix: "Write e.g. arn:aws:iam::111122223333:role/DS=my-old-id" }
            : (checkIamArn(arn, ["role"]) ?? checkExternalId(spec.slice(at + 1)));
        if (problem) throw new UsageError(`--legacy-connector ${arn}: ${problem.problem}. ${problem.fix}.`);
        const c = manager.addLegacyConnector({ crossAccountRoleArn: arn, externalId: spec.slice(at + 1) });
        io.info(`added legacy connector ${c.ID} for ${arn} (user-defined external ID ${maskExternalId(spec.slice(at + 1))})`);
      }
      for (const path of args.load ?? []) {
        const files = statSync(path).isDirectory()
          ? readdirSync(join(path, "stacks")).map((s) => join(path, "stacks", s, "cdk.tf.json"))
          : [path];
        for (const file of files) {
          const roles = seedFromTerraform(aws.iam, JSON.parse(readFileSync(file, "utf8")));
          io.info(`loaded ${roles.length} role(s) from ${file} (standing in for cdktf deploy)`);
        }
      }
      let caBundle: string | undefined;
      if (manager.caCertificate) {
        caBundle = join(tmpdir(), `ds-onboard-sandbox-ca-${process.pid}.pem`);
        writeFileAtomic(caBundle, manager.caCertificate, 0o644);
      }
      const env: Record<string, string> = {
        DS_MANAGER_URL: manager.url,
        DS_API_KEY: manager.keys.admin,
        ...(caBundle ? { DS_CA_BUNDLE: caBundle } : {}),
        AWS_ENDPOINT_URL: aws.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIASANDBOX000000000",
        AWS_SECRET_ACCESS_KEY: "sandbox-secret",
      };
      const text = [
        `sandbox manager     ${manager.url}`,
        `  tenant external ID  ${maskExternalId(manager.externalId)} (print it with \`ds-onboard external-id get\`)`,
        `  administrator key   ${manager.keys.admin}`,
        `  restricted key      ${manager.keys.restricted} (its role may not view the external ID)`,
        ...(caBundle ? [`  CA certificate      ${caBundle}`] : []),
        `local AWS endpoint  ${aws.url} (STS, IAM, EC2, SSM, Secrets Manager, Organizations)`,
        "",
        "Paste into another shell:",
        ...Object.entries(env).map(([k, v]) => `export ${k}='${v}'`),
        "",
        "Press Ctrl+C to stop.",
      ].join("\n");
      // Listen for the stop signal before saying we are ready: a script may send it at once.
      handleSignalsInCommand();
      const stopped = new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      io.result({ managerUrl: manager.url, keys: manager.keys, awsEndpointUrl: aws.url, caBundle, env }, text);
      await stopped;
      await sandbox.stop();
      io.info("sandbox stopped");
    } catch (error) {
      await sandbox.stop();
      throw error;
    }
    return undefined;
  },
});
