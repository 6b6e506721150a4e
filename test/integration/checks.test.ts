/**
 * The invariant checks against a real PostgreSQL: a small ledger (bigserial id, FK to accounts, UNIQUE
 * idempotency key, BEFORE INSERT trigger, grants, RLS) goes through an attach-history cutover (seeds/001):
 * rename to ledger_history, new ledger PARTITION BY RANGE (created_at), sequence reused, history attached
 * as the oldest partition. The faithful cutover must pass every check; each variant breaks one thing and
 * the matching check must fail. One cluster for the file, a fresh database per test.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import { evaluateInvariant, gatherInvariant } from "../../src/checks/registry.ts";
import { gatherSequence } from "../../src/checks/sequence.ts";
import { literal } from "../../src/db/sql.ts";
import type { CheckResult } from "../../src/report/model.ts";
import { useCluster } from "../support/cluster.ts";
import { type Invariant, Invariant as InvariantSchema } from "../../src/scenario/schema.ts";

const cluster = useCluster("checks", async (admin) => {
  // Roles are cluster-wide: create once for every test database.
  await admin.query("CREATE ROLE app_rw");
});
const freshDb = () => cluster.freshDb();

/** Month starts (UTC) after the current month: history holds everything before M1. */
function monthStart(offset: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString();
}
const M1 = monthStart(1);
const M2 = monthStart(2);
const M3 = monthStart(3);

const SCHEMA = `
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL);
INSERT INTO accounts (name) VALUES ('a'), ('b'), ('c');
CREATE TABLE ledger (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts (id),
  amount numeric(12,2) NOT NULL CHECK (amount <> 0),
  idempotency_key uuid NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_account_created_idx ON ledger (account_id, created_at DESC);
CREATE FUNCTION ledger_stamp() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN NEW.created_at := coalesce(NEW.created_at, now()); RETURN NEW; END $$;
CREATE TRIGGER ledger_stamp BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_stamp();
GRANT SELECT, INSERT ON ledger TO app_rw;
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_by_account ON ledger FOR SELECT TO app_rw USING (account_id > 0);
INSERT INTO ledger (account_id, amount, idempotency_key, created_at)
  SELECT 1 + i % 3, i, gen_random_uuid(), now() - i * interval '7 hours' FROM generate_series(1, 300) i;
-- The application's single write path (seeds/001): the idempotency decision is one atomic insert into a
-- non-partitioned key table, so uniqueness holds whatever partition the row lands in.
CREATE TABLE ledger_keys (idempotency_key uuid PRIMARY KEY);
INSERT INTO ledger_keys SELECT idempotency_key FROM ledger;
CREATE FUNCTION ledger_insert(p_key uuid, p_account bigint, p_amount numeric) RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO ledger_keys VALUES (p_key);
  INSERT INTO ledger (account_id, amount, idempotency_key) VALUES (p_account, p_amount, p_key) RETURNING id;
$$;
`;

interface CutoverOptions {
  /** Leave out moving the trigger to the new parent. */
  skipTrigger?: boolean;
  /** Give the new parent its own, unsynced sequence. */
  newSequence?: boolean;
  /** Leave grants/RLS off the new partitions. */
  bareNewPartitions?: boolean;
}

