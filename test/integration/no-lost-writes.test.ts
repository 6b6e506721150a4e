/**
 * no_lost_writes against a real PostgreSQL 17 with hand-written ack ledgers: exact counts of missing and
 * duplicated keys, a pass when every key is there once, indeterminate keys reported but never judged, keys
 * that COPY's text format would mangle, and a ledger of a million keys (timed).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { once } from "node:events";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gatherNoLostWrites, setAckLedger } from "../../src/checks/no-lost-writes.ts";
import { evaluateInvariant, gatherInvariant } from "../../src/checks/registry.ts";
import type { CatalogSnapshot } from "../../src/catalog/types.ts";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import type { CheckResult } from "../../src/report/model.ts";
import { type Invariant, Invariant as InvariantSchema } from "../../src/scenario/schema.ts";

let clone: Clone;
let db: pg.Client;
let dir: string;
let keys: string[];

type Inv = Extract<Invariant, { check: "no_lost_writes" }>;
const inv = (table: string, column: string) =>
  InvariantSchema.parse({ check: "no_lost_writes", table, column }) as Inv;
const noSnapshot = {} as CatalogSnapshot;

async function check(table: string, column: string): Promise<{ result: CheckResult; gathered: unknown }> {
  const i = inv(table, column);
  const gathered = await gatherInvariant(db, i, "after");
  const result = evaluateInvariant(i, {
    before: noSnapshot,
    after: noSnapshot,
    gathered: { after: gathered },
  });
  return { result, gathered };
}

async function ledger(name: string, lines: string[], indeterminate?: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, lines.map((l) => `${l}\n`).join(""));
  if (indeterminate) await writeFile(`${file}.indeterminate`, indeterminate.map((l) => `${l}\n`).join(""));
  return file;
}

beforeAll(async () => {
  clone = await new EmbeddedProvider().start();
  db = new pg.Client(clone.connectionConfig());
  await db.connect();
  dir = await mkdtemp(path.join(tmpdir(), "rehearse-nlw-"));
  keys = Array.from({ length: 10_000 }, () => randomUUID()).sort();
  await db.query("CREATE TABLE writes (id bigserial PRIMARY KEY, idempotency_key uuid NOT NULL, note text)");
  await db.query("INSERT INTO writes (idempotency_key) SELECT unnest($1::uuid[])", [keys]);
});

afterAll(async () => {
  await db?.end();
  await clone?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(() => setAckLedger(undefined));

describe("no_lost_writes on a real clone", () => {
  it("fails with the exact numbers of missing and duplicated keys", async () => {
    // 10k acknowledged; 7 rows lost by "the swap", one row copied twice by "the catch-up".
    const lost = [keys[3]!, keys[500]!, keys[501]!, keys[4000]!, keys[7777]!, keys[9998]!, keys[9999]!];
    await db.query(
      "CREATE TABLE swapped AS SELECT * FROM writes WHERE NOT idempotency_key = ANY($1::uuid[])",
      [lost],
    );
    await db.query("INSERT INTO swapped SELECT * FROM writes WHERE idempotency_key = $1", [keys[42]]);
    // 4 indeterminate writes: two landed, two did not; neither is judged.
    const indeterminate = [keys[1]!, keys[2]!, lost[0]!, randomUUID()];
    setAckLedger(await ledger("acked-1.txt", keys, indeterminate));

    const { result, gathered } = await check("swapped", "idempotency_key");
    expect(gathered).toMatchObject({
      acknowledged: 10_000,
      distinct: 10_000,
      missing: 7,
      duplicated: 1,
      missingExamples: [...lost].sort(),
      duplicatedExamples: [{ key: keys[42], present: 2, acknowledged: 1 }],
      indeterminate: 4,
      indeterminatePresent: 2,
    });
    expect(result.status).toBe("fail");
    expect(result.id).toBe("no_lost_writes");
    expect(result.measured).toBe(8);
    expect(result.summary).toBe(
      "7 of 10000 acknowledged writes are missing and 1 key present more than once in public.swapped.idempotency_key (4 indeterminate writes not counted; 2 of them landed).",
    );
    expect(result.findings).toContain(`missing: "${lost[0]}"`);
    expect(result.findings).toContain(`duplicated: "${keys[42]}" present 2 times (acknowledged once)`);
    expect(result.remediation).toMatch(/pause writers/);
    // The temporary tables are gone with the check: a second invariant starts clean.
    const temp = await db.query("SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'rehearse_%'");
    expect(temp.rows[0].n).toBe(0);
  });

  it("passes when every acknowledged key is present exactly once", async () => {
    setAckLedger(await ledger("acked-2.txt", keys));
    const { result } = await check("writes", "idempotency_key");
    expect(result.status).toBe("pass");
    expect(result.summary).toBe(
      "10000 acknowledged writes, each present exactly once in public.writes.idempotency_key (0 indeterminate not counted).",
    );
  });

  it("compares any column type as text (bigint ids)", async () => {
    await db.query("CREATE TABLE numbered (n bigint)");
    await db.query("INSERT INTO numbered SELECT generate_series(1, 1000)");
    const ok = await gatherNoLostWrites(
      db,
      inv("numbered", "n"),
      "after",
      await ledger("n.txt", ["1", "500", "1000"]),
    );
    expect(ok).toMatchObject({ acknowledged: 3, missing: 0, duplicated: 0 });
    const bad = await gatherNoLostWrites(
      db,
      inv("numbered", "n"),
      "after",
      await ledger("n2.txt", ["1001", "7"]),
    );
    expect(bad).toMatchObject({ acknowledged: 2, missing: 1, missingExamples: ["1001"] });
  });

  it("keeps keys with backslashes and tabs intact through COPY", async () => {
    const odd = ["a\\b", "tab\there", "\\.", "\\N", "plain"];
    await db.query("CREATE TABLE odd (k text)");
    await db.query("INSERT INTO odd SELECT unnest($1::text[])", [odd]);
    const g = await gatherNoLostWrites(db, inv("odd", "k"), "after", await ledger("odd.txt", odd));
    expect(g).toMatchObject({ acknowledged: 5, distinct: 5, missing: 0, duplicated: 0 });
  });

  it("cannot judge without a load, a ledger, or the table", async () => {
    const none = await check("writes", "idempotency_key");
    expect(none.result.status).toBe("error");
    expect(none.result.summary).toMatch(/no load ran/);

    setAckLedger(path.join(dir, "never-written.txt"));
    const gone = await check("writes", "idempotency_key");
    expect(gone.result.status).toBe("error");
    expect(gone.result.summary).toMatch(/ack ledger .* does not exist/);

    setAckLedger(await ledger("acked-3.txt", keys.slice(0, 10)));
    expect((await check("nope", "idempotency_key")).result.summary).toMatch(
      /table public.nope does not exist/,
    );
    expect((await check("writes", "nope")).result.summary).toMatch(/has no column nope/);

    setAckLedger(await ledger("empty.txt", []));
    const empty = await check("writes", "idempotency_key");
    expect(empty.result.status).toBe("error");
    expect(empty.result.summary).toMatch(/acknowledged no writes/);
  });

  it("streams a ledger of a million keys (report)", async () => {
    await db.query("CREATE TABLE big (k uuid)");
    const file = path.join(dir, "big.txt");
    const out = createWriteStream(file);
    const batch: string[] = [];
    const flush = async () => {
      await db.query("INSERT INTO big SELECT unnest($1::uuid[])", [batch]);
      if (!out.write(batch.map((k) => `${k}\n`).join(""))) await once(out, "drain");
      batch.length = 0;
    };
    for (let i = 0; i < 1_000_000; i++) {
      batch.push(randomUUID());
      if (batch.length === 50_000) await flush();
    }
    await flush();
    out.end();
    await once(out, "finish");
    // One acknowledged write that never arrived.
    await writeFile(file, `${randomUUID()}\n`, { flag: "a" });

    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const g = await gatherNoLostWrites(db, inv("big", "k"), "after", file);
    const ms = performance.now() - started;
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    console.log(
      `no_lost_writes: 1,000,001 keys checked in ${Math.round(ms)} ms; heap growth ${Math.round(heapGrowth / 1e6)} MB`,
    );
    expect(g).toMatchObject({ acknowledged: 1_000_001, missing: 1, duplicated: 0 });
    // Streamed, not loaded: the 37 MB ledger never sits in memory.
    expect(heapGrowth).toBeLessThan(30e6);
  });
  it("rows_per_write: a write that creates two rows under its key is one write; one row alone is partial", async () => {
    const some = keys.slice(0, 100);
    await db.query("CREATE TABLE events_two (idempotency_key uuid NOT NULL, kind text NOT NULL)");
    // Each write: the event and its audit row under one request key; the last key lost its audit row.
    await db.query(
      "INSERT INTO events_two SELECT k, kind FROM unnest($1::uuid[]) k, (VALUES ('event'), ('audit')) v(kind)",
      [some.slice(0, 99)],
    );
    await db.query("INSERT INTO events_two VALUES ($1, 'event')", [some[99]]);
    const file = await ledger("acked-two.txt", some);
    const run = async (raw: Record<string, unknown>) => {
      const i = InvariantSchema.parse({
        check: "no_lost_writes",
        table: "events_two",
        column: "idempotency_key",
        ...raw,
      }) as Inv;
      const g = await gatherNoLostWrites(db, i, "after", file);
      return evaluateInvariant(i, { before: noSnapshot, after: noSnapshot, gathered: { after: g } });
    };
    // Without rows_per_write, today's verdict: 99 keys "present more than once".
    expect((await run({})).summary).toMatch(/^99 keys present more than once/);
    const two = await run({ rows_per_write: 2 });
    expect(two.status).toBe("fail");
    expect(two.summary).toMatch(/^1 key present fewer than 2 times/);
    expect(two.findings).toContain(`partial: "${some[99]}" present 1 of 2 times`);
    expect((await run({ at_least_once: true })).status).toBe("pass");
  });

  it("names the old table's INSERT-only sync trigger as the cause when the missing keys are there", async () => {
    const some = keys.slice(200, 300);
    await db.query(`
CREATE TABLE orders_old (idempotency_key uuid);
CREATE TABLE orders_new (idempotency_key uuid);
CREATE FUNCTION orders_sync() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO orders_new VALUES (NEW.idempotency_key); RETURN NEW; END $$;
CREATE TRIGGER orders_sync AFTER INSERT ON orders_old FOR EACH ROW EXECUTE FUNCTION orders_sync();`);
    // 90 writes were INSERTs the trigger copied; 10 were UPDATEs that stamped the key on an existing row.
    await db.query("INSERT INTO orders_old SELECT unnest($1::uuid[])", [some.slice(0, 90)]);
    await db.query("INSERT INTO orders_old SELECT NULL FROM generate_series(1, 10)");
    await db.query(
      "UPDATE orders_old o SET idempotency_key = k.k FROM (SELECT ctid AS c, row_number() OVER () AS n FROM orders_old WHERE idempotency_key IS NULL) r, unnest($1::uuid[]) WITH ORDINALITY k(k, n) WHERE o.ctid = r.c AND r.n = k.n",
      [some.slice(90)],
    );
    const i = inv("orders_new", "idempotency_key");
    const g = await gatherNoLostWrites(db, i, "after", await ledger("acked-sync.txt", some));
    const r = evaluateInvariant(i, { before: noSnapshot, after: noSnapshot, gathered: { after: g } });
    expect(r.status).toBe("fail");
    expect(r.findings).toContain("10 missing keys found in public.orders_old");
    expect(r.remediation).toMatch(/public\.orders_old's trigger orders_sync fires on INSERT only/);
    expect(r.remediation).not.toMatch(/after the last sync/);
    // All ten missing keys are listed: nothing more to count.
    expect(r.unlisted).toBeUndefined();
  });
});
