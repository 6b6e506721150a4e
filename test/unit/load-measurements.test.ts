import { describe, expect, it } from "vitest";
import { Measurements, sectionOf, summarize } from "../../src/load/measurements.ts";

// Times are performance.now()-style ms; t0 = 1000 so report times are t − 1000.
const T0 = 1000;

function run(fn: (m: Measurements) => void, withReads = false) {
  const m = new Measurements(T0, T0, withReads);
  fn(m);
  return m;
}

describe("sectionOf", () => {
  it("infers the section from the phase name", () => {
    expect(sectionOf("warmup")).toBe("warmup");
    expect(sectionOf("cooldown")).toBe("cooldown");
    expect(sectionOf("rollback")).toBe("rollback");
    expect(sectionOf("cutover")).toBe("migration");
  });
});

describe("Measurements windows", () => {
  it("opens a phase window per phase and a step window per step, chronologically", () => {
    const m = run((m) => {
      m.mark("warmup", null, 1000); // same as the initial window: no new one
      m.mark("expand", "a", 1100);
      m.mark("expand", null, 1200);
      m.mark("expand", "b", 1250);
      m.mark("cutover", "swap", 1400);
      m.mark("cooldown", null, 1500);
    });
    const r = m.finish(1600);
    expect(r.windows.map((w) => [w.section, w.phase, w.step, w.started_ms, w.ended_ms])).toEqual([
      ["warmup", "warmup", null, 0, 100],
      ["migration", "expand", null, 100, 400],
      ["migration", "expand", "a", 100, 200],
      ["migration", "expand", "b", 250, 400],
      ["migration", "cutover", null, 400, 500],
      ["migration", "cutover", "swap", 400, 500],
      ["cooldown", "cooldown", null, 500, 600],
    ]);
    expect(r.windows.every((w) => w.kind === "write")).toBe(true);
  });

  it("uses an explicit section over the inferred one", () => {
    const m = run((m) => m.mark("rollback", "undo", 1100, "rollback"));
    const w = m.finish(1200).windows;
    expect(w[1]).toMatchObject({ section: "rollback", phase: "rollback", step: null });
    expect(w[2]).toMatchObject({ section: "rollback", phase: "rollback", step: "undo" });
  });

  it("attributes an operation to the windows of its intended start, not of its completion", () => {
    const m = run((m) => {
      m.mark("cutover", "lock", 1100);
      // Intended inside the lock step, completed long after the harness moved on.
      m.mark("cutover", null, 1300);
      m.mark("cooldown", null, 1400);
      m.complete("write", 1150, 1150, 2150, null, 0);
      // Intended between steps: the phase window only.
      m.complete("write", 1350, 1350, 1352, null, 0);
    });
    const r = m.finish(2200);
    const lock = r.windows.find((w) => w.step === "lock")!;
    const cutover = r.windows.find((w) => w.phase === "cutover" && w.step === null)!;
    const cooldown = r.windows.find((w) => w.phase === "cooldown")!;
    expect(lock.count).toBe(1);
    expect(lock.latency.max).toBeCloseTo(1000, 0);
    expect(cutover.count).toBe(2);
    expect(cooldown.count).toBe(0);
  });

  it("measures latency from the intended start and service time from the send", () => {
    const m = run((m) => {
      m.complete("write", 1000, 1040, 1050, null, 0);
      m.complete("write", 1010, 1040, 1060, null, 0);
    });
    const w = m.finish(2000).windows[0]!;
    expect(w.latency.count).toBe(2);
    expect(w.latency.max).toBeCloseTo(50, 1);
    expect(w.latency.p50).toBeCloseTo(50, 1);
    expect(w.service.max).toBeCloseTo(20, 1);
    expect(w.service.p50).toBeCloseTo(10, 1);
    expect(w.throughput).toBe(2);
  });

  it("counts errors by SQLSTATE without counting them as throughput", () => {
    const m = run((m) => {
      m.complete("write", 1000, 1000, 1001, "55P03", 0);
      m.complete("write", 1001, 1001, 1002, "55P03", 0);
      m.complete("write", 1002, 1002, 1003, "connection", 0);
      m.complete("write", 1003, 1003, 1004, null, 0);
    });
    const w = m.finish(1500).windows[0]!;
    expect(w.count).toBe(4);
    expect(w.errors).toBe(3);
    expect(w.errors_by_sqlstate).toEqual({ "55P03": 2, connection: 1 });
    expect(w.throughput).toBe(2); // 1 success in 0.5 s
  });

  it("keeps reads apart from writes", () => {
    const m = run((m) => {
      m.complete("read", 1000, 1000, 1003, null, 0);
      m.complete("write", 1000, 1000, 1001, null, 0);
    }, true);
    const r = m.finish(2000);
    expect(r.windows.map((w) => [w.kind, w.count])).toEqual([
      ["write", 1],
      ["read", 1],
    ]);
  });
});

