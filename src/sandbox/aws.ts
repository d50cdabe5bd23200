/**
 * A local AWS endpoint on 127.0.0.1 for the sandbox and the tests: the real AWS SDK v3 clients
 * talk to it through `AWS_ENDPOINT_URL`. It speaks the AWS JSON protocol (SSM, Secrets Manager,
 * Organizations) and the query protocols (STS, IAM, EC2) for the calls ds-onboard makes, and
 * S3's REST protocol ({@link LocalS3}: what Terraform's S3 backend calls), told apart by the
 * service `s3` in the SigV4 credential scope.
 * Signatures are not checked; the caller is told apart by the access key ID in the SigV4
 * credential scope: a key from AssumeRole is that session, other keys map to `identities`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { sleep } from "../onboard/pool";
import { AwsFault, LocalIam, type LocalPolicy, type LocalPolicyVersion, type LocalRole } from "./iam";
import { closeServer, listenOnLoopback } from "./listen";
import { LocalS3 } from "./s3";
import { createDeploymentRole, DEFAULT_DEPLOYMENT_ROLE, SANDBOX_PIPELINE_ACCOUNT } from "./seed";

export interface LocalAwsOptions {
  readonly host?: string;
  readonly port?: number;
  /** The identity each access key ID stands for. Default: any key is `arn:aws:iam::000000000000:user/sandbox`. */
  readonly identities?: Readonly<Record<string, string>>;
  readonly region?: string;
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

/** A member account to add with {@link LocalAws.addOrganization}: its ID, or more. */
export type OrganizationAccountInput =
  | string
  | {
      readonly id: string;
      readonly name?: string;
      /** Default: the root. */
      readonly parentId?: string;
      /** Default: ACTIVE. */
      readonly state?: string;
      readonly email?: string;
      /** The deployment role to create there (a name or an ARN). Default: the organization's. */
      readonly deploymentRole?: string;
    };

export interface OrganizationOptions {
  /** The member accounts; each gets the deployment role, unless already there. */
  readonly accounts: readonly OrganizationAccountInput[];
  /**
   * The management account, whose root the deployment roles trust. Default:
   * {@link SANDBOX_PIPELINE_ACCOUNT}, the account of the endpoint's default identity (any
   * access key not otherwise mapped), so that a pipeline with any key can assume them.
   */
  readonly managementAccountId?: string;
  /** The role created in each member account. Default: `OrganizationAccountAccessRole`. */
  readonly deploymentRoleName?: string;
}

const DEFAULT_IDENTITY = `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:user/sandbox`;

export class LocalAws {
  url = "";
  readonly parameters = new Map<string, Parameter>();
  readonly secrets = new Map<string, Secret>();
  /** Calls by `service.Action`. */
  readonly calls = new Map<string, number>();
  /** Roles, policies and sessions, per account. */
  readonly iam = new LocalIam();
  /** Buckets and objects (S3 requests); `createBucket` makes one. */
  readonly s3: LocalS3;
  /** The organization Organizations calls read; none by default. */
  organization?: LocalOrganization;
  /** Share of Organizations calls answered TooManyRequestsException (throttling). */
  organizationsThrottleRate = 0;
  /** How long each Organizations call takes to answer, in ms. */
  organizationsLatencyMs = 0;
  /** The most Organizations calls that were in progress at once. */
  organizationsPeakInFlight = 0;
  private organizationsInFlight = 0;
  private server?: Server;
  private readonly identities: Map<string, string>;

  private constructor(private readonly options: LocalAwsOptions) {
    this.identities = new Map(Object.entries(options.identities ?? {}));
    this.s3 = new LocalS3(options.region ?? "us-east-1");
  }

  static async start(options: LocalAwsOptions = {}): Promise<LocalAws> {
    const host = options.host ?? "127.0.0.1";
    const aws = new LocalAws(options);
    aws.server = createServer((req, res) => void aws.handle(req, res));
    const port = await listenOnLoopback(aws.server, host, options.port ?? 0, "local AWS endpoint");
    aws.url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return aws;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await closeServer(server);
  }

