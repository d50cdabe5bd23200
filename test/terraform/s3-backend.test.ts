/**
 * Real Terraform with the S3 backend and native locking (`use_lockfile`, a `<key>.tflock` object
 * written with `If-None-Match: *`) against the local AWS endpoint's S3, with the backend that
 * `addAccountStacks({ backend: { type: "s3", endpoint } })` generates: the state lands in the
 * bucket under each stack's key, a lock held elsewhere stops a second run, and two working
 * directories (a pipeline and a laptop) share one state.
 *
 * Terraform runs with `AWS_ENDPOINT_URL` pointing at a trap that answers every request with an
 * error, and only IAM and STS (`AWS_ENDPOINT_URL_IAM` / `_STS`, for the AWS provider) pointing at
 * the sandbox: the backend reaches S3 through its `endpoints.s3` alone and calls nothing else.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, TerraformOutput, TerraformStack } from "cdktf";
import { type AccountStacksProps, addAccountStacks } from "../../constructs";
import { addBackend } from "../../constructs/backend";
import { LocalAws } from "../../src/sandbox/aws";
import { selfSignedCertificate } from "../../src/sandbox/cert";
import { closeServer, listenOnLoopback } from "../../src/sandbox/listen";
import { describeWithTerraform, eachLimit, TerraformRunner, type TerraformTools, terraformAvailability } from "../helpers/terraform";

const BUCKET = "ds-onboard-state";
const EXTERNAL_ID = "tenant-external-id-s3-backend-1";
const ROLE = "DeepSecurityCrossAccountRole";

jest.setTimeout(180_000);

/** An endpoint that answers every request with a non-retryable AWS error and records it. */
async function startTrap(): Promise<{ url: string; requests: string[]; server: Server }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1] ?? "?";
    requests.push(`${service} ${req.method} ${req.url}`);
    req.resume();
    const body =
      "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>trap: AWS_ENDPOINT_URL was used</Message></Error><RequestId>0</RequestId></ErrorResponse>";
    res.writeHead(403, { "content-type": "text/xml", "content-length": Buffer.byteLength(body) }).end(body);
  });
  const port = await listenOnLoopback(server, "127.0.0.1", 0, "trap");
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

/** HTTPS on loopback in front of the sandbox (a self-signed CA), recording the headers of each PUT. */
async function startTlsFront(target: string) {
  const { cert, key } = await selfSignedCertificate(1);
  const puts: Record<string, string | string[] | undefined>[] = [];
  const server = createHttpsServer({ cert, key }, (req, res) => {
    if (req.method === "PUT") puts.push({ ...req.headers });
    const upstream = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(upstream);
  });
  const port = await listenOnLoopback(server as unknown as Server, "127.0.0.1", 0, "TLS front");
  return { url: `https://127.0.0.1:${port}`, cert, puts, server: server as unknown as Server };
}

/** The terraform state in the bucket under `key`, parsed. */
interface State {
  serial: number;
  lineage: string;
  resources: { type: string; name: string; instances: { attributes: Record<string, unknown> }[] }[];
}

