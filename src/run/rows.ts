/** How many rows each table gets, from the dataset and --rows/--scale: checked before any clone starts. */
import type { ResolvedScenario } from "../scenario/load.ts";
import { UsageError } from "./errors.ts";
import type { RehearsalOptions } from "./options.ts";

/** Rows per table: an explicit count, else the declared rows times the scale. "*" names the largest table. */
export function resolveRows(
  rs: ResolvedScenario,
  opts: Pick<RehearsalOptions, "rows" | "scale">,
): Record<string, number> {
  const tables = rs.scenario.dataset.tables;
  const seeded = tables.map((t) => t.name);
  for (const [name, n] of Object.entries(opts.rows ?? {})) {
    if (name === "*" ? seeded.length > 0 : seeded.includes(name)) continue;
    throw new UsageError(
      name === "*"
        ? `--rows ${n}: the dataset seeds no table (dataset.tables is empty)`
        : `--rows ${name}=${n}: the dataset seeds no table "${name}" (it seeds: ${seeded.join(", ") || "none"})`,
      seeded.length > 0
        ? `name a table from dataset.tables (--rows ${seeded[0]}=${n}), or give --rows ${n} for the largest`
        : "add the table to dataset.tables, or drop --rows",
    );
  }
  const largest = [...tables].sort((a, b) => b.rows - a.rows)[0]?.name;
  const rows: Record<string, number> = {};
  for (const t of tables) {
    const explicit = opts.rows?.[t.name] ?? (t.name === largest ? opts.rows?.["*"] : undefined);
    rows[t.name] = explicit ?? Math.max(1, Math.round(t.rows * (opts.scale ?? 1)));
  }
  return rows;
}
