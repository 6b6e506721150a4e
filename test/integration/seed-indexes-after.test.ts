/**
 * Seeding with the indexes built after the rows (src/seed/deferred-indexes.ts) ends in the catalog schema.sql
 * makes: a database seeded that way and one where schema.sql ran alone have the same snapshot (names and
 * definitions of indexes, constraints, triggers, validity), oids, file nodes and row estimates aside. Covered
 * on the ledger scenario's schema and on one with the awkward cases: INCLUDE and WITH on a primary key, a
 * deferrable unique, NULLS NOT DISTINCT, an exclusion constraint, expression and partial indexes, quoted names,
 * and what must stay in place (a key a foreign key references, a clustered index, a commented one).
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import { tablesOnlyFilledBy } from "../../src/run/after-sql.ts";
import { loadScenario } from "../../src/scenario/load.ts";
import { Dataset } from "../../src/scenario/schema.ts";
import {
  buildDeferredIndexes,
  DeferredIndexError,
  dropDeferrableIndexes,
} from "../../src/seed/deferred-indexes.ts";
import { seedDataset } from "../../src/seed/seeder.ts";
import { useCluster } from "../support/cluster.ts";
import { comparable } from "../support/comparable-snapshot.ts";

const cluster = useCluster("indexes_after");

/** New connections to the database `db` is connected to, as the seeder and the builder take them. */
function connectorFor(db: pg.Client): () => Promise<pg.Client> {
  const cfg = { ...cluster.clone().connectionConfig(), database: db.database };
  return async () => {
    const c = new pg.Client(cfg);
    await c.connect();
    return c;
  };
}

const AWKWARD_SQL = `
CREATE SCHEMA app;
CREATE TABLE app."Parent" (
  id int PRIMARY KEY,
  code text,
  CONSTRAINT parent_code_key UNIQUE NULLS NOT DISTINCT (code)
);
CREATE TABLE app."BigTable" (
  id bigint NOT NULL,
  parent_id int REFERENCES app."Parent" (id),
  k text,
  during tsrange,
  n int,
  CONSTRAINT big_pk PRIMARY KEY (id) INCLUDE (n) WITH (fillfactor = 80),
  CONSTRAINT big_k_key UNIQUE (k) DEFERRABLE INITIALLY DEFERRED,
  CONSTRAINT big_no_overlap EXCLUDE USING gist (during WITH &&),
  CONSTRAINT big_n_check CHECK (n >= 0)
);
CREATE INDEX big_lower_k ON app."BigTable" (lower(k) text_pattern_ops) WHERE n > 10;
CREATE INDEX "Big n desc" ON app."BigTable" (n DESC NULLS LAST, parent_id) WITH (fillfactor = 70);
CREATE INDEX big_clustered ON app."BigTable" (parent_id);
ALTER TABLE app."BigTable" CLUSTER ON big_clustered;
CREATE INDEX big_commented ON app."BigTable" (n, id);
COMMENT ON INDEX app.big_commented IS 'kept in place: a comment would not survive the rebuild';
`;

const awkward = Dataset.parse({
  schema: AWKWARD_SQL,
  seed: 7,
  tables: [
    {
      name: "app.Parent",
      rows: 20,
      columns: { id: { gen: "serial" }, code: { gen: "text", template: "c{n}" } },
    },
    {
      name: "app.BigTable",
      rows: 5000,
      columns: {
        id: { gen: "serial" },
        parent_id: { gen: "uniform", min: 1, max: 20 },
        k: { gen: "text", template: "key {n}" },
        n: { gen: "uniform", min: 0, max: 100 },
      },
    },
  ],
});

/** Every flag of every index the snapshot does not carry (deferrability, clustering, replica identity…). */
async function indexFlags(db: pg.Client): Promise<unknown[]> {
  const res = await db.query(`
    SELECT n.nspname, ic.relname, i.indisunique, i.indisprimary, i.indisexclusion, i.indimmediate,
           i.indisclustered, i.indisvalid, i.indisready, i.indislive, i.indisreplident, i.indnullsnotdistinct,
           ic.reloptions, obj_description(ic.oid, 'pg_class') AS comment,
           con.conname, con.contype, con.condeferrable, con.condeferred, con.convalidated
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
      LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     ORDER BY 1, 2`);
  return res.rows;
}

/**
 * The snapshot without what differs between any two databases made alike: oids (and the constraint triggers named
 * after them), file nodes, row estimates, the time taken, sequence positions.
 */
function normalised(value: unknown): unknown {
  return comparable(value, {
    drop: ["takenAt"],
    strings: (s) => s.replace(/(RI_ConstraintTrigger_[ac]|Unique_ConstraintTrigger)_\d+/g, "$1_N"),
  });
}

async function runSql(db: pg.Client, statements: string[]): Promise<void> {
  for (const s of statements) await db.query(s);
}

