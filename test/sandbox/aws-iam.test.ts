/**
 * The local AWS endpoint's IAM, STS and Organizations through the real AWS SDK clients, over
 * HTTP: every attribute read back as written, policy versions, IAM's refusals on delete, and
 * an organization whose deployment roles the pipeline can assume.
 */
import * as iam from "@aws-sdk/client-iam";
import * as org from "@aws-sdk/client-organizations";
import * as sts from "@aws-sdk/client-sts";
import { LocalAws } from "../../src/sandbox/aws";
import { SANDBOX_PIPELINE_ACCOUNT } from "../../src/sandbox/seed";

let aws: LocalAws;
const pipeline = { accessKeyId: "AKIAPIPELINE00000000", secretAccessKey: "pipeline" };
const client = <T>(Client: new (config: object) => T, credentials: object = pipeline): T =>
  new Client({ endpoint: aws.url, region: "us-east-1", maxAttempts: 1, credentials });

beforeAll(async () => {
  aws = await LocalAws.start();
});
afterAll(() => aws.stop());

const trust = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { AWS: "arn:aws:iam::147995105371:root" }, Action: "sts:AssumeRole" }],
});
const doc = (action: string) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: action, Resource: "*" }] });

describe("IAM roles", () => {
  it("reads back every attribute CreateRole took, and the updates", async () => {
    const c = client(iam.IAMClient);
    const created = await c.send(
      new iam.CreateRoleCommand({
        RoleName: "Full",
        Path: "/ds/",
        AssumeRolePolicyDocument: trust,
        Description: "a role",
        MaxSessionDuration: 7200,
        PermissionsBoundary: "arn:aws:iam::aws:policy/ReadOnlyAccess",
        Tags: [
          { Key: "team", Value: "security" },
          { Key: "empty", Value: "" },
        ],
      }),
    );
    expect(created.Role?.RoleId).toMatch(/^AROA[0-9A-F]{16}$/);
    const { Role: role } = await c.send(new iam.GetRoleCommand({ RoleName: "Full" }));
    expect(role).toMatchObject({
      RoleName: "Full",
      Path: "/ds/",
      Arn: `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:role/ds/Full`,
      RoleId: created.Role?.RoleId,
      Description: "a role",
      MaxSessionDuration: 7200,
      PermissionsBoundary: { PermissionsBoundaryType: "Policy", PermissionsBoundaryArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
      Tags: [
        { Key: "team", Value: "security" },
        { Key: "empty", Value: "" },
      ],
    });
    expect(role?.CreateDate?.getTime()).toBe(created.Role?.CreateDate?.getTime());
    expect(JSON.parse(decodeURIComponent(role!.AssumeRolePolicyDocument!))).toEqual(JSON.parse(trust));

    const newTrust = trust.replace("147995105371", "111122223333");
    await c.send(new iam.UpdateAssumeRolePolicyCommand({ RoleName: "Full", PolicyDocument: newTrust }));
    await c.send(new iam.UpdateRoleCommand({ RoleName: "Full", MaxSessionDuration: 3600 }));
    await c.send(new iam.UpdateRoleDescriptionCommand({ RoleName: "Full", Description: "changed" }));
    await c.send(new iam.DeleteRolePermissionsBoundaryCommand({ RoleName: "Full" }));
    await c.send(new iam.TagRoleCommand({ RoleName: "Full", Tags: [{ Key: "env", Value: "prod" }] }));
    await c.send(new iam.UntagRoleCommand({ RoleName: "Full", TagKeys: ["empty"] }));
    const after = (await c.send(new iam.GetRoleCommand({ RoleName: "Full" }))).Role!;
    expect(after).toMatchObject({ Description: "changed", MaxSessionDuration: 3600, RoleId: created.Role?.RoleId });
    expect(after.PermissionsBoundary).toBeUndefined();
    expect(decodeURIComponent(after.AssumeRolePolicyDocument!)).toBe(newTrust);
    expect((await c.send(new iam.ListRoleTagsCommand({ RoleName: "Full" }))).Tags).toEqual([
      { Key: "team", Value: "security" },
      { Key: "env", Value: "prod" },
    ]);
  });

  it("refuses a bad session duration, a malformed trust policy and a boundary that does not exist", async () => {
    const c = client(iam.IAMClient);
    await expect(
      c.send(new iam.CreateRoleCommand({ RoleName: "Bad", AssumeRolePolicyDocument: trust, MaxSessionDuration: 60 })),
    ).rejects.toMatchObject({ name: "ValidationError" });
    await expect(c.send(new iam.CreateRoleCommand({ RoleName: "Bad", AssumeRolePolicyDocument: "{" }))).rejects.toMatchObject({
      name: "MalformedPolicyDocumentException",
    });
    await expect(
      c.send(
        new iam.CreateRoleCommand({
          RoleName: "Bad",
          AssumeRolePolicyDocument: trust,
          PermissionsBoundary: "arn:aws:iam::000000000000:policy/Nope",
        }),
      ),
    ).rejects.toMatchObject({ name: "NoSuchEntityException" });
    expect(aws.iam.accounts.get(SANDBOX_PIPELINE_ACCOUNT)?.roles.has("Bad")).toBe(false);
  });

  it("deletes a role only once its policies are detached and deleted, as IAM does", async () => {
    const c = client(iam.IAMClient);
    await c.send(new iam.CreateRoleCommand({ RoleName: "Gone", AssumeRolePolicyDocument: trust }));
    const { Policy: p } = await c.send(new iam.CreatePolicyCommand({ PolicyName: "GonePolicy", PolicyDocument: doc("ec2:Describe*") }));
    await c.send(new iam.AttachRolePolicyCommand({ RoleName: "Gone", PolicyArn: p!.Arn }));
    await c.send(new iam.PutRolePolicyCommand({ RoleName: "Gone", PolicyName: "inline", PolicyDocument: doc("s3:List*") }));
    expect((await c.send(new iam.ListInstanceProfilesForRoleCommand({ RoleName: "Gone" }))).InstanceProfiles).toEqual([]);

    await expect(c.send(new iam.DeleteRoleCommand({ RoleName: "Gone" }))).rejects.toMatchObject({ name: "DeleteConflictException" });
    await expect(c.send(new iam.DeletePolicyCommand({ PolicyArn: p!.Arn }))).rejects.toMatchObject({ name: "DeleteConflictException" });
    expect((await c.send(new iam.GetPolicyCommand({ PolicyArn: p!.Arn }))).Policy?.AttachmentCount).toBe(1);

    await c.send(new iam.DetachRolePolicyCommand({ RoleName: "Gone", PolicyArn: p!.Arn }));
    await expect(c.send(new iam.DetachRolePolicyCommand({ RoleName: "Gone", PolicyArn: p!.Arn }))).rejects.toMatchObject({
      name: "NoSuchEntityException",
    });
    await expect(c.send(new iam.DeleteRoleCommand({ RoleName: "Gone" }))).rejects.toMatchObject({ name: "DeleteConflictException" });
    expect((await c.send(new iam.ListRolePoliciesCommand({ RoleName: "Gone" }))).PolicyNames).toEqual(["inline"]);
    await c.send(new iam.DeleteRolePolicyCommand({ RoleName: "Gone", PolicyName: "inline" }));
    await c.send(new iam.DeleteRoleCommand({ RoleName: "Gone" }));
    await c.send(new iam.DeletePolicyCommand({ PolicyArn: p!.Arn }));
    await expect(c.send(new iam.GetRoleCommand({ RoleName: "Gone" }))).rejects.toMatchObject({ name: "NoSuchEntityException" });
    await expect(c.send(new iam.GetPolicyCommand({ PolicyArn: p!.Arn }))).rejects.toMatchObject({ name: "NoSuchEntityException" });
  });
});

describe("IAM managed policies", () => {
  it("keeps description, tags, IDs and up to five versions; deletes only the non-default ones, then the policy", async () => {
    const c = client(iam.IAMClient);
    const { Policy: created } = await c.send(
      new iam.CreatePolicyCommand({
        PolicyName: "Versioned",
        Path: "/ds/",
        Description: "versions",
        PolicyDocument: doc("ec2:DescribeInstances"),
        Tags: [{ Key: "team", Value: "security" }],
      }),
    );
    const arn = `arn:aws:iam::${SANDBOX_PIPELINE_ACCOUNT}:policy/ds/Versioned`;
    expect(created).toMatchObject({ Arn: arn, DefaultVersionId: "v1", AttachmentCount: 0 });
    expect(created?.PolicyId).toMatch(/^ANPA[0-9A-F]{16}$/);
    await expect(
      c.send(new iam.CreatePolicyCommand({ PolicyName: "Versioned", Path: "/ds/", PolicyDocument: doc("x:y") })),
    ).rejects.toMatchObject({
      name: "EntityAlreadyExistsException",
    });
    expect((await c.send(new iam.GetPolicyCommand({ PolicyArn: arn }))).Policy).toMatchObject({
      Description: "versions",
      PolicyId: created?.PolicyId,
      Tags: [{ Key: "team", Value: "security" }],
    });

    for (let i = 2; i <= 5; i++)
      expect(
        (
          await c.send(
            new iam.CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc(`ec2:Describe${i}`), SetAsDefault: i === 3 }),
          )
        ).PolicyVersion,
      ).toMatchObject({ VersionId: `v${i}`, IsDefaultVersion: i === 3 });
    await expect(
      c.send(new iam.CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc("ec2:Describe6") })),
    ).rejects.toMatchObject({
      name: "LimitExceededException",
    });
    const versions = (await c.send(new iam.ListPolicyVersionsCommand({ PolicyArn: arn }))).Versions!;
    expect(versions.map((v) => [v.VersionId, v.IsDefaultVersion])).toEqual([
      ["v5", false],
      ["v4", false],
      ["v3", true],
      ["v2", false],
      ["v1", false],
    ]);
    const current = (await c.send(new iam.GetPolicyVersionCommand({ PolicyArn: arn, VersionId: "v3" }))).PolicyVersion!;
    expect(decodeURIComponent(current.Document!)).toBe(doc("ec2:Describe3"));
    expect((await c.send(new iam.GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId).toBe("v3");

    await expect(c.send(new iam.DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v3" }))).rejects.toMatchObject({
      name: "DeleteConflictException",
    });
    await expect(c.send(new iam.DeletePolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({ name: "DeleteConflictException" });
    await c.send(new iam.SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v5" }));
    for (const v of ["v1", "v2", "v3", "v4"]) await c.send(new iam.DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: v }));
    // Version numbers are never reused.
    expect(
      (await c.send(new iam.CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc("a:b") }))).PolicyVersion?.VersionId,
    ).toBe("v6");
    await c.send(new iam.DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v6" }));

    await c.send(new iam.TagPolicyCommand({ PolicyArn: arn, Tags: [{ Key: "env", Value: "prod" }] }));
    await c.send(new iam.UntagPolicyCommand({ PolicyArn: arn, TagKeys: ["team"] }));
    expect((await c.send(new iam.ListPolicyTagsCommand({ PolicyArn: arn }))).Tags).toEqual([{ Key: "env", Value: "prod" }]);
    await c.send(new iam.DeletePolicyCommand({ PolicyArn: arn }));
    await expect(c.send(new iam.GetPolicyCommand({ PolicyArn: arn }))).rejects.toMatchObject({ name: "NoSuchEntityException" });
  });

  it("attaches only policies that exist", async () => {
    const c = client(iam.IAMClient);
    await c.send(new iam.CreateRoleCommand({ RoleName: "Attach", AssumeRolePolicyDocument: trust }));
    await expect(
      c.send(new iam.AttachRolePolicyCommand({ RoleName: "Attach", PolicyArn: "arn:aws:iam::000000000000:policy/Missing" })),
    ).rejects.toMatchObject({ name: "NoSuchEntityException" });
    await c.send(new iam.AttachRolePolicyCommand({ RoleName: "Attach", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }));
    expect((await c.send(new iam.ListAttachedRolePoliciesCommand({ RoleName: "Attach" }))).AttachedPolicies).toEqual([
      { PolicyName: "ReadOnlyAccess", PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" },
    ]);
  });

  it("answers an action it does not implement with a fault naming it", async () => {
    await expect(client(iam.IAMClient).send(new iam.ListUsersCommand({}))).rejects.toMatchObject({
      name: "InvalidAction",
      message: "The local AWS endpoint does not implement iam.ListUsers.",
    });
  });
});

