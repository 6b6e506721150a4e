import { performance } from "node:perf_hooks";
import { describe, expect, it, vi } from "vitest";
import type { Observations } from "../../src/report/model.ts";
import type { Observer } from "../../src/observers/observer.ts";
import { type ObserverConnection, startObservers } from "../../src/observers/runner.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds (or 3 s pass), so a slow machine does not fail a timing-free assertion. */
async function until(cond: () => boolean): Promise<void> {
  const end = Date.now() + 3000;
  while (!cond() && Date.now() < end) await sleep(5);
}

/** A connection whose sample query runs `behave`; SETs succeed. Tracks concurrency. */
class FakeConn {
  static inflight = 0;
  static maxInflight = 0;
  sqls: string[] = [];
  ended = false;
  constructor(private readonly behave: () => Promise<Record<string, unknown>>) {}
  async query(q: string | { text: string }) {
    const text = typeof q === "string" ? q : q.text;
    this.sqls.push(text);
    if (text.startsWith("SET")) return { rows: [] };
    if (this.ended) throw new Error("Client was closed");
    FakeConn.inflight++;
    FakeConn.maxInflight = Math.max(FakeConn.maxInflight, FakeConn.inflight);
    try {
      return { rows: [await this.behave()] };
    } finally {
      FakeConn.inflight--;
    }
  }
  async end() {
    this.ended = true;
  }
}

/** An observer that records what it was given. */
function probe(): Observer & { seen: unknown[]; finishedAt?: number } {
  const p = {
    name: "probe",
    sql: "(SELECT 1)",
    seen: [] as unknown[],
    finishedAt: undefined as number | undefined,
    ingest(v: unknown) {
      p.seen.push(v);
    },
    sample: async () => {},
    finish(t: number) {
      p.finishedAt = t;
    },
    result: (): Partial<Observations> => ({ wal: [{ t: 1, bytes_per_s: p.seen.length }] }),
  };
  return p;
}

const asConn = (c: FakeConn) => c as unknown as ObserverConnection;

