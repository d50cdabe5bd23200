import { buildTrustPolicy } from "../../src/policy/trust";
import { simulateAssumeRole } from "../helpers/simulate";

const WS_ROOT = "arn:aws:iam::147995105371:root";
const WS_CALLER = "arn:aws:iam::147995105371:role/workload-security-connector";
const ID = "tenant-External-ID-1234";

describe("iam-simulate proof of a built trust policy", () => {
  const policy = buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [ID] });

  it("allows the trusted principal with the right ID", async () => {
    expect(await simulateAssumeRole(policy, { caller: WS_CALLER, externalId: ID })).toBe("Allowed");
  });

  it.each([
    ["no ID", { caller: WS_CALLER }],
    ["a wrong ID", { caller: WS_CALLER, externalId: "some-other-tenant-id" }],
    ["the ID in other letter case", { caller: WS_CALLER, externalId: ID.toLowerCase() }],
    ["another account's principal with the right ID", { caller: "arn:aws:iam::999988887777:role/attacker", externalId: ID }],
    ["an anonymous caller", { caller: "anonymous", externalId: ID }],
  ])("denies %s", async (_name, request) => {
    expect(await simulateAssumeRole(policy, request)).not.toBe("Allowed");
  });

  it("sanity: the simulator does allow a policy without a condition (so the denials above are the condition's doing)", async () => {
    const open = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: WS_ROOT }, Action: "sts:AssumeRole" }] };
    expect(await simulateAssumeRole(open, { caller: WS_CALLER })).toBe("Allowed");
  });
});

describe("iam-simulate proof of a migration window", () => {
  const OLD = "user-defined-legacy-id";
  const policy = buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [OLD, ID] });

  it("allows both IDs and denies a third", async () => {
    expect(await simulateAssumeRole(policy, { caller: WS_CALLER, externalId: OLD })).toBe("Allowed");
    expect(await simulateAssumeRole(policy, { caller: WS_CALLER, externalId: ID })).toBe("Allowed");
    expect(await simulateAssumeRole(policy, { caller: WS_CALLER, externalId: "third-id-value" })).not.toBe("Allowed");
    expect(await simulateAssumeRole(policy, { caller: WS_CALLER })).not.toBe("Allowed");
  });
});

describe("iam-simulate proof of the Deny guard", () => {
  it("the guard denies explicitly what a broader Allow would let in", async () => {
    const guarded = buildTrustPolicy({ principalArn: WS_ROOT, externalIds: [ID], denyWithoutExternalId: true });
    const broadened = {
      ...guarded,
      Statement: [...(guarded.Statement as object[]), { Effect: "Allow", Principal: { AWS: WS_ROOT }, Action: "sts:AssumeRole" }],
    };
    expect(await simulateAssumeRole(broadened, { caller: WS_CALLER, externalId: ID })).toBe("Allowed");
    expect(await simulateAssumeRole(broadened, { caller: WS_CALLER })).toBe("ExplicitlyDenied");
    expect(await simulateAssumeRole(broadened, { caller: WS_CALLER, externalId: "wrong-id-value" })).toBe("ExplicitlyDenied");
  });
});
