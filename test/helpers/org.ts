import type { LocalOrganization } from "../../src/sandbox/aws";

/**
 * An organization of `perOu` accounts in each OU of a tree `depth` levels deep with `fanout`
 * children per OU, plus the management account at the root, one suspended and one closed
 * account. IDs are deterministic.
 */
export function buildOrganization(options: { depth: number; fanout: number; perOu: number }): LocalOrganization {
  const org: LocalOrganization = { managementAccountId: "000000000001", rootId: "r-root", units: [], accounts: [] };
  let next = 100000000000;
  const addAccounts = (parent: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const id = String(next++);
      org.accounts.push({ Id: id, Name: `acct-${id}`, State: "ACTIVE", ParentId: parent });
    }
  };
  org.accounts.push({ Id: org.managementAccountId, Name: "management", State: "ACTIVE", ParentId: org.rootId });
  const grow = (parent: string, level: number, path: string) => {
    if (level > options.depth) return;
    for (let c = 0; c < options.fanout; c++) {
      const id = `ou-root-${path}${c}`.padEnd(16, "x");
      org.units.push({ Id: id, Name: `ou-${path}${c}`, ParentId: parent });
      addAccounts(id, options.perOu);
      grow(id, level + 1, `${path}${c}`);
    }
  };
  grow(org.rootId, 1, "");
  org.accounts[1].State = "SUSPENDED";
  org.accounts[2].State = "CLOSED";
  return org;
}
