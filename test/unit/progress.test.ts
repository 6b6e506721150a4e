import { describe, expect, it } from "vitest";
import { createProgressView, wantsLiveProgress } from "../../src/cli/progress.ts";
import { PlainProgress } from "../../src/cli/progress-plain.ts";
import { formatDuration, renderBar, TtyProgress } from "../../src/cli/progress-tty.ts";

const ANSI = /\x1b\[/;
const STAMP = /^\d\d:\d\d:\d\d\.\d{3} /;

function fakeStream(isTTY = false, columns = 120) {
  const writes: string[] = [];
  return { writes, isTTY, columns, write: (s: string) => writes.push(s), text: () => writes.join("") };
}

/** A manual clock and scheduler: timers fire only when the test advances time. */
function fakeTime() {
  let t = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  return {
    now: () => t,
    schedule: (fn: () => void, ms: number) => {
      const id = next++;
      timers.push({ at: t + ms, fn, id });
      return () => {
        timers = timers.filter((x) => x.id !== id);
      };
    },
    advance(ms: number) {
      const end = t + ms;
      for (;;) {
        const due = timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((x) => x.id !== due.id);
        t = due.at;
        due.fn();
      }
      t = end;
    },
  };
}

describe("choosing a view", () => {
  it("is live only on a TTY, outside CI, without --no-progress or --quiet", () => {
    const tty = fakeStream(true);
    expect(wantsLiveProgress({ stream: tty, env: {} })).toBe(true);
    expect(wantsLiveProgress({ stream: tty, env: { CI: "true" } })).toBe(false);
    expect(wantsLiveProgress({ stream: tty, env: {}, noProgress: true })).toBe(false);
    expect(wantsLiveProgress({ stream: tty, env: {}, quiet: true })).toBe(false);
    expect(wantsLiveProgress({ stream: fakeStream(false), env: {} })).toBe(false);
    expect(createProgressView({ stream: fakeStream(false), env: {} })).toBeInstanceOf(PlainProgress);
    expect(createProgressView({ stream: tty, env: { CI: "1" } })).toBeInstanceOf(PlainProgress);
  });
});

describe("PlainProgress", () => {
  it("writes timestamped lines without ANSI escapes and throttles progress lines", () => {
    const s = fakeStream();
    const v = new PlainProgress({ stream: s, progressEveryMs: 60_000 });
    v.info("starting embedded clone");
    v.progress("seeding ledger: 10/100 rows");
    v.progress("seeding ledger: 20/100 rows");
    v.event({ kind: "seed", table: "ledger", rows: 20, total: 100, rowsPerS: 10 });
    v.event({ kind: "stage", stage: "seeding" });
    v.debug("hidden");
    v.finish();
    const lines = s.text().trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).toMatch(STAMP);
    expect(lines[0]).toContain("starting embedded clone");
    expect(lines[1]).toContain("10/100");
    expect(lines[2]).toMatch(/ stage: seeding$/);
    expect(s.text()).not.toMatch(ANSI);
  });

  it("prints nothing when quiet, and debug lines only when asked", () => {
    const s = fakeStream();
    new PlainProgress({ stream: s, quiet: true }).info("x");
    expect(s.writes).toHaveLength(0);
    new PlainProgress({ stream: s, debug: true }).debug("y");
    expect(s.text()).toMatch(/ y\n$/);
  });
});

