import { buildTrustPolicy, checkTrustPolicy, type FindingCode, type TrustExpectation } from "../../src/policy/trust";

const WS = "arn:aws:iam::147995105371:root";
const ID = "tenant-external-id-1234";
const OLD = "legacy-user-defined-id-9876";
const expect1: TrustExpectation = { principalArn: WS, externalIds: [ID] };

const allow = (extra: Record<string, unknown> = {}) => ({
  Effect: "Allow",
  Principal: { AWS: WS },
  Action: "sts:AssumeRole",
  Condition: { StringEquals: { "sts:ExternalId": ID } },
  ...extra,
});
const doc = (...Statement: unknown[]) => ({ Version: "2012-10-17", Statement });

type Case = [name: string, policy: unknown, codes: FindingCode[], expectation?: TrustExpectation];

// Each row: a policy, and exactly the findings the checker must name (none = correct).
const cases: Case[] = [
  ["the built policy", buildTrustPolicy({ principalArn: WS, externalIds: [ID] }), []],
  ["a single statement, not a list", { Version: "2012-10-17", Statement: allow() }, []],
  ["Action as a list", doc(allow({ Action: ["sts:AssumeRole"] })), []],
  ["Principal AWS as a list", doc(allow({ Principal: { AWS: [WS] } })), []],
  ["Principal as a bare account ID", doc(allow({ Principal: { AWS: "147995105371" } })), []],
  ["a JSON string", JSON.stringify(doc(allow())), []],
  ["IAM's URL-encoded JSON", encodeURIComponent(JSON.stringify(doc(allow()))), []],
  ["the condition key in other letter case", doc(allow({ Condition: { StringEquals: { "STS:externalid": ID } } })), []],
  ["ForAnyValue:StringEquals", doc(allow({ Condition: { "ForAnyValue:StringEquals": { "sts:ExternalId": ID } } })), []],
  ["StringLike without wildcards", doc(allow({ Condition: { StringLike: { "sts:ExternalId": ID } } })), []],
  [
    "an extra narrowing condition",
    doc(allow({ Condition: { StringEquals: { "sts:ExternalId": ID }, Bool: { "aws:SecureTransport": "true" } } })),
    [],
  ],
  [
    "IfExists alongside a StringEquals that pins the ID",
    doc(allow({ Condition: { StringEquals: { "sts:ExternalId": ID }, StringLikeIfExists: { "sts:ExternalId": "*" } } })),
    [],
  ],
  [
    "two IDs in a migration window",
    doc(allow({ Condition: { StringEquals: { "sts:ExternalId": [ID, OLD] } } })),
    [],
    { principalArn: WS, externalIds: [ID, OLD] },
  ],
  [
    "two IDs in two statements",
    doc(allow(), allow({ Condition: { StringEquals: { "sts:ExternalId": OLD } } })),
    [],
    { principalArn: WS, externalIds: [ID, OLD] },
  ],
  [
    "the built policy with its Deny guard, when a guard is required",
    buildTrustPolicy({ principalArn: WS, externalIds: [ID], denyWithoutExternalId: true }),
    [],
    { ...expect1, requireDenyGuard: true },
  ],
  [
    "a broad Allow closed by a Deny guard",
    doc(allow({ Condition: undefined }), {
      Effect: "Deny",
      Principal: "*",
      Action: "sts:AssumeRole",
      Condition: { StringNotEquals: { "sts:ExternalId": ID } },
    }),
    [],
  ],

  ["no condition", doc(allow({ Condition: undefined })), ["missing-condition"]],
  [
    "a condition on another key only",
    doc(allow({ Condition: { StringEquals: { "aws:PrincipalAccount": "147995105371" } } })),
    ["missing-condition"],
  ],
  ["Principal *", doc(allow({ Principal: "*" })), ["wildcard-principal"]],
  ["Principal AWS *", doc(allow({ Principal: { AWS: "*" } })), ["wildcard-principal"]],
  ["a wildcard in the principal ARN", doc(allow({ Principal: { AWS: "arn:aws:iam::*:root" } })), ["wildcard-principal"]],
  ["an extra principal", doc(allow({ Principal: { AWS: [WS, "arn:aws:iam::999988887777:root"] } })), ["extra-principal"]],
  [
    "a service principal beside the manager",
    doc(allow(), { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }),
    ["extra-principal"],
  ],
  ["another account only", doc(allow({ Principal: { AWS: "arn:aws:iam::999988887777:root" } })), ["extra-principal", "no-allow"]],
  [
    "NotPrincipal",
    doc({
      Effect: "Allow",
      NotPrincipal: { AWS: "arn:aws:iam::999988887777:root" },
      Action: "sts:AssumeRole",
      Condition: { StringEquals: { "sts:ExternalId": ID } },
    }),
    ["not-principal"],
  ],
  ["StringLike with a wildcard", doc(allow({ Condition: { StringLike: { "sts:ExternalId": "tenant-*" } } })), ["string-like-wildcard"]],
  ["StringEqualsIfExists", doc(allow({ Condition: { StringEqualsIfExists: { "sts:ExternalId": ID } } })), ["if-exists"]],
  [
    "a Null test that admits no ID",
    doc(allow({ Condition: { Null: { "sts:ExternalId": "true" } } })),
    ["null-test", "missing-external-id"],
  ],
  ["StringEqualsIgnoreCase", doc(allow({ Condition: { StringEqualsIgnoreCase: { "sts:ExternalId": ID } } })), ["ignore-case"]],
  [
    "StringNotEquals in an Allow",
    doc(allow({ Condition: { StringNotEquals: { "sts:ExternalId": "something-else" } } })),
    ["negated-condition"],
  ],
  ["ForAllValues:StringEquals", doc(allow({ Condition: { "ForAllValues:StringEquals": { "sts:ExternalId": ID } } })), ["for-all-values"]],
  ["a Deny guard expected but missing", doc(allow()), ["missing-deny"], { ...expect1, requireDenyGuard: true }],
  [
    "a Deny guard on another key does not count",
    doc(allow(), { Effect: "Deny", Principal: "*", Action: "sts:AssumeRole", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    ["missing-deny"],
    { ...expect1, requireDenyGuard: true },
  ],
  ["an extra action", doc(allow({ Action: ["sts:AssumeRole", "sts:TagSession"] })), ["extra-action"]],
  ["sts:* grants more than AssumeRole", doc(allow({ Action: "sts:*" })), ["extra-action"]],
  ["Action *", doc(allow({ Action: "*" })), ["extra-action"]],
  [
    "NotAction",
    doc({ Effect: "Allow", Principal: { AWS: WS }, NotAction: "iam:*", Condition: { StringEquals: { "sts:ExternalId": ID } } }),
    ["not-action"],
  ],
  [
    "a wrong external ID",
    doc(allow({ Condition: { StringEquals: { "sts:ExternalId": OLD } } })),
    ["missing-external-id", "unexpected-external-id"],
  ],
  [
    "an old ID still accepted after the migration",
    doc(allow({ Condition: { StringEquals: { "sts:ExternalId": [ID, OLD] } } })),
    ["unexpected-external-id"],
  ],
  ["only one of the two migration IDs", doc(allow()), ["missing-external-id"], { principalArn: WS, externalIds: [ID, OLD] }],
  [
    "a Deny guard that drops the tenant ID",
    doc(allow(), {
      Effect: "Deny",
      Principal: { AWS: "*" },
      Action: "sts:AssumeRole",
      Condition: { StringNotEquals: { "sts:ExternalId": OLD } },
    }),
    ["missing-external-id"],
  ],
  ["an unconditional Deny", doc(allow(), { Effect: "Deny", Principal: "*", Action: "sts:AssumeRole" }), ["denied"]],
  ["sts:AssumeRole for another action only", doc(allow({ Action: "sts:TagSession" })), ["extra-action", "no-allow"]],
  [
    "a role principal when the account root is intended",
    doc(allow({ Principal: { AWS: "arn:aws:iam::147995105371:role/Other" } })),
    ["extra-principal", "no-allow"],
  ],
  ["not JSON", "{not json", ["invalid-document"]],
  ["no Statement", { Version: "2012-10-17" }, ["invalid-document"]],
  ["a bad Effect", doc({ Effect: "Maybe", Principal: { AWS: WS }, Action: "sts:AssumeRole" }), ["invalid-document"]],
];

describe("checkTrustPolicy", () => {
  it("has a table of at least 25 policies", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    expect(cases.filter(([, , codes]) => codes.length > 0).length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("%s", (_name, policy, codes, expectation = expect1) => {
    const result = checkTrustPolicy(policy, expectation);
    expect([...new Set(result.findings.map((f) => f.code))].sort()).toEqual([...codes].sort());
    expect(result.ok).toBe(codes.length === 0);
  });

  it("reports the IDs the principal can use, and never prints an ID in full", () => {
    const result = checkTrustPolicy(doc(allow({ Condition: { StringEquals: { "sts:ExternalId": [ID, OLD] } } })), expect1);
    expect([...result.acceptedExternalIds].sort()).toEqual([ID, OLD].sort());
    const text = JSON.stringify(result.findings);
    expect(text).toContain("****9876");
    expect(text).not.toContain(OLD);
    expect(text).not.toContain(ID);
  });

  it("says when any ID (or none) is accepted", () => {
    expect(checkTrustPolicy(doc(allow({ Condition: undefined })), expect1).acceptsAnyExternalId).toBe(true);
    expect(checkTrustPolicy(doc(allow()), expect1).acceptsAnyExternalId).toBe(false);
  });

  it("names the statement and what to do", () => {
    const [finding] = checkTrustPolicy(doc(allow({ Sid: "Legacy", Condition: undefined })), expect1).findings;
    expect(finding).toMatchObject({ code: "missing-condition", severity: "opening", statement: 'Statement "Legacy"' });
    expect(finding.message).toMatch(/StringEquals on sts:ExternalId/);
  });

  it("compares account-ID principals in the intended principal's partition", () => {
    const gov = "arn:aws-us-gov:iam::123456789012:root";
    expect(checkTrustPolicy(doc(allow({ Principal: { AWS: "123456789012" } })), { principalArn: gov, externalIds: [ID] }).ok).toBe(true);
    expect(
      checkTrustPolicy(doc(allow({ Principal: { AWS: "arn:aws:iam::123456789012:root" } })), { principalArn: gov, externalIds: [ID] }).ok,
    ).toBe(false);
  });
});

describe("buildTrustPolicy", () => {
  it("uses the vendor's statement shape", () => {
    expect(buildTrustPolicy({ principalArn: WS, externalIds: [ID] })).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "DeepSecurityManagerAssumeRole",
          Effect: "Allow",
          Principal: { AWS: WS },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "sts:ExternalId": ID } },
        },
      ],
    });
  });

  it("lists both IDs during a migration, and adds the Deny guard on request", () => {
    const policy = buildTrustPolicy({ principalArn: WS, externalIds: [OLD, ID], denyWithoutExternalId: true });
    const [allowStmt, deny] = policy.Statement as { Condition: Record<string, Record<string, unknown>>; Effect: string }[];
    expect(allowStmt.Condition.StringEquals["sts:ExternalId"]).toEqual([OLD, ID]);
    expect(deny.Effect).toBe("Deny");
    expect(deny.Condition.StringNotEquals["sts:ExternalId"]).toEqual([OLD, ID]);
  });
});