describe("observer runner", () => {
  it("folds every observer into one query and names the connection", async () => {
    const a = probe();
    const b = probe();
    const conn = new FakeConn(async () => ({ o0: "A", o1: "B" }));
    const obs = await startObservers({
      connect: async () => asConn(conn),
      t0: performance.now(),
      observers: [a, b],
      intervalMs: 10,
    });
    await sleep(60);
    const o = await obs.stop();
    expect(conn.sqls[0]).toContain("application_name = 'rehearse-observer'");
    const sample = conn.sqls.find((s) => s.startsWith("SELECT"))!;
    expect(sample).toBe("SELECT (SELECT 1) AS o0,\n(SELECT 1) AS o1");
    expect(a.seen.every((v) => v === "A")).toBe(true);
    expect(b.seen.every((v) => v === "B")).toBe(true);
    expect(o.samples).toBe(a.seen.length);
    expect(o.samples).toBeGreaterThanOrEqual(3);
    expect(o.interval_ms).toBe(10);
    expect(o.wal).toHaveLength(2);
    expect(a.finishedAt).toBeGreaterThan(0);
    expect(conn.ended).toBe(true);
    expect(o.failure).toBeUndefined();
  });

  it("never overlaps samples, even when one takes longer than the interval", async () => {
    FakeConn.maxInflight = 0;
    const conn = new FakeConn(async () => {
      await sleep(35);
      return { o0: 1 };
    });
    const obs = await startObservers({
      connect: async () => asConn(conn),
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 5,
    });
    await sleep(250);
    const o = await obs.stop();
    expect(FakeConn.maxInflight).toBe(1);
    // ~250 ms / 35 ms per sample, not 250 / 5.
    expect(o.samples).toBeGreaterThanOrEqual(4);
    expect(o.samples).toBeLessThanOrEqual(10);
    expect(obs.stats().mean_ms).toBeGreaterThanOrEqual(30);
  });

  it("reconnects once after three failed samples, then gives up on the next three", async () => {
    let fail = false;
    const conns: FakeConn[] = [];
    const obs = await startObservers({
      connect: async () => {
        const c = new FakeConn(async () => {
          if (fail) throw new Error("terminating connection due to administrator command");
          return { o0: 1 };
        });
        conns.push(c);
        return asConn(c);
      },
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 5,
    });
    fail = true;
    await until(() => obs.failure() !== undefined);
    // Three failures → one reconnect; still failing → three more → failure.
    expect(conns).toHaveLength(2);
    expect(conns[0]!.ended).toBe(true);
    expect(obs.failure()).toMatch(/failed 3 times in a row after a reconnect: terminating connection/);
    const s = obs.stats();
    expect(s.failed).toBe(6);
    expect(s.reconnects).toBe(1);
    const o = await obs.stop();
    expect(o.failure).toBe(obs.failure());
  });

  it("recovers when the reconnect works and resets the failure streak", async () => {
    let failures = 3;
    const conns: FakeConn[] = [];
    const obs = await startObservers({
      connect: async () => {
        const c = new FakeConn(async () => {
          if (conns.length === 1 && conns[0]!.sqls.length > 2 && failures > 0) {
            failures--;
            throw new Error("connection lost");
          }
          return { o0: 1 };
        });
        conns.push(c);
        return asConn(c);
      },
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 5,
    });
    await until(() => conns.length === 2 && obs.stats().samples > 5);
    const o = await obs.stop();
    expect(conns).toHaveLength(2);
    expect(o.failure).toBeUndefined();
    expect(obs.stats().failed).toBe(3);
    expect(o.samples).toBeGreaterThan(5);
  });

  it("sets a failure when the one reconnect is refused", async () => {
    let n = 0;
    let fail = false;
    const obs = await startObservers({
      connect: async () => {
        if (++n > 1) throw new Error("ECONNREFUSED");
        return asConn(
          new FakeConn(async () => {
            if (fail) throw new Error("Connection terminated unexpectedly");
            return { o0: 1 };
          }),
        );
      },
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 5,
    });
    fail = true;
    await until(() => obs.failure() !== undefined);
    expect(obs.failure()).toMatch(/reconnecting failed: ECONNREFUSED/);
    await obs.stop();
  });

  it("pauses through a planned outage and reopens afterwards, without spending the reconnect", async () => {
    let down = false;
    let refused = 0;
    const conns: FakeConn[] = [];
    const obs = await startObservers({
      connect: async () => {
        if (down) {
          refused++;
          throw new Error("ECONNREFUSED");
        }
        const c = new FakeConn(async () => {
          if (down || c.ended) throw new Error("terminating connection due to administrator command");
          return { o0: 1 };
        });
        conns.push(c);
        return asConn(c);
      },
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 5,
    });
    await until(() => obs.stats().samples > 3);
    const during = await obs.interrupt(async () => {
      down = true;
      const before = obs.stats().samples;
      await sleep(100);
      // No sampling while the server is down: nothing fails, nothing reconnects.
      expect(obs.stats().samples).toBe(before);
      down = false;
      return "restarted";
    });
    expect(during).toBe("restarted");
    expect(conns).toHaveLength(2);
    expect(conns[0]!.ended).toBe(true);
    const after = obs.stats().samples;
    await until(() => obs.stats().samples > after + 3);
    const o = await obs.stop();
    expect(o.failure).toBeUndefined();
    expect(obs.stats()).toMatchObject({ failed: 0, reconnects: 0 });
    expect(refused).toBe(0);
    expect(obs.stats().samples).toBeGreaterThan(after + 3);
  });

  it("fails to start when the first sample fails, and closes its connection", async () => {
    const conn = new FakeConn(async () => {
      throw new Error("function pg_blocking_pids does not exist");
    });
    await expect(
      startObservers({ connect: async () => asConn(conn), t0: 0, observers: [probe()] }),
    ).rejects.toThrow(/first sample failed: function pg_blocking_pids/);
    expect(conn.ended).toBe(true);
  });

  it("stop() is idempotent", async () => {
    const obs = await startObservers({
      connect: async () => asConn(new FakeConn(async () => ({ o0: 1 }))),
      t0: performance.now(),
      observers: [probe()],
    });
    const [a, b] = await Promise.all([obs.stop(), obs.stop()]);
    expect(a).toBe(b);
  });
});

describe("observer runner on a dead socket", () => {
  it("counts a sample that never answers as failed instead of hanging", async () => {
    let hang = false;
    const conns: FakeConn[] = [];
    const obs = await startObservers({
      connect: async () => {
        const c = new FakeConn(() => (hang ? new Promise(() => {}) : Promise.resolve({ o0: 1 })));
        conns.push(c);
        return asConn(c);
      },
      t0: performance.now(),
      observers: [probe()],
      intervalMs: 1,
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      hang = true;
      // Each hung sample gives up after max(2 s, 10 × interval) + 1 s.
      for (let i = 0; i < 10 && obs.failure() === undefined; i++) await vi.advanceTimersByTimeAsync(3100);
    } finally {
      vi.useRealTimers();
    }
    expect(obs.failure()).toMatch(/no answer within 3000 ms/);
    expect(conns).toHaveLength(2);
    expect(obs.stats().failed).toBe(6);
    expect((await obs.stop()).failure).toBe(obs.failure());
  });
});
