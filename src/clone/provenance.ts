/**
 * The clone marker: every provider that creates a clone writes a row into `_rehearse.provenance` in it. The
 * `url` provider runs only against a database that carries it, so a production URL pasted by mistake is
 * refused instead of rehearsed on.
 */
import type pg from "pg";

export const PROVENANCE_SCHEMA = "_rehearse";
export const PROVENANCE_TABLE = `${PROVENANCE_SCHEMA}.provenance`;

export interface Provenance {
  /** The provider that created the clone ("embedded", "aurora"…). */
  provider: string;
  /** Where it was cloned from (a cache key, a source cluster), if anywhere. */
  source?: string;
  run_id?: string;
}

/** Writes (or adds to) the clone marker. Idempotent; the schema is excluded from catalog snapshots. */
export async function writeProvenance(db: pg.Client, p: Provenance): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${PROVENANCE_SCHEMA}`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS ${PROVENANCE_TABLE} (
       created_at timestamptz NOT NULL DEFAULT now(),
       provider text NOT NULL,
       source text,
       run_id text,
       tool text NOT NULL DEFAULT 'rehearse')`,
  );
  await db.query(`INSERT INTO ${PROVENANCE_TABLE} (provider, source, run_id) VALUES ($1, $2, $3)`, [
    p.provider,
    p.source ?? null,
    p.run_id ?? null,
  ]);
}

/** The marker's rows, newest first, or undefined when the database carries none. */
export async function readProvenance(
  db: pg.Client,
): Promise<{ created_at: Date; provider: string; source: string | null }[] | undefined> {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
    PROVENANCE_TABLE,
  ]);
  if (!exists.rows[0]?.t) return undefined;
  const rows = await db.query<{ created_at: Date; provider: string; source: string | null }>(
    `SELECT created_at, provider, source FROM ${PROVENANCE_TABLE} ORDER BY created_at DESC`,
  );
  return rows.rows.length > 0 ? rows.rows : undefined;
}
