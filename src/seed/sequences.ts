import type pg from "pg";
import { ident, qualified } from "../db/sql.ts";
import type { Dataset } from "../scenario/schema.ts";

/**
 * The seeder writes explicit values into columns whose DEFAULT draws from a sequence (serial, identity, or a
 * plain nextval default); left alone, the sequence would then hand out ids that already exist and every
 * write of the replayed load would fail with 23505. Advance each such sequence past the seeded values, the
 * way a production database's sequence stands past its rows. Returns the sequences it moved.
 */
export async function syncSeededSequences(db: pg.Client, dataset: Dataset): Promise<string[]> {
  const moved: string[] = [];
  for (const t of dataset.tables) {
    for (const column of Object.keys(t.columns)) {
      const res = await db.query<{ seq: string | null }>(
        `SELECT coalesce(
            pg_get_serial_sequence($1, $2),
            (SELECT (regexp_match(pg_get_expr(d.adbin, d.adrelid), 'nextval\\(''([^'']+)''::regclass\\)'))[1]
               FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
              WHERE d.adrelid = $1::regclass AND a.attname = $2)) AS seq`,
        [qualified(t.name), column],
      );
      const seq = res.rows[0]?.seq;
      if (!seq) continue;
      // The column name is quoted; the sequence name comes from the catalog and is passed as a value.
      const q = `SELECT setval($1::regclass, max(${ident(column)})) FROM ${qualified(t.name)} HAVING max(${ident(column)}) IS NOT NULL`;
      await db.query(q, [seq]);
      moved.push(seq);
    }
  }
  return moved;
}
