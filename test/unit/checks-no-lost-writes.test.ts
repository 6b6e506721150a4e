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
    const r = evaluate(gathered({ missing: 250, missingExamples: ex }));
    expect(r.status).toBe("fail");
    expect(r.measured).toBe(250);
    expect(r.summary).toMatch(
      /^250 of 1000 acknowledged writes are missing in public\.ledger\.idempotency_key/,
    );
    expect(r.findings[0]).toBe(
      "250 acknowledged keys of 1000 missing from public.ledger.idempotency_key (first 10 below)",
    );
    expect(r.findings).toContain('missing: "k9"');
    expect(r.remediation).toMatch(/pause writers.*sync trigger.*004/);
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
