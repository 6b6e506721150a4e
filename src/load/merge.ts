/**
 * The rollback runs under its own load instance (the migration's has stopped by then); the report keeps one
 * load section covering both, so windows, series and totals are concatenated or summed.
 */
import type { LoadReport, Observations } from "../report/model.ts";

function sumCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

type Operations = NonNullable<LoadReport["operations"]>;

/** The mix's counts of the migration and the rollback, operation by operation (same scenario, same names). */
function sumOperations(a: Operations | undefined, b: Operations | undefined): Operations | undefined {
  if (!a || !b) return a ?? b;
  return a.map((x) => {
    const y = b.find((o) => o.name === x.name);
    if (!y) return x;
    const sum = (k: "intended" | "ok" | "errors" | "dropped") => x[k] + y[k];
    return { ...x, intended: sum("intended"), ok: sum("ok"), errors: sum("errors"), dropped: sum("dropped") };
  });
}

export function mergeLoadReports(a: LoadReport, b: LoadReport): LoadReport {
  const operations = sumOperations(a.operations, b.operations);
  return {
    ...a,
    totals: {
      intended: a.totals.intended + b.totals.intended,
      writes_ok: a.totals.writes_ok + b.totals.writes_ok,
      reads_ok: a.totals.reads_ok + b.totals.reads_ok,
      errors: a.totals.errors + b.totals.errors,
      late: a.totals.late + b.totals.late,
      dropped: a.totals.dropped + b.totals.dropped,
      paused: a.totals.paused + b.totals.paused,
      errors_by_sqlstate: sumCounts(a.totals.errors_by_sqlstate, b.totals.errors_by_sqlstate),
    },
    error_samples: [
      ...(a.error_samples ?? []),
      ...(b.error_samples ?? []).filter(
        (x) => !(a.error_samples ?? []).some((y) => y.sqlstate === x.sqlstate),
      ),
    ],
    windows: [...a.windows, ...b.windows],
    series: [...a.series, ...b.series],
    ...(a.detail || b.detail ? { detail: [...(a.detail ?? []), ...(b.detail ?? [])] } : {}),
    unavailability: [...a.unavailability, ...b.unavailability],
    ack: {
      acknowledged: a.ack.acknowledged + b.ack.acknowledged,
      indeterminate: a.ack.indeterminate + b.ack.indeterminate,
      file: a.ack.file,
    },
    source: {
      rows_read: a.source.rows_read + b.source.rows_read,
      wrapped: a.source.wrapped + b.source.wrapped,
    },
    flags: [...a.flags, ...b.flags],
    ...(a.connection_losses || b.connection_losses
      ? { connection_losses: [...(a.connection_losses ?? []), ...(b.connection_losses ?? [])] }
      : {}),
    ...(operations ? { operations } : {}),
  };
}

export function mergeObservations(a: Observations, b: Observations): Observations {
  return {
    interval_ms: a.interval_ms,
    samples: a.samples + b.samples,
    blocking: [...a.blocking, ...b.blocking],
    tables: [...a.tables, ...b.tables],
    wal: [...a.wal, ...b.wal],
    replication_lag: [...a.replication_lag, ...b.replication_lag],
    failure: a.failure ?? b.failure,
  };
}
