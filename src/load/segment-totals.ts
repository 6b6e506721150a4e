/**
 * What one segment of the load counted (segment-core.ts), as plain data that crosses a thread (or, later, a
 * process) boundary; the sum over segments; and the load's report assembled from that sum, the merged
 * measurements, the ack ledger and the flags. One assembly for the in-process engine and the segmented one,
 * so the two report alike.
 */
import type { LoadReport } from "../report/model.ts";
import type { Load } from "../scenario/schema.ts";
import { describeRate } from "./arrivals.ts";
import type { ErrorSample } from "./error-tally.ts";
import type { FlagRecord } from "./flags.ts";
import type { Measurements } from "./measurements.ts";
import { MixTally } from "./mix.ts";

type LoadTotals = LoadReport["totals"];

/** The report's totals (counted per segment, then summed), and what else the report needs from a segment. */
export interface SegmentTotals extends LoadTotals {
  error_samples: ErrorSample[];
  /** Per operation of the write mix, in the mix's order. */
  mix: { intended: number[]; ok: number[]; errors: number[]; dropped: number[] };
  source: { rows_read: number; wrapped: number; starved: number };
  /** ms since t0, ascending. */
  connection_losses: number[];
}

const addInto = (a: number[], b: readonly number[]) => a.map((x, i) => x + (b[i] ?? 0));

/** The segments' counts added up; each SQLSTATE's sample is the earliest any segment saw. */
export function sumTotals(parts: readonly SegmentTotals[]): SegmentTotals {
  const [first, ...others] = parts;
  if (!first) throw new RangeError("no segment reported its counts");
  const out: SegmentTotals = structuredClone(first);
  for (const p of others) {
    out.intended += p.intended;
    out.writes_ok += p.writes_ok;
    out.reads_ok += p.reads_ok;
    out.errors += p.errors;
    out.late += p.late;
    out.dropped += p.dropped;
    out.paused += p.paused;
    for (const [k, v] of Object.entries(p.errors_by_sqlstate))
      out.errors_by_sqlstate[k] = (out.errors_by_sqlstate[k] ?? 0) + v;
    for (const s of p.error_samples) {
      const i = out.error_samples.findIndex((x) => x.sqlstate === s.sqlstate);
      if (i < 0) out.error_samples.push(s);
      else if (s.first_ms < out.error_samples[i]!.first_ms) out.error_samples[i] = s;
    }
    out.mix = {
      intended: addInto(out.mix.intended, p.mix.intended),
      ok: addInto(out.mix.ok, p.mix.ok),
      errors: addInto(out.mix.errors, p.mix.errors),
      dropped: addInto(out.mix.dropped, p.mix.dropped),
    };
    out.source = {
      rows_read: out.source.rows_read + p.source.rows_read,
      wrapped: Math.max(out.source.wrapped, p.source.wrapped),
      starved: out.source.starved + p.source.starved,
    };
    out.connection_losses = [...out.connection_losses, ...p.connection_losses].sort((a, b) => a - b);
  }
  return out;
}

export interface ReportInputs {
  load: Load;
  /** The compiled write mix's operations (names, weights). */
  operations: readonly { name: string; weight: number }[];
  totals: SegmentTotals;
  /** The merged measurements, still open: finished at `now`. */
  measurements: Measurements;
  now: number;
  ledger: { acknowledged: number; indeterminate: number; file: string };
  flags: FlagRecord[];
}

/** The load section of report.json. */
export function assembleReport(x: ReportInputs): LoadReport {
  const parts = x.measurements.finish(x.now);
  const t = x.totals;
  const mix = new MixTally(x.operations.length);
  mix.intended.set(t.mix.intended);
  mix.ok.set(t.mix.ok);
  mix.errors.set(t.mix.errors);
  mix.dropped.set(t.mix.dropped);
  return {
    engine: "native",
    mode: x.load.mode,
    rate: describeRate(x.load.rate),
    connections: x.load.connections,
    totals: {
      intended: t.intended,
      writes_ok: t.writes_ok,
      reads_ok: t.reads_ok,
      errors: t.errors,
      late: t.late,
      dropped: t.dropped,
      paused: t.paused,
      errors_by_sqlstate: { ...t.errors_by_sqlstate },
    },
    error_samples: t.error_samples,
    windows: parts.windows,
    series: parts.series,
    ...(parts.detail.length > 0 ? { detail: parts.detail } : {}),
    unavailability: parts.unavailability,
    ack: { acknowledged: x.ledger.acknowledged, indeterminate: x.ledger.indeterminate, file: x.ledger.file },
    source: { rows_read: t.source.rows_read, wrapped: t.source.wrapped },
    flags: x.flags,
    ...(t.connection_losses.length > 0 ? { connection_losses: [...t.connection_losses] } : {}),
    // Only a scenario that gives a mix gets per-operation counts: older reports' load stays as it was.
    ...(x.load.write.mix ? { operations: mix.report(x.operations) } : {}),
  };
}
