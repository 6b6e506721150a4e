import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { ident } from "../../src/db/sql.ts";
import { Dataset } from "../../src/scenario/schema.ts";
import { SeedError, type SeedProgress, seedDataset } from "../../src/seed/seeder.ts";

const ROWS = 20_000;

// A schema-qualified, mixed-case table with a reserved-word column: every name has to be quoted to work.
// The trigger and the foreign key would both reject every row if they fired during seeding.
const SCHEMA_SQL = `
  CREATE SCHEMA app;
  CREATE TABLE app.accounts (id bigint PRIMARY KEY);
  CREATE TABLE app."Ledger" (
    id bigint NOT NULL,
    account_id bigint NOT NULL REFERENCES app.accounts (id),
    amount numeric(12, 2),
    created_at timestamptz NOT NULL,
    "order" text NOT NULL,
    ref uuid,
    memo text,
    meta jsonb,
    source text NOT NULL DEFAULT 'seeded'
  );
  CREATE FUNCTION app.reject() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'trigger fired on row %', NEW.id; END $$;
  CREATE TRIGGER reject BEFORE INSERT ON app."Ledger" FOR EACH ROW EXECUTE FUNCTION app.reject();
  CREATE TABLE app.counters (id serial PRIMARY KEY, created timestamptz NOT NULL DEFAULT now());
`;

function dataset(seed: number, extra: Partial<Dataset> = {}): Dataset {
  return Dataset.parse({
    schema: SCHEMA_SQL,
    seed,
    tables: [
      {
        name: "app.Ledger",
        rows: ROWS / 2,
        columns: {
          id: { gen: "serial" },
          account_id: { gen: "zipf", min: 1, max: 5000, s: 1.1 },
          amount: { gen: "uniform", min: -100, max: 100, decimals: 2 },
          created_at: { gen: "timestamp", from: "2024-01-01", to: "2024-06-30", order: "ascending" },
          order: { gen: "choice", values: { debit: 3, credit: 1, "tab\tand\\slash": 0.2 } },
          ref: { gen: "uuid", null_fraction: 0.2 },
          memo: { gen: "text", template: "payment {n} for {word}\nline two" },
          meta: { gen: "json", template: '{"n": {n}, "tag": "{choice:a|b}", "ref": {uuid}}' },
        },
      },
      { name: "app.counters", rows: 5, columns: {} },
    ],
    ...extra,
  });
}

let clone: Clone;

async function connectTo(database?: string): Promise<pg.Client> {
  const client = new pg.Client({ ...clone.connectionConfig(), ...(database ? { database } : {}) });
  await client.connect();
  return client;
}