/** The attach-history cutover: preparation (index builds, range proof), then one short transaction. */
function cutover(o: CutoverOptions = {}): string {
  const partitionSetup = (p: string) =>
    o.bareNewPartitions
      ? ""
      : `GRANT SELECT, INSERT ON ${p} TO app_rw;
         ALTER TABLE ${p} ENABLE ROW LEVEL SECURITY;
         CREATE POLICY ledger_by_account ON ${p} FOR SELECT TO app_rw USING (account_id > 0);`;
  return `
-- Ahead of the cutover (CONCURRENTLY in production): the history's keys with the partition key, as constraints
-- so ATTACH adopts them instead of building new ones under ACCESS EXCLUSIVE; the validated range proof.
CREATE UNIQUE INDEX ledger_id_created_at_uq ON ledger (id, created_at);
CREATE UNIQUE INDEX ledger_key_created_at_uq ON ledger (idempotency_key, created_at);
ALTER TABLE ledger ADD CONSTRAINT ledger_key_created_at_uq UNIQUE USING INDEX ledger_key_created_at_uq;
ALTER TABLE ledger ADD CONSTRAINT ledger_history_range CHECK (created_at < ${literal(M1)}) NOT VALID;
ALTER TABLE ledger VALIDATE CONSTRAINT ledger_history_range;

BEGIN;
LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE;
ALTER TABLE ledger RENAME TO ledger_history;
ALTER INDEX ledger_pkey RENAME TO ledger_history_pkey;
ALTER INDEX ledger_idempotency_key_key RENAME TO ledger_history_idempotency_key_key;
ALTER INDEX ledger_account_created_idx RENAME TO ledger_history_account_created_idx;
ALTER TABLE ledger_history DROP CONSTRAINT ledger_history_pkey,
  ADD CONSTRAINT ledger_history_pkey PRIMARY KEY USING INDEX ledger_id_created_at_uq;
CREATE TABLE ledger (LIKE ledger_history INCLUDING DEFAULTS) PARTITION BY RANGE (created_at);
ALTER TABLE ledger ADD CONSTRAINT ledger_amount_check CHECK (amount <> 0);
ALTER TABLE ledger ADD CONSTRAINT ledger_pkey PRIMARY KEY (id, created_at);
ALTER TABLE ledger ADD CONSTRAINT ledger_idempotency_key_key UNIQUE (idempotency_key, created_at);
CREATE INDEX ledger_account_created_idx ON ledger (account_id, created_at DESC);
ALTER TABLE ledger ADD CONSTRAINT ledger_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id);
${
  o.newSequence
    ? "CREATE SEQUENCE ledger_new_id_seq OWNED BY ledger.id; ALTER TABLE ledger ALTER COLUMN id SET DEFAULT nextval('ledger_new_id_seq');"
    : "ALTER SEQUENCE ledger_id_seq OWNED BY ledger.id;"
}
${o.skipTrigger ? "" : "DROP TRIGGER ledger_stamp ON ledger_history; CREATE TRIGGER ledger_stamp BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_stamp();"}
GRANT SELECT, INSERT ON ledger TO app_rw;
ALTER TABLE ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_by_account ON ledger FOR SELECT TO app_rw USING (account_id > 0);
CREATE TABLE ledger_p1 PARTITION OF ledger FOR VALUES FROM (${literal(M1)}) TO (${literal(M2)});
${partitionSetup("ledger_p1")}
CREATE TABLE ledger_p2 PARTITION OF ledger FOR VALUES FROM (${literal(M2)}) TO (${literal(M3)});
${partitionSetup("ledger_p2")}
ALTER TABLE ledger ATTACH PARTITION ledger_history FOR VALUES FROM (MINVALUE) TO (${literal(M1)});
CREATE TABLE ledger_default PARTITION OF ledger DEFAULT;
${partitionSetup("ledger_default")}
COMMIT;
`;
}

const inv = (raw: Record<string, unknown>): Invariant => InvariantSchema.parse(raw);