  private get region(): string {
    return this.options.region ?? "us-east-1";
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const caller = this.caller(req);
    if (credentialScope(req)?.service === "s3") {
      this.s3.handle(req, res, raw, caller.account, (operation) => this.count(`s3.${operation}`));
      return;
    }
    const body = raw.toString("utf8");
    const target = req.headers["x-amz-target"];
    if (typeof target === "string") {
      const [prefix, action] = target.split(".");
      const service =
        prefix === "AmazonSSM"
          ? "ssm"
          : prefix === "secretsmanager"
            ? "secretsmanager"
            : prefix === "AWSOrganizationsV20161128"
              ? "organizations"
              : prefix;
      this.count(`${service}.${action}`);
      const organizations = service === "organizations";
      if (organizations) this.organizationsPeakInFlight = Math.max(this.organizationsPeakInFlight, ++this.organizationsInFlight);
      try {
        if (organizations && this.organizationsLatencyMs) await sleep(this.organizationsLatencyMs);
        const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
        const output = this.json(service, action, input);
        send(res, 200, "application/x-amz-json-1.1", JSON.stringify(output));
      } catch (e) {
        const fault = e instanceof AwsFault ? e : new AwsFault("InternalFailure", String(e), 500);
        send(res, fault.status, "application/x-amz-json-1.1", JSON.stringify({ __type: fault.code, message: fault.message }));
      } finally {
        if (organizations) this.organizationsInFlight--;
      }
      return;
    }
    const form = new URLSearchParams(body);
    const action = form.get("Action") ?? "";
    const service = credentialScope(req)?.service ?? "sts";
    this.count(`${service}.${action}`);
    const requestId = randomUUID();
    try {
      const target = service === "iam" ? this.iam.iamRequestTarget(caller.arn, action, (name) => form.get(name) ?? undefined) : undefined;
      if (service !== "sts" && !this.iam.mayCall(caller.arn, `${service}:${action}`, target)) {
        throw service === "ec2"
          ? new AwsFault(
              "UnauthorizedOperation",
              `You are not authorized to perform this operation. User: ${caller.arn} is not authorized to perform: ec2:${action}`,
              403,
            )
          : new AwsFault("AccessDenied", `User: ${caller.arn} is not authorized to perform: ${service}:${action}`, 403);
      }
      const xml = this.query(service, action, form, caller);
      const body =
        service === "ec2"
          ? `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${xml}</${action}Response>`
          : `<${action}Response xmlns="https://${service}.amazonaws.com/doc/"><${action}Result>${xml}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
      send(res, 200, "text/xml", body);
    } catch (e) {
      const fault = e instanceof AwsFault ? e : new AwsFault("InternalFailure", String(e), 500);
      const body =
        service === "ec2"
          ? `<Response><Errors><Error><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
          : `<ErrorResponse><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${escapeXml(fault.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
      send(res, fault.status, "text/xml", body);
    }
  }

  private count(key: string): void {
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  /**
   * Creates an AWS organization, or adds accounts to the one there: the management account
   * (listed as an account too) and member accounts under the root (or the parent given), each
   * with a deployment role trusting the management account's root and allowed every action,
   * as AWS Organizations creates `OrganizationAccountAccessRole`. Organizations calls read it;
   * a pipeline calling with any access key (the default identity, in the management account)
   * can assume the deployment roles, e.g. through Terraform's `assume_role`.
   */
  addOrganization(options: OrganizationOptions): LocalOrganization {
    const management = options.managementAccountId ?? this.organization?.managementAccountId ?? SANDBOX_PIPELINE_ACCOUNT;
    if (this.organization && this.organization.managementAccountId !== management)
      throw new Error(`The organization's management account is ${this.organization.managementAccountId}, not ${management}.`);
    this.organization ??= {
      managementAccountId: management,
      rootId: "r-sb01",
      units: [],
      accounts: [{ Id: management, Name: "management", State: "ACTIVE", ParentId: "r-sb01" }],
    };
    const org = this.organization;
    for (const input of options.accounts) {
      const a = typeof input === "string" ? { id: input } : input;
      if (!/^\d{12}$/.test(a.id)) throw new Error(`Account ID ${a.id} is not 12 digits.`);
      if (!org.accounts.some((x) => x.Id === a.id))
        org.accounts.push({
          Id: a.id,
          Name: a.name ?? `member-${a.id}`,
          State: a.state ?? "ACTIVE",
          ParentId: a.parentId ?? org.rootId,
          Email: a.email,
        });
      if (a.id !== management)
        createDeploymentRole(
          this.iam,
          a.id,
          a.deploymentRole ?? options.deploymentRoleName ?? DEFAULT_DEPLOYMENT_ROLE,
          `arn:aws:iam::${management}:root`,
        );
    }
    return org;
  }

  /** Maps an access key ID to an identity (for static keys). */
  addIdentity(accessKeyId: string, arn: string): void {
    this.identities.set(accessKeyId, arn);
  }

  private caller(req: IncomingMessage): Caller {
    const accessKeyId = credentialScope(req)?.accessKeyId;
    const session = accessKeyId ? this.iam.sessions.get(accessKeyId) : undefined;
    const arn = session?.arn ?? (accessKeyId && this.identities.get(accessKeyId)) ?? DEFAULT_IDENTITY;
    return { accessKeyId, arn, account: arn.split(":")[4] };
  }

  private json(service: string, action: string, input: Record<string, unknown>): unknown {
    if (service === "organizations") return this.organizations(action, input);
    const name = String(input.Name ?? input.SecretId ?? "");
    switch (`${service}.${action}`) {
      case "ssm.PutParameter": {
        const existing = this.parameters.get(name);
        if (existing && !input.Overwrite)
          throw new AwsFault(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
          );
        const version = (existing?.Version ?? 0) + 1;
        this.parameters.set(name, {
          Name: name,
          Value: String(input.Value),
          Type: String(input.Type ?? "String"),
          Version: version,
          LastModifiedDate: Date.now() / 1000,
        });
        return { Version: version, Tier: "Standard" };
      }
      case "ssm.GetParameter": {
        const p = this.parameters.get(name);
        if (!p) throw new AwsFault("ParameterNotFound", `Parameter ${name} not found.`);
        const hidden = p.Type === "SecureString" && !input.WithDecryption;
        return {
          Parameter: {
            ...p,
            Value: hidden ? "(encrypted)" : p.Value,
            ARN: `arn:aws:ssm:${this.region}:000000000000:parameter/${name.replace(/^\//, "")}`,
            DataType: "text",
          },
        };
      }
      case "secretsmanager.CreateSecret": {
        if (this.secrets.has(name))
          throw new AwsFault("ResourceExistsException", `The operation failed because the secret ${name} already exists.`);
        const secret = {
          Name: name,
          ARN: `arn:aws:secretsmanager:${this.region}:000000000000:secret:${name}-${randomUUID().slice(0, 6)}`,
          SecretString: String(input.SecretString),
          VersionId: randomUUID(),
        };
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
        return {
          ARN: secret.ARN,
          Name: secret.Name,
          SecretString: secret.SecretString,
          VersionId: secret.VersionId,
          VersionStages: ["AWSCURRENT"],
          CreatedDate: Date.now() / 1000,
        };
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
        return {
          Organization: {
            Id: "o-sandbox0001",
            MasterAccountId: org.managementAccountId,
            Arn: `arn:aws:organizations::${org.managementAccountId}:organization/o-sandbox0001`,
            FeatureSet: "ALL",
          },
        };
      case "ListRoots":
        return {
          Roots: [
            { Id: org.rootId, Name: "Root", Arn: `arn:aws:organizations::${org.managementAccountId}:root/o-sandbox0001/${org.rootId}` },
          ],
        };
      case "ListOrganizationalUnitsForParent": {
        const { items, next } = page(org.units.filter((u) => u.ParentId === parent));
        return { OrganizationalUnits: items.map((u) => ({ Id: u.Id, Name: u.Name })), NextToken: next };
      }
      case "ListAccounts": {
        const { items, next } = page(org.accounts);
        return { Accounts: items.map((a) => accountJson(a, org)), NextToken: next };
      }
      case "DescribeAccount": {
        const account = org.accounts.find((a) => a.Id === input.AccountId);
        if (!account) throw new AwsFault("AccountNotFoundException", "You specified an account that doesn't exist.");
        return { Account: accountJson(account, org) };
      }
      case "ListAccountsForParent": {
        const { items, next } = page(org.accounts.filter((a) => a.ParentId === parent));
        return {
          Accounts: items.map((a) => ({
            Id: a.Id,
            Name: a.Name,
            State: a.State,
            Status: a.State === "CLOSED" ? "SUSPENDED" : a.State,
            Email: a.Email ?? `${a.Id}@example.com`,
          })),
          NextToken: next,
        };
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

  private query(service: string, action: string, form: URLSearchParams, caller: Caller): string {
    const iam = this.iam;
    const param = (name: string) => form.get(name) ?? undefined;
    const need = (name: string) => {
      const v = form.get(name);
      if (!v) throw new AwsFault("ValidationError", `${name} is required.`);
      return v;
    };
    const x = escapeXml;
    switch (`${service}.${action}`) {
      case "sts.GetCallerIdentity": {
        const session = caller.accessKeyId ? iam.sessions.get(caller.accessKeyId) : undefined;
        const userId = session ? `${session.roleId}:${session.sessionName}` : `AIDA${caller.account}`;
        return `<Arn>${x(caller.arn)}</Arn><UserId>${x(userId)}</UserId><Account>${caller.account}</Account>`;
      }
      case "sts.AssumeRole": {
        const s = iam.assumeRole(
          caller.arn,
          need("RoleArn"),
          need("RoleSessionName"),
          param("ExternalId"),
          Number(param("DurationSeconds") ?? 3600),
        );
        return `<Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${x(s.secretAccessKey)}</SecretAccessKey><SessionToken>${x(s.sessionToken)}</SessionToken><Expiration>${s.expiration.toISOString()}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>${x(s.roleId)}:${x(s.sessionName)}</AssumedRoleId><Arn>${x(s.arn)}</Arn></AssumedRoleUser><PackedPolicySize>0</PackedPolicySize>`;
      }
      case "ec2.DescribeImages":
        return "<imagesSet/>";
      case "ec2.DescribeInstances":
        return "<reservationSet/>";
      case "ec2.DescribeTags":
        return "<tagSet/>";
      case "ec2.DescribeRegions":
        return `<regionInfo>${["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"].map((r) => `<item><regionName>${r}</regionName><regionEndpoint>ec2.${r}.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>`).join("")}</regionInfo>`;
      default:
        if (service === "iam") return iamQuery(iam, caller.account, action, form);
        throw new AwsFault("InvalidAction", `The local AWS endpoint does not implement ${service}.${action}.`);
    }
  }
}

/** The IAM query API over {@link LocalIam}, as the AWS SDKs and Terraform's AWS provider call it, for one account. */
function iamQuery(iam: LocalIam, account: string, action: string, form: URLSearchParams): string {
  const x = escapeXml;
  const param = (name: string) => form.get(name) ?? undefined;
  const need = (name: string) => {
    const v = form.get(name);
    if (!v) throw new AwsFault("ValidationError", `${name} is required.`);
    return v;
  };
  const date = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
  const tagsXml = (tags: Record<string, string>) =>
    `<Tags>${Object.entries(tags)
      .map(([k, v]) => `<member><Key>${x(k)}</Key><Value>${x(v)}</Value></member>`)
      .join("")}</Tags>`;
  const roleXml = (r: LocalRole) =>
    `<Role><Path>${x(r.path)}</Path><AssumeRolePolicyDocument>${x(encodeURIComponent(r.trustPolicy))}</AssumeRolePolicyDocument><MaxSessionDuration>${r.maxSessionDuration}</MaxSessionDuration><RoleId>${r.roleId}</RoleId><RoleName>${x(r.name)}</RoleName><Arn>${x(r.arn)}</Arn><CreateDate>${date(r.createdAt)}</CreateDate>${r.description === undefined ? "" : `<Description>${x(r.description)}</Description>`}${r.permissionsBoundary ? `<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>${x(r.permissionsBoundary)}</PermissionsBoundaryArn></PermissionsBoundary>` : ""}${tagsXml(r.tags)}<RoleLastUsed/></Role>`;
  const policyXml = (p: LocalPolicy, detail: boolean) =>
    `<Policy><PolicyName>${x(p.name)}</PolicyName><PolicyId>${p.policyId}</PolicyId><Arn>${x(p.arn)}</Arn><Path>${x(p.path)}</Path><DefaultVersionId>${p.defaultVersionId}</DefaultVersionId><AttachmentCount>${iam.attachmentCount(p.arn)}</AttachmentCount><PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount><IsAttachable>true</IsAttachable>${detail && p.description !== undefined ? `<Description>${x(p.description)}</Description>` : ""}<CreateDate>${date(p.createdAt)}</CreateDate><UpdateDate>${date(p.updatedAt)}</UpdateDate>${tagsXml(p.tags)}</Policy>`;
  const versionXml = (p: LocalPolicy, v: LocalPolicyVersion, withDocument: boolean) =>
    `${withDocument ? `<Document>${x(encodeURIComponent(v.document))}</Document>` : ""}<VersionId>${v.versionId}</VersionId><IsDefaultVersion>${v.versionId === p.defaultVersionId}</IsDefaultVersion><CreateDate>${date(v.createdAt)}</CreateDate>`;
  const members = (prefix: string) => {
    const out: string[] = [];
    for (let i = 1; form.has(`${prefix}.member.${i}`); i++) out.push(form.get(`${prefix}.member.${i}`)!);
    return out;
  };
  const tagsIn = () => {
    const tags: Record<string, string> = {};
    for (let i = 1; form.has(`Tags.member.${i}.Key`); i++)
      tags[form.get(`Tags.member.${i}.Key`)!] = form.get(`Tags.member.${i}.Value`) ?? "";
    return tags;
  };
  const notTruncated = "<IsTruncated>false</IsTruncated>";
  const role = () => iam.role(account, need("RoleName"));
  const positive = (name: string) => {
    const v = param(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 3600 || n > 43200)
      throw new AwsFault(
        "ValidationError",
        `1 validation error detected: Value '${v}' at '${name}' failed to satisfy constraint: Member must have value between 3600 and 43200`,
      );
    return n;
  };
  switch (action) {
    // Roles
    case "CreateRole": {
      const boundary = param("PermissionsBoundary");
      if (boundary) iam.policy(account, boundary);
      return roleXml(
        iam.createRole(account, need("RoleName"), need("AssumeRolePolicyDocument"), {
          path: param("Path"),
          maxSessionDuration: positive("MaxSessionDuration"),
          description: param("Description"),
          permissionsBoundary: boundary,
          tags: tagsIn(),
        }),
      );
    }
    case "GetRole":
      return roleXml(iam.visibleRole(account, need("RoleName")));
    case "ListRoles": {
      const prefix = param("PathPrefix") ?? "/";
      return `<Roles>${[...iam.account(account).roles.values()]
        .filter((r) => r.path.startsWith(prefix))
        .map((r) =>
          roleXml(r)
            .replace(/^<Role>/, "<member>")
            .replace(/<\/Role>$/, "</member>"),
        )
        .join("")}</Roles>${notTruncated}`;
    }
    case "UpdateRole": {
      const r = role();
      const max = positive("MaxSessionDuration");
      if (max !== undefined) r.maxSessionDuration = max;
      if (form.has("Description")) r.description = form.get("Description") ?? "";
      return "";
    }
    case "UpdateRoleDescription": {
      const r = role();
      r.description = form.get("Description") ?? "";
      return roleXml(r);
    }
    case "UpdateAssumeRolePolicy": {
      const r = role();
      const document = need("PolicyDocument");
      try {
        JSON.parse(document);
      } catch {
        throw new AwsFault("MalformedPolicyDocument", "Syntax errors in policy.");
      }
      r.trustPolicy = document;
      return "";
    }
    case "PutRolePermissionsBoundary": {
      const r = role();
      r.permissionsBoundary = iam.policy(account, need("PermissionsBoundary")).arn;
      return "";
    }
    case "DeleteRolePermissionsBoundary": {
      const r = role();
      if (!r.permissionsBoundary) throw new AwsFault("NoSuchEntity", `The role with name ${r.name} has no permissions boundary.`, 404);
      r.permissionsBoundary = undefined;
      return "";
    }
    case "TagRole": {
      const r = role();
      r.tags = { ...r.tags, ...tagsIn() };
      return "";
    }
    case "UntagRole": {
      const r = role();
      for (const key of members("TagKeys")) delete r.tags[key];
      return "";
    }
    case "ListRoleTags":
      return `${tagsXml(role().tags)}${notTruncated}`;
    case "DeleteRole":
      iam.deleteRole(account, need("RoleName"));
      return "";
    case "ListInstanceProfilesForRole":
      role();
      return `<InstanceProfiles/>${notTruncated}`;
    // Inline policies
    case "PutRolePolicy":
      iam.putInline(account, need("RoleName"), need("PolicyName"), need("PolicyDocument"));
      return "";
    case "ListRolePolicies": {
      const names = [...(iam.account(account).inline.get(role().name)?.keys() ?? [])];
      return `<PolicyNames>${names.map((n) => `<member>${x(n)}</member>`).join("")}</PolicyNames>${notTruncated}`;
    }
    case "GetRolePolicy": {
      const name = role().name;
      const policyName = need("PolicyName");
      const doc = iam.account(account).inline.get(name)?.get(policyName);
      if (doc === undefined) throw new AwsFault("NoSuchEntity", `The role policy with name ${policyName} cannot be found.`, 404);
      return `<RoleName>${x(name)}</RoleName><PolicyName>${x(policyName)}</PolicyName><PolicyDocument>${x(encodeURIComponent(doc))}</PolicyDocument>`;
    }
    case "DeleteRolePolicy":
      iam.deleteInline(account, need("RoleName"), need("PolicyName"));
      return "";
    // Attachments
    case "AttachRolePolicy": {
      const arn = need("PolicyArn");
      role();
      iam.policy(account, arn);
      iam.attach(account, need("RoleName"), arn);
      return "";
    }
    case "DetachRolePolicy":
      iam.detach(account, need("RoleName"), need("PolicyArn"));
      return "";
    case "ListAttachedRolePolicies": {
      const prefix = param("PathPrefix") ?? "/";
      const arns = iam.account(account).attached.get(role().name) ?? [];
      return `<AttachedPolicies>${arns
        .filter((a) => (a.split(":policy")[1] ?? "/").startsWith(prefix))
        .map((a) => `<member><PolicyName>${x(a.split("/").pop()!)}</PolicyName><PolicyArn>${x(a)}</PolicyArn></member>`)
        .join("")}</AttachedPolicies>${notTruncated}`;
    }
    // Managed policies
    case "CreatePolicy":
      return policyXml(
        iam.createPolicy(account, need("PolicyName"), need("PolicyDocument"), param("Path"), {
          description: param("Description"),
          tags: tagsIn(),
        }),
        false,
      );
    case "GetPolicy":
      return policyXml(iam.policy(account, need("PolicyArn")), true);
    case "DeletePolicy":
      iam.deletePolicy(account, need("PolicyArn"));
      return "";
    case "GetPolicyVersion": {
      const p = iam.policy(account, need("PolicyArn"));
      return `<PolicyVersion>${versionXml(p, iam.policyVersion(account, p.arn, need("VersionId")), true)}</PolicyVersion>`;
    }
    case "ListPolicyVersions": {
      const p = iam.policy(account, need("PolicyArn"));
      return `<Versions>${[...p.versions]
        .reverse()
        .map((v) => `<member>${versionXml(p, v, false)}</member>`)
        .join("")}</Versions>${notTruncated}`;
    }
    case "CreatePolicyVersion": {
      const arn = need("PolicyArn");
      const v = iam.createPolicyVersion(account, arn, need("PolicyDocument"), form.get("SetAsDefault") === "true");
      return `<PolicyVersion>${versionXml(iam.policy(account, arn), v, false)}</PolicyVersion>`;
    }
    case "SetDefaultPolicyVersion":
      iam.setDefaultPolicyVersion(account, need("PolicyArn"), need("VersionId"));
      return "";
    case "DeletePolicyVersion":
      iam.deletePolicyVersion(account, need("PolicyArn"), need("VersionId"));
      return "";
    case "TagPolicy": {
      const p = iam.ownPolicy(account, need("PolicyArn"));
      p.tags = { ...p.tags, ...tagsIn() };
      return "";
    }
    case "UntagPolicy": {
      const p = iam.ownPolicy(account, need("PolicyArn"));
      for (const key of members("TagKeys")) delete p.tags[key];
      return "";
    }
    case "ListPolicyTags":
      return `${tagsXml(iam.policy(account, need("PolicyArn")).tags)}${notTruncated}`;
    case "ListEntitiesForPolicy": {
      const arn = need("PolicyArn");
      iam.policy(account, arn);
      const roles = [...iam.account(account).attached].filter(([, arns]) => arns.includes(arn)).map(([name]) => iam.role(account, name));
      return `<PolicyGroups/><PolicyUsers/><PolicyRoles>${roles.map((r) => `<member><RoleName>${x(r.name)}</RoleName><RoleId>${r.roleId}</RoleId></member>`).join("")}</PolicyRoles>${notTruncated}`;
    }
    default:
      throw new AwsFault("InvalidAction", `The local AWS endpoint does not implement iam.${action}.`);
  }
}

function accountJson(a: LocalOrganization["accounts"][number], org: LocalOrganization) {
  return {
    Id: a.Id,
    Arn: `arn:aws:organizations::${org.managementAccountId}:account/o-sandbox0001/${a.Id}`,
    Name: a.Name,
    State: a.State,
    Status: a.State === "CLOSED" ? "SUSPENDED" : a.State,
    Email: a.Email ?? `${a.Id}@example.com`,
  };
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
