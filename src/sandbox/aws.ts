/**
 * A local AWS endpoint on 127.0.0.1 for the sandbox and the tests: the real AWS SDK v3 clients
 * talk to it through `AWS_ENDPOINT_URL`. It speaks the AWS JSON protocol (SSM, Secrets Manager)
 * and the query protocol (STS) for the calls ds-onboard makes. Signatures are not checked; the
 * caller is told apart by the access key ID in the SigV4 credential scope.
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { isLoopback } from "./manager";

export interface LocalAwsOptions {
  readonly host?: string;
  readonly port?: number;
  /** The identity each access key ID stands for. Default: any key is `arn:aws:iam::000000000000:user/sandbox`. */
  readonly identities?: Readonly<Record<string, string>>;
  readonly region?: string;
}

/** An AWS error as the SDK parses it: its code (`__type` or `<Code>`) and message. */
class AwsFault extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
  }
}

interface Parameter {
  Name: string;
  Value: string;
  Type: string;
  Version: number;
  LastModifiedDate: number;
}

interface Secret {
  Name: string;
  ARN: string;
  SecretString: string;
  VersionId: string;
}

type Caller = { accessKeyId?: string; arn: string; account: string };

/** An AWS organization for discovery: a root, nested OUs and accounts. */
export interface LocalOrganization {
  managementAccountId: string;
  rootId: string;
  units: { Id: string; Name: string; ParentId: string }[];
  accounts: { Id: string; Name: string; State: string; ParentId: string; Email?: string }[];
}

const DEFAULT_IDENTITY = "arn:aws:iam::000000000000:user/sandbox";

export class LocalAws {
  url = "";
  readonly parameters = new Map<string, Parameter>();
  readonly secrets = new Map<string, Secret>();
  /** Calls by `service.Action`. */
  readonly calls = new Map<string, number>();
  /** The organization Organizations calls read; none by default. */
  organization?: LocalOrganization;
  /** Share of Organizations calls answered TooManyRequestsException (throttling). */
  organizationsThrottleRate = 0;
  private server?: Server;

  private constructor(private readonly options: LocalAwsOptions) {}