const ALL: Invariant[] = [
  inv({ check: "indexes_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "indexes_valid", tables: ["ledger"] }),
  inv({ check: "triggers_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "constraints_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "grants_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "rls_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "fks_preserved", original: "ledger", target: "ledger" }),
  inv({ check: "sequence", table: "ledger", also: ["ledger_history"] }),
  inv({
    check: "unique_across_partitions",
    table: "ledger",
    columns: ["idempotency_key"],
    probe: { sql: "SELECT ledger_insert(:key, 1, 10.00)" },
  }),
  inv({ check: "default_partition_empty", table: "ledger" }),
  inv({ check: "partitions_cover", table: "ledger", premade: "1 month" }),
  inv({
    check: "row_parity",
    source: "ledger",
    target: "ledger",
    source_at: "before",
    columns: ["id", "account_id", "amount", "idempotency_key", "created_at"],
  }),
];

/** What the rehearsal does around a migration: snapshot + gather, migrate, snapshot + gather, evaluate. */
async function rehearse(
  db: pg.Client,
  migration: string,
  invariants: Invariant[],
): Promise<Map<string, CheckResult>> {
  const before = await takeSnapshot(db);
  const gathered = invariants.map(() => ({}) as { before?: unknown; after?: unknown });
  for (const [i, v] of invariants.entries()) gathered[i]!.before = await gatherInvariant(db, v, "before");
  await db.query(migration);
  const after = await takeSnapshot(db);
  for (const [i, v] of invariants.entries())
    gathered[i]!.after = await gatherInvariant(db, v, "after", gathered[i]!.before);
  const results = new Map<string, CheckResult>();
  for (const [i, v] of invariants.entries()) {
    results.set(v.id ?? v.check, evaluateInvariant(v, { before, after, gathered: gathered[i]! }));
  }
  return results;
}

function statuses(results: Map<string, CheckResult>): Record<string, string> {
  return Object.fromEntries([...results].map(([id, r]) => [id, r.status]));
}

describe("checks on an attach-history cutover", () => {
  it("pass when the cutover carries everything over", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover(), ALL);
      const notPassing = [...results.values()].filter((r) => r.status !== "pass");
      expect(notPassing, JSON.stringify(notPassing, null, 2)).toEqual([]);
      expect(results.get("sequence")?.measured).toBe(1);
      // The rows really went nowhere: the history is the oldest partition of the new parent.
      const { rows } = await db.query("SELECT count(*)::int AS n FROM ledger");
      expect(rows[0].n).toBe(300);
    } finally {
      await db.end();
    }
  });

  it("triggers_preserved fails when the trigger is not recreated on the new parent", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover({ skipTrigger: true }), ALL);
      const r = results.get("triggers_preserved")!;
      expect(r.status).toBe("fail");
      expect(r.findings.join("\n")).toMatch(/trigger ledger_stamp .* is missing on public\.ledger/);
      expect(r.remediation).toBeTruthy();
      // Nothing else is affected by this mistake.
      expect(Object.entries(statuses(results)).filter(([, s]) => s !== "pass")).toEqual([
        ["triggers_preserved", "fail"],
      ]);
    } finally {
      await db.end();
    }
  });

  it("sequence fails when the new parent gets a fresh sequence that was never synced", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const invs = [
        inv({ check: "sequence", table: "ledger", also: ["ledger_history"] }),
        inv({
          id: "sequence.named",
          check: "sequence",
          table: "ledger",
          sequence: "ledger_new_id_seq",
          also: ["ledger_history"],
        }),
      ];
      const results = await rehearse(db, cutover({ newSequence: true }), invs);
      const dflt = results.get("sequence")!;
      expect(dflt.status).toBe("fail");
      expect(dflt.findings.join("\n")).toMatch(
        /draws from public\.ledger_new_id_seq, intended public\.ledger_id_seq/,
      );
      const named = results.get("sequence.named")!;
      expect(named.status).toBe("fail");
      expect(named.findings.join("\n")).toMatch(
        /next id 1 from public\.ledger_new_id_seq .*≤ max\(id\) 300 .*collide/,
      );
    } finally {
      await db.end();
    }
  });

  it("unique_across_partitions' builtin probe finds the duplicate that UNIQUE (key, created_at) allows", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover(), [
        inv({ check: "unique_across_partitions", table: "ledger", columns: ["idempotency_key"] }),
      ]);
      const r = results.get("unique_across_partitions")!;
      expect(r.status).toBe("fail");
      expect(r.findings.join("\n")).toMatch(
        /probe: a second row with idempotency_key=[0-9a-f-]{36} \(taken from public\.ledger_history\) was accepted into public\.ledger_p2; 2 rows/,
      );
      // The probe ran in a rolled-back transaction: the clone still has its 300 rows.
      const { rows } = await db.query("SELECT count(*)::int AS n FROM ledger");
      expect(rows[0].n).toBe(300);
    } finally {
      await db.end();
    }
  });

  it("the builtin probe copies a key drawn from a sequence too: a new id would be no duplicate (a false green)", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      // PRIMARY KEY (id, created_at): id is unique per partition only. Left to its DEFAULT the probe's copy got a
      // fresh id from ledger_id_seq, nothing was duplicated, and the check passed.
      const results = await rehearse(db, cutover(), [
        inv({ check: "unique_across_partitions", table: "ledger", columns: ["id"] }),
      ]);
      const r = results.get("unique_across_partitions")!;
      expect(r.status).toBe("fail");
      expect(r.findings.join("\n")).toMatch(
        /probe: a second row with id=\d+ \(taken from public\.ledger_history\) was accepted/,
      );
    } finally {
      await db.end();
    }
  });

  it("the probe's rolled-back insert burns no ids: a sequence check gathered after it still sees no gap", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover(), [
        inv({ check: "unique_across_partitions", table: "ledger", columns: ["idempotency_key"] }),
        inv({ check: "sequence", table: "ledger", also: ["ledger_history"] }),
      ]);
      expect(results.get("unique_across_partitions")!.status).toBe("fail");
      expect(results.get("sequence")).toMatchObject({ status: "pass", measured: 1 });
      const { rows } = await db.query("SELECT nextval('ledger_id_seq')::int AS v");
      expect(rows[0].v).toBe(301);
    } finally {
      await db.end();
    }
  });

  it("unique_across_partitions passes for a plain table with UNIQUE (the probe is rejected with 23505)", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, "SELECT 1", [
        inv({ check: "unique_across_partitions", table: "ledger", columns: ["idempotency_key"] }),
      ]);
      const r = results.get("unique_across_partitions")!;
      expect(r.status).toBe("pass");
      expect(r.summary).toMatch(/rejected \(23505/);
    } finally {
      await db.end();
    }
  });

  it("unique_across_partitions is inconclusive when probe.sql fails for another reason", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover(), [
        inv({
          check: "unique_across_partitions",
          table: "ledger",
          columns: ["idempotency_key"],
          probe: { sql: "SELECT no_such_function(:key)" },
        }),
      ]);
      const r = results.get("unique_across_partitions")!;
      expect(r.status).toBe("error");
      expect(r.summary).toMatch(/42883/);
    } finally {
      await db.end();
    }
  });

  it("grants_preserved and rls_preserved fail when new partitions get neither grants nor policies", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, cutover({ bareNewPartitions: true }), ALL);
      const grants = results.get("grants_preserved")!;
      expect(grants.status).toBe("fail");
      expect(grants.findings).toContain(
        "app_rw lacks INSERT, SELECT on public.ledger_p1 (had it on public.ledger)",
      );
      const rls = results.get("rls_preserved")!;
      expect(rls.status).toBe("fail");
      expect(rls.findings.join("\n")).toMatch(/row level security is not enabled on public\.ledger_p2/);
      expect(rls.findings.join("\n")).toMatch(
        /policy ledger_by_account .* is missing on public\.ledger_default/,
      );
    } finally {
      await db.end();
    }
  });

  it("fks_preserved fails when a referencing FK follows the rename to the history table", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      await db.query(
        "CREATE TABLE refunds (id bigserial PRIMARY KEY, ledger_key uuid REFERENCES ledger (idempotency_key))",
      );
      const results = await rehearse(db, cutover(), [
        inv({ check: "fks_preserved", original: "ledger", target: "ledger" }),
      ]);
      const r = results.get("fks_preserved")!;
      expect(r.status).toBe("fail");
      expect(r.findings).toEqual([
        "FK refunds_ledger_key_fkey on public.refunds now references public.ledger_history instead of public.ledger (it followed the table it was declared on)",
      ]);
    } finally {
      await db.end();
    }
  });

  it("default_partition_empty, partitions_cover and indexes_valid fail on a sloppy partition layout", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      // Next month's partition missing, a row parked in the default, an index built ON ONLY the parent and
      // never attached on the partitions, and an index left INVALID the way a failed CONCURRENTLY leaves it.
      const migration = `${cutover()}
        ALTER TABLE ledger DETACH PARTITION ledger_p1;
        DROP TABLE ledger_p1;
        INSERT INTO ledger (account_id, amount, idempotency_key, created_at)
          VALUES (1, 5, gen_random_uuid(), ${literal(M1)}::timestamptz + interval '1 day');
        CREATE INDEX ledger_amount_idx ON ONLY ledger (amount);
        CREATE INDEX ledger_p2_bogus ON ledger_p2 (amount) WHERE amount > 0;
        UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ledger_p2_bogus'::regclass;
      `;
      const results = await rehearse(db, migration, [
        inv({ check: "default_partition_empty", table: "ledger" }),
        inv({ check: "partitions_cover", table: "ledger", premade: "1 month" }),
        inv({ check: "indexes_valid", tables: ["ledger"] }),
      ]);
      const dflt = results.get("default_partition_empty")!;
      expect(dflt.status).toBe("fail");
      expect(dflt.findings[0]).toMatch(/^public\.ledger_default holds 1 row \(created_at from /);
      const cover = results.get("partitions_cover")!;
      expect(cover.status).toBe("fail");
      expect(cover.findings[0]).toContain(`no partition covers created_at from ${M1} to`);
      const valid = results.get("indexes_valid")!;
      expect(valid.status).toBe("fail");
      expect(valid.findings.join("\n")).toMatch(
        /index public\.ledger_p2_bogus on public\.ledger_p2 is INVALID/,
      );
      expect(valid.findings).toContain(
        "partition public.ledger_history has no index attached to public.ledger_amount_idx (CREATE INDEX ledger_amount_idx ON ONLY public.ledger USING btree (amount))",
      );
    } finally {
      await db.end();
    }
  });

  it("row_parity fails naming the first differing key range when the migration loses rows", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const results = await rehearse(db, `${cutover()} DELETE FROM ledger WHERE id = 150;`, [
        inv({
          check: "row_parity",
          source: "ledger",
          target: "ledger",
          source_at: "before",
          columns: ["id", "amount"],
        }),
      ]);
      const r = results.get("row_parity")!;
      expect(r.status).toBe("fail");
      expect(r.findings[0]).toBe("public.ledger has 299 rows, public.ledger had 300 (-1)");
      expect(r.findings[1]).toMatch(
        /^rows #1–10000 by id differ: source id 1 … 300 \(300 rows\), target id 1 … 300 \(299 rows\)/,
      );
    } finally {
      await db.end();
    }
  });
  it("row_parity compares by the whole-table totals, and reads both sides in chunks only when they differ", async () => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      await db.query("CREATE TABLE ledger_copy AS SELECT * FROM ledger");
      const parity = inv({
        check: "row_parity",
        source: "ledger_copy",
        source_at: "after",
        target: "ledger",
        key: "id",
        columns: ["id", "amount"],
      });
      // Passing: the totals alone decide, no chunks are read.
      const ok = await gatherInvariant(db, parity, "after");
      expect(ok).toMatchObject({ source: { rows: 300, chunks: null }, target: { rows: 300, chunks: null } });
      await db.query("UPDATE ledger_copy SET amount = amount + 1 WHERE id = 7");
      const differs = (await gatherInvariant(db, parity, "after")) as { source: { chunks: unknown[] } };
      expect(differs.source.chunks).toHaveLength(1);
      const r = evaluateInvariant(parity, {
        before: await takeSnapshot(db),
        after: await takeSnapshot(db),
        gathered: { after: differs },
      });
      expect(r.status).toBe("fail");
      expect(r.summary).toMatch(/same row count, different contents, first difference near id 1/);
    } finally {
      await db.end();
    }
  });
});

