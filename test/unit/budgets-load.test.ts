import { describe, expect, it } from "vitest";
import { evaluateBudgets, type RunFacts } from "../../src/budgets/index.ts";
import type {
  BlockingEpisode,
  CheckResult,
  LatencySummary,
  LoadReport,
  LoadWindow,
  Observations,
  TableSample,
} from "../../src/report/model.ts";
import { failuresOf } from "../../src/budgets/load-failures.ts";
import { Budgets } from "../../src/scenario/schema.ts";

const lat = (p: Partial<LatencySummary>): LatencySummary => ({
  count: 100,
  p50: 2,
  p95: 5,
  p99: 8,
  p999: 10,
  max: 12,
  mean: 3,
  ...p,
});

function win(p: Partial<LoadWindow>): LoadWindow {
  return {
    section: "migration",
    phase: "cutover",
    step: null,
    kind: "write",
    started_ms: 5000,
    ended_ms: 6000,
    count: 1000,
    errors: 0,
    errors_by_sqlstate: {},
    throughput: 1000,
    latency: lat({}),
    service: lat({}),
    longest_unavailability_ms: 20,
    ...p,
  };
}

function episode(p: Partial<BlockingEpisode>): BlockingEpisode {
  return {
    blocker_pid: 42,
    blocker_is_migration: true,
    relation: "public.ledger",
    mode: "AccessExclusiveLock",
    started_ms: 5100,
    ended_ms: 5600,
    max_waiters: 3,
    load_waiters: 3,
    longest_wait_ms: 500,
    phase: "cutover",
    step: "swap",
    ...p,
  };
}

const sample = (t: number, table: string, dead: number): TableSample => ({
  t,
  table,
  live: 1000,
  dead,
  autovacuum_running: false,
});

function loadReport(windows: LoadWindow[], p: Partial<LoadReport> = {}): LoadReport {
  return {
    engine: "native",
    mode: "reverse",
    rate: 1000,
    connections: 8,
    totals: {
      intended: 0,
      writes_ok: 0,
      reads_ok: 0,
      errors: 0,
      late: 0,
      dropped: 0,
      paused: 0,
      errors_by_sqlstate: {},
    },
    windows,
    series: [],
    unavailability: [],
    ack: { acknowledged: 0, indeterminate: 0, file: "/tmp/acked.txt" },
    source: { rows_read: 0, wrapped: 0 },
    flags: [],
    ...p,
  };
}

function observations(p: Partial<Observations> = {}): Observations {
  return { interval_ms: 100, samples: 50, blocking: [], tables: [], wal: [], replication_lag: [], ...p };
}

/** Two phases: expand 0–5000 ms, cutover 5000–6000 ms (steps swap 5000–5800, tidy 5800–6000). */
function facts(p: Partial<RunFacts> = {}): RunFacts {
  return {
    phases: [
      { section: "migration", name: "expand", status: "success", started_ms: 0, duration_ms: 5000 },
      { section: "migration", name: "cutover", status: "success", started_ms: 5000, duration_ms: 1000 },
    ],
    steps: [
      {
        section: "migration",
        phase: "cutover",
        name: "swap",
        status: "success",
        transaction: true,
        attempts: 1,
        started_ms: 5000,
        duration_ms: 800,
        statements: [],
      },
      {
        section: "migration",
        phase: "cutover",
        name: "tidy",
        status: "success",
        transaction: true,
        attempts: 1,
        started_ms: 5800,
        duration_ms: 200,
        statements: [],
      },
    ],
    locks: [],
    effects: [],
    load: loadReport([
      win({ phase: "expand", started_ms: 0, ended_ms: 5000 }),
      win({ phase: "expand", kind: "read", started_ms: 0, ended_ms: 5000 }),
      win({}),
      win({ kind: "read" }),
    ]),
    observations: observations(),
    ...p,
  };
}

/** Only the load budget checks, by id. */
function run(load: Record<string, unknown>, f: RunFacts): Record<string, CheckResult> {
  const budgets = Budgets.parse({
    load,
    locks: [],
    no_scan_under_access_exclusive: false,
    no_rewrite_under_access_exclusive: false,
  });
  // The load budgets only: other budgets (lock waits, queues) have tests of their own.
  return Object.fromEntries(
    evaluateBudgets(budgets, f)
      .filter((c) => c.id.startsWith("budget.load."))
      .map((c) => [c.id, c]),
  );
}