describe("TtyProgress", () => {
  const make = () => {
    const s = fakeStream(true, 100);
    const time = fakeTime();
    const v = new TtyProgress({ stream: s, now: time.now, schedule: time.schedule, minRedrawMs: 200 });
    return { s, time, v };
  };

  it("draws a block, then redraws it in place with cursor-up and clear", () => {
    const { s, v } = make();
    v.event({ kind: "stage", stage: "starting the clone" });
    expect(s.writes).toHaveLength(1);
    expect(s.writes[0]).not.toMatch(ANSI);
    expect(s.writes[0]).toContain("▸ starting the clone");
    const drawn = s.writes[0]!.split("\n").length - 1;
    v.info("clone ready");
    // Clears the block, prints the line above it, draws the block again.
    expect(s.writes[1]).toBe(`\r\x1b[${drawn}A\x1b[J`);
    expect(s.writes[2]).toMatch(STAMP);
    expect(s.writes[2]).toContain("clone ready");
    expect(s.writes[3]).toContain("▸ starting the clone");
  });

  it("throttles redraws to one per minRedrawMs, with one trailing redraw", () => {
    const { s, time, v } = make();
    v.event({ kind: "stage", stage: "seeding" });
    expect(s.writes).toHaveLength(1);
    for (let i = 1; i <= 10; i++) {
      time.advance(10);
      v.event({ kind: "seed", table: "ledger", rows: i * 100, total: 10_000, rowsPerS: 1000 });
    }
    expect(s.writes).toHaveLength(1);
    time.advance(100);
    expect(s.writes).toHaveLength(2);
    expect(s.writes[1]).toMatch(/^\r\x1b\[\d+A\x1b\[J/);
    expect(s.writes[1]).toContain("1,000/10,000");
    // Nothing new: the next redraw is the 1 s refresh that moves elapsed times.
    time.advance(500);
    expect(s.writes).toHaveLength(2);
    time.advance(600);
    expect(s.writes).toHaveLength(3);
    // At most 5 redraws a second under a flood of events.
    const before = s.writes.length;
    for (let i = 0; i < 100; i++) {
      time.advance(10);
      v.event({ kind: "tick" });
    }
    expect(s.writes.length - before).toBeLessThanOrEqual(5);
  });

  it("renders a seeding bar with percentage, rows/s and ETA", () => {
    const { v } = make();
    v.event({ kind: "stage", stage: "seeding" });
    v.event({ kind: "seed", table: "ledger", rows: 250_000, total: 1_000_000, rowsPerS: 50_000 });
    const bar = v.lines().find((l) => l.includes("seeding ledger"))!;
    expect(bar).toContain(`${renderBar(0.25, 16)}  25%`);
    expect(bar).toContain("250,000/1,000,000");
    expect(bar).toContain("50,000 rows/s");
    expect(bar).toContain("ETA 15.0s");
  });

  it("shows the step with its elapsed time, and the load when the engine reports it", () => {
    const { time, v } = make();
    v.event({ kind: "stage", stage: "running the migration" });
    v.event({ kind: "step", phase: "expand", step: "add_check", status: "start" });
    time.advance(2500);
    expect(v.lines()).toContain("  expand/add_check: running 2.5s");
    expect(v.lines().some((l) => l.includes("load"))).toBe(false);
    v.event({ kind: "tick", load: { writesPerS: 480, p99Ms: 12, blocked: 3 } });
    expect(v.lines()).toContain("  load 480 writes/s  ·  p99 12.0 ms  ·  3 blocked");
    time.advance(500);
    v.event({ kind: "step", phase: "expand", step: "add_check", status: "success" });
    expect(v.lines()).toContain("  expand/add_check: success in 3.0s");
  });

  it("clears the block on finish and prints plain lines afterwards", () => {
    const { s, time, v } = make();
    v.event({ kind: "stage", stage: "checking invariants" });
    const n = s.writes[0]!.split("\n").length - 1;
    v.event({ kind: "done" });
    expect(s.writes.at(-1)).toBe(`\r\x1b[${n}A\x1b[J`);
    const count = s.writes.length;
    time.advance(5000);
    v.event({ kind: "tick" });
    expect(s.writes).toHaveLength(count);
    v.info("after");
    expect(s.writes.at(-1)).toMatch(STAMP);
    expect(s.writes.at(-1)).not.toMatch(ANSI);
  });

  it("clips lines to the terminal width so the cursor-up count stays right", () => {
    const s = fakeStream(true, 30);
    const time = fakeTime();
    const v = new TtyProgress({ stream: s, now: time.now, schedule: time.schedule });
    v.event({ kind: "stage", stage: "a very long stage name that would wrap in a narrow terminal" });
    for (const l of s.writes[0]!.split("\n")) expect([...l].length).toBeLessThan(30);
  });

  it("formats durations", () => {
    expect(formatDuration(1234)).toBe("1.2s");
    expect(formatDuration(125_000)).toBe("2m05s");
    expect(formatDuration(3_900_000)).toBe("1h05m");
  });
});
