import { describe, expect, it } from "vitest";
import { replicationObserver } from "../../src/observers/replication.ts";
import { walObserver } from "../../src/observers/wal.ts";

describe("wal observer", () => {
  it("turns insert positions into bytes per second over ≥ 500 ms buckets", () => {
    const o = walObserver();
    o.ingest("1000", 0);
    o.ingest("2000", 100);
    o.ingest("501000", 500);
    o.ingest("501000", 1000);
    o.ingest("601000", 1200);
    o.finish(1300);
    expect(o.result().wal).toEqual([
      { t: 500, bytes_per_s: 1_000_000 },
      { t: 1000, bytes_per_s: 0 },
      { t: 1200, bytes_per_s: 500_000 },
    ]);
  });

  it("emits nothing from a single sample", () => {
    const o = walObserver();
    o.ingest("1000", 0);
    o.finish(10);
    expect(o.result().wal).toEqual([]);
  });
});

describe("replication observer", () => {
  it("is empty without a standby", () => {
    const o = replicationObserver();
    o.ingest(null, 0);
    o.ingest(null, 600);
    o.finish(700);
    expect(o.result().replication_lag).toEqual([]);
  });

  it("keeps the worst standby and the worst lag between points", () => {
    const o = replicationObserver({ minGapMs: 500 });
    o.ingest([10, 30], 0);
    o.ingest([80], 100);
    o.ingest([5], 200);
    o.ingest([0], 600);
    o.ingest([40], 700);
    o.finish(800);
    expect(o.result().replication_lag).toEqual([
      { t: 0, lag_ms: 30 },
      { t: 600, lag_ms: 80 },
      { t: 700, lag_ms: 40 },
    ]);
  });
});