/** The cutover windows replaced: whole-phase write and read, plus a step window for `swap`. */
function cutover(
  write: Partial<LoadWindow>,
  read: Partial<LoadWindow> = {},
  swap: Partial<LoadWindow> = {},
): RunFacts {
  const base = facts();
  return {
    ...base,
    load: loadReport([
      ...base.load!.windows.filter((w) => w.phase !== "cutover"),
      win(write),
      win({ kind: "read", ...read }),
      win({ step: "swap", started_ms: 5000, ended_ms: 5800, ...write, ...swap }),
    ]),
  };
}

interface Case {
  name: string;
  load: Record<string, unknown>;
  facts: RunFacts;
  id: string;
  status: CheckResult["status"];
  measured?: number;
  limit?: number;
  unit?: string;
  finding?: RegExp;
  remediation?: RegExp;
}

const cases: Case[] = [
  {
    name: "write p95 within",
    load: { cutover: { write_p95: "10ms" } },
    facts: cutover({ latency: lat({ p95: 9.96 }) }),
    id: "budget.load.write_p95.cutover",
    status: "pass",
    measured: 9.96,
    limit: 10,
    unit: "ms",
  },
  {
    name: "write p95 over",
    load: { cutover: { write_p95: "10ms" } },
    facts: cutover({ latency: lat({ p95: 10.04 }) }),
    id: "budget.load.write_p95.cutover",
    status: "fail",
    measured: 10.04,
    finding: /cutover: write p95 10\.04 ms, over the 10 ms budget/,
  },
  {
    name: "write p99 over, with the worst step named and the migration's lock as the cause",
    load: { cutover: { write_p99: "250ms" } },
    facts: {
      ...cutover({ latency: lat({ p99: 900 }) }, {}, { latency: lat({ p99: 1400 }), count: 300 }),
      observations: observations({ blocking: [episode({ load_waiters: 8, max_waiters: 8 })] }),
    },
    id: "budget.load.write_p99.cutover",
    status: "fail",
    measured: 900,
    limit: 250,
    finding:
      /cutover: write p99 900 ms, over the 250 ms budget; worst step cutover\/swap: write p99 1400 ms over 300 writes/,
    remediation:
      /holds a lock the load needs \(AccessExclusiveLock on public\.ledger, 8 load requests queued\).*lock_timeout/,
  },
  {
    name: "write p99 over without any lock: throttle",
    load: { cutover: { write_p99: "250ms" } },
    facts: cutover({ latency: lat({ p99: 300 }) }),
    id: "budget.load.write_p99.cutover",
    status: "fail",
    remediation: /I\/O and CPU.*smaller batches/,
  },
  {
    name: "write p99 over, blamed on a write-blocking lock hold the observer missed",
    load: { cutover: { write_p99: "250ms" } },
    facts: {
      ...cutover({ latency: lat({ p99: 300 }) }),
      locks: [
        {
          section: "migration",
          phase: "cutover",
          step: "swap",
          statement: 0,
          relation: "public.ledger",
          relation_oid: 1,
          relkind: "r",
          mode: "ShareLock",
          acquired_ms: 5000,
          released_ms: 5700,
          held_ms: 700,
          in_transaction: true,
        },
      ],
    },
    id: "budget.load.write_p99.cutover",
    status: "fail",
    remediation: /ShareLock on public\.ledger for 700 ms in cutover\/swap/,
  },
  {
    name: "write max over",
    load: { cutover: { write_max: "1s" } },
    facts: cutover({ latency: lat({ max: 1500 }) }),
    id: "budget.load.write_max.cutover",
    status: "fail",
    measured: 1500,
    limit: 1000,
  },
  {
    name: "read p99 over",
    load: { cutover: { read_p99: "50ms" } },
    facts: cutover({}, { latency: lat({ p99: 51 }) }),
    id: "budget.load.read_p99.cutover",
    status: "fail",
    measured: 51,
    finding: /read p99 51 ms/,
  },
  {
    name: "read p99 within while writes are slow",
    load: { cutover: { read_p99: "50ms" } },
    facts: cutover({ latency: lat({ p99: 5000 }) }, { latency: lat({ p99: 49 }) }),
    id: "budget.load.read_p99.cutover",
    status: "pass",
  },
  {
    name: "error rate over, in percent, counting writes and reads, with the SQLSTATEs",
    load: { cutover: { error_rate: 0.01 } },
    facts: cutover(
      { count: 1000, errors: 15, errors_by_sqlstate: { "42P01": 15 } },
      { count: 1000, errors: 10, errors_by_sqlstate: { "42P01": 5, "55P03": 5 } },
    ),
    id: "budget.load.error_rate.cutover",
    status: "fail",
    measured: 1.25,
    limit: 1,
    unit: "%",
    finding: /25 of 2,000 operations failed \(1\.25%\): 42P01 ×20, 55P03 ×5/,
    remediation: /schema in between versions/,
  },
  {
    name: "error rate within",
    load: { cutover: { error_rate: 0.01 } },
    facts: cutover({ count: 1000, errors: 10 }, { count: 1000, errors: 10 }),
    id: "budget.load.error_rate.cutover",
    status: "pass",
    measured: 1,
  },
  {
    name: "write throughput under the minimum",
    load: { cutover: { min_write_throughput: 500 } },
    facts: cutover({ throughput: 420.04 }, {}, { throughput: 12 }),
    id: "budget.load.min_write_throughput.cutover",
    status: "fail",
    measured: 420,
    unit: "writes/s",
    finding: /slowest step cutover\/swap: 12 writes\/s/,
  },
  {
    name: "write throughput at the minimum",
    load: { cutover: { min_write_throughput: 500 } },
    facts: cutover({ throughput: 500 }),
    id: "budget.load.min_write_throughput.cutover",
    status: "pass",
  },
  {
    name: "write unavailability over, paused by a step",
    load: { cutover: { max_write_unavailability: "200ms" } },
    facts: {
      ...cutover({ longest_unavailability_ms: 750 }),
      load: {
        ...cutover({ longest_unavailability_ms: 750 }).load!,
        unavailability: [{ from_ms: 5050, to_ms: 5800, reason: "paused" }],
      },
    },
    id: "budget.load.max_write_unavailability.cutover",
    status: "fail",
    measured: 750,
    limit: 200,
    finding: /writers paused from 5050 ms to 5800 ms \(750 ms\) during cutover\/swap/,
    remediation: /pause_writes and resume_writes/,
  },
  {
    name: "write unavailability within",
    load: { cutover: { max_write_unavailability: "200ms" } },
    facts: cutover({ longest_unavailability_ms: 150 }),
    id: "budget.load.max_write_unavailability.cutover",
    status: "pass",
  },
  {
    name: "load requests blocked by one lock: the smaller of waiters at once and load waiters",
    load: { cutover: { max_blocked_by_one_lock: 2 } },
    facts: facts({
      observations: observations({
        blocking: [
          episode({ max_waiters: 3, load_waiters: 9 }),
          episode({ max_waiters: 10, load_waiters: 1, blocker_is_migration: false, blocker_pid: 7 }),
          // Outside the phase: not counted.
          episode({ started_ms: 100, ended_ms: 900, max_waiters: 50, load_waiters: 50, phase: "expand" }),
        ],
      }),
    }),
    id: "budget.load.max_blocked_by_one_lock.cutover",
    status: "fail",
    measured: 3,
    limit: 2,
    unit: "requests",
    finding:
      /the migration held AccessExclusiveLock on public\.ledger from 5100 ms to 5600 ms \(cutover\/swap\): 3 load requests waited, the longest 500 ms/,
    remediation: /lock_timeout/,
  },
  {
    name: "load requests blocked by one lock: the exact count at once when the observer recorded it",
    load: { cutover: { max_blocked_by_one_lock: 4 } },
    facts: facts({
      observations: observations({
        blocking: [episode({ max_waiters: 10, load_waiters: 20, max_load_waiters: 5 })],
      }),
    }),
    id: "budget.load.max_blocked_by_one_lock.cutover",
    status: "fail",
    measured: 5,
    limit: 4,
  },
  {
    name: "load requests blocked by one lock within, whoever held it",
    load: { expand: { max_blocked_by_one_lock: 50 } },
    facts: facts({
      observations: observations({
        blocking: [episode({ started_ms: 100, ended_ms: 900, max_waiters: 50, load_waiters: 50 })],
      }),
    }),
    id: "budget.load.max_blocked_by_one_lock.expand",
    status: "pass",
    measured: 50,
  },
  {
    name: "dead tuple growth: the peak in the phase over the count at its start, worst table",
    load: { expand: { max_dead_tuple_growth: 10000 } },
    facts: facts({
      observations: observations({
        tables: [
          sample(-500, "public.ledger", 100),
          sample(1000, "public.ledger", 8000),
          sample(2000, "public.ledger", 20100),
          // Autovacuum cleaned up before the end: the peak still counts.
          sample(3000, "public.ledger", 50),
          sample(0, "public.small", 0),
          sample(4000, "public.small", 500),
          // After the phase: not counted.
          sample(5500, "public.ledger", 90000),
        ],
      }),
    }),
    id: "budget.load.max_dead_tuple_growth.expand",
    status: "fail",
    measured: 20000,
    limit: 10000,
    unit: "tuples",
    finding: /public\.ledger gained 20,000 dead tuples in expand \(100 → 20,100 at 2000 ms/,
    remediation: /batch it/,
  },
  {
    name: "dead tuple growth within; a table created in the phase starts from its first sample",
    load: { cutover: { max_dead_tuple_growth: 10000 } },
    facts: facts({
      observations: observations({
        tables: [sample(5200, "public.ledger_new", 7000), sample(5900, "public.ledger_new", 9000)],
      }),
    }),
    id: "budget.load.max_dead_tuple_growth.cutover",
    status: "pass",
    measured: 2000,
  },
];

describe("load budgets", () => {
  it.each(cases)("$name", (c) => {
    const r = run(c.load, c.facts)[c.id];
    expect(r, `no check ${c.id}`).toBeDefined();
    expect(r!.kind).toBe("budget");
    expect(r!.status, r!.summary).toBe(c.status);
    if (c.measured !== undefined) expect(r!.measured).toBe(c.measured);
    if (c.limit !== undefined) expect(r!.limit).toBe(c.limit);
    if (c.unit !== undefined) expect(r!.unit).toBe(c.unit);
    if (c.finding) expect(r!.findings.join("\n")).toMatch(c.finding);
    if (c.remediation) expect(r!.remediation).toMatch(c.remediation);
    if (c.status === "pass") {
      expect(r!.findings).toEqual([]);
      expect(r!.remediation).toBeUndefined();
    } else if (c.status === "fail") {
      expect(r!.findings.length).toBeGreaterThan(0);
      expect(r!.remediation).toBeTruthy();
    }
  });

  it('expands "*" to each migration phase, a phase\'s own entry overriding it metric by metric', () => {
    const f = cutover({ latency: lat({ p99: 300 }) });
    const r = run({ "*": { write_p99: "100ms", write_max: "1s" }, cutover: { write_p99: "500ms" } }, f);
    // error_rate 0 is every phase's default under load.
    expect(Object.keys(r)).toEqual([
      "budget.load.write_p99.expand",
      "budget.load.write_max.expand",
      "budget.load.error_rate.expand",
      "budget.load.write_p99.cutover",
      "budget.load.write_max.cutover",
      "budget.load.error_rate.cutover",
    ]);
    expect(r["budget.load.write_p99.cutover"]).toMatchObject({ status: "pass", limit: 500, measured: 300 });
    expect(r["budget.load.write_p99.expand"]).toMatchObject({ status: "pass", limit: 100 });
  });

  it("is an error for every load budget when no load ran", () => {
    const r = run(
      { "*": { write_p99: "100ms" }, cutover: { max_dead_tuple_growth: 5 } },
      facts({ load: undefined }),
    );
    expect(Object.values(r)).toHaveLength(3);
    for (const c of Object.values(r)) {
      expect(c.status).toBe("error");
      expect(c.summary).toBe("the scenario has load budgets but no load ran");
    }
  });

  it("skips a phase that did not run", () => {
    const f = facts();
    f.phases[1] = { section: "migration", name: "cutover", status: "not_executed" };
    expect(run({ cutover: { write_p99: "1s" } }, f)["budget.load.write_p99.cutover"]!.status).toBe("skipped");
  });

  it("cannot judge a phase that ran without a load window", () => {
    const f = facts();
    f.load = loadReport(f.load!.windows.filter((w) => w.phase !== "cutover"));
    for (const load of [
      { write_p99: "1s" },
      { error_rate: 0.1 },
      { min_write_throughput: 1 },
      { max_write_unavailability: "1s" },
    ]) {
      const c = Object.values(run({ cutover: load }, f)).find((x) => x.id.endsWith(".cutover"))!;
      expect(c.status, c.id).toBe("error");
      expect(c.summary).toMatch(/no (write )?load window/);
    }
  });

  it("cannot judge read_p99 when the load has no reads", () => {
    const f = facts();
    f.load = loadReport(f.load!.windows.filter((w) => w.kind === "write"));
    const c = run({ cutover: { read_p99: "1s" } }, f)["budget.load.read_p99.cutover"]!;
    expect(c.status).toBe("error");
    expect(c.summary).toMatch(/no reads/);
  });

  it("cannot judge lock and dead-tuple budgets without observations", () => {
    const r = run(
      { cutover: { max_blocked_by_one_lock: 1, max_dead_tuple_growth: 1 } },
      facts({ observations: undefined }),
    );
    expect(r["budget.load.max_blocked_by_one_lock.cutover"]!.status).toBe("error");
    expect(r["budget.load.max_dead_tuple_growth.cutover"]!.status).toBe("error");
  });

  it("names an unknown phase", () => {
    const c = run({ cutvoer: { write_p99: "1s" } }, facts())["budget.load.write_p99.cutvoer"]!;
    expect(c.status).toBe("error");
    expect(c.summary).toBe('no phase named "cutvoer" ran');
    expect(c.remediation).toContain("expand, cutover");
  });

  it("skips latency when nothing was measured (writers paused throughout)", () => {
    const c = run(
      { cutover: { write_p99: "1s" } },
      cutover({ count: 0, latency: lat({ count: 0, p99: 0 }) }),
    )["budget.load.write_p99.cutover"]!;
    expect(c.status).toBe("skipped");
  });

  it("judges the warmup by its section-named window", () => {
    const f = facts();
    f.load = loadReport([
      ...f.load!.windows,
      win({ section: "warmup", phase: "", started_ms: -2000, ended_ms: 0, latency: lat({ p99: 70 }) }),
    ]);
    const c = run({ warmup: { write_p99: "50ms" } }, f)["budget.load.write_p99.warmup"]!;
    expect(c).toMatchObject({ status: "fail", measured: 70 });
  });
});

describe("error rate: what fails and what counts", () => {
  it("counts errors, dropped and late requests over completed plus dropped, declared SQLSTATEs left out", () => {
    const f = failuresOf(
      [
        win({ count: 90, errors: 6, errors_by_sqlstate: { "23505": 4, "40001": 2 }, dropped: 10, late: 3 }),
        win({ kind: "read", count: 100, errors: 0, dropped: 0 }),
      ],
      ["23505"],
    );
    // (2 serialization failures + 10 dropped + 3 late) of (90 + 10 + 100).
    expect(f).toEqual({
      attempted: 200,
      failed: 15,
      byState: { "40001": 2, dropped: 10, late: 3 },
      expected: 4,
    });
  });

  it("reads reports written before drops were counted per window as none dropped", () => {
    expect(failuresOf([win({ count: 10, errors: 1, errors_by_sqlstate: { "42703": 1 } })]).failed).toBe(1);
  });

  it("fails a phase whose only failures are dropped requests (1,712 of 2,479 dropped is not 0 %)", () => {
    const c = run({}, cutover({ count: 767, dropped: 1712 }, { count: 0 }))[
      "budget.load.error_rate.cutover"
    ]!;
    expect(c).toMatchObject({ status: "fail", measured: 69.0601, limit: 0, unit: "%" });
    expect(c.findings[0]).toMatch(/1,712 of 2,479 operations failed .*dropped ×1,712/);
    expect(c.remediation).toMatch(/drop_after/);
  });

  it("passes a dual write's declared 23505 races and says how many it left out", () => {
    const f = cutover({ count: 1000, errors: 7, errors_by_sqlstate: { "23505": 7 } });
    f.load!.expected_errors = ["23505"];
    const c = run({}, f)["budget.load.error_rate.cutover"]!;
    expect(c.status).toBe("pass");
    expect(c.summary).toMatch(/7 expected \(23505\) not counted/);
    f.load!.expected_errors = [];
    expect(run({}, f)["budget.load.error_rate.cutover"]!.status).toBe("fail");
  });

  it('judges the soak with error_rate 0 by default, and "*" covers it', () => {
    const base = facts();
    const soak = (p: Partial<LoadWindow>) =>
      win({ section: "cooldown", phase: "soak", started_ms: 6000, ended_ms: 11000, ...p });
    const f = {
      ...base,
      load: loadReport([
        ...base.load!.windows,
        soak({ count: 1000, errors: 1000, errors_by_sqlstate: { "42703": 1000 }, throughput: 0 }),
        soak({ kind: "read" }),
      ]),
    };
    const r = run({ "*": { write_p99: "1s" } }, f);
    expect(Object.keys(r).filter((id) => id.endsWith(".soak"))).toEqual([
      "budget.load.write_p99.soak",
      "budget.load.error_rate.soak",
    ]);
    const c = r["budget.load.error_rate.soak"]!;
    expect(c).toMatchObject({ status: "fail", measured: 50 });
    expect(c.remediation).toMatch(/after the last step.*Expand and contract/s);
    // A scenario may say what the soak tolerates, as for any phase.
    expect(run({ soak: { error_rate: 0.6 } }, f)["budget.load.error_rate.soak"]!.status).toBe("pass");
  });

  it("leaves out the connection losses an injected restart_server or terminate_load_connections caused, and only those", () => {
    const f = cutover({
      count: 728,
      errors: 3,
      errors_by_sqlstate: { "57P01": 1, connection: 1, "23505": 1 },
    });
    // Without a fault step, a terminated connection is the application's error like any other.
    expect(run({}, f)["budget.load.error_rate.cutover"]!.findings[0]).toMatch(/3 of 1,728/);
    f.steps[0] = { ...f.steps[0]!, fault: "restart_server" };
    const c = run({}, f)["budget.load.error_rate.cutover"]!;
    expect(c.status).toBe("fail");
    expect(c.findings[0]).toMatch(/1 of 1,728 operations failed .*: 23505 ×1$/);
    expect(c.summary).toMatch(/2 lost with the connections the injected fault ended \(57P01, connection\)/);
    // A fault that does not touch the load's connections explains nothing.
    f.steps[0] = { ...f.steps[0]!, fault: "kill_backfill_worker" };
    expect(run({}, f)["budget.load.error_rate.cutover"]!.findings[0]).toMatch(/3 of 1,728/);
    // Nor does one that never ran.
    f.steps[0] = { ...f.steps[0]!, fault: "terminate_load_connections", status: "not_executed" };
    expect(run({}, f)["budget.load.error_rate.cutover"]!.findings[0]).toMatch(/3 of 1,728/);
  });

  it("leaves out the default error_rate of a phase too short for any request, but reports a written one as skipped", () => {
    // A 3 ms phase in which no request had its intended start: nothing to hold the default to.
    const f = cutover({ count: 0, errors: 0 }, { count: 0, errors: 0 });
    expect(run({}, f)["budget.load.error_rate.cutover"]).toBeUndefined();
    expect(run({}, f)["budget.load.error_rate.expand"]!.status).toBe("pass");
    expect(run({ cutover: { error_rate: 0 } }, f)["budget.load.error_rate.cutover"]!.status).toBe("skipped");
  });

  it("adds no default when no load ran", () => {
    expect(run({}, facts({ load: undefined }))).toEqual({});
  });
});
