import { LocalAws } from "../../src/sandbox/aws";
import { SandboxManager, type SandboxManagerOptions } from "../../src/sandbox/manager";

/** Starts a sandbox manager (and a local AWS endpoint) for a test file; stops them after. */
export function useSandbox(options: SandboxManagerOptions = {}) {
  const env: { sandbox: SandboxManager; aws: LocalAws } = {} as never;
  beforeAll(async () => {
    env.sandbox = await SandboxManager.start({ record: true, ...options });
    env.aws = await LocalAws.start();
  });
  afterAll(async () => {
    await env.sandbox?.stop();
    await env.aws?.stop();
  });
  return env;
}

/** The environment a pipeline would set to use the sandbox. */
export function sandboxEnv(env: { sandbox: SandboxManager; aws: LocalAws }, key = env.sandbox.keys.admin): Record<string, string> {
  return pipelineEnv({ manager: env.sandbox, aws: env.aws }, key);
}

/** The environment of a pipeline using a sandbox manager and the local AWS endpoint. */
export function pipelineEnv(sb: { manager: SandboxManager; aws: LocalAws }, key = sb.manager.keys.admin): Record<string, string> {
  return {
    DS_MANAGER_URL: sb.manager.url,
    DS_API_KEY: key,
    AWS_ENDPOINT_URL: sb.aws.url,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIAPIPELINE00000000",
    AWS_SECRET_ACCESS_KEY: "pipeline",
  };
}