/** Two databases from one schema: one left as schema.sql made it, one seeded with the indexes built after. */
async function both(
  statements: string[],
  dataset: Dataset,
  rows?: Record<string, number>,
): Promise<{ plain: pg.Client; seeded: pg.Client; deferred: string[] }> {
  const plain = await cluster.freshDb();
  const seeded = await cluster.freshDb();
  try {
    await runSql(plain, statements);
    await runSql(seeded, statements);
    const names = dataset.tables.map((t) => t.name);
    const dropped = await dropDeferrableIndexes(seeded, names, { fireTriggers: dataset.fire_triggers });
    const connect = connectorFor(seeded);
    await seedDataset(connect, dataset, rows ? { rows } : {});
    await buildDeferredIndexes(connect, dropped);
    return { plain, seeded, deferred: dropped.map((d) => d.index) };
  } catch (err) {
    await Promise.all([plain.end(), seeded.end()]);
    throw err;
  }
}

describe("indexes built after seeding", () => {
  it("leave the awkward schema exactly as schema.sql made it", async () => {
    const { plain, seeded, deferred } = await both([AWKWARD_SQL], awkward);
    try {
      // What a foreign key references, a clustered index and a commented one stay; the rest was deferred.
      expect(deferred.sort()).toEqual(
        [
          "app.Big n desc",
          "app.big_k_key",
          "app.big_lower_k",
          "app.big_no_overlap",
          "app.big_pk",
          "app.parent_code_key",
        ].sort(),
      );
      expect(normalised(await takeSnapshot(seeded))).toEqual(normalised(await takeSnapshot(plain)));
      expect(await indexFlags(seeded)).toEqual(await indexFlags(plain));
      const rows = await seeded.query<{ n: number }>(`SELECT count(*)::int AS n FROM app."BigTable"`);
      expect(rows.rows[0]!.n).toBe(5000);
    } finally {
      await Promise.all([plain.end(), seeded.end()]);
    }
  });

  it("leave the ledger scenario's schema exactly as its schema.sql made it", async () => {
    const rs = await loadScenario("scenarios/ledger-attach-history");
    const statements = rs.schemaSql.statements.map((s) => s.sql);
    // The roles are cluster-wide: the second database must not create them again.
    const plain = await cluster.freshDb();
    await runSql(plain, statements);
    const rest = statements.filter((s) => !/^\s*(--[^\n]*\n\s*)*CREATE ROLE/i.test(s));
    const seeded = await cluster.freshDb();
    await runSql(seeded, rest);
    const d = rs.scenario.dataset;
    const dropped = await dropDeferrableIndexes(
      seeded,
      d.tables.map((t) => t.name),
      { fireTriggers: d.fire_triggers },
    );
    try {
      expect(dropped.map((x) => x.index).sort()).toEqual([
        "public.ledger_account_id_created_at_idx",
        "public.ledger_debit_created_at_idx",
        "public.ledger_idempotency_key_key",
        "public.ledger_pkey",
      ]);
      const connect = connectorFor(seeded);
      await seedDataset(connect, d, { rows: { ledger: 20_000 } });
      await buildDeferredIndexes(connect, dropped);
      // dataset.after only fills the two side tables: their keys are built after it too.
      const filled = await tablesOnlyFilledBy(seeded, rs.afterSql!);
      expect(filled).toEqual(["public.account_balances", "public.ledger_idempotency"]);
      const later = await dropDeferrableIndexes(seeded, filled, { fireTriggers: true });
      expect(later.map((x) => x.index)).toEqual([
        "public.account_balances_pkey",
        "public.ledger_idempotency_pkey",
      ]);
      await runSql(
        seeded,
        rs.afterSql!.statements.map((s) => s.sql),
      );
      await buildDeferredIndexes(connect, later);
      const keys = await seeded.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger_idempotency");
      expect(keys.rows[0]!.n).toBe(20_000);
      expect(normalised(await takeSnapshot(seeded))).toEqual(normalised(await takeSnapshot(plain)));
      expect(await indexFlags(seeded)).toEqual(await indexFlags(plain));
    } finally {
      await Promise.all([plain.end(), seeded.end()]);
    }
  });

  it("refuse seeded rows that break a deferred unique key, naming the index", async () => {
    const dup = Dataset.parse({
      ...awkward,
      tables: [
        awkward.tables[0],
        {
          ...awkward.tables[1],
          columns: { ...awkward.tables[1]!.columns, k: { gen: "constant", value: "same" } },
        },
      ],
    });
    const err = await both([AWKWARD_SQL], dup).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeferredIndexError);
    expect((err as Error).message).toMatch(/big_k_key/);
  });

  it("defer nothing when a trigger fires while seeding", async () => {
    const db = await cluster.freshDb();
    try {
      await runSql(db, [
        AWKWARD_SQL,
        `CREATE FUNCTION app.t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
        `CREATE TRIGGER t BEFORE INSERT ON app."BigTable" FOR EACH ROW EXECUTE FUNCTION app.t()`,
        `ALTER TABLE app."BigTable" ENABLE ALWAYS TRIGGER t`,
      ]);
      expect(await dropDeferrableIndexes(db, ["app.BigTable"], { fireTriggers: false })).toEqual([]);
    } finally {
      await db.end();
    }
  });
});
