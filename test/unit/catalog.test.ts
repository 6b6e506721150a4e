/** The catalog module's pure parts: decoding helpers of takeSnapshot and the snapshot builders. */
import { describe, expect, it } from "vitest";
import { parseIdentifierChain, sequenceFromDefault, splitTopLevel } from "../../src/catalog/parse.ts";
import { decodeTriggerType } from "../../src/catalog/triggers.ts";
import { relationKey } from "../../src/catalog/types.ts";
import { col, fk, rangeOn, snapshot, table } from "../support/catalog-fixtures.ts";

describe("catalog decoding", () => {
  it.each([
    ["(id + 1), lower(x)", ["(id + 1)", "lower(x)"]],
    ["a", ["a"]],
    ["f(a, b), 'x, y', \"c,d\"", ["f(a, b)", "'x, y'", '"c,d"']],
    ["'it''s', arr[1, 2]", ["'it''s'", "arr[1, 2]"]],
    ["", []],
  ])("splitTopLevel(%s)", (text, parts) => {
    expect(splitTopLevel(text)).toEqual(parts);
  });

  it.each([
    ["ledger_id_seq", ["ledger_id_seq"]],
    ["app.Shared_Seq", ["app", "shared_seq"]],
    ['"App"."My ""Seq"""', ["App", 'My "Seq"']],
    ['app."x.y"', ["app", "x.y"]],
  ])("parseIdentifierChain(%s)", (text, parts) => {
    expect(parseIdentifierChain(text)).toEqual(parts);
  });

  it.each([
    ["nextval('ledger_id_seq'::regclass)", "public.ledger_id_seq"],
    ["nextval('app.\"Mixed Seq\"'::regclass)", "app.Mixed Seq"],
    ["nextval('o''brien_seq'::text)", "public.o'brien_seq"],
    ["now()", null],
    [null, null],
  ])("sequenceFromDefault(%s)", (expr, seq) => {
    expect(sequenceFromDefault(expr)).toBe(seq);
  });

  it("decodes pg_trigger.tgtype", () => {
    // BEFORE INSERT FOR EACH ROW: ROW(1) | BEFORE(2) | INSERT(4)
    expect(decodeTriggerType(7)).toEqual({ timing: "BEFORE", events: ["INSERT"], level: "row" });
    // AFTER UPDATE OR DELETE FOR EACH STATEMENT: DELETE(8) | UPDATE(16)
    expect(decodeTriggerType(24)).toEqual({
      timing: "AFTER",
      events: ["UPDATE", "DELETE"],
      level: "statement",
    });
    // INSTEAD OF INSERT OR UPDATE OR DELETE ON a view, FOR EACH ROW: 1 | 4 | 8 | 16 | 64
    expect(decodeTriggerType(93)).toEqual({
      timing: "INSTEAD OF",
      events: ["INSERT", "UPDATE", "DELETE"],
      level: "row",
    });
    expect(decodeTriggerType(32).events).toEqual(["TRUNCATE"]);
  });

  it("keys unqualified names in public", () => {
    expect(relationKey("ledger")).toBe("public.ledger");
    expect(relationKey("app.ledger")).toBe("app.ledger");
  });
});

describe("snapshot builders", () => {
  it("link partitions to their parent and foreign keys to both tables", () => {
    const s = snapshot(
      [
        table("ledger", { partitioning: rangeOn("created_at"), columns: [col("id"), col("created_at")] }),
        table("ledger_p1", { partitionOf: { parent: "ledger", bound: "FOR VALUES FROM ('a') TO ('b')" } }),
        table("ledger_default", { partitionOf: { parent: "ledger", bound: "DEFAULT" } }),
        table("accounts"),
      ],
      { foreignKeys: [fk("f", "ledger", ["account_id"], "accounts", ["id"])] },
    );
    const ledger = s.tables["public.ledger"]!;
    expect(ledger.relkind).toBe("partitioned");
    expect(ledger.partitioning!.partitions.map((p) => [p.name, p.isDefault])).toEqual([
      ["public.ledger_p1", false],
      ["public.ledger_default", true],
    ]);
    expect(s.tables["public.ledger_p1"]!.partitionOf!.parentOid).toBe(ledger.oid);
    expect(ledger.columns.map((c) => c.num)).toEqual([1, 2]);
    expect(ledger.foreignKeys.outgoing.map((f) => f.to)).toEqual(["public.accounts"]);
    expect(s.tables["public.accounts"]!.foreignKeys.incoming.map((f) => f.from)).toEqual(["public.ledger"]);
    expect(s.foreignKeys).toHaveLength(1);
  });
});
