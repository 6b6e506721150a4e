/** Which tables dataset.after only fills (src/run/after-sql.ts), read from the parse trees. */
import { beforeAll, describe, expect, it } from "vitest";
import { afterSqlMentions } from "../../src/run/after-sql.ts";
import { loadSqlParser, parseSql } from "../../src/scenario/sql.ts";

beforeAll(() => loadSqlParser());

const mentions = (text: string) => afterSqlMentions(parseSql(text, "after_seed.sql"));

describe("afterSqlMentions", () => {
  it("separates the tables only INSERTed into from every other name, with the functions called", () => {
    const m = mentions(`
      SELECT setval('ledger_id_seq', (SELECT max(id) FROM ledger));
      INSERT INTO ledger_idempotency (key) SELECT idempotency_key FROM ledger;
      INSERT INTO app."Balances" SELECT account_id, sum(amount) FROM ledger GROUP BY 1;
      ANALYZE;`);
    expect(m?.filled).toEqual(['"ledger_idempotency"', '"app"."Balances"']);
    expect(new Set(m?.other)).toEqual(new Set(['"ledger"']));
    expect(m?.functions).toEqual([["setval"], ["max"], ["sum"]]);
  });

  it("counts an upsert's target, an UPDATE, a DELETE and an ANALYZE of a table as other uses", () => {
    const m = mentions(`
      INSERT INTO a SELECT 1 ON CONFLICT DO NOTHING;
      UPDATE b SET x = 1;
      DELETE FROM c;
      ANALYZE d;
      INSERT INTO e VALUES (1);`);
    expect(m?.filled).toEqual(['"e"']);
    expect(m?.other).toEqual(expect.arrayContaining(['"a"', '"b"', '"c"', '"d"']));
  });

  it("gives up on anything but plain DML and VACUUM/ANALYZE (a DO block, DDL, a CALL)", () => {
    expect(mentions("DO $$ BEGIN INSERT INTO a VALUES (1); END $$;")).toBeUndefined();
    expect(mentions("CREATE INDEX ON a (x);")).toBeUndefined();
    expect(mentions("CALL refill();")).toBeUndefined();
  });

  it("collects operators by name, schema-qualified ones too", () => {
    const m = mentions("SELECT 1 FROM a WHERE x === y AND z OPERATOR(app.+) 1;");
    expect(m?.operators).toEqual(expect.arrayContaining([["==="], ["app", "+"]]));
  });
});