describe("unique_across_partitions on hash and list partitioned targets (the builtin probe asks the server)", () => {
  const hashed = (where: string) => `
CREATE TABLE orders (id bigserial, request_key uuid NOT NULL, shop_id int NOT NULL,
  PRIMARY KEY (id, shop_id), UNIQUE (request_key, shop_id)) PARTITION BY HASH (shop_id);
CREATE TABLE orders_h0 PARTITION OF orders FOR VALUES WITH (modulus 4, remainder 0);
CREATE TABLE orders_h1 PARTITION OF orders FOR VALUES WITH (modulus 4, remainder 1);
CREATE TABLE orders_h2 PARTITION OF orders FOR VALUES WITH (modulus 4, remainder 2);
CREATE TABLE orders_h3 PARTITION OF orders FOR VALUES WITH (modulus 4, remainder 3);
INSERT INTO orders (request_key, shop_id) SELECT gen_random_uuid(), i FROM generate_series(1, 200) i ${where};`;
  const probe = inv({ check: "unique_across_partitions", table: "orders", columns: ["request_key"] });

  it.each([
    ["rows in every partition: the key values of a row in another one", ""],
    ["rows in one partition only: a value satisfies_hash_partition() places elsewhere", "WHERE false"],
  ])("hash, %s", async (_name, where) => {
    const db = await freshDb();
    try {
      await db.query(hashed(where));
      if (where)
        await db.query(
          "INSERT INTO orders (request_key, shop_id) SELECT gen_random_uuid(), 7 FROM generate_series(1, 5)",
        );
      const r = (await rehearse(db, "SELECT 1", [probe])).get("unique_across_partitions")!;
      expect(r.status, JSON.stringify(r)).toBe("fail");
      expect(r.findings.join("\n")).toMatch(
        /probe: a second row with request_key=[0-9a-f-]{36} \(taken from public\.orders_h\d\) was accepted into public\.orders_h\d; 2 rows/,
      );
      const [, from, into] = /taken from (\S+)\) was accepted into (\S+);/.exec(r.findings.join("\n"))!;
      expect(into).not.toBe(from);
      const { rows } = await db.query("SELECT count(*)::int AS n FROM orders");
      expect(rows[0].n).toBe(where ? 5 : 200);
    } finally {
      await db.end();
    }
  });

  it("hash, a write path that refuses the duplicate passes (P0001 from a trigger)", async () => {
    const db = await freshDb();
    try {
      await db.query(hashed(""));
      await db.query(`
CREATE FUNCTION orders_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM orders WHERE request_key = NEW.request_key) THEN
    RAISE EXCEPTION 'duplicate request %', NEW.request_key;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER orders_once BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_once();`);
      const r = (await rehearse(db, "SELECT 1", [probe])).get("unique_across_partitions")!;
      expect(r.status, JSON.stringify(r)).toBe("pass");
      expect(r.summary).toMatch(/rejected \(P0001/);
    } finally {
      await db.end();
    }
  });

  it("list: the copy is routed to another region's partition", async () => {
    const db = await freshDb();
    try {
      await db.query(`
CREATE TABLE carts (id bigserial, request_key uuid NOT NULL, region text NOT NULL,
  PRIMARY KEY (id, region), UNIQUE (request_key, region)) PARTITION BY LIST (region);
CREATE TABLE carts_eu PARTITION OF carts FOR VALUES IN ('eu', 'uk');
CREATE TABLE carts_us PARTITION OF carts FOR VALUES IN ('us');
CREATE TABLE carts_other PARTITION OF carts DEFAULT;
INSERT INTO carts (request_key, region) SELECT gen_random_uuid(), 'eu' FROM generate_series(1, 20);`);
      const r = (
        await rehearse(db, "SELECT 1", [
          inv({ check: "unique_across_partitions", table: "carts", columns: ["request_key"] }),
        ])
      ).get("unique_across_partitions")!;
      expect(r.status, JSON.stringify(r)).toBe("fail");
      expect(r.findings.join("\n")).toMatch(
        /taken from public\.carts_eu\) was accepted into public\.carts_(us|other); 2 rows/,
      );
    } finally {
      await db.end();
    }
  });
});

