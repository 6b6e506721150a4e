/**
 * Fidelity of a fitted dataset: seed a throwaway clone with the scenario, ANALYZE it, and compare its planner
 * statistics with the source's — row count, per-column null fraction, distinct count and the skew of the top
 * values — flagging columns outside the tolerances below.
 */
import pg from "pg";
import { EmbeddedProvider } from "../clone/embedded.ts";
import { embeddedBundle } from "../clone/extensions.ts";
import { loadScenario } from "../scenario/load.ts";
import { seedDataset } from "../seed/seeder.ts";
import { syncSeededSequences } from "../seed/sequences.ts";
import { closeClients, connector } from "../util/connect.ts";
import { registerSecret } from "../util/redact.ts";
import { distinctCount } from "./fit.ts";
import { type ColumnStats, readSource, type SourceTable } from "./source.ts";

/** The stated tolerances a fitted column must meet. */
export const TOLERANCE = {
  /** |fitted − source| of the row count, relative. */
  rows: 0.05,
  /** |fitted − source| of null_frac, absolute. */
  nullFrac: 0.02,
  /** |fitted − source| / source of the distinct count (or within `distinctSlack` values for small counts). */
  distinct: 0.2,
  distinctSlack: 5,
  /** |fitted − source| of the most common value's frequency and of the top-10 frequencies' sum, absolute. */
  top1: 0.03,
  top10: 0.05,
} as const;

export interface ColumnFidelity {
  column: string;
  source: { nullFrac: number; distinct: number; top1: number; top10: number };
  fitted: { nullFrac: number; distinct: number; top1: number; top10: number } | null;
  /** What is outside the tolerance; empty when the column fits. */
  problems: string[];
}

export interface TableFidelity {
  table: string;
  rows: { source: number; expected: number; fitted: number };
  columns: ColumnFidelity[];
  problems: string[];
}

export interface FidelityReport {
  tolerance: typeof TOLERANCE;
  tables: TableFidelity[];
  /** Columns (table.column) outside the tolerance. */
  flagged: string[];
}

function top(stats: ColumnStats | undefined, n: number): number {
  return (stats?.mcf ?? []).slice(0, n).reduce((a, b) => a + b, 0);
}

function summary(s: ColumnStats | undefined, rows: number) {
  return {
    nullFrac: s?.nullFrac ?? 0,
    distinct: s ? distinctCount(s.nDistinct, rows) : 0,
    top1: top(s, 1),
    top10: top(s, 10),
  };
}

/** Compares source and fitted statistics table by table. Pure. `rows`: rows the scenario seeded per table. */
export function compareStatistics(
  source: SourceTable[],
  fitted: SourceTable[],
  rows: Record<string, number>,
): FidelityReport {
  const tables: TableFidelity[] = [];
  const flagged: string[] = [];
  for (const src of source) {
    const key = src.info.qualifiedName;
    const fit = fitted.find((f) => f.info.qualifiedName === key);
    const expected = rows[key] ?? src.reltuples;
    const fittedRows = fit?.reltuples ?? 0;
    const problems: string[] = [];
    if (Math.abs(fittedRows - expected) > TOLERANCE.rows * Math.max(expected, 1))
      problems.push(`rows ${fittedRows} vs ${expected} expected`);
    const scale = src.reltuples > 0 ? expected / src.reltuples : 1;
    const columns: ColumnFidelity[] = [];
    for (const col of src.info.columns) {
      const s = src.stats.get(col.name);
      if (!s) continue;
      const srcSummary = summary(s, src.reltuples);
      // At another scale a column keeps its fraction of distinct values, or its count when that is absolute.
      srcSummary.distinct =
        s.nDistinct < 0
          ? Math.round(srcSummary.distinct * scale)
          : Math.min(srcSummary.distinct, Math.round(expected));
      const f = fit?.stats.get(col.name);
      const fittedSummary = f ? summary(f, fittedRows) : null;
      const p: string[] = [];
      if (!fittedSummary) p.push("no statistics on the clone (not seeded)");
      else {
        if (Math.abs(fittedSummary.nullFrac - srcSummary.nullFrac) > TOLERANCE.nullFrac)
          p.push(`null_frac ${fittedSummary.nullFrac.toFixed(3)} vs ${srcSummary.nullFrac.toFixed(3)}`);
        const dd = Math.abs(fittedSummary.distinct - srcSummary.distinct);
        if (dd > TOLERANCE.distinctSlack && dd > TOLERANCE.distinct * srcSummary.distinct)
          p.push(`distinct ${fittedSummary.distinct} vs ${srcSummary.distinct}`);
        if (Math.abs(fittedSummary.top1 - srcSummary.top1) > TOLERANCE.top1)
          p.push(`top value ${fittedSummary.top1.toFixed(3)} vs ${srcSummary.top1.toFixed(3)}`);
        if (Math.abs(fittedSummary.top10 - srcSummary.top10) > TOLERANCE.top10)
          p.push(`top-10 ${fittedSummary.top10.toFixed(3)} vs ${srcSummary.top10.toFixed(3)}`);
      }
      if (p.length) flagged.push(`${key}.${col.name}`);
      columns.push({ column: col.name, source: srcSummary, fitted: fittedSummary, problems: p });
    }
    tables.push({
      table: key,
      rows: { source: src.reltuples, expected: Math.round(expected), fitted: fittedRows },
      columns,
      problems,
    });
    if (problems.length) flagged.push(key);
  }
  return { tolerance: TOLERANCE, tables, flagged };
}

