import { beforeAll, describe, expect, it } from "vitest";
import { evaluateBudgets, type RunFacts } from "../../src/budgets/index.ts";
import type { StatementEffect } from "../../src/report/model.ts";
import { Budgets } from "../../src/scenario/schema.ts";
import { loadSqlParser, parseSql } from "../../src/scenario/sql.ts";

const at = { section: "migration" as const, phase: "prepare", step: "build", statement: 0 };
const ID = "budget.no_scan_blocking_writes";

/** The table effect of a statement on the hot ledger. */
function table(p: Partial<StatementEffect>): StatementEffect {
  return {
    ...at,
    relation: "public.ledger",
    relation_oid: 10,
    seq_scans: 0,
    seq_tup_read: 0,
    idx_tup_fetch: 0,
    rewritten: false,
    held_mode: "ShareLock",
    hot: true,
    relkind: "r",
    ...p,
  };
}

/** The effect on one index of the hot ledger. */
function index(p: Partial<StatementEffect>): StatementEffect {
  return {
    ...at,
    relation: "public.ledger_memo_idx",
    relation_oid: 11,
    seq_scans: 0,
    seq_tup_read: 0,
    idx_tup_fetch: 0,
    rewritten: false,
    held_mode: "AccessExclusiveLock",
    hot: false,
    relkind: "i",
    table: "public.ledger",
    table_hot: true,
    table_mode: "ShareLock",
    ...p,
  };
}

function facts(effects: StatementEffect[], operations?: string[]): RunFacts {
  return {
    phases: [],
    steps: [
      {
        section: "migration",
        phase: "prepare",
        name: "build",
        status: "success",
        transaction: true,
        attempts: 1,
        statements: [
          {
            index: 0,
            sql: "…",
            file: "migration/01.sql",
            line: 3,
            duration_ms: 5,
            status: "success",
            ...(operations ? { operations } : {}),
          },
        ],
      },
    ],
    locks: [],
    effects,
  };
}

const defaults = Budgets.parse({});
const judge = (f: RunFacts, budgets = defaults) =>
  Object.fromEntries(evaluateBudgets(budgets, f).map((c) => [c.id, c]));