describe("Measurements unavailability", () => {
  it("counts a stall while requests were outstanding as blocked, in each window it crosses", () => {
    const m = run((m) => {
      m.demand("write", 1000);
      m.complete("write", 1000, 1000, 1001, null, 1); // one more outstanding
      m.mark("cutover", "lock", 1100);
      m.mark("cutover", null, 1700);
      m.complete("write", 1002, 1002, 1901, null, 0);
    });
    const r = m.finish(2000);
    expect(r.unavailability).toEqual([{ from_ms: 1, to_ms: 901, reason: "blocked" }]);
    const warmup = r.windows.find((w) => w.phase === "warmup")!;
    const lock = r.windows.find((w) => w.step === "lock")!;
    const cutover = r.windows.find((w) => w.phase === "cutover" && w.step === null)!;
    expect(warmup.longest_unavailability_ms).toBeCloseTo(99, 3);
    expect(lock.longest_unavailability_ms).toBeCloseTo(600, 3);
    expect(cutover.longest_unavailability_ms).toBeCloseTo(801, 3);
  });

  it("does not count idle time between sparse arrivals", () => {
    const m = run((m) => {
      for (let i = 0; i < 5; i++) {
        const at = 1000 + i * 1000; // one request a second
        m.demand("write", at);
        m.complete("write", at, at, at + 2, null, 0);
      }
    });
    const r = m.finish(6000);
    expect(r.unavailability).toEqual([]);
    expect(r.windows[0]!.longest_unavailability_ms).toBeCloseTo(2, 3);
  });

  it("gives the reason: paused when the pause covers the gap, errors when only errors completed", () => {
    const m = run((m) => {
      m.complete("write", 1000, 1000, 1001, null, 0);
      m.paused(true, 1010);
      for (let t = 1020; t < 1600; t += 10) m.demand("write", t); // paused arrivals
      m.paused(false, 1600);
      m.demand("write", 1600);
      m.complete("write", 1600, 1600, 1602, null, 0);
      m.demand("write", 2000);
      m.complete("write", 2000, 2000, 2001, "40P01", 1);
      m.complete("write", 2002, 2002, 2400, "40P01", 1);
      m.complete("write", 2400, 2400, 2500, null, 0);
    });
    const r = m.finish(3000);
    expect(r.unavailability).toEqual([
      { from_ms: 20, to_ms: 602, reason: "paused" },
      { from_ms: 1000, to_ms: 1500, reason: "errors" },
    ]);
  });

  it("closes a gap still open at the end", () => {
    const m = run((m) => {
      m.demand("write", 1100);
    });
    const r = m.finish(1600);
    expect(r.unavailability).toEqual([{ from_ms: 100, to_ms: 600, reason: "blocked" }]);
    expect(r.windows[0]!.longest_unavailability_ms).toBeCloseTo(500, 3);
  });
});

describe("Measurements series", () => {
  it("has one entry per second since t0 (t in seconds), including seconds where nothing completed", () => {
    const m = run((m) => {
      m.inFlight(3, 1000);
      m.complete("write", 1000, 1000, 1010, null, 2);
      m.complete("write", 1100, 1100, 1120, "57014", 1);
      m.inFlight(7, 3500);
      m.complete("write", 3500, 3500, 3501, null, 0);
    });
    const r = m.finish(3600);
    // Second 2 is [t0 + 2 s, t0 + 3 s): 3500 falls in it.
    expect(r.series.map((s) => [s.t, s.writes, s.errors, s.in_flight])).toEqual([
      [0, 1, 1, 3],
      [1, 0, 0, 3],
      [2, 1, 0, 7],
    ]);
    expect(r.series[0]!.write_p99).toBeCloseTo(10, 1);
    expect(r.series[1]!.write_p99).toBe(0);
  });
});

describe("summarize", () => {
  it("reports zeros for an empty window", () => {
    expect(summarize(null)).toEqual({ count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });
});

describe("Measurements: dropped and late requests", () => {
  it("names the window after the last step soak, in the cooldown section", () => {
    expect(sectionOf("soak")).toBe("cooldown");
  });

  it("counts a dropped request in the windows of its intended start, not in count", () => {
    const m = run((m) => {
      m.mark("cutover", "swap", 1100);
      m.demand("write", 1150);
      m.dropped("write", 1150, 6200, 0);
      m.mark("soak", null, 1300);
    });
    const r = m.finish(7000);
    const swap = r.windows.find((w) => w.step === "swap")!;
    const cutover = r.windows.find((w) => w.phase === "cutover" && w.step === null)!;
    const soak = r.windows.find((w) => w.phase === "soak")!;
    expect([swap.dropped, swap.count]).toEqual([1, 0]);
    expect([cutover.dropped, cutover.count]).toEqual([1, 0]);
    expect([soak.section, soak.dropped]).toEqual(["cooldown", 0]);
  });

  it("counts a completion past drop_after as late, and it does not end the unavailability", () => {
    const m = new Measurements(T0, T0, false, 5000);
    m.complete("write", 1000, 1000, 1010, null, 0);
    m.mark("cutover", null, 1100);
    m.demand("write", 1200);
    // Succeeded 8 s after its intended start: the client gave up at 5 s.
    m.complete("write", 1200, 1200, 9200, null, 0);
    m.demand("write", 9300);
    m.complete("write", 9300, 9300, 9310, null, 0);
    const r = m.finish(9400);
    const cutover = r.windows.find((w) => w.phase === "cutover")!;
    expect([cutover.count, cutover.late, cutover.errors]).toEqual([2, 1, 0]);
    expect(r.unavailability).toEqual([{ from_ms: 200, to_ms: 8310, reason: "errors" }]);
    expect(cutover.longest_unavailability_ms).toBeCloseTo(8110, 0);
  });

  it("keeps the unavailability open across drops until a write succeeds in time", () => {
    const m = run((m) => {
      m.complete("write", 1000, 1000, 1005, null, 0);
      m.demand("write", 1100);
      m.dropped("write", 1100, 1100, 0);
      m.demand("write", 1200);
      m.dropped("write", 1200, 1200, 0);
      m.demand("write", 1700);
      m.complete("write", 1700, 1700, 1710, null, 0);
    });
    expect(m.finish(1800).unavailability).toEqual([{ from_ms: 100, to_ms: 710, reason: "errors" }]);
  });
});
