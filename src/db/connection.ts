/** Work that must stay on one session (BEGIN … ROLLBACK) gets one connection, whatever Queryable the caller holds. */
import pg from "pg";
import type { Queryable } from "./sql.ts";

/**
 * Runs `fn` on a single connection: a Pool would spread consecutive statements over several, so it lends one
 * for the duration; a Client or PoolClient already is one.
 */
export async function withOneConnection<T>(db: Queryable, fn: (c: Queryable) => Promise<T>): Promise<T> {
  if (db instanceof pg.Pool) {
    const client = await db.connect();
    try {
      return await fn(client);
    } finally {
      client.release();
    }
  }
  return fn(db);
}
