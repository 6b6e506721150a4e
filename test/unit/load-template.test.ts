import { describe, expect, it } from "vitest";
import { parseTemplate, resolveParams, TemplateError } from "../../src/load/template.ts";

describe("parseTemplate", () => {
  it("numbers :name parameters in order of first use and reuses a repeated name", () => {
    const t = parseTemplate(
      "SELECT ledger_insert(:account_id, -:amount, :kind, :new_uuid) WHERE :kind <> ''",
    );
    expect(t.text).toBe("SELECT ledger_insert($1, -$2, $3, $4) WHERE $3 <> ''");
    expect(t.names).toEqual(["account_id", "amount", "kind", "new_uuid"]);
  });

  it("leaves ::casts alone, including a cast right after a parameter", () => {
    const t = parseTemplate("SELECT :amount::numeric(18,2), now()::text, :k::uuid");
    expect(t.text).toBe("SELECT $1::numeric(18,2), now()::text, $2::uuid");
    expect(t.names).toEqual(["amount", "k"]);
  });

  it("leaves text in single quotes, E-strings, quoted identifiers and dollar quotes alone", () => {
    const sql = ["SELECT '10:30', 'it''s :not', E'a\\':b', \"col:x\", $$ v := :y $$, $f$ :z $f$, :real"].join(
      "",
    );
    const t = parseTemplate(sql);
    expect(t.names).toEqual(["real"]);
    expect(t.text).toBe(sql.replace(":real", "$1"));
  });

  it("leaves comments alone, nested block comments too", () => {
    const sql = "SELECT 1 -- note: :a\n, /* x /* :b */ :c */ :d";
    const t = parseTemplate(sql);
    expect(t.names).toEqual(["d"]);
    expect(t.text).toBe("SELECT 1 -- note: :a\n, /* x /* :b */ :c */ $1");
  });

  it("does not read a := assignment or a bare colon as a parameter", () => {
    const t = parseTemplate("SELECT a[1:2], x := 1, :ok");
    expect(t.names).toEqual(["ok"]);
    expect(t.text).toBe("SELECT a[1:2], x := 1, $1");
  });

  it("keeps identifiers with $ and tagged literals intact", () => {
    const t = parseTemplate("SELECT a$b, date'2024-01-01', :p");
    expect(t.text).toBe("SELECT a$b, date'2024-01-01', $1");
  });

  it("refuses positional parameters and unterminated quoting", () => {
    expect(() => parseTemplate("SELECT $1, :a")).toThrow(TemplateError);
    expect(() => parseTemplate("SELECT $1, :a")).toThrow(/use :name parameters/);
    expect(() => parseTemplate("SELECT 'open")).toThrow(/unterminated quoted string/);
    expect(() => parseTemplate('SELECT "open')).toThrow(/unterminated quoted identifier/);
    expect(() => parseTemplate("SELECT $$ open")).toThrow(/unterminated dollar-quoted/);
    expect(() => parseTemplate("SELECT /* open")).toThrow(/unterminated/);
  });
});

describe("resolveParams", () => {
  const columns = new Map([
    ["id", 0],
    ["amount", 1],
    ["kind", 2],
  ]);

  it("maps history columns to row indexes and generated names to generators", () => {
    expect(resolveParams(["amount", "new_uuid", "id", "now", "run_id", "op"], columns)).toEqual([
      { kind: "column", index: 1 },
      { kind: "generated", name: "new_uuid" },
      { kind: "column", index: 0 },
      { kind: "generated", name: "now" },
      { kind: "generated", name: "run_id" },
      { kind: "generated", name: "op" },
    ]);
  });

  it("names what is available when a parameter is unknown", () => {
    expect(() => resolveParams(["amout"], columns)).toThrow(
      /unknown parameter :amout; available: :id, :amount, :kind, :new_uuid, :now, :run_id, :op/,
    );
  });

  it("refuses a column that shadows a generated value", () => {
    expect(() => resolveParams(["op"], new Map([["op", 3]]))).toThrow(
      /both a history column and a generated/,
    );
  });
});