describe("an organization", () => {
  it("lists its accounts, each with a deployment role the pipeline assumes; more can be added", async () => {
    const local = await LocalAws.start();
    try {
      local.addOrganization({ accounts: ["111100000001", { id: "111100000002", name: "staging" }] });
      local.addOrganization({ accounts: ["111100000003"], deploymentRoleName: "AWSControlTowerExecution" });
      const o = new org.OrganizationsClient({ endpoint: local.url, region: "us-east-1", maxAttempts: 1, credentials: pipeline });
      const { Organization } = await o.send(new org.DescribeOrganizationCommand({}));
      expect(Organization?.MasterAccountId).toBe(SANDBOX_PIPELINE_ACCOUNT);
      const { Accounts } = await o.send(new org.ListAccountsCommand({}));
      expect(Accounts?.map((a) => [a.Id, a.Name, a.Status])).toEqual([
        [SANDBOX_PIPELINE_ACCOUNT, "management", "ACTIVE"],
        ["111100000001", "member-111100000001", "ACTIVE"],
        ["111100000002", "staging", "ACTIVE"],
        ["111100000003", "member-111100000003", "ACTIVE"],
      ]);
      expect((await o.send(new org.DescribeAccountCommand({ AccountId: "111100000002" }))).Account?.Name).toBe("staging");
      const [root] = (await o.send(new org.ListRootsCommand({}))).Roots!;
      expect((await o.send(new org.ListAccountsForParentCommand({ ParentId: root.Id }))).Accounts).toHaveLength(4);

      const s = new sts.STSClient({ endpoint: local.url, region: "us-east-1", maxAttempts: 1, credentials: pipeline });
      expect((await s.send(new sts.GetCallerIdentityCommand({}))).Account).toBe(SANDBOX_PIPELINE_ACCOUNT);
      for (const [account, role] of [
        ["111100000001", "OrganizationAccountAccessRole"],
        ["111100000003", "AWSControlTowerExecution"],
      ]) {
        const assumed = await s.send(
          new sts.AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${role}`, RoleSessionName: "ds-onboard" }),
        );
        const roleId = local.iam.role(account, role).roleId;
        expect(assumed.AssumedRoleUser?.AssumedRoleId).toBe(`${roleId}:ds-onboard`);
        const inside = new sts.STSClient({
          endpoint: local.url,
          region: "us-east-1",
          maxAttempts: 1,
          credentials: {
            accessKeyId: assumed.Credentials!.AccessKeyId!,
            secretAccessKey: assumed.Credentials!.SecretAccessKey!,
            sessionToken: assumed.Credentials!.SessionToken,
          },
        });
        expect(await inside.send(new sts.GetCallerIdentityCommand({}))).toMatchObject({
          Account: account,
          Arn: `arn:aws:sts::${account}:assumed-role/${role}/ds-onboard`,
          UserId: `${roleId}:ds-onboard`,
        });
      }
      // Another account's identity is not trusted.
      local.addIdentity("AKIAOUTSIDER00000000", "arn:aws:iam::999999999999:user/outsider");
      const outsider = new sts.STSClient({
        endpoint: local.url,
        region: "us-east-1",
        maxAttempts: 1,
        credentials: { accessKeyId: "AKIAOUTSIDER00000000", secretAccessKey: "x" },
      });
      await expect(
        outsider.send(
          new sts.AssumeRoleCommand({ RoleArn: "arn:aws:iam::111100000001:role/OrganizationAccountAccessRole", RoleSessionName: "x" }),
        ),
      ).rejects.toMatchObject({ name: "AccessDenied" });
      expect(() => local.addOrganization({ accounts: [], managementAccountId: "222200000000" })).toThrow(
        /management account is 000000000000/,
      );
    } finally {
      await local.stop();
    }
  });
});
