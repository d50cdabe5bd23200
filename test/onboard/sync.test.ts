import { age, DAY_MS, syncState } from "../../src/onboard/sync";

describe("syncState: one rule for status and reconcile", () => {
  const now = Date.parse("2026-11-29T12:00:00Z");
  const regions = [{ region: "us-east-1", computersSynced: 2 }];

  it("calls a connector without a last synchronization never-synced", () => {
    expect(syncState({ ID: 4, syncedRegions: regions }, now)).toEqual({
      state: "never-synced",
      reason: "connector 4 has never synchronized",
    });
  });

  it("calls a synchronization older than the maximum age stale, and says how old", () => {
    const judged = syncState({ ID: 4, lastSyncTime: now - 3 * DAY_MS, syncedRegions: regions }, now);
    expect(judged.state).toBe("stale");
    expect(judged.reason).toBe("connector 4 last synchronized 3 d ago (2026-11-26T12:00:00.000Z)");
  });

  it("honours the maximum age it is given, and defaults to a day", () => {
    const connector = { ID: 4, lastSyncTime: now - 2 * 3600_000, syncedRegions: regions };
    expect(syncState(connector, now).state).toBe("synced");
    expect(syncState(connector, now, 3600_000).state).toBe("stale");
    expect(syncState({ ...connector, lastSyncTime: now - DAY_MS - 1 }, now).state).toBe("stale");
  });

  it("calls a recent synchronization that covered no region stale", () => {
    expect(syncState({ ID: 4, lastSyncTime: now - 60_000, syncedRegions: [] }, now)).toEqual({
      state: "stale",
      reason: "connector 4 synchronized no region",
    });
  });

  it("words durations roughly", () => {
    expect([age(5 * 60_000), age(3 * 3600_000), age(2 * DAY_MS + 1), age(-5)]).toEqual(["5 min", "3 h", "2 d", "0 min"]);
  });
});