describe("sequence under load: the largest run of ids missing above the pre-migration max", () => {
  const SEQ = inv({ check: "sequence", table: "ledger" });
  const jumped = async (migration: string) => {
    const db = await freshDb();
    try {
      await db.query(SCHEMA);
      const before = await takeSnapshot(db);
      const b = await gatherSequence(db, SEQ as Extract<Invariant, { check: "sequence" }>, "before");
      // The migration, then the application's writes after it (what the load does in a rehearsal).
      await db.query(migration);
      await db.query(
        "INSERT INTO ledger (account_id, amount, idempotency_key) SELECT 1, i, gen_random_uuid() FROM generate_series(1, 50) i",
      );
      const a = await gatherSequence(db, SEQ as Extract<Invariant, { check: "sequence" }>, "after", b);
      const after = await takeSnapshot(db);
      return { result: evaluateInvariant(SEQ, { before, after, gathered: { before: b, after: a } }), a };
    } finally {
      await db.end();
    }
  };

  it("fails setval(max(id) + 1000) although later writes raised max(id) past the hole", async () => {
    const { result, a } = await jumped("SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger) + 1000)");
    expect(a.largestStep).toEqual({ from: "300", to: "1301", above: 50 });
    expect(result).toMatchObject({ status: "fail", measured: 1001, limit: 1 });
    expect(result.findings.join("\n")).toMatch(/1000 ids skipped between 300 and 1301, with 50 ids written/);
  });

  it("passes a forward-only sync to exactly max(id)", async () => {
    const { result } = await jumped("SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger))");
    expect(result).toMatchObject({ status: "pass", measured: 1, limit: 1 });
  });
});