const pct = (n: number) => `${(n * 100).toFixed(1)}%`;

/** fidelity.md: one table per dataset table, flagged columns marked. */
export function renderFidelity(r: FidelityReport): string {
  const t = r.tolerance;
  const out = [
    "# Fidelity of the fitted dataset",
    "",
    "Planner statistics of a clone seeded with this scenario and ANALYZEd, against the source's.",
    `Tolerance: rows ±${pct(t.rows)}; null fraction ±${t.nullFrac}; distinct count ±${pct(t.distinct)} ` +
      `(or ±${t.distinctSlack} values); top value frequency ±${t.top1}; top-10 frequencies ±${t.top10}.`,
    "",
    r.flagged.length
      ? `**Outside the tolerance:** ${r.flagged.join(", ")}`
      : "Every column is within the tolerance.",
  ];
  for (const tab of r.tables) {
    out.push(
      "",
      `## ${tab.table}`,
      "",
      `rows: source ${tab.rows.source}, seeded ${tab.rows.expected}, clone ${tab.rows.fitted}` +
        (tab.problems.length ? ` — **${tab.problems.join("; ")}**` : ""),
      "",
      "| column | null frac (source / fitted) | distinct | top value | top 10 | |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const c of tab.columns) {
      const f = c.fitted;
      const cell = (a: number, b: number | undefined, digits: number) =>
        `${a.toFixed(digits)} / ${b === undefined ? "—" : b.toFixed(digits)}`;
      out.push(
        `| ${c.column} | ${cell(c.source.nullFrac, f?.nullFrac, 3)} | ${cell(c.source.distinct, f?.distinct, 0)} | ` +
          `${cell(c.source.top1, f?.top1, 3)} | ${cell(c.source.top10, f?.top10, 3)} | ${c.problems.length ? `**${c.problems.join("; ")}**` : "ok"} |`,
      );
    }
  }
  return `${out.join("\n")}\n`;
}

/**
 * Seeds a fresh embedded clone with the scenario at `dir`, ANALYZEs it and compares with `source`.
 * The clone is always removed.
 */
export async function measureFidelity(
  dir: string,
  source: SourceTable[],
  log: (line: string) => void,
): Promise<FidelityReport> {
  const rs = await loadScenario(dir, { embedded: embeddedBundle });
  const clone = await new EmbeddedProvider().start({ settings: { autovacuum: false } });
  try {
    const cfg = clone.connectionConfig();
    if (typeof cfg.password === "string") registerSecret(cfg.password);
    const clients: pg.Client[] = [];
    const connect = connector(cfg, clients);
    const db = await connect();
    try {
      for (const stmt of rs.schemaSql.statements) await db.query(stmt.sql);
      log(`fidelity: seeding a clone with the fitted dataset`);
      const seeded = await seedDataset(connect, rs.scenario.dataset);
      await syncSeededSequences(db, rs.scenario.dataset);
      await db.query("ANALYZE");
      const fitted = await readSource(
        cfg,
        source.map((s) => s.info.qualifiedName),
        () => {},
      );
      const rows = Object.fromEntries(
        seeded.map((t) => [t.table.includes(".") ? t.table : `public.${t.table}`, t.rows]),
      );
      return compareStatistics(source, fitted.tables, rows);
    } finally {
      await closeClients(clients);
    }
  } finally {
    await clone.stop();
  }
}
