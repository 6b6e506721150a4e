/**
 * takeSnapshot against a real PostgreSQL 17: every field of CatalogSnapshot read from a schema that uses the
 * awkward cases (quoted names, identity and generated columns, expression/partial/INCLUDE indexes, nested
 * partitioning, disabled triggers, grant options, restrictive policies, composite FKs, a shared sequence).
 * One cluster for the file, a fresh database per test.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import type { CatalogSnapshot } from "../../src/catalog/types.ts";
import { useCluster } from "../support/cluster.ts";
import type { Queryable } from "../../src/db/sql.ts";

const cluster = useCluster("catalog", async (admin) => {
  await admin.query("CREATE ROLE snap_reader");
});
const freshDb = () => cluster.freshDb();

const SCHEMA = `
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE events (
  id bigserial,
  account_id int REFERENCES accounts (id) ON DELETE RESTRICT,
  occurred_at timestamptz NOT NULL,
  kind text,
  payload jsonb,
  PRIMARY KEY (id, occurred_at),
  CONSTRAINT events_kind_check CHECK (kind <> '')
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01 00:00:00+00') TO ('2026-01-01 00:00:00+00')
  PARTITION BY HASH (id);
CREATE TABLE events_2025_h0 PARTITION OF events_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE events_2025_h1 PARTITION OF events_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_kind_idx ON events (kind text_pattern_ops, lower(payload ->> 'x') DESC NULLS LAST)
  INCLUDE (account_id) WHERE kind IS NOT NULL;
CREATE INDEX events_payload_idx ON events USING gin (payload jsonb_path_ops);
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER events_audit AFTER UPDATE OR DELETE ON events FOR EACH STATEMENT EXECUTE FUNCTION audit();
CREATE TRIGGER events_stamp BEFORE INSERT OR UPDATE ON events FOR EACH ROW EXECUTE FUNCTION audit();
ALTER TABLE events DISABLE TRIGGER events_stamp;
GRANT SELECT ON events TO snap_reader WITH GRANT OPTION;
GRANT INSERT ON events TO PUBLIC;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY events_own ON events AS RESTRICTIVE FOR UPDATE TO snap_reader
  USING (account_id > 0) WITH CHECK (kind IS NOT NULL);
CREATE POLICY events_read ON events FOR SELECT USING (true);
CREATE TABLE refs (
  id int PRIMARY KEY,
  event_id bigint,
  event_at timestamptz,
  FOREIGN KEY (event_id, event_at) REFERENCES events (id, occurred_at) ON DELETE CASCADE
);
CREATE SCHEMA app;
CREATE SEQUENCE app.shared_seq INCREMENT 5 CACHE 20;
SELECT setval('app.shared_seq', 42, false);
CREATE TABLE app.orders (id bigint DEFAULT nextval('app.shared_seq') PRIMARY KEY, note text);
CREATE TABLE app."Mixed Case" (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "Weird ""Col""" text COLLATE "C",
  doubled int GENERATED ALWAYS AS (id * 2) STORED
);
CREATE VIEW recent_events AS SELECT id, kind FROM events;
CREATE SCHEMA _rehearse_state;
CREATE TABLE _rehearse_state.bookkeeping (x int);
`;

/** Counts the statements a snapshot sends: it must not grow with the number of tables. */
function counting(db: Queryable): { db: Queryable; count: () => number } {
  let n = 0;
  const wrapped = {
    query: ((...args: Parameters<Queryable["query"]>) => {
      n++;
      return (db.query as (...a: unknown[]) => unknown)(...args);
    }) as Queryable["query"],
  };
  return { db: wrapped, count: () => n };
}

