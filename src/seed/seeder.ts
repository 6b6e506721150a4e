/**
 * Loads a scenario's dataset into the clone with COPY, streaming generated rows over several connections.
 *
 * Each table's rows are split into fixed chunks (generators.ts); every connection runs one
 * `COPY … FROM STDIN` per table and pulls the next unclaimed chunk until none are left. Node renders a piece of
 * one connection's chunk while the other backend is busy parsing and inserting what it was sent, so the two
 * overlap; on a two-core machine two connections keep both cores busy without the three-way contention a
 * third would add. Chunks are deterministic, so which connection loads which chunk does not change the data.
 */
import { once } from "node:events";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { ident, qualified } from "../db/sql.ts";
import type { SeedTableResult } from "../report/model.ts";
import type { Dataset } from "../scenario/schema.ts";
import { type CompiledTable, compileTable } from "./generators.ts";

export interface SeedProgress {
  table: string;
  /** Rows sent so far for this table. */
  rows: number;
  total: number;
  rowsPerS: number;
}

export interface SeedOptions {
  /** Exact row counts by table name; wins over `scale`. */
  rows?: Record<string, number>;
  /** Multiplies every table's `rows` (rounded); default 1. */
  scale?: number;
  /** Called at most about twice a second per table, and once when a table is done. */
  onProgress?: (p: SeedProgress) => void;
  /** Connections to load over (default 2). The data does not depend on it. */
  connections?: number;
}

/** A table that failed to load; `cause` is the PostgreSQL or generator error. */
export class SeedError extends Error {
  override name = "SeedError";
  constructor(
    readonly table: string,
    cause: unknown,
  ) {
    super(`seeding ${table} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Bytes rendered per COPY write. Large writes amortise the per-message and per-syscall cost; measured on the
 * bench, 64 KB to 1 MB all perform alike (within noise), so this sits in the middle.
 */
const PIECE_BYTES = 128 * 1024;
const PROGRESS_INTERVAL_MS = 500;
const DEFAULT_CONNECTIONS = 2;

/** Rows to load into a table: an explicit count, else the scenario's count times the scale. */
export function rowsFor(
  table: { name: string; rows: number },
  options: Pick<SeedOptions, "rows" | "scale">,
): number {
  const explicit = options.rows?.[table.name];
  return explicit ?? Math.round(table.rows * (options.scale ?? 1));
}

/**
 * Seeds every dataset table in order with generated rows. Does not run `dataset.schema` or `dataset.after`:
 * the caller does, around this. `connect` must return a new, connected client each call; they are all closed
 * before this returns or throws.
 */
export async function seedDataset(
  connect: () => Promise<pg.Client>,
  dataset: Dataset,
  options: SeedOptions = {},
): Promise<SeedTableResult[]> {
  // Plan first: every generator config is checked before the first connection, so a typo costs no I/O.
  const plans = dataset.tables.map((t) => {
    const rows = rowsFor(t, options);
    if (!Number.isSafeInteger(rows) || rows < 0)
      throw new SeedError(t.name, new RangeError(`row count ${rows}`));
    try {
      return compileTable(t, dataset.seed, rows);
    } catch (err) {
      throw new SeedError(t.name, err);
    }
  });
  const wanted = Math.max(1, Math.floor(options.connections ?? DEFAULT_CONNECTIONS));
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < wanted; i++) {
      const client = await connect();
      clients.push(client);
      // Without this, every row fires the tables' user triggers (audit, routing, sync…) and every FK row check,
      // which is slower by an order of magnitude and forces parents to be loaded before children. Replica
      // mode skips both, as logical replication does (only triggers marked ENABLE ALWAYS still fire). The cost:
      // FK consistency of generated data is not checked; scenarios that need it set `fire_triggers: true`.
      // Setting it needs a superuser (or, from PostgreSQL 15, a GRANT SET), which a throwaway clone has.
      if (!dataset.fire_triggers) await client.query("SET session_replication_role = replica");
    }
    const results: SeedTableResult[] = [];
    for (const plan of plans) results.push(await seedTable(clients, plan, options.onProgress));
    return results;
  } finally {
    await Promise.allSettled(clients.map((c) => c.end()));
  }
}

async function seedTable(
  clients: pg.Client[],
  plan: CompiledTable,
  onProgress: SeedOptions["onProgress"],
): Promise<SeedTableResult> {
  const started = performance.now();
  if (plan.rows > 0) {
    if (plan.columns.length === 0) await insertDefaults(clients[0]!, plan);
    else await copyChunks(clients, plan, onProgress, started);
  }
  const durationMs = performance.now() - started;
  const rowsPerS = durationMs > 0 ? plan.rows / (durationMs / 1000) : 0;
  onProgress?.({ table: plan.name, rows: plan.rows, total: plan.rows, rowsPerS });
  return {
    table: plan.name,
    rows: plan.rows,
    duration_ms: Math.round(durationMs),
    rows_per_s: Math.round(rowsPerS),
  };
}

/** A table with no generated columns: every column takes its DEFAULT, which COPY cannot express. */
async function insertDefaults(client: pg.Client, plan: CompiledTable): Promise<void> {
  try {
    await client.query(`INSERT INTO ${qualified(plan.name)} SELECT FROM generate_series(1, $1::bigint)`, [
      plan.rows,
    ]);
  } catch (err) {
    throw new SeedError(plan.name, err);
  }
}

async function copyChunks(
  clients: pg.Client[],
  plan: CompiledTable,
  onProgress: SeedOptions["onProgress"],
  started: number,
): Promise<void> {
  const sql = `COPY ${qualified(plan.name)} (${plan.columns.map(ident).join(", ")}) FROM STDIN`;
  let nextChunk = 0;
  let sent = 0;
  let lastProgress = started;
  let failure: unknown;

  const worker = async (client: pg.Client): Promise<void> => {
    const stream = client.query(copyFrom(sql));
    let streamError: Error | undefined;
    // Listen at once: an error (a bad value, a constraint) can arrive while we are still rendering.
    stream.on("error", (err: Error) => {
      streamError ??= err;
    });
    try {
      while (failure === undefined && streamError === undefined) {
        const chunk = nextChunk++;
        if (chunk >= plan.chunks) break;
        const cursor = plan.openChunk(chunk);
        while (failure === undefined && streamError === undefined) {
          const before = cursor.row;
          const piece = cursor.next(PIECE_BYTES);
          if (piece === undefined) break;
          // Backpressure: wait until the socket has taken the previous piece before rendering more.
          if (!stream.write(piece)) await once(stream, "drain");
          sent += cursor.row - before;
          const now = performance.now();
          if (onProgress && now - lastProgress >= PROGRESS_INTERVAL_MS) {
            lastProgress = now;
            onProgress({
              table: plan.name,
              rows: sent,
              total: plan.rows,
              rowsPerS: sent / ((now - started) / 1000),
            });
          }
        }
      }
      if (failure !== undefined || streamError !== undefined) throw streamError ?? failure;
      stream.end();
      await once(stream, "finish");
    } catch (err) {
      failure ??= err;
      // When the server failed the COPY it has already left copy mode; otherwise (the other connection failed,
      // or rendering threw) abort ours with CopyFail so its rows roll back and the connection is usable again.
      if (streamError === undefined && !stream.destroyed) {
        const closed = new Promise((resolve) => stream.once("close", resolve));
        stream.destroy(err instanceof Error ? err : new Error(String(err)));
        await closed;
      }
    }
  };

  await Promise.all(clients.slice(0, Math.max(1, Math.min(clients.length, plan.chunks))).map(worker));
  if (failure !== undefined) throw new SeedError(plan.name, failure);
}