describe("budget.no_scan_blocking_writes", () => {
  it("fails CREATE INDEX: the hot table scanned and an index built under SHARE, and names CONCURRENTLY", () => {
    const r = judge(
      facts([table({ seq_scans: 1, seq_tup_read: 10000 }), index({ built: true })], ["create_index"]),
    );
    const c = r[ID]!;
    expect(c).toMatchObject({ status: "fail", measured: 1, limit: 0 });
    // One finding per statement and table, with where it happened and what it did.
    expect(c.findings).toHaveLength(1);
    expect(c.findings[0]).toContain("prepare/build statement 1 (migration/01.sql:3) CREATE INDEX");
    expect(c.findings[0]).toContain("read 10000 rows of hot table public.ledger");
    expect(c.findings[0]).toContain("built index public.ledger_memo_idx");
    expect(c.findings[0]).toContain("while holding SHARE on public.ledger");
    expect(c.findings[0]).toContain("reads went on");
    expect(c.remediation).toContain("CREATE INDEX CONCURRENTLY");
    expect(c.remediation).not.toContain("ATTACH");
    // The ACCESS EXCLUSIVE budgets are not involved: the table was only SHARE-locked.
    expect(r["budget.no_scan_under_access_exclusive"]!.status).toBe("pass");
    expect(r["budget.no_rewrite_under_access_exclusive"]!.status).toBe("pass");
  });

  it("fails on the new index alone when the build left no scan count (a parallel build's workers)", () => {
    const c = judge(facts([index({ built: true })], ["create_index"]))[ID]!;
    expect(c.status).toBe("fail");
  });

  it("fails REINDEX: indexes rebuilt under ACCESS EXCLUSIVE, named as blocking reads that use them", () => {
    const r = judge(
      facts(
        [
          table({ seq_scans: 2, seq_tup_read: 20000 }),
          index({ rewritten: true }),
          index({ relation: "public.ledger_pkey", relation_oid: 12, rewritten: true }),
        ],
        ["reindex"],
      ),
    );
    const c = r[ID]!;
    expect(c.status).toBe("fail");
    expect(c.findings).toHaveLength(1);
    expect(c.findings[0]).toContain("rebuilt index public.ledger_memo_idx, public.ledger_pkey");
    expect(c.findings[0]).toContain("ACCESS EXCLUSIVE on public.ledger_memo_idx, public.ledger_pkey");
    expect(c.findings[0]).toContain("so did every read that uses those indexes");
    expect(c.remediation).toContain("REINDEX … CONCURRENTLY");
    // An index is not a hot table: the ACCESS EXCLUSIVE table budgets keep their verdicts.
    expect(r["budget.no_rewrite_under_access_exclusive"]!.status).toBe("pass");
  });

  it("fails ADD FOREIGN KEY validated in place under SHARE ROW EXCLUSIVE, and names NOT VALID + VALIDATE", () => {
    const c = judge(
      facts(
        [table({ held_mode: "ShareRowExclusiveLock", seq_scans: 1, seq_tup_read: 500 })],
        ["add_foreign_key"],
      ),
    )[ID]!;
    expect(c.status).toBe("fail");
    expect(c.findings[0]).toContain("ADD FOREIGN KEY: read 500 rows");
    expect(c.findings[0]).toContain("SHARE ROW EXCLUSIVE");
    expect(c.remediation).toContain("NOT VALID");
    expect(c.remediation).toContain("VALIDATE CONSTRAINT");
  });

  it("counts index fetches only for a statement that validates rows (an FK checked through an index)", () => {
    const fk = table({ held_mode: "ShareRowExclusiveLock", idx_tup_fetch: 800 });
    expect(judge(facts([fk], ["add_foreign_key"]))[ID]!.status).toBe("fail");
    expect(judge(facts([fk]))[ID]!.status).toBe("pass");
  });

  it("passes the concurrent and NOT VALID forms: SHARE UPDATE EXCLUSIVE blocks no writes", () => {
    const c = judge(
      facts(
        [
          table({ held_mode: "ShareUpdateExclusiveLock", seq_scans: 2, seq_tup_read: 20000 }),
          index({
            built: true,
            held_mode: "ShareUpdateExclusiveLock",
            table_mode: "ShareUpdateExclusiveLock",
          }),
        ],
        ["create_index_concurrently"],
      ),
    )[ID]!;
    expect(c).toMatchObject({ status: "pass", measured: 0 });
    expect(c.remediation).toBeUndefined();
  });

  it("ignores tables that are not hot and indexes built on them (a new table's own indexes)", () => {
    const c = judge(
      facts([
        table({ hot: false, seq_scans: 1, seq_tup_read: 10 }),
        index({ built: true, table_hot: false, table: "public.ledger_new" }),
      ]),
    )[ID]!;
    expect(c.status).toBe("pass");
  });

  it("leaves ACCESS EXCLUSIVE on the table itself to the two ACCESS EXCLUSIVE budgets, without counting twice", () => {
    // ADD COLUMN with a volatile DEFAULT: the table rewritten and every index rebuilt under ACCESS EXCLUSIVE.
    const r = judge(
      facts(
        [
          table({ held_mode: "AccessExclusiveLock", rewritten: true, seq_scans: 1, seq_tup_read: 100 }),
          index({ rewritten: true, table_mode: "AccessExclusiveLock" }),
        ],
        ["add_column"],
      ),
    );
    expect(r[ID]!.status).toBe("pass");
    expect(r["budget.no_rewrite_under_access_exclusive"]!.status).toBe("fail");
    expect(r["budget.no_rewrite_under_access_exclusive"]!.measured).toBe(1);
    // Told how to add a column, not how to attach a partition.
    expect(r["budget.no_scan_under_access_exclusive"]!.remediation).toContain("ADD COLUMN");
    expect(r["budget.no_scan_under_access_exclusive"]!.remediation).not.toContain("ATTACH");
  });

  it("judges an index built under the table's ACCESS EXCLUSIVE with no table scan seen, naming reads", () => {
    const c = judge(facts([index({ built: true, table_mode: "AccessExclusiveLock" })], ["add_unique"]))[ID]!;
    expect(c.status).toBe("fail");
    expect(c.findings[0]).toContain("every read of it waited as well");
    expect(c.remediation).toContain("USING INDEX");
  });

  it("falls back to a general remedy for a statement rehearse cannot name (a function call)", () => {
    const c = judge(facts([table({ seq_scans: 1, seq_tup_read: 5 })]))[ID]!;
    expect(c.remediation).toContain("SHARE UPDATE EXCLUSIVE");
  });

  it("is on by default and can be switched off", () => {
    expect(defaults.no_scan_blocking_writes).toBe(true);
    const off = Budgets.parse({ no_scan_blocking_writes: false });
    expect(judge(facts([table({ seq_scans: 1, seq_tup_read: 5 })]), off)[ID]).toBeUndefined();
  });
});

describe("statement operations from the parse tree", () => {
  beforeAll(() => loadSqlParser());
  const ops = (sql: string) => parseSql(sql, "m.sql").statements.map((s) => s.operations ?? []);

  it("names the operations a remedy exists for, and nothing for the rest", () => {
    expect(
      ops(`CREATE INDEX a ON t (x);
           CREATE UNIQUE INDEX CONCURRENTLY b ON t (x);
           REINDEX TABLE t;
           REINDEX (VERBOSE) INDEX CONCURRENTLY a;
           ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES u (id);
           ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES u (id) NOT VALID;
           ALTER TABLE t VALIDATE CONSTRAINT f;
           ALTER TABLE t ADD CONSTRAINT c CHECK (x > 0), ADD UNIQUE (x);
           ALTER TABLE t ADD PRIMARY KEY USING INDEX b;
           ALTER TABLE t ADD COLUMN y int REFERENCES u (id);
           ALTER TABLE p ATTACH PARTITION t FOR VALUES FROM (1) TO (2);
           ALTER TABLE t ALTER COLUMN x SET NOT NULL, ALTER COLUMN y TYPE bigint;
           VACUUM (FULL) t;
           CLUSTER t USING a;
           SELECT 1`),
    ).toEqual([
      ["create_index"],
      ["create_index_concurrently"],
      ["reindex"],
      ["reindex_concurrently"],
      ["add_foreign_key"],
      ["add_foreign_key_not_valid"],
      ["validate_constraint"],
      ["add_check", "add_unique"],
      ["add_unique_using_index"],
      ["add_column", "add_foreign_key"],
      ["attach_partition"],
      ["set_not_null", "alter_column_type"],
      ["vacuum_full"],
      ["cluster"],
      [],
    ]);
  });
});
