/**
 * Production's size, when the scenario came from `rehearse init`: the source's row count per table
 * (pg_class.reltuples at init time), which init recorded in the scenario folder's fidelity.json. The report's
 * caveats set the rehearsed scale beside it. A scenario written by hand has no such file: undefined.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

export async function sourceRowCounts(scenarioPath: string): Promise<Record<string, number> | undefined> {
  let parsed: { tables?: { table?: unknown; rows?: { source?: unknown } }[] };
  try {
    parsed = JSON.parse(await readFile(path.join(scenarioPath, "fidelity.json"), "utf8")) as typeof parsed;
  } catch {
    return undefined; // no fidelity.json (or not JSON): nothing known of production
  }
  const out: Record<string, number> = {};
  for (const t of parsed.tables ?? []) {
    const rows = Number(t.rows?.source);
    if (typeof t.table === "string" && Number.isFinite(rows) && rows > 0)
      out[t.table.replace(/^public\./, "")] = rows;
  }
  return Object.keys(out).length ? out : undefined;
}
