/**
 * A synthetic report.json of a one-hour rehearsal: a 54-minute backfill between short steps, a cutover that
 * blocks writes for 300 ms, 2,000 writes/s, every per-second series an hour long (load, WAL, replication lag,
 * three tables sampled every second), 300 locks and a sub-second detail per step. What the page-size budget
 * (test/unit/report-html-size.test.ts) and the browser's layout test render.
 */
import type {
  LoadDetail,
  LoadSecond,
  LockHold,
  PhaseResult,
  RunReport,
  StepResult,
} from "../../src/report/model.ts";
import { loadRun } from "../unit/report-fixtures.ts";

export const HOUR_MS = 3_600_000;

/** A deterministic pseudo-random sequence (the page must be the same on every run). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

interface Plan {
  phase: string;
  step: string;
  at: number;
  ms: number;
}

const PLAN: Plan[] = [
  { phase: "expand", step: "create_shadow_table", at: 60_000, ms: 120 },
  { phase: "expand", step: "create_sync_trigger", at: 60_200, ms: 40 },
  { phase: "expand", step: "index_shadow_concurrently", at: 60_300, ms: 95_000 },
  { phase: "backfill", step: "backfill_history", at: 156_000, ms: 3_090_000 },
  { phase: "backfill", step: "analyze_shadow", at: 3_246_500, ms: 8_000 },
  { phase: "validate", step: "validate_fk_not_valid", at: 3_255_000, ms: 42_000 },
  { phase: "cutover", step: "pause_writes", at: 3_300_000, ms: 20 },
  { phase: "cutover", step: "swap_names", at: 3_300_030, ms: 300 },
  { phase: "cutover", step: "sync_sequence", at: 3_300_340, ms: 15 },
  { phase: "cutover", step: "resume_writes", at: 3_300_360, ms: 10 },
  { phase: "cleanup", step: "drop_sync_trigger", at: 3_301_000, ms: 60 },
  { phase: "cleanup", step: "drop_old_table", at: 3_301_100, ms: 900 },
];

function detail(p: Plan, next: () => number): LoadDetail {
  const from = p.at - 500;
  const to = p.at + p.ms + 500;
  let bucket = 10;
  while ((to - from) / bucket > 256) bucket *= 2;
  const points = [];
  for (let t = from; t < to; t += bucket) {
    const blocked = p.step === "swap_names" && t >= p.at && t < p.at + p.ms;
    if (blocked) continue;
    const p99 = 4 + next() * 20;
    points.push({
      t_ms: t,
      writes: Math.round((2000 * bucket) / 1000),
      errors: 0,
      write_p50: 2 + next(),
      write_p99: p99,
      write_max: p99 * 1.3,
    });
  }
  return {
    section: "migration",
    phase: p.phase,
    step: p.step,
    started_ms: p.at,
    ended_ms: p.at + p.ms,
    from_ms: from,
    to_ms: to,
    bucket_ms: bucket,
    points,
  };
}

export function hourReport(): RunReport {
  const r = loadRun();
  const next = rng(7);
  r.duration_ms = HOUR_MS + 30_000;
  r.finished_at = "2024-06-11T11:15:30.000Z";
  const template = r.steps[1]!;
  r.steps = PLAN.map((p): StepResult => ({
    ...template,
    phase: p.phase,
    name: p.step,
    started_ms: p.at,
    duration_ms: p.ms,
    statements: [{ ...template.statements[0]!, duration_ms: p.ms }],
  }));
  const phases = [...new Set(PLAN.map((p) => p.phase))];
  r.phases = phases.map((name): PhaseResult => {
    const steps = PLAN.filter((p) => p.phase === name);
    const start = steps[0]!.at;
    const end = Math.max(...steps.map((p) => p.at + p.ms));
    return { section: "migration", name, status: "success", started_ms: start, duration_ms: end - start };
  });
  const series: LoadSecond[] = [];
  for (let t = 0; t < HOUR_MS / 1000; t++) {
    const cut = t === 3_300;
    series.push({
      t,
      writes: cut ? 1_400 : 1_990 + Math.round(next() * 20),
      reads: 480 + Math.round(next() * 40),
      errors: next() < 0.01 ? 1 : 0,
      write_p50: 2 + next(),
      write_p99: cut ? 310 : 6 + next() * 30,
      read_p99: 5 + next() * 20,
      in_flight: Math.round(next() * 30),
    });
  }
  r.load!.series = series;
  r.load!.detail = PLAN.map((p) => detail(p, next));
  const locks: LockHold[] = [];
  for (let i = 0; i < 300; i++) {
    const p = PLAN[i % PLAN.length]!;
    locks.push({
      ...r.locks[0]!,
      phase: p.phase,
      step: p.step,
      relation: `public.orders_part_${i % 40}`,
      relation_oid: 20_000 + i,
      relkind: "r",
      table: "public.orders",
      mode: i % 3 === 0 ? "AccessExclusiveLock" : "ShareUpdateExclusiveLock",
      acquired_ms: p.at,
      released_ms: p.at + p.ms,
      held_ms: p.ms,
    });
  }
  r.locks = locks;
  const tables = ["public.orders", "public.orders_shadow", "public.customers"];
  r.observations = {
    interval_ms: 1_000,
    samples: HOUR_MS / 1000,
    blocking: PLAN.slice(0, 8).map((p, i) => ({
      blocker_pid: 100 + i,
      blocker_is_migration: i % 2 === 0,
      relation: "public.orders",
      mode: "RowExclusiveLock",
      started_ms: p.at,
      ended_ms: p.at + Math.min(p.ms, 300),
      max_waiters: 12,
      load_waiters: 12,
      longest_wait_ms: Math.min(p.ms, 300),
      phase: p.phase,
      step: p.step,
    })),
    tables: series.flatMap((sec) =>
      tables.map((table, i) => ({
        t: sec.t * 1000,
        table,
        live: 1_000_000 * (i + 1) + sec.t * 2,
        dead: Math.round(next() * 5_000),
        autovacuum_running: false,
      })),
    ),
    wal: series.map((sec) => ({ t: sec.t * 1000, bytes_per_s: 4_000_000 + next() * 2_000_000 })),
    replication_lag: series.map((sec) => ({ t: sec.t * 1000, lag_ms: next() * 50 })),
  };
  return r;
}