  static async start(options: LocalAwsOptions = {}): Promise<LocalAws> {
    const host = options.host ?? "127.0.0.1";
    if (!isLoopback(host)) throw new Error(`The local AWS endpoint listens on loopback addresses only, not ${host}.`);
    const aws = new LocalAws(options);
    aws.server = createServer((req, res) => void aws.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      aws.server!.once("error", reject);
      aws.server!.listen(options.port ?? 0, host, () => resolve());
    });
    aws.url = `http://${host}:${(aws.server.address() as AddressInfo).port}`;
    return aws;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private get region(): string {
    return this.options.region ?? "us-east-1";
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const caller = this.caller(req);
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") {
      const [prefix, action] = target.split(".");
      const service = prefix === "AmazonSSM" ? "ssm" : prefix === "secretsmanager" ? "secretsmanager" : prefix === "AWSOrganizationsV20161128" ? "organizations" : prefix;
      this.count(`${service}.${action}`);
      try {
        const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        const output = this.json(service, action, input);
        send(res, 200, "application/x-amz-json-1.1", JSON.stringify(output));
      } catch (e) {
        const fault = e instanceof AwsFault ? e : new AwsFault("InternalFailure", String(e), 500);
        send(res, fault.status, "application/x-amz-json-1.1", JSON.stringify({ __type: fault.code, message: fault.message }));
      }
      return;
    }
    const form = new URLSearchParams(body);
    const action = form.get("Action") ?? "";
    const service = credentialScope(req)?.service ?? "sts";
    this.count(`${service}.${action}`);
    try {
      const xml = this.query(service, action, form, caller);
      send(res, 200, "text/xml", `<${action}Response xmlns="https://${service}.amazonaws.com/doc/"><${action}Result>${xml}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`);
    } catch (e) {
      const fault = e instanceof AwsFault ? e : new AwsFault("InternalFailure", String(e), 500);
      send(res, fault.status, "text/xml", `<ErrorResponse><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
    }
  }

  private count(key: string): void {
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  private caller(req: IncomingMessage): Caller {
    const accessKeyId = credentialScope(req)?.accessKeyId;
    const arn = (accessKeyId && this.options.identities?.[accessKeyId]) ?? DEFAULT_IDENTITY;
    return { accessKeyId, arn, account: arn.split(":")[4] };
  }

  private json(service: string, action: string, input: Record<string, unknown>): unknown {
    if (service === "organizations") return this.organizations(action, input);
    const name = String(input.Name ?? input.SecretId ?? "");
    switch (`${service}.${action}`) {
      case "ssm.PutParameter": {
        const existing = this.parameters.get(name);
        if (existing && !input.Overwrite) throw new AwsFault("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
        const version = (existing?.Version ?? 0) + 1;
        this.parameters.set(name, { Name: name, Value: String(input.Value), Type: String(input.Type ?? "String"), Version: version, LastModifiedDate: Date.now() / 1000 });
        return { Version: version, Tier: "Standard" };
      }
      case "ssm.GetParameter": {
        const p = this.parameters.get(name);
        if (!p) throw new AwsFault("ParameterNotFound", `Parameter ${name} not found.`);
        const hidden = p.Type === "SecureString" && !input.WithDecryption;
        return { Parameter: { ...p, Value: hidden ? "(encrypted)" : p.Value, ARN: `arn:aws:ssm:${this.region}:000000000000:parameter/${name.replace(/^\//, "")}`, DataType: "text" } };
      }
      case "secretsmanager.CreateSecret": {
        if (this.secrets.has(name)) throw new AwsFault("ResourceExistsException", `The operation failed because the secret ${name} already exists.`);
        const secret = { Name: name, ARN: `arn:aws:secretsmanager:${this.region}:000000000000:secret:${name}-${randomUUID().slice(0, 6)}`, SecretString: String(input.SecretString), VersionId: randomUUID() };
        this.secrets.set(name, secret);
        return { ARN: secret.ARN, Name: name, VersionId: secret.VersionId };
      }
      case "secretsmanager.PutSecretValue": {
        const secret = this.findSecret(name);
        secret.SecretString = String(input.SecretString);
        secret.VersionId = randomUUID();
        return { ARN: secret.ARN, Name: secret.Name, VersionId: secret.VersionId, VersionStages: ["AWSCURRENT"] };
      }
      case "secretsmanager.GetSecretValue": {
        const secret = this.findSecret(name);
        return { ARN: secret.ARN, Name: secret.Name, SecretString: secret.SecretString, VersionId: secret.VersionId, VersionStages: ["AWSCURRENT"], CreatedDate: Date.now() / 1000 };
      }
      default:
        throw new AwsFault("UnknownOperationException", `The local AWS endpoint does not implement ${service}.${action}.`);
    }
  }

  private organizations(action: string, input: Record<string, unknown>): unknown {
    const org = this.organization;
    if (!org) throw new AwsFault("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.");
    if (Math.random() < this.organizationsThrottleRate) throw new AwsFault("TooManyRequestsException", "Rate exceeded.");
    const page = <T>(items: T[]) => {
      const size = Math.min(Number(input.MaxResults ?? 20), 20);
      const start = Number(input.NextToken ?? 0);
      const next = start + size < items.length ? String(start + size) : undefined;
      return { items: items.slice(start, start + size), next };
    };
    const parent = String(input.ParentId ?? "");
    switch (action) {
      case "DescribeOrganization":
        return { Organization: { Id: "o-sandbox0001", MasterAccountId: org.managementAccountId, Arn: `arn:aws:organizations::${org.managementAccountId}:organization/o-sandbox0001`, FeatureSet: "ALL" } };
      case "ListRoots":
        return { Roots: [{ Id: org.rootId, Name: "Root", Arn: `arn:aws:organizations::${org.managementAccountId}:root/o-sandbox0001/${org.rootId}` }] };
      case "ListOrganizationalUnitsForParent": {
        const { items, next } = page(org.units.filter((u) => u.ParentId === parent));
        return { OrganizationalUnits: items.map((u) => ({ Id: u.Id, Name: u.Name })), NextToken: next };
      }
      case "ListAccountsForParent": {
        const { items, next } = page(org.accounts.filter((a) => a.ParentId === parent));
        return { Accounts: items.map((a) => ({ Id: a.Id, Name: a.Name, State: a.State, Status: a.State === "CLOSED" ? "SUSPENDED" : a.State, Email: a.Email ?? `${a.Id}@example.com` })), NextToken: next };
      }
      default:
        throw new AwsFault("UnknownOperationException", `The local AWS endpoint does not implement organizations.${action}.`);
    }
  }

  private findSecret(idOrArn: string): Secret {
    const secret = this.secrets.get(idOrArn) ?? [...this.secrets.values()].find((s) => s.ARN === idOrArn);
    if (!secret) throw new AwsFault("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    return secret;
  }

  private query(service: string, action: string, _form: URLSearchParams, caller: Caller): string {
    switch (`${service}.${action}`) {
      case "sts.GetCallerIdentity":
        return `<Arn>${escapeXml(caller.arn)}</Arn><UserId>${escapeXml(caller.accessKeyId ?? "AIDASANDBOX")}</UserId><Account>${caller.account}</Account>`;
      default:
        throw new AwsFault("InvalidAction", `The local AWS endpoint does not implement ${service}.${action}.`);
    }
  }
}

function credentialScope(req: IncomingMessage): { accessKeyId: string; service: string } | undefined {
  const auth = req.headers.authorization ?? "";
  const m = /Credential=([^/]+)\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return m ? { accessKeyId: m[1], service: m[2] } : undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "x-amzn-requestid": randomUUID() });
  res.end(body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}
