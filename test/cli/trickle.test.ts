/**
 * A manager that sends its headers, then its body one byte every 2 s: `external-id get
 * --timeout 3` must fail on the timeout, naming it, well within a minute (each attempt's
 * deadline covers the whole body; the retries make it about 17 s). A file of its own: it
 * mostly waits, and runs beside the others.
 */
import { runCli } from "../helpers/cli";
import { expectSafe, expectTextFailure, ID, KEY, timed } from "../helpers/hostile-cli";
import { HostileManager, serveDuringTests } from "../helpers/hostile-manager";

const hostile = new HostileManager(() => ({ kind: "json", body: { externalId: ID } }));
serveDuringTests(hostile);
const env = () => ({ DS_MANAGER_URL: hostile.url, DS_API_KEY: KEY });

describe("a manager that trickles its answer", () => {
  it("external-id get --timeout 3 against one byte every 2 s fails on the timeout, naming it, well within a minute", async () => {
    const body = JSON.stringify({ externalId: ID, padding: "x".repeat(200) });
    hostile.use(() => ({ kind: "trickle", status: 200, body, intervalMs: 2000 }));
    const r = await timed(runCli(["external-id", "get", "--timeout", "3"], env(), { timeoutMs: 60_000 }));
    expectTextFailure(r, 1);
    expect(r.ms).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/time/i);
    expect(r.stderr).toMatch(/\b3 ?s\b|3000 ?ms|3 seconds/);
    expect(r.stderr).toContain("--timeout");
    expect(hostile.requests.length).toBeGreaterThanOrEqual(1);
    expectSafe(r);
  }, 60_000);
});