describe("takeSnapshot", () => {
  let snap: CatalogSnapshot;
  let db: pg.Client;

  beforeAll(async () => {
    db = await freshDb();
    await db.query(SCHEMA);
    snap = await takeSnapshot(db);
  });

  afterAll(async () => {
    await db?.end();
  });

  it("covers the user schemas and leaves PostgreSQL's and rehearse's own out", () => {
    expect(snap.schemas).toEqual(["app", "public"]);
    expect(Object.keys(snap.tables).sort()).toEqual([
      "app.Mixed Case",
      "app.orders",
      "public.accounts",
      "public.events",
      "public.events_2024",
      "public.events_2025",
      "public.events_2025_h0",
      "public.events_2025_h1",
      "public.events_default",
      "public.recent_events",
      "public.refs",
    ]);
    expect(snap.serverVersion).toBeGreaterThanOrEqual(170000);
    expect(Number.isNaN(Date.parse(snap.takenAt))).toBe(false);
    expect(snap.tables["public.recent_events"]!.relkind).toBe("view");
  });

  it("reads columns: types, NOT NULL, defaults, identity, generated, and the sequence each uses", () => {
    const events = snap.tables["public.events"]!;
    expect(events.relkind).toBe("partitioned");
    expect(events.columns.map((c) => [c.name, c.type, c.notNull])).toEqual([
      ["id", "bigint", true],
      ["account_id", "integer", false],
      ["occurred_at", "timestamp with time zone", true],
      ["kind", "text", false],
      ["payload", "jsonb", false],
    ]);
    expect(events.columns[0]).toMatchObject({
      default: "nextval('events_id_seq'::regclass)",
      sequence: "public.events_id_seq",
      identity: null,
    });
    expect(snap.tables["app.orders"]!.columns[0]!.sequence).toBe("app.shared_seq");
    const mixed = snap.tables["app.Mixed Case"]!;
    expect(mixed.columns.map((c) => c.name)).toEqual(["id", 'Weird "Col"', "doubled"]);
    expect(mixed.columns[0]).toMatchObject({ identity: "always", sequence: "app.Mixed Case_id_seq" });
    expect(mixed.columns[2]).toMatchObject({ generated: "stored", default: "(id * 2)" });
  });

  it("reads indexes with key order, expressions, opclasses, collation, direction, INCLUDE and predicate", () => {
    const events = snap.tables["public.events"]!;
    const kind = events.indexes.find((i) => i.name === "events_kind_idx")!;
    expect(kind).toMatchObject({
      method: "btree",
      partitioned: true,
      unique: false,
      include: ["account_id"],
      predicate: "kind IS NOT NULL",
      valid: true,
      ready: true,
    });
    expect(kind.keys).toEqual([
      {
        column: "kind",
        expression: null,
        opclass: "text_pattern_ops",
        opclassIsDefault: false,
        collation: "default",
        desc: false,
        nullsFirst: false,
      },
      {
        column: null,
        expression: "lower(payload ->> 'x'::text)",
        opclass: "text_ops",
        opclassIsDefault: true,
        collation: "default",
        desc: true,
        nullsFirst: false,
      },
    ]);
    expect(events.indexes.find((i) => i.name === "events_payload_idx")!.method).toBe("gin");
    const pkey = events.indexes.find((i) => i.primary)!;
    expect(pkey).toMatchObject({ name: "events_pkey", unique: true, constraint: "events_pkey" });
    expect(pkey.keys.map((k) => k.column)).toEqual(["id", "occurred_at"]);
    // A partition's index records the partitioned index it is attached to.
    const child = snap.tables["public.events_2024"]!.indexes.find((i) => i.parentIndexOid === kind.oid)!;
    expect(child.parentIndex).toBe("events_kind_idx");
    expect(child.partitioned).toBe(false);
    expect(child.definition).toMatch(/^CREATE INDEX \S+ ON public\.events_2024 USING btree/);
  });

  it("reads constraints, with validation state and key columns", () => {
    const events = snap.tables["public.events"]!;
    const byName = Object.fromEntries(events.constraints.map((c) => [c.name, c]));
    expect(byName.events_pkey).toMatchObject({
      type: "p",
      columns: ["id", "occurred_at"],
      index: "events_pkey",
    });
    expect(byName.events_kind_check).toMatchObject({
      type: "c",
      definition: "CHECK (kind <> ''::text)",
      validated: true,
      columns: ["kind"],
    });
    // Foreign keys live in foreignKeys, not constraints.
    expect(events.constraints.some((c) => c.type === "f")).toBe(false);
    const partPk = snap.tables["public.events_2024"]!.constraints.find((c) => c.type === "p")!;
    expect(partPk.parentOid).toBe(byName.events_pkey!.oid);
  });

  it("reads triggers: timing, events, level, function, enabled state; clones and internal ones flagged", () => {
    const events = snap.tables["public.events"]!;
    expect(events.triggers.find((t) => t.name === "events_audit")).toMatchObject({
      timing: "AFTER",
      events: ["UPDATE", "DELETE"],
      level: "statement",
      function: "public.audit",
      enabled: "O",
      internal: false,
      parentTriggerOid: null,
    });
    const stamp = events.triggers.find((t) => t.name === "events_stamp")!;
    expect(stamp).toMatchObject({
      timing: "BEFORE",
      events: ["INSERT", "UPDATE"],
      level: "row",
      enabled: "D",
    });
    const clone = snap.tables["public.events_2024"]!.triggers.find((t) => t.name === "events_stamp")!;
    expect(clone.parentTriggerOid).toBe(stamp.oid);
    // The FK to accounts is enforced by internal triggers on both tables.
    expect(snap.tables["public.accounts"]!.triggers.every((t) => t.internal)).toBe(true);
    expect(snap.tables["public.accounts"]!.triggers.length).toBeGreaterThan(0);
  });

  it("parses grants, including PUBLIC and WITH GRANT OPTION", () => {
    const grants = snap.tables["public.events"]!.grants;
    expect(grants.find((g) => g.grantee === "snap_reader")).toEqual({
      grantee: "snap_reader",
      privileges: ["SELECT"],
      grantable: ["SELECT"],
    });
    expect(grants.find((g) => g.grantee === "PUBLIC")!.privileges).toEqual(["INSERT"]);
    expect(grants.find((g) => g.grantee === "postgres")!.privileges).toContain("TRUNCATE");
    // No GRANT ever: the owner's default privileges.
    expect(snap.tables["public.accounts"]!.grants.map((g) => g.grantee)).toEqual(["postgres"]);
  });

  it("reads row level security and policies", () => {
    expect(snap.tables["public.events"]!.rls).toEqual({
      enabled: true,
      forced: true,
      policies: [
        {
          name: "events_own",
          command: "UPDATE",
          permissive: false,
          roles: ["snap_reader"],
          using: "account_id > 0",
          check: "kind IS NOT NULL",
        },
        {
          name: "events_read",
          command: "SELECT",
          permissive: true,
          roles: ["public"],
          using: "true",
          check: null,
        },
      ],
    });
    // Policies are per table: the partitions have none unless created there.
    expect(snap.tables["public.events_2024"]!.rls).toEqual({ enabled: false, forced: false, policies: [] });
  });

  it("reads foreign keys in both directions", () => {
    const events = snap.tables["public.events"]!;
    const out = events.foreignKeys.outgoing.filter((f) => f.parentOid === null);
    expect(out).toEqual([
      expect.objectContaining({
        from: "public.events",
        fromColumns: ["account_id"],
        to: "public.accounts",
        toColumns: ["id"],
        onDelete: "restrict",
        onUpdate: "no action",
        validated: true,
      }),
    ]);
    const incoming = events.foreignKeys.incoming;
    expect(incoming).toEqual([
      expect.objectContaining({
        name: "refs_event_id_event_at_fkey",
        from: "public.refs",
        fromColumns: ["event_id", "event_at"],
        toColumns: ["id", "occurred_at"],
        onDelete: "cascade",
        parentOid: null,
      }),
    ]);
    expect(snap.tables["public.accounts"]!.foreignKeys.incoming.map((f) => f.from)).toContain(
      "public.events",
    );
    // PostgreSQL clones the FK onto each partition; those carry the parent's oid.
    const cloned = snap.tables["public.events_2024"]!.foreignKeys.outgoing;
    expect(cloned.every((f) => f.parentOid !== null)).toBe(true);
    expect(snap.foreignKeys.length).toBeGreaterThanOrEqual(2);
  });

  it("reads partitioning: strategy, key, partitions with bounds and default; partitionOf", () => {
    const events = snap.tables["public.events"]!;
    expect(events.partitioning).toEqual({
      strategy: "range",
      key: [{ column: "occurred_at", expression: null }],
      definition: "RANGE (occurred_at)",
      partitions: [
        {
          name: "public.events_2024",
          oid: snap.tables["public.events_2024"]!.oid,
          bound: "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')",
          isDefault: false,
        },
        expect.objectContaining({ name: "public.events_2025" }),
        expect.objectContaining({ name: "public.events_default", bound: "DEFAULT", isDefault: true }),
      ],
    });
    const sub = snap.tables["public.events_2025"]!;
    expect(sub.relkind).toBe("partitioned");
    expect(sub.partitioning!.strategy).toBe("hash");
    expect(sub.partitioning!.partitions.map((p) => p.bound)).toEqual([
      "FOR VALUES WITH (modulus 2, remainder 0)",
      "FOR VALUES WITH (modulus 2, remainder 1)",
    ]);
    expect(snap.tables["public.events_2025_h1"]!.partitionOf).toEqual({
      parent: "public.events_2025",
      parentOid: sub.oid,
      bound: "FOR VALUES WITH (modulus 2, remainder 1)",
      isDefault: false,
    });
    expect(events.partitionOf).toBeNull();
    expect(snap.tables["public.events_2024"]!.relfilenode).toBeGreaterThan(0);
  });

  it("reads sequences: state, settings and owner", () => {
    expect(snap.sequences["app.shared_seq"]).toMatchObject({
      increment: "5",
      cache: "20",
      lastValue: "42",
      isCalled: false,
      ownedBy: null,
      identity: false,
      dataType: "bigint",
    });
    expect(snap.sequences["public.events_id_seq"]!.ownedBy).toEqual({ table: "public.events", column: "id" });
    expect(snap.sequences["app.Mixed Case_id_seq"]).toMatchObject({
      identity: true,
      dataType: "integer",
      ownedBy: { table: "app.Mixed Case", column: "id" },
    });
  });

  it("follows the sequence's state after nextval", async () => {
    await db.query("SELECT nextval('app.shared_seq')");
    const again = await takeSnapshot(db, { schemas: ["app"] });
    // last_value is the shared state: this session took 42 and reserved a CACHE of 20 values (42 + 19 × 5).
    expect(again.sequences["app.shared_seq"]).toMatchObject({ lastValue: "137", isCalled: true });
    // The schemas option narrows everything.
    expect(again.schemas).toEqual(["app"]);
    expect(Object.keys(again.tables).sort()).toEqual(["app.Mixed Case", "app.orders"]);
  });
});

describe("takeSnapshot cost", () => {
  it("sends a fixed number of statements however many tables there are", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const small = counting(db);
      await takeSnapshot(small.db);
      await db.query(`
        CREATE TABLE many (id bigint, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        DO $$ BEGIN
          FOR i IN 0..199 LOOP
            EXECUTE format('CREATE TABLE many_%s PARTITION OF many FOR VALUES FROM (%L) TO (%L)', i,
                           date '2020-01-01' + i, date '2020-01-01' + i + 1);
          END LOOP;
        END $$;`);
      const big = counting(db);
      const started = performance.now();
      const snap = await takeSnapshot(big.db);
      const ms = performance.now() - started;
      expect(snap.tables["public.many"]!.partitioning!.partitions).toHaveLength(200);
      expect(big.count()).toBe(small.count());
      // One query per kind of object (dependents: views, FKs, publications… naming a table, is the eleventh).
      expect(big.count()).toBeLessThanOrEqual(11);
      expect(ms).toBeLessThan(5000);
    } finally {
      await db.end();
    }
  });
});
