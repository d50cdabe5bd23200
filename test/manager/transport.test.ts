import { ManagerClient } from "../../src/manager/client";
import { ManagerOptionError } from "../../src/manager/errors";
import { ManagerTransport, type TransportOptions, transportLimits, worstCaseMs } from "../../src/manager/http";
import { HostileManager } from "../helpers/hostile-manager";

const base: TransportOptions = { baseUrl: "http://127.0.0.1:9/api", apiKey: "k-123456", auth: "api-secret-key" };

describe("transport limits are checked", () => {
  const bad: [string, Partial<TransportOptions>][] = [
    ["timeoutMs", { timeoutMs: 0 }],
    ["timeoutMs", { timeoutMs: -1 }],
    ["timeoutMs", { timeoutMs: Number.NaN }],
    ["timeoutMs", { timeoutMs: Number.POSITIVE_INFINITY }],
    ["timeoutMs", { timeoutMs: 2 ** 31 }], // a Node.js timer this long would fire at once
    ["timeoutMs", { readTimeoutMs: 0 }],
    ["connectTimeoutMs", { connectTimeoutMs: 0 }],
    ["maxBodyBytes", { maxBodyBytes: 0.5 }],
    ["retry.maxAttempts", { retry: { maxAttempts: 0 } }],
    ["retry.maxAttempts", { retry: { maxAttempts: 1.5 } }],
    ["retry.baseDelayMs", { retry: { baseDelayMs: -5 } }],
    ["retry.maxRetryAfterMs", { retry: { maxRetryAfterMs: Number.NaN } }],
    ["timeoutMs", { timeoutMs: "30" as unknown as number }],
  ];
  for (const [option, overrides] of bad) {
    it(`refuses ${JSON.stringify(overrides)} with a named error`, () => {
      let error: unknown;
      try {
        new ManagerTransport({ ...base, ...overrides });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ManagerOptionError);
      expect((error as ManagerOptionError).option).toBe(option);
      expect((error as ManagerOptionError).exitCode).toBe(2);
      expect((error as Error).message).toMatch(new RegExp(`^The manager transport's ${option.replace(".", "\\.")} must be`));
    });
  }

  it("accepts the defaults and zero delays", () => {
    expect(transportLimits({})).toMatchObject({ timeoutMs: 30_000, connectTimeoutMs: 10_000, retry: { maxAttempts: 5 } });
    expect(transportLimits({ readTimeoutMs: 3000 }).timeoutMs).toBe(3000);
    expect(transportLimits({ timeoutMs: 2000, connectTimeoutMs: 10_000 }).connectTimeoutMs).toBe(2000);
    expect(() => transportLimits({ retry: { baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 } })).not.toThrow();
  });
});

describe("worst-case time of one call", () => {
  it("is attempts × deadline + the backoffs + the longest Retry-After honoured", () => {
    const limits = transportLimits({ timeoutMs: 1000, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300, maxRetryAfterMs: 0 } });
    // 4 × 1000 + (100 + 200 + 300)
    expect(worstCaseMs(limits)).toBe(4600);
    const withRetryAfter = transportLimits({
      timeoutMs: 1000,
      retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 300, maxRetryAfterMs: 2000 },
    });
    // 2000 (a pause another request set) + 3 × 1000 + (2000 + 10) + (2000 + 20)
    expect(worstCaseMs(withRetryAfter)).toBe(9030);
    expect(ManagerClient.create({ ...base, timeoutMs: 1000, retry: { maxAttempts: 1, maxRetryAfterMs: 0 } }).worstCaseMs()).toBe(1000);
  });

  it("bounds a manager that answers 429 with the longest Retry-After every time", async () => {
    const m = await HostileManager.start(() => ({ kind: "json", status: 429, body: {}, headers: { "retry-after": "86400" } }));
    const c = ManagerClient.create({
      ...base,
      baseUrl: m.url,
      timeoutMs: 500,
      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 400 },
    });
    try {
      const started = Date.now();
      await expect(c.listConnectors()).rejects.toMatchObject({ kind: "http", details: { reason: "rate-limited", attempts: 3 } });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(800); // two waits of 400 ms: Retry-After honoured, capped
      expect(elapsed).toBeLessThanOrEqual(c.worstCaseMs() + 200);
    } finally {
      await c.close();
      await m.stop();
    }
  });
});
