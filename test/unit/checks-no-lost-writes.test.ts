import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import type { CatalogSnapshot } from "../../src/catalog/types.ts";
import { gatherNoLostWrites, type NoLostWritesGathered } from "../../src/checks/no-lost-writes.ts";
import { evaluateInvariant } from "../../src/checks/registry.ts";
import { copyTextEscape } from "../../src/db/copy.ts";
import { type Invariant, Invariant as InvariantSchema } from "../../src/scenario/schema.ts";

const inv = InvariantSchema.parse({ check: "no_lost_writes", table: "ledger", column: "idempotency_key" });
const snap = {} as CatalogSnapshot;

function gathered(p: Partial<NoLostWritesGathered>): NoLostWritesGathered {
  return {
    table: "public.ledger",
    column: "idempotency_key",
    ledger: "/tmp/acked.txt",
    acknowledged: 1000,
    distinct: 1000,
    missing: 0,
    duplicated: 0,
    missingExamples: [],
    duplicatedExamples: [],
    indeterminate: 0,
    indeterminatePresent: 0,
    ...p,
  };
}

const evaluate = (g: NoLostWritesGathered | undefined, i: Invariant = inv) =>
  evaluateInvariant(i, { before: snap, after: snap, gathered: { after: g } });

describe("no_lost_writes evaluate", () => {
  it("passes when every acknowledged write is there once, indeterminate ones aside", () => {
    const r = evaluate(gathered({ indeterminate: 3, indeterminatePresent: 1 }));
    expect(r).toMatchObject({ id: "no_lost_writes", status: "pass", measured: 0, limit: 0, unit: "writes" });
    expect(r.summary).toBe(
      "1000 acknowledged writes, each present exactly once in public.ledger.idempotency_key (3 indeterminate writes not counted; 1 of them landed).",
    );
  });

  it("fails on missing keys, with the examples and the count beyond them", () => {
    const ex = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const r = evaluate(
      gathered({
        missing: 250,
        missingExamples: ex,
        missingFoundIn: [{ table: "public.ledger_old", keys: 250, triggers: [] }],
      }),
    );
    expect(r.status).toBe("fail");
    expect(r.measured).toBe(250);
    expect(r.summary).toMatch(
      /^250 of 1000 acknowledged writes are missing in public\.ledger\.idempotency_key/,
    );
    expect(r.findings[0]).toBe(
      "250 acknowledged keys of 1000 missing from public.ledger.idempotency_key (first 10 below)",
    );
    expect(r.findings).toContain('missing: "k9"');
    expect(r.findings).toContain("250 missing keys found in public.ledger_old");
    expect(r.remediation).toMatch(/landed in public\.ledger_old \(250 keys\).*after the last sync.*004/);
  });

  it("names a sync trigger that drops updates, not a late write after the last sync", () => {
    const r = evaluate(
      gathered({
        missing: 40,
        missingFoundIn: [
          {
            table: "public.ledger_old",
            keys: 40,
            triggers: [
              { name: "ledger_sync", events: ["INSERT"], syncs: true },
              // The application's own trigger (it writes account_balances, not the target): not the cause.
              { name: "ledger_apply_balance", events: ["INSERT"], syncs: false },
            ],
          },
        ],
      }),
    );
    expect(r.status).toBe("fail");
    expect(r.remediation).toMatch(
      /public\.ledger_old's trigger ledger_sync fires on INSERT only.*INSERT OR UPDATE OR DELETE/,
    );
    expect(r.remediation).not.toMatch(/after the last sync|ledger_apply_balance/);
  });

  it("does not blame the application's own INSERT trigger on the old table", () => {
    const r = evaluate(
      gathered({
        missing: 40,
        missingFoundIn: [
          {
            table: "public.ledger_old",
            keys: 40,
            triggers: [{ name: "ledger_apply_balance", events: ["INSERT"], syncs: false }],
          },
        ],
      }),
    );
    expect(r.remediation).toMatch(/landed in public\.ledger_old \(40 keys\).*after the last sync/);
  });

  it("says the writes are gone when no table holds them", () => {
    const r = evaluate(gathered({ missing: 3, missingFoundIn: [] }));
    expect(r.remediation).toMatch(/in no table with a idempotency_key column: a step deleted/);
    expect(r.remediation).not.toMatch(/after the last sync/);
  });

  it("rows_per_write: two rows under one key is one write, one row is a partial loss", () => {
    const two = InvariantSchema.parse({ ...inv, rows_per_write: 2 });
    // What the check reports today without rows_per_write: every key "present more than once".
    const dup = gathered({
      duplicated: 1000,
      duplicatedExamples: [{ key: "a", present: 2, acknowledged: 1 }],
    });
    expect(evaluate(dup).status).toBe("fail");
    // With rows_per_write: 2 the gather counts against 2: nothing duplicated, nothing partial.
    const ok = evaluate(gathered({}), two);
    expect(ok.status).toBe("pass");
    expect(ok.summary).toMatch(/each present exactly 2 times/);
    const short = evaluate(gathered({ partial: 5, partialExamples: [{ key: "b", present: 1 }] }), two);
    expect(short.status).toBe("fail");
    expect(short.summary).toMatch(/^5 keys present fewer than 2 times/);
    expect(short.findings).toContain('partial: "b" present 1 of 2 times');
    expect(short.remediation).toMatch(/fewer than the 2 rows one write creates/);
  });

  it("at_least_once: keys present more often pass, missing ones still fail", () => {
    const once = InvariantSchema.parse({ ...inv, at_least_once: true });
    const r = evaluate(
      gathered({ duplicated: 7, duplicatedExamples: [{ key: "a", present: 2, acknowledged: 1 }] }),
      once,
    );
    expect(r.status).toBe("pass");
    expect(r.summary).toMatch(/each present at least once .*7 keys present more often \(at_least_once\)/);
    expect(evaluate(gathered({ missing: 1, missingFoundIn: [] }), once).status).toBe("fail");
  });

  it("fails on a duplicated key alone", () => {
    const r = evaluate(
      gathered({ duplicated: 1, duplicatedExamples: [{ key: "abc", present: 2, acknowledged: 1 }] }),
    );
    expect(r.status).toBe("fail");
    expect(r.measured).toBe(1);
    expect(r.summary).toMatch(/^1 key present more than once/);
    expect(r.findings).toEqual([
      "1 acknowledged key present more than once in public.ledger.idempotency_key",
      'duplicated: "abc" present 2 times (acknowledged once)',
    ]);
  });

  it("says when the ack key repeats in the ledger", () => {
    const r = evaluate(gathered({ acknowledged: 1010, distinct: 1000 }));
    expect(r.status).toBe("pass");
    expect(r.summary).toMatch(/10 acknowledgements repeated a key/);
  });

  it.each([
    ["no gather at all", undefined, /not looked for/],
    [
      "no load",
      gathered({ problem: "no load ran, so there are no acknowledged writes to look for" }),
      /no load ran/,
    ],
    ["no ledger file", gathered({ problem: "the load's ack ledger /x does not exist" }), /ack ledger/],
    ["no acknowledged write", gathered({ acknowledged: 0, distinct: 0 }), /acknowledged no writes/],
  ])("cannot judge with %s", (_name, g, summary) => {
    const r = evaluate(g);
    expect(r.status).toBe("error");
    expect(r.summary).toMatch(summary);
    expect(r.remediation).toBeTruthy();
  });
});

describe("no_lost_writes gather without a database", () => {
  // Never reaches the database: a query would throw.
  const db = {
    query: () => {
      throw new Error("no database in a unit test");
    },
  } as never;

  it("reports that no load ran when no ledger was set", async () => {
    const g = await gatherNoLostWrites(db, inv as never, "after", undefined);
    expect(g.problem).toMatch(/no load ran/);
  });

  it("reports a ledger file that is not there", async () => {
    const g = await gatherNoLostWrites(db, inv as never, "after", "/nonexistent/acked.txt");
    expect(g.problem).toBe("the load's ack ledger /nonexistent/acked.txt does not exist");
  });
});

describe("COPY text escaping", () => {
  const escape = async (chunks: string[]) =>
    text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(copyTextEscape()));

  it("passes plain keys through untouched", async () => {
    expect(await escape(["6f1c…-uuid\n", "42\n"])).toBe("6f1c…-uuid\n42\n");
  });

  it("escapes backslash, tab and carriage return, across chunk boundaries", async () => {
    expect(await escape(["a\\", "b\tc\r\n", "\\.\n"])).toBe("a\\\\b\\tc\\r\n\\\\.\n");
  });
});
