/**
 * `rehearse run --project-to`: the same scenario rehearsed at several scales, one after another (each run is
 * a complete rehearsal with its own clone and report folder), and where the production row count comes from.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { RunReport } from "../report/model.ts";
import type { RehearsalOptions } from "../run/rehearsal.ts";

export const DEFAULT_PROJECTION_SCALES = [1, 2, 4];

export class ProjectionInputError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/**
 * Rehearses at each factor × the requested size (scale and explicit rows both multiplied), in order.
 * `onReport` runs after each (to write its folder); stops early when a run was interrupted.
 */
export async function rehearseAtScales(
  base: RehearsalOptions,
  factors: readonly number[],
  onReport: (report: RunReport, factor: number) => Promise<void>,
): Promise<RunReport[]> {
  const { rehearse } = await import("../run/rehearsal.ts");
  const reports: RunReport[] = [];
  for (const f of factors) {
    const rows = base.rows
      ? Object.fromEntries(Object.entries(base.rows).map(([t, n]) => [t, Math.max(1, Math.round(n * f))]))
      : undefined;
    base.logger.info(`projection: rehearsing at ×${f}`);
    const report = await rehearse({ ...base, scale: (base.scale ?? 1) * f, rows });
    reports.push(report);
    await onReport(report, f);
    if (report.status === "aborted") break;
  }
  return reports;
}

interface FidelityFile {
  tables?: { table?: unknown; rows?: { source?: unknown; expected?: unknown } }[];
}

/**
 * The source's row count for `--project-to-source`: pg_class.reltuples of the largest table, as
 * `rehearse init` recorded it in the scenario's fidelity.json.
 */
export async function sourceRows(scenarioPath: string): Promise<{ table: string; rows: number }> {
  const file = path.join(scenarioPath, "fidelity.json");
  let parsed: FidelityFile;
  try {
    parsed = JSON.parse(await readFile(file, "utf8")) as FidelityFile;
  } catch {
    throw new ProjectionInputError(
      `--project-to-source needs ${file}, which \`rehearse init\` writes with the source's row counts; it is missing or not JSON`,
      "pass the production row count with --project-to <rows>, or re-run `rehearse init` without --no-fidelity",
    );
  }
  let best: { table: string; rows: number; expected: number } | undefined;
  for (const t of parsed.tables ?? []) {
    const rows = Number(t.rows?.source);
    const expected = Number(t.rows?.expected);
    if (typeof t.table !== "string" || !Number.isFinite(rows) || !Number.isFinite(expected)) continue;
    if (!best || expected > best.expected) best = { table: t.table, rows, expected };
  }
  if (!best || best.rows <= 0)
    throw new ProjectionInputError(
      `${file} records no source row count (tables[].rows.source)`,
      "pass the production row count with --project-to <rows>",
    );
  return { table: best.table, rows: best.rows };
}
