/**
 * Property-based tests of the policy module: for random external IDs and principals, the built
 * trust policy passes the checker and the independent iam-simulate proof; random mutations of a
 * good policy that open it are flagged.
 */
import fc from "fast-check";
import type { PolicyDocument, PolicyStatement } from "../../src/policy/document";
import { buildTrustPolicy, checkTrustPolicy } from "../../src/policy/trust";
import { simulateAssumeRole } from "../helpers/simulate";

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@:/_-".split("");
const externalId = fc.array(fc.constantFrom(...ID_CHARS), { minLength: 2, maxLength: 96 }).map((c) => c.join(""));
const accountId = fc.stringMatching(/^\d{12}$/);
const roleName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9+=,.@_-]{0,30}$/);
const principal = fc.oneof(
  accountId.map((a) => ({ arn: `arn:aws:iam::${a}:root`, caller: `arn:aws:iam::${a}:role/caller` })),
  fc.tuple(accountId, roleName).map(([a, r]) => ({ arn: `arn:aws:iam::${a}:role/${r}`, caller: `arn:aws:iam::${a}:role/${r}` })),
);

describe("built trust policies", () => {
  it("pass the checker for any valid IDs and principal", () => {
    fc.assert(
      fc.property(principal, fc.uniqueArray(externalId, { minLength: 1, maxLength: 2 }), fc.boolean(), (p, ids, deny) => {
        const policy = buildTrustPolicy({ principalArn: p.arn, externalIds: ids, denyWithoutExternalId: deny });
        const result = checkTrustPolicy(JSON.stringify(policy), { principalArn: p.arn, externalIds: ids, requireDenyGuard: deny });
        return result.ok && [...result.acceptedExternalIds].sort().join("\n") === [...ids].sort().join("\n");
      }),
      { numRuns: 300 },
    );
  });

  it("pass the iam-simulate proof: the principal with an ID is allowed; no ID, another ID and another account are not", async () => {
    await fc.assert(
      fc.asyncProperty(principal, externalId, externalId, accountId, async (p, id, other, stranger) => {
        fc.pre(id !== other && `arn:aws:iam::${stranger}:root` !== p.arn && !p.arn.includes(`::${stranger}:`));
        const policy = buildTrustPolicy({ principalArn: p.arn, externalIds: [id] });
        return (
          (await simulateAssumeRole(policy, { caller: p.caller, externalId: id })) === "Allowed" &&
          (await simulateAssumeRole(policy, { caller: p.caller })) !== "Allowed" &&
          (await simulateAssumeRole(policy, { caller: p.caller, externalId: other })) !== "Allowed" &&
          (await simulateAssumeRole(policy, { caller: `arn:aws:iam::${stranger}:role/x`, externalId: id })) !== "Allowed"
        );
      }),
      { numRuns: 60 },
    );
  });
});

/** Mutations that open a good policy, each with the finding it must produce. */
const mutations: { name: string; mutate: (s: PolicyStatement) => PolicyStatement; code: string }[] = [
  { name: "drop the condition", mutate: ({ Condition: _c, ...s }) => s as PolicyStatement, code: "missing-condition" },
  { name: "widen the principal to *", mutate: (s) => ({ ...s, Principal: "*" }), code: "wildcard-principal" },
  { name: "widen the principal to AWS *", mutate: (s) => ({ ...s, Principal: { AWS: "*" } }), code: "wildcard-principal" },
  {
    name: "add a principal",
    mutate: (s) => ({ ...s, Principal: { AWS: [String((s.Principal as { AWS: string }).AWS), "arn:aws:iam::999999999999:root"] } }),
    code: "extra-principal",
  },
  {
    name: "a wildcard ID with StringLike",
    mutate: (s) => ({ ...s, Condition: { StringLike: { "sts:ExternalId": "*" } } }),
    code: "string-like-wildcard",
  },
  { name: "IfExists", mutate: (s) => ({ ...s, Condition: { StringEqualsIfExists: s.Condition!.StringEquals } }), code: "if-exists" },
  { name: "ignore case", mutate: (s) => ({ ...s, Condition: { StringEqualsIgnoreCase: s.Condition!.StringEquals } }), code: "ignore-case" },
  { name: "a wildcard action", mutate: (s) => ({ ...s, Action: "sts:*" }), code: "extra-action" },
  { name: "another action", mutate: (s) => ({ ...s, Action: ["sts:AssumeRole", "sts:TagSession"] }), code: "extra-action" },
  { name: "NotAction", mutate: ({ Action: _a, ...s }) => ({ ...s, NotAction: "iam:*" }) as PolicyStatement, code: "not-action" },
  {
    name: "an extra ID",
    mutate: (s) => ({
      ...s,
      Condition: { StringEquals: { "sts:ExternalId": [String(s.Condition!.StringEquals["sts:ExternalId"]), "extra-id-00"] } },
    }),
    code: "unexpected-external-id",
  },
];

describe("mutated policies", () => {
  it("are flagged, whatever the IDs and principal", () => {
    fc.assert(
      fc.property(principal, externalId, fc.constantFrom(...mutations), fc.boolean(), (p, id, mutation, asString) => {
        fc.pre(id !== "extra-id-00");
        const good = buildTrustPolicy({ principalArn: p.arn, externalIds: [id] });
        const statement = (good.Statement as PolicyStatement[])[0];
        const bad: PolicyDocument = { ...good, Statement: asString ? mutation.mutate(statement) : [mutation.mutate(statement)] };
        const result = checkTrustPolicy(asString ? JSON.stringify(bad) : bad, { principalArn: p.arn, externalIds: [id] });
        return !result.ok && result.findings.some((f) => f.code === mutation.code);
      }),
      { numRuns: 400 },
    );
  });
});