describeWithTerraform("real Terraform keeps its state in the sandbox's S3 with native locking", () => {
  const availability = terraformAvailability();
  let tools: TerraformTools;
  let work: string;
  let aws: LocalAws;
  let trap: Awaited<ReturnType<typeof startTrap>>;
  let tf: TerraformRunner;
  const ran: { what: string; ms: number }[] = [];

  beforeAll(async () => {
    if (!availability.ok) throw new Error("unreachable: describeWithTerraform checked");
    tools = availability.tools;
    work = mkdtempSync(join(tmpdir(), "ds-onboard-s3-backend-"));
    aws = await LocalAws.start();
    aws.s3.createBucket(BUCKET);
    trap = await startTrap();
    const services = { AWS_ENDPOINT_URL_IAM: aws.url, AWS_ENDPOINT_URL_STS: aws.url };
    tf = new (class extends TerraformRunner {
      /** Adds IAM's and STS's endpoints; an empty value in `extra` removes a variable. */
      environment(extra: Record<string, string> = {}) {
        return Object.fromEntries(Object.entries(super.environment({ ...services, ...extra })).filter(([, v]) => v !== ""));
      }
    })(tools, { endpoint: trap.url });
  });

  afterAll(async () => {
    if (tf)
      console.log(
        `terraform with the S3 backend (${tools.version}): ${tf.summary()}; ${ran.map((r) => `${r.what} ${(r.ms / 1000).toFixed(1)} s`).join("; ")}`,
      );
    await aws?.stop();
    if (trap) await closeServer(trap.server);
    if (work) rmSync(work, { recursive: true, force: true });
    if (tf) rmSync(tf.dir, { recursive: true, force: true });
  });

  /** Times a test's body for the summary. */
  async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      ran.push({ what, ms: Date.now() - started });
    }
  }

  /** Synthesizes the account stacks with the S3 backend on `endpoint`; each stack's folder, name and state key. */
  function synth(name: string, props: Omit<AccountStacksProps, "externalIds" | "backend">, endpoint = aws.url) {
    const app = new App({ outdir: join(work, name) });
    const stacks = addAccountStacks(app, {
      ...props,
      externalIds: [EXTERNAL_ID],
      backend: { type: "s3", bucket: BUCKET, endpoint },
    });
    app.synth();
    return stacks.map((s) => ({ dir: join(app.outdir, "stacks", s.node.id), name: s.node.id, key: `ds-onboard/${s.node.id}.tfstate` }));
  }

  /** A copy of a synthesized stack in its own folder, as another clone of the repository would have it. */
  function clone(stackDir: string, as: string): string {
    const dir = join(work, "clones", as);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(stackDir, "cdk.tf.json"), join(dir, "cdk.tf.json"));
    return dir;
  }

  const state = (key: string): State => JSON.parse(aws.s3.getObject(BUCKET, key)!.body.toString("utf8")) as State;
  const roleArns = (key: string) =>
    state(key)
      .resources.filter((r) => r.type === "aws_iam_role")
      .map((r) => r.instances[0].attributes.arn);
  const lockKeys = () => aws.s3.keys(BUCKET).filter((k) => k.endsWith(".tflock"));
  const lockInfo = (id: string, key: string) =>
    JSON.stringify({
      ID: id,
      Operation: "OperationTypeApply",
      Info: "",
      Who: "ci@pipeline-runner-7",
      Version: "1.11.4",
      Created: new Date().toISOString(),
      Path: `${BUCKET}/${key}`,
    });

  describe("one account, one stack", () => {
    let stack: { dir: string; name: string; key: string };
    const account = "310000000001";

    beforeAll(() => {
      aws.addOrganization({ accounts: [account] });
      [stack] = synth("single", { layout: "single-stack", stackName: "roles-single", accounts: [{ accountId: account }] });
    });

    it("synthesizes the backend with the custom-endpoint settings and native locking", () => {
      const json = JSON.parse(readFileSync(join(stack.dir, "cdk.tf.json"), "utf8")) as { terraform: { backend: { s3: unknown } } };
      expect(json.terraform.backend.s3).toEqual({
        bucket: BUCKET,
        key: stack.key,
        region: "us-east-1",
        encrypt: true,
        endpoints: { s3: aws.url },
        use_path_style: true,
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        use_lockfile: true,
      });
    });

    it("init and apply: the state object holds the role under the stack's key, no lock is left, a second plan has no changes", async () => {
      await timed("init+apply", async () => {
        await tf.init(stack.dir);
        await tf.apply(stack.dir);
      });
      expect(aws.s3.keys(BUCKET)).toEqual([stack.key]);
      const object = aws.s3.getObject(BUCKET, stack.key)!;
      expect(object.contentType).toBe("application/json");
      expect(object.etag).toBe(`"${createHash("md5").update(object.body).digest("hex")}"`);
      // Terraform sends a SHA-256 checksum with every write; the endpoint verified and kept it.
      expect(object.checksums).toEqual({ SHA256: createHash("sha256").update(object.body).digest("base64") });
      expect(object.serverSideEncryption).toBe("AES256");
      expect(roleArns(stack.key)).toEqual([`arn:aws:iam::${account}:role/${ROLE}`]);
      expect(aws.iam.accounts.get(account)?.roles.has(ROLE)).toBe(true);
      expect(existsSync(join(stack.dir, "terraform.tfstate"))).toBe(false);
      // The lock was taken by a conditional write, and released.
      expect(aws.calls.get("s3.PutObject")).toBeGreaterThanOrEqual(2);
      expect(aws.calls.get("s3.DeleteObject")).toBeGreaterThanOrEqual(1);
      expect(lockKeys()).toEqual([]);

      const plan = await tf.plan(stack.dir);
      expect({ code: plan.code, summary: plan.changes.summary, stderr: plan.stderr }).toEqual({
        code: 0,
        summary: "No changes. Your infrastructure matches the configuration.",
        stderr: "",
      });
      const list = await tf.ok(stack.dir, ["state", "list", "-no-color"]);
      expect(list.stdout.split("\n").filter(Boolean)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^aws_iam_role\.accounts_account-310000000001_role_[0-9A-F]{8}$/)]),
      );
      expect(lockKeys()).toEqual([]);
      expect(trap.requests).toEqual([]);
    });

    it("a lock held by another run stops plan -lock-timeout=0s; the plan waits for a released lock; force-unlock removes a stale one", async () => {
      const lock = `${stack.key}.tflock`;
      const id = "6b1f4d0e-8a53-4c39-9d0b-2b7d61a0c0de";
      aws.s3.putObject(BUCKET, lock, lockInfo(id, stack.key), { contentType: "application/json", ifNoneMatch: "*" });
      const serial = state(stack.key).serial;

      const blocked = await tf.plan(stack.dir, ["-lock-timeout=0s"]);
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain("Error acquiring the state lock");
      expect(blocked.stderr).toContain(id);
      expect(blocked.stderr).toContain("ci@pipeline-runner-7");
      expect(JSON.parse(aws.s3.getObject(BUCKET, lock)!.body.toString()).ID).toBe(id);
      const refusedApply = await tf.run(stack.dir, ["apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"]);
      expect(refusedApply.code).toBe(1);
      expect(refusedApply.stderr).toContain("Error acquiring the state lock");
      expect(state(stack.key).serial).toBe(serial);

      // Released while a plan waits for it: the plan goes ahead.
      const release = setTimeout(() => aws.s3.deleteObject(BUCKET, lock), 2_000);
      try {
        const waited = await timed("plan waiting for a lock", () => tf.plan(stack.dir, ["-lock-timeout=60s"]));
        expect({ code: waited.code, stderr: waited.stderr }).toEqual({ code: 0, stderr: "" });
        expect(waited.ms).toBeGreaterThanOrEqual(2_000);
      } finally {
        clearTimeout(release);
      }
      expect(lockKeys()).toEqual([]);

      // A stale lock: force-unlock with another ID refuses; with its ID removes it.
      aws.s3.putObject(BUCKET, lock, lockInfo(id, stack.key), { contentType: "application/json" });
      const wrong = await tf.run(stack.dir, ["force-unlock", "-force", "-no-color", "00000000-0000-0000-0000-000000000000"]);
      expect(wrong.code).toBe(1);
      expect(lockKeys()).toEqual([lock]);
      await tf.ok(stack.dir, ["force-unlock", "-force", "-no-color", id]);
      expect(lockKeys()).toEqual([]);
      expect((await tf.plan(stack.dir, ["-lock-timeout=0s"])).code).toBe(0);
      expect(trap.requests).toEqual([]);
    });

    it("a running Terraform holds the lock (terraform console): another clone cannot plan until it exits", async () => {
      const holderDir = clone(stack.dir, "holder");
      const otherDir = clone(stack.dir, "other");
      await eachLimit([holderDir, otherDir], (d) => tf.init(d), 2);
      const lock = `${stack.key}.tflock`;
      let holder: ChildProcess | undefined;
      try {
        holder = spawn(tools.terraform, ["console", "-no-color"], {
          cwd: holderDir,
          env: tf.environment(),
          stdio: ["pipe", "pipe", "pipe"],
        });
        const exited = new Promise<number | null>((resolve) => holder!.on("close", resolve));
        const deadline = Date.now() + 60_000;
        while (!aws.s3.buckets.get(BUCKET)!.objects.has(lock)) {
          if (Date.now() > deadline) throw new Error("terraform console did not take the lock within 60 s");
          await new Promise((r) => setTimeout(r, 100));
        }
        const held = JSON.parse(aws.s3.getObject(BUCKET, lock)!.body.toString()) as { ID: string; Path: string };
        expect(held.Path).toBe(`${BUCKET}/${stack.key}`);

        const blocked = await tf.plan(otherDir, ["-lock-timeout=0s"]);
        expect(blocked.code).toBe(1);
        expect(blocked.stderr).toContain("Error acquiring the state lock");
        expect(blocked.stderr).toContain(held.ID);

        holder.stdin!.end();
        expect(await exited).toBe(0);
        expect(lockKeys()).toEqual([]);
        const after = await tf.plan(otherDir, ["-lock-timeout=0s"]);
        expect({ code: after.code, stderr: after.stderr }).toEqual({ code: 0, stderr: "" });
      } finally {
        if (holder && holder.exitCode === null) holder.kill();
      }
    });
  });

  it("a stack per account: two stacks share the bucket, one state key each, each with its own account's role", async () => {
    const accounts = ["320000000001", "320000000002"];
    aws.addOrganization({ accounts });
    const stacks = synth("per-account", {
      layout: "stack-per-account",
      stackName: "roles-spa",
      accounts: accounts.map((accountId) => ({ accountId })),
    });
    expect(stacks.map((s) => s.key)).toEqual(accounts.map((a) => `ds-onboard/roles-spa-${a}.tfstate`));
    await timed("2 stacks init+apply", () =>
      eachLimit(stacks, async (s) => {
        await tf.init(s.dir);
        await tf.apply(s.dir);
      }),
    );
    expect(aws.s3.keys(BUCKET, "ds-onboard/roles-spa-")).toEqual(stacks.map((s) => s.key));
    stacks.forEach((s, i) => {
      expect(roleArns(s.key)).toEqual([`arn:aws:iam::${accounts[i]}:role/${ROLE}`]);
    });
    expect(state(stacks[0].key).lineage).not.toBe(state(stacks[1].key).lineage);
    expect(lockKeys()).toEqual([]);
    for (const plan of await eachLimit(stacks, (s) => tf.plan(s.dir))) expect(plan.code).toBe(0);
    expect(trap.requests).toEqual([]);
  });

  it("a pipeline and a laptop share it: apply in one working directory, the other sees no changes", async () => {
    const account = "330000000001";
    aws.addOrganization({ accounts: [account] });
    const [stack] = synth("shared", { layout: "single-stack", stackName: "roles-shared", accounts: [{ accountId: account }] });
    const pipeline = clone(stack.dir, "pipeline");
    const laptop = clone(stack.dir, "laptop");
    await eachLimit([pipeline, laptop], (d) => tf.init(d), 2);

    const before = await tf.plan(laptop);
    expect(before.code).toBe(2);
    expect(before.changes.create).toHaveLength(3);

    await timed("pipeline apply", () => tf.apply(pipeline));
    const after = await tf.plan(laptop);
    expect({ code: after.code, summary: after.changes.summary, stderr: after.stderr }).toEqual({
      code: 0,
      summary: "No changes. Your infrastructure matches the configuration.",
      stderr: "",
    });
    // The laptop reads the pipeline's state; neither keeps one locally.
    expect(JSON.parse((await tf.ok(laptop, ["state", "pull"])).stdout).lineage).toBe(state(stack.key).lineage);
    for (const d of [pipeline, laptop]) expect(existsSync(join(d, "terraform.tfstate"))).toBe(false);

    expect(trap.requests).toEqual([]);
  });

  it("over HTTPS, the AWS SDK for Go sends aws-chunked bodies with a trailing SHA-256; the endpoint stores the decoded state", async () => {
    const front = await startTlsFront(aws.url);
    try {
      const ca = join(work, "sandbox-ca.pem");
      writeFileSync(ca, front.cert);
      const account = "340000000001";
      aws.addOrganization({ accounts: [account] });
      const [stack] = synth("tls", { layout: "single-stack", stackName: "roles-tls", accounts: [{ accountId: account }] }, front.url);
      await timed("init+apply over HTTPS", async () => {
        await tf.ok(stack.dir, ["init", "-input=false", "-no-color"], { AWS_CA_BUNDLE: ca });
        await tf.ok(stack.dir, ["apply", "-auto-approve", "-input=false", "-no-color"], { AWS_CA_BUNDLE: ca });
      });
      const stateWrites = front.puts.filter((h) => h["if-none-match"] === undefined);
      const lockWrites = front.puts.filter((h) => h["if-none-match"] === "*");
      expect(stateWrites.length).toBeGreaterThanOrEqual(1);
      expect(lockWrites.length).toBeGreaterThanOrEqual(1);
      for (const h of front.puts)
        expect({
          "content-encoding": h["content-encoding"],
          "x-amz-content-sha256": h["x-amz-content-sha256"],
          "x-amz-trailer": h["x-amz-trailer"],
        }).toEqual({
          "content-encoding": "aws-chunked",
          "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
          "x-amz-trailer": "x-amz-checksum-sha256",
        });
      const object = aws.s3.getObject(BUCKET, stack.key)!;
      expect(object.body.length).toBe(Number(stateWrites.at(-1)!["x-amz-decoded-content-length"]));
      expect(object.checksums.SHA256).toBe(createHash("sha256").update(object.body).digest("base64"));
      expect(roleArns(stack.key)).toEqual([`arn:aws:iam::${account}:role/${ROLE}`]);
      const plan = await tf.run(stack.dir, ["plan", "-detailed-exitcode", "-input=false", "-no-color"], { AWS_CA_BUNDLE: ca });
      expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: "" });
    } finally {
      await closeServer(front.server);
    }
  });

  describe("the backend alone, without AWS_ENDPOINT_URL for anything", () => {
    /** A stack with only the backend and an output: nothing but the backend talks to AWS. */
    function backendOnly(name: string, drop?: string): string {
      const app = new App({ outdir: join(work, `alone-${name}`) });
      const stack = new TerraformStack(app, name);
      new TerraformOutput(stack, "stack", { value: name });
      addBackend(stack, { type: "s3", bucket: BUCKET, endpoint: aws.url });
      app.synth();
      const file = join(app.outdir, "stacks", name, "cdk.tf.json");
      if (drop) {
        const json = JSON.parse(readFileSync(file, "utf8")) as { terraform: { backend: { s3: Record<string, unknown> } } };
        delete json.terraform.backend.s3[drop];
        writeFileSync(file, JSON.stringify(json));
      }
      return join(app.outdir, "stacks", name);
    }
    /** Only the trap as AWS_ENDPOINT_URL, no service endpoints: any call besides endpoints.s3 lands there. */
    const alone = { AWS_ENDPOINT_URL_IAM: "", AWS_ENDPOINT_URL_STS: "" };

    it("works with endpoints.s3, use_path_style, skip_credentials_validation and skip_requesting_account_id", async () => {
      const dir = backendOnly("alone-full");
      const before = trap.requests.length;
      await tf.ok(dir, ["init", "-input=false", "-no-color"], alone);
      await tf.ok(dir, ["apply", "-auto-approve", "-input=false", "-no-color"], alone);
      expect(JSON.parse(aws.s3.getObject(BUCKET, "ds-onboard/alone-full.tfstate")!.body.toString()).outputs.stack.value).toBe("alone-full");
      expect(trap.requests.slice(before)).toEqual([]);
    });

    it.each([
      ["skip_credentials_validation", /^sts POST/, "validating provider credentials: retrieving caller identity from STS"],
      ["skip_requesting_account_id", /^(iam|sts) POST/, "Retrieving AWS account details"],
    ])("without %s, init calls another AWS service (and fails here)", async (attribute, call, message) => {
      const dir = backendOnly(`alone-no-${attribute.replace(/_/g, "-")}`, attribute);
      const before = trap.requests.length;
      const init = await tf.run(dir, ["init", "-input=false", "-no-color"], alone);
      expect(init.code).toBe(1);
      expect(init.stderr).toContain(message);
      expect(trap.requests.slice(before)).toEqual(expect.arrayContaining([expect.stringMatching(call)]));
    });
  });
});
