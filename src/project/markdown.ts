/**
 * projection.md: the projection for a reviewer — the total at production size with its error and the
 * caveat first, then each phase (flat or growing, and why), then the backfill rates and the method.
 */
import { markdownTable } from "markdown-table";
import { formatNumber } from "../report/format.ts";
import type { Projection, ProjectedSeries } from "./projection.ts";

/** 850 ms, 4.2 s, 12 min, 3.4 h, 2.1 d: projections reach far past the minutes a rehearsal takes. */
export function formatLongDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 86_400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

function withError(ms: number, error: number | null): string {
  return error === null
    ? `${formatLongDuration(ms)} (error unknown: two scales)`
    : `${formatLongDuration(ms)} ± ${formatLongDuration(error)}`;
}

const cell = (t: string) => t.replace(/\|/g, "\\|").replace(/</g, "&lt;");

function seriesRows(list: ProjectedSeries[]): string[][] {
  return list.map((s) => [
    cell(`${s.section === "rollback" ? "rollback: " : ""}${s.phase}${s.step ? `/${s.step}` : ""}`),
    s.kind,
    s.samples.map((x) => `${formatNumber(x.rows)}: ${Math.round(x.duration_ms)} ms`).join("<br>"),
    withError(s.projected_ms, s.error_ms),
    cell(s.evidence),
  ]);
}

/** Renders projection.md. */
export function renderProjectionMarkdown(p: Projection): string {
  const out: string[] = [];
  out.push(`# Projection: ${p.scenario} at ${formatNumber(p.target_rows)} rows of ${p.table}`, "");
  out.push(
    `**Projected migration: ${withError(p.total.projected_ms, p.total.error_ms)}** ` +
      `(growing with rows ${formatLongDuration(p.total.growing_ms)}, flat ${formatLongDuration(p.total.flat_ms)}), ` +
      `from ${p.runs.length} runs at ${p.runs.map((r) => formatNumber(r.rows)).join(", ")} rows` +
      (p.target_from === "source_reltuples" ? " (target: the source's pg_class.reltuples)." : "."),
    "",
  );
  out.push(`> **Lower bound, order of magnitude.** ${p.caveat}`, "");
  const failed = p.runs.filter((r) => r.exit_code !== 0);
  if (failed.length > 0)
    out.push(
      `Runs that did not pass (durations of steps that failed are left out of the fit): ` +
        failed.map((r) => `${r.run_id} (${r.status})`).join(", "),
      "",
    );
  out.push("## Phases", "");
  out.push(
    markdownTable([["phase", "kind", "measured (rows: ms)", "projected", "why"], ...seriesRows(p.phases)]),
    "",
  );
  out.push("## Steps", "");
  out.push(
    markdownTable([["step", "kind", "measured (rows: ms)", "projected", "why"], ...seriesRows(p.steps)]),
    "",
  );
  const backfills = p.steps.filter((s) => s.backfill);
  if (backfills.length > 0) {
    out.push("## Backfill rates", "");
    for (const s of backfills) {
      const b = s.backfill!;
      out.push(
        `- \`${s.phase}/${s.step}\`: ${b.rows_per_s.map(formatNumber).join(" → ")} rows/s measured; ` +
          (b.marginal_rows_per_s === null
            ? "no marginal rate (duration did not grow)"
            : `marginal ${formatNumber(b.marginal_rows_per_s)} rows/s from the fit`) +
          `; projected ${withError(s.projected_ms, s.error_ms)}`,
      );
    }
    out.push("");
  }
  if (p.warnings.length > 0) {
    out.push("## Not projected", "");
    for (const w of p.warnings) out.push(`- ${cell(w)}`);
    out.push("");
  }
  out.push("## Method", "", p.method, "");
  return `${out.join("\n")}\n`;
}