async function withDb<T>(database: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = await connectTo(database);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** Creates a fresh database with the scenario schema; returns its name. */
async function freshDatabase(name: string): Promise<string> {
  await withDb("postgres", (admin) => admin.query(`CREATE DATABASE ${ident(name)}`));
  await withDb(name, (db) => db.query(SCHEMA_SQL));
  return name;
}

/** A digest of every seeded row, in id order. */
async function ledgerDigest(database: string): Promise<string> {
  return withDb(database, async (db) => {
    const { rows } = await db.query(
      `SELECT md5(string_agg(l::text, E'\\n' ORDER BY l.id)) AS digest FROM app."Ledger" l`,
    );
    return rows[0].digest as string;
  });
}

/** Client backends other than the asking one; waits briefly for closed connections' backends to exit. */
async function otherBackends(database: string): Promise<number> {
  return withDb("postgres", async (db) => {
    let n = -1;
    for (let i = 0; i < 50; i++) {
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
        [database],
      );
      n = rows[0].n;
      if (n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return n;
  });
}

beforeAll(async () => {
  clone = await new EmbeddedProvider().start({});
});

afterAll(async () => {
  await clone?.stop();
});

describe("seedDataset", () => {
  const progress: SeedProgress[] = [];
  let results: Awaited<ReturnType<typeof seedDataset>>;

  beforeAll(async () => {
    await freshDatabase("first");
    // scale 2 turns the scenario's 10k rows into 20k, across the default two connections.
    results = await seedDataset(() => connectTo("first"), dataset(42), {
      scale: 2,
      rows: { "app.counters": 5 },
      onProgress: (p) => progress.push(p),
    });
  });

  it("reports every table's rows and rate", () => {
    expect(results.map((r) => [r.table, r.rows])).toEqual([
      ["app.Ledger", ROWS],
      ["app.counters", 5],
    ]);
    expect(results[0]!.rows_per_s).toBeGreaterThan(0);
    expect(results[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    const last = progress.filter((p) => p.table === "app.Ledger").at(-1);
    expect(last).toMatchObject({ rows: ROWS, total: ROWS });
  });

  it("loads contiguous serial ids 1..N with no duplicates, bypassing the trigger and the foreign key", async () => {
    const stats = await withDb("first", async (db) => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS distinct_ids, min(id)::int AS lo, max(id)::int AS hi,
                count(*) FILTER (WHERE source = 'seeded')::int AS defaulted
           FROM app."Ledger"`,
      );
      return rows[0];
    });
    expect(stats).toEqual({ n: ROWS, distinct_ids: ROWS, lo: 1, hi: ROWS, defaulted: ROWS });
  });

  it("stores the generated values as PostgreSQL reads them", async () => {
    const stats = await withDb("first", async (db) => {
      const { rows } = await db.query(
        `SELECT avg((ref IS NULL)::int)::float AS null_ref,
                count(*) FILTER (WHERE memo LIKE E'payment % for %\\nline two')::int AS memos,
                count(*) FILTER (WHERE (meta->>'n')::int = id AND meta->>'tag' IN ('a', 'b'))::int AS metas,
                count(*) FILTER (WHERE "order" = E'tab\\tand\\\\slash')::int AS odd_orders,
                count(*) FILTER (WHERE account_id = 1)::int AS hottest,
                count(*) FILTER (WHERE account_id = 2500)::int AS median_account,
                count(*) FILTER (WHERE amount NOT BETWEEN -100 AND 100)::int AS out_of_range
           FROM app."Ledger"`,
      );
      return rows[0];
    });
    expect(stats.null_ref).toBeGreaterThan(0.18);
    expect(stats.null_ref).toBeLessThan(0.22);
    expect(stats.memos).toBe(ROWS);
    expect(stats.metas).toBe(ROWS);
    expect(stats.odd_orders).toBeGreaterThan(0);
    expect(stats.hottest).toBeGreaterThan(20 * Math.max(stats.median_account, 1));
    expect(stats.out_of_range).toBe(0);
  });

  it("keeps ascending timestamps in id order across chunks and connections", async () => {
    const backwards = await withDb("first", async (db) => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM (
           SELECT created_at < lag(created_at) OVER (ORDER BY id) AS back FROM app."Ledger") s WHERE back`,
      );
      return rows[0].n;
    });
    expect(backwards).toBe(0);
  });

  it("fills a table without generated columns from its defaults", async () => {
    const n = await withDb(
      "first",
      async (db) => (await db.query("SELECT count(*)::int AS n FROM app.counters")).rows[0].n,
    );
    expect(n).toBe(5);
  });

  it("closes its connections", async () => {
    expect(await otherBackends("first")).toBe(0);
  });

  it("loads identical rows for the same seed, whatever the connection count; different rows for another seed", async () => {
    await freshDatabase("second");
    await seedDataset(() => connectTo("second"), dataset(42), {
      rows: { "app.Ledger": ROWS },
      connections: 1,
    });
    expect(await ledgerDigest("second")).toBe(await ledgerDigest("first"));

    await freshDatabase("third");
    await seedDataset(() => connectTo("third"), dataset(43), { rows: { "app.Ledger": ROWS } });
    expect(await ledgerDigest("third")).not.toBe(await ledgerDigest("first"));
  });

  it("fires triggers when asked to, and fails with the table and the server's error", async () => {
    await freshDatabase("fourth");
    await withDb("fourth", (db) => db.query("INSERT INTO app.accounts SELECT generate_series(1, 5000)"));
    const run = seedDataset(() => connectTo("fourth"), dataset(42, { fire_triggers: true }));
    await expect(run).rejects.toThrow(SeedError);
    await expect(run).rejects.toThrow(/app\.Ledger.*trigger fired on row/);
    expect(await otherBackends("fourth")).toBe(0);
  });
});
