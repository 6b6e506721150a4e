/**
 * evaluate() of the checks that gather facts from the database (sequence, unique_across_partitions,
 * default_partition_empty, partitions_cover, row_parity) over hand-written gathered data, plus their pure
 * helpers. Every table includes cases that must fail.
 */
import { describe, expect, it } from "vitest";
import type { CatalogSnapshot } from "../../src/catalog/types.ts";
import type { CheckInput } from "../../src/checks/check.ts";
import {
  type DefaultPartitionGathered,
  evaluateDefaultPartitionEmpty,
} from "../../src/checks/default-partition-empty.ts";
import {
  formatKeyValue,
  keyKind,
  type PartitionLayout,
  parseBound,
} from "../../src/checks/partition-bounds.ts";
import { type CoverGathered, evaluatePartitionsCover, findHoles } from "../../src/checks/partitions-cover.ts";
import { CHECKS, evaluateInvariant } from "../../src/checks/registry.ts";
import {
  type Chunk,
  evaluateRowParity,
  ROW_PARITY_CHUNK,
  type RowParityGathered,
  type TableDigest,
} from "../../src/checks/row-parity.ts";
import { evaluateSequence, type SequenceGathered } from "../../src/checks/sequence.ts";
import {
  bindKeyPlaceholders,
  evaluateUnique,
  type UniqueGathered,
} from "../../src/checks/unique-across-partitions.ts";
import { type Invariant, Invariant as InvariantSchema } from "../../src/scenario/schema.ts";
import { col, snapshot, table } from "../support/catalog-fixtures.ts";

type Of<K extends Invariant["check"]> = Extract<Invariant, { check: K }>;
const inv = <K extends Invariant["check"]>(raw: { check: K } & Record<string, unknown>): Of<K> =>
  InvariantSchema.parse(raw) as Of<K>;

const EMPTY = snapshot([]);
function input<G>(gathered: { before?: G; after?: G }, before: CatalogSnapshot = EMPTY): CheckInput<G> {
  return { before, after: EMPTY, gathered };
}

function expectOutcome(
  r: { status: string; summary: string; findings: string[]; remediation?: string },
  status: string,
  text?: RegExp,
) {
  expect(r.status, JSON.stringify(r, null, 1)).toBe(status);
  if (text) expect([r.summary, ...r.findings].join("\n")).toMatch(text);
  if (status === "fail") {
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.remediation).toBeTruthy();
  }
}

// ---------------------------------------------------------------- sequence

describe("sequence", () => {
  const seq = (over: Partial<NonNullable<SequenceGathered["sequence"]>> = {}) => ({
    oid: 10,
    name: "public.ledger_id_seq",
    lastValue: "300",
    isCalled: true,
    increment: "1",
    cache: "1",
    ...over,
  });
  const beforeG = (over: Partial<SequenceGathered> = {}): SequenceGathered => ({
    maxima: [{ table: "public.ledger", max: "300" }],
    tableExists: true,
    sequence: seq(),
    ...over,
  });
  const afterG = (over: Partial<SequenceGathered> = {}): SequenceGathered => ({
    maxima: [
      { table: "public.ledger", max: "300" },
      { table: "public.ledger_history", max: "300" },
    ],
    tableExists: true,
    sequence: seq(),
    nextId: "301",
    ...over,
  });
  const base = inv({ check: "sequence", table: "ledger", also: ["ledger_history"] });
  const cases: Array<{
    name: string;
    inv?: Of<"sequence">;
    before?: SequenceGathered;
    after: SequenceGathered;
    status: string;
    text?: RegExp;
  }> = [
    {
      name: "reused and in step",
      after: afterG(),
      status: "pass",
      text: /next id 301, 1 above the highest id 300/,
    },
    {
      name: "a new, unsynced sequence collides",
      after: afterG({
        sequence: seq({ oid: 11, name: "public.ledger_new_seq", lastValue: "1", isCalled: false }),
        nextId: "1",
      }),
      status: "fail",
      text: /draws from public\.ledger_new_seq, intended public\.ledger_id_seq[\s\S]*next id 1 from public\.ledger_new_seq \(last_value 1, is_called false\) ≤ max\(id\) 300/,
    },
    {
      name: "the named sequence, synced: passes",
      inv: inv({ check: "sequence", table: "ledger", sequence: "ledger_new_seq" }),
      after: afterG({ sequence: seq({ oid: 11, name: "public.ledger_new_seq" }), nextId: "301" }),
      status: "pass",
    },
    {
      name: "setval with a buffer leaves a gap beyond the cache",
      after: afterG({ nextId: "1301" }),
      status: "fail",
      text: /next id 1301 is 1001 above the highest id 300 \(max before 300, after 300\); allowed gap 1 \(the sequence CACHE × INCREMENT\)/,
    },
    {
      name: "the same gap within max_gap",
      inv: inv({ check: "sequence", table: "ledger", max_gap: 1000, also: ["ledger_history"] }),
      after: afterG({ nextId: "1300" }),
      status: "pass",
    },
    {
      name: "cache explains the gap",
      after: afterG({ sequence: seq({ cache: "20" }), nextId: "320" }),
      status: "pass",
    },
    {
      name: "increment 5 with cache 1: the next id is one step up",
      before: beforeG({ sequence: seq({ increment: "5" }) }),
      after: afterG({ sequence: seq({ increment: "5" }), nextId: "305" }),
      status: "pass",
    },
    {
      name: "ids written during the migration are not a gap",
      after: afterG({ maxima: [{ table: "public.ledger", max: "350" }], nextId: "351" }),
      status: "pass",
    },
    {
      name: "no default any more",
      after: afterG({ sequence: null, nextId: undefined }),
      status: "fail",
      text: /has no sequence default after the migration/,
    },
    {
      name: "ids beyond 2^53 compare exactly",
      before: beforeG({ maxima: [{ table: "public.ledger", max: "9007199254740993" }] }),
      after: afterG({
        maxima: [{ table: "public.ledger", max: "9007199254740993" }],
        nextId: "9007199254740993",
      }),
      status: "fail",
      text: /next id 9007199254740993 .* ≤ max\(id\) 9007199254740993/,
    },
    {
      name: "table gone after",
      after: afterG({ tableExists: false }),
      status: "error",
      text: /does not exist after the migration; fix the scenario's invariant/,
    },
    {
      name: "column unknown",
      after: afterG({ missingColumn: true }),
      status: "error",
      text: /Column id does not exist/,
    },
  ];
  it.each(cases)("$name → $status", (c) => {
    const r = evaluateSequence(c.inv ?? base, input({ before: c.before ?? beforeG(), after: c.after }));
    expectOutcome(r, c.status, c.text);
  });

  it("reports the gap as a measurement", () => {
    const r = evaluateSequence(base, input({ before: beforeG(), after: afterG({ nextId: "305" }) }));
    expect(r).toMatchObject({ status: "fail", measured: 5, limit: 1, unit: "ids" });
  });

  describe("under load: the largest step above the pre-migration max", () => {
    // setval(max(id) + 1000) at 300, then the load wrote 1301..1350: the new max hides the hole.
    const jumped = afterG({
      maxima: [{ table: "public.ledger", max: "1350" }],
      nextId: "1351",
      largestStep: { from: "300", to: "1301", above: 50 },
    });

    it("finds a jump that later writes raised max(id) past", () => {
      const r = evaluateSequence(base, input({ before: beforeG(), after: jumped }));
      expectOutcome(
        r,
        "fail",
        /1000 ids skipped between 300 and 1301, with 50 ids written above the pre-migration max since, the next id 1351: a jump of 1001 above the pre-migration max 300 \(allowed gap 1 \(the sequence CACHE × INCREMENT\)\)/,
      );
      expect(r).toMatchObject({ measured: 1001, limit: 1, unit: "ids" });
      expect(r.remediation).toMatch(/sync it to the largest id, not beyond it/);
    });

    it("lets failed load writes explain the ids they consumed", () => {
      const after = afterG({
        maxima: [{ table: "public.ledger", max: "350" }],
        nextId: "351",
        largestStep: { from: "310", to: "314", above: 47 },
      });
      const ok = evaluateSequence(base, {
        ...input({ before: beforeG(), after }),
        run: { failed_writes: 3 },
      });
      expectOutcome(ok, "pass", /largest step 4 between consecutive ids above the max before 300 \(47 ids/);
      const tooMany = evaluateSequence(base, {
        ...input({ before: beforeG(), after }),
        run: { failed_writes: 2 },
      });
      expectOutcome(
        tooMany,
        "fail",
        /allowed gap 3 \(the sequence CACHE × INCREMENT \+ 2 failed load writes × 1\)/,
      );
      // A thousand-id jump is not explained by three failed writes.
      const jump = evaluateSequence(base, {
        ...input({ before: beforeG(), after: jumped }),
        run: { failed_writes: 3 },
      });
      expectOutcome(jump, "fail", /a jump of 1001/);
    });

    it("judges the step up to the next id like the old gap when nothing was written", () => {
      const after = afterG({ nextId: "1301", largestStep: { from: "300", to: "1301", above: 0 } });
      const r = evaluateSequence(base, input({ before: beforeG(), after }));
      expectOutcome(r, "fail", /1000 ids skipped between 300 and the next id 1301/);
    });

    it("leaves a collision to the collision finding", () => {
      const after = afterG({
        maxima: [{ table: "public.ledger", max: "350" }],
        nextId: "320",
        largestStep: { from: "300", to: "320", above: 19 },
      });
      const r = evaluateSequence(base, input({ before: beforeG(), after }));
      expectOutcome(r, "fail", /next id 320 .* ≤ max\(id\) 350/);
      expect(r.findings).toHaveLength(1);
    });
  });

  it("takes the intended sequence from the before snapshot when nothing was gathered about it", () => {
    const before = snapshot([
      table("ledger", { columns: [col("id", "bigint", { sequence: "public.ledger_id_seq" })] }),
    ]);
    const r = evaluateSequence(base, input({ before: beforeG({ sequence: null }), after: afterG() }, before));
    expectOutcome(r, "pass");
  });
});

// ---------------------------------------------------------------- unique_across_partitions

describe("unique_across_partitions", () => {
  const base = inv({ check: "unique_across_partitions", table: "ledger", columns: ["idempotency_key"] });
  const g = (over: Partial<UniqueGathered> = {}): UniqueGathered => ({
    table: "public.ledger",
    exists: true,
    missingColumns: [],
    duplicates: [],
    probe: {
      status: "rejected",
      mode: "custom",
      key: ["k-1"],
      source: "public.ledger_history",
      sqlstate: "23505",
      message: "duplicate key value violates unique constraint",
    },
    ...over,
  });
  const cases: Array<{ name: string; g: UniqueGathered; status: string; text?: RegExp }> = [
    { name: "probe rejected by a unique violation", g: g(), status: "pass", text: /was rejected \(23505/ },
    {
      name: "probe rejected by RAISE",
      g: g({
        probe: {
          status: "rejected",
          mode: "custom",
          key: ["k"],
          sqlstate: "P0001",
          message: "duplicate idempotency key",
        },
      }),
      status: "pass",
    },
    {
      name: "probe write accepted: a second row",
      g: g({
        probe: {
          status: "inserted",
          mode: "builtin",
          key: ["k-1"],
          source: "public.ledger_history",
          targetPartition: "public.ledger_p2",
          rowsWithKey: 2,
        },
      }),
      status: "fail",
      text: /probe: a second row with idempotency_key=k-1 \(taken from public\.ledger_history\) was accepted into public\.ledger_p2; 2 rows now carry it/,
    },
    {
      name: "probe write went through without a duplicate (ON CONFLICT DO NOTHING write path)",
      g: g({ probe: { status: "inserted", mode: "custom", key: ["k-1"], rowsWithKey: 1 } }),
      status: "pass",
    },
    {
      name: "existing duplicates",
      g: g({ duplicates: [{ key: ["k-9"], count: 2, partitions: ["ledger_history", "ledger_p1"] }] }),
      status: "fail",
      text: /idempotency_key=k-9 appears 2 times \(in ledger_history, ledger_p1\)/,
    },
    {
      name: "probe failed otherwise: inconclusive",
      g: g({
        probe: {
          status: "error",
          mode: "builtin",
          key: ["k"],
          sqlstate: "0A000",
          message: "moving row to another partition during a BEFORE FOR EACH ROW trigger is not supported",
          statement: "INSERT …",
        },
      }),
      status: "error",
      text: /\(0A000\): moving row/,
    },
    {
      name: "duplicates win over a probe error",
      g: g({
        duplicates: [{ key: ["k-9"], count: 3, partitions: ["a"] }],
        probe: { status: "error", mode: "builtin", message: "boom" },
      }),
      status: "fail",
    },
    {
      name: "single partition: nothing to duplicate into",
      g: g({
        probe: { status: "skipped", conclusive: true, reason: "public.ledger has 1 non-default partition" },
      }),
      status: "pass",
    },
    {
      name: "empty table: cannot probe",
      g: g({ probe: { status: "skipped", conclusive: false, reason: "no row to duplicate" } }),
      status: "error",
      text: /could not run: no row to duplicate/,
    },
    {
      name: "table missing",
      g: g({ exists: false }),
      status: "error",
      text: /does not exist after the migration/,
    },
    {
      name: "column missing",
      g: g({ missingColumns: ["idem"] }),
      status: "error",
      text: /idem do not exist/,
    },
  ];
  it.each(cases)("$name → $status", (c) => {
    expectOutcome(evaluateUnique(base, input({ after: c.g })), c.status, c.text);
  });

  it.each([
    ["SELECT f(:key)", ["a"], "SELECT f($1)", ["a"]],
    ["SELECT f(:key2, :key, :key2)", ["a", "b"], "SELECT f($1, $2, $1)", ["b", "a"]],
    ["SELECT :key::uuid, x::keytype", ["a"], "SELECT $1::uuid, x::keytype", ["a"]],
    ["SELECT :keys", ["a"], "SELECT :keys", []],
  ] as const)("binds %s", (sql, keys, text, values) => {
    expect(bindKeyPlaceholders(sql, [...keys])).toEqual({ text, values });
  });

  it("refuses :keyN beyond the listed columns", () => {
    expect(() => bindKeyPlaceholders("SELECT :key3", ["a"])).toThrow(/only 1 column/);
  });
});

// ---------------------------------------------------------------- default_partition_empty

describe("default_partition_empty", () => {
  const base = inv({ check: "default_partition_empty", table: "ledger" });
  const g = (over: Partial<DefaultPartitionGathered> = {}): DefaultPartitionGathered => ({
    table: "public.ledger",
    exists: true,
    partitioned: true,
    defaultPartition: "public.ledger_default",
    rows: 0,
    sample: null,
    ...over,
  });
  it.each([
    { name: "empty default", g: g(), status: "pass" },
    { name: "no default partition", g: g({ defaultPartition: null }), status: "pass" },
    {
      name: "rows in the default",
      g: g({ rows: 3, sample: { column: "created_at", min: "2031-01-01", max: "2031-02-01" } }),
      status: "fail",
      text: /public\.ledger_default holds 3 rows \(created_at from 2031-01-01 to 2031-02-01\)/,
    },
    { name: "over the cap", g: g({ rows: 10_001 }), status: "fail", text: /more than 10000 rows/ },
    { name: "not partitioned", g: g({ partitioned: false }), status: "error" },
    { name: "missing table", g: g({ exists: false }), status: "error", text: /fix the scenario's invariant/ },
  ])("$name → $status", (c) => {
    expectOutcome(evaluateDefaultPartitionEmpty(base, input({ after: c.g })), c.status, c.text);
  });
});

// ---------------------------------------------------------------- partitions_cover

describe("partitions_cover", () => {
  const DAY = 86_400;
  const T0 = Date.UTC(2025, 0, 1) / 1000;
  const part = (name: string, from: number, to: number) => ({
    name,
    oid: 1,
    bound: "…",
    relkind: "r",
    from,
    to,
  });
  const layout = (
    partitions: PartitionLayout["partitions"],
    over: Partial<PartitionLayout> = {},
  ): PartitionLayout => ({
    strategy: "range",
    keyParts: 1,
    keyColumn: "created_at",
    keyColumns: [{ column: "created_at", type: "timestamp with time zone" }],
    keyType: "timestamp with time zone",
    keyKind: "timestamptz",
    defaultPartition: null,
    partitions,
    ...over,
  });
  const g = (l: PartitionLayout | null, data: CoverGathered["data"]): CoverGathered => ({
    table: "public.ledger",
    exists: true,
    layout: l,
    data,
  });
  const months = [
    part("h", -Infinity, T0),
    part("p1", T0, T0 + 31 * DAY),
    part("p2", T0 + 31 * DAY, T0 + 59 * DAY),
  ];
  const now = T0 + 10 * DAY;
  const withPremade = inv({ check: "partitions_cover", table: "ledger", premade: "1 month" });
  const cases: Array<{
    name: string;
    inv?: Of<"partitions_cover">;
    g: CoverGathered;
    status: string;
    text?: RegExp;
  }> = [
    {
      name: "covered from the oldest row to now + 1 month",
      inv: withPremade,
      g: g(layout(months), { min: T0 - 400 * DAY, max: now, now, end: now + 31 * DAY }),
      status: "pass",
    },
    {
      name: "next month not premade",
      inv: withPremade,
      g: g(layout(months.slice(0, 2)), { min: T0 - 400 * DAY, max: now, now, end: now + 31 * DAY }),
      status: "fail",
      text: /no partition covers created_at from 2025-02-01T00:00:00\.000Z to 2025-02-11T00:00:00\.000Z \(inclusive\): inserts there fail/,
    },
    {
      name: "a hole in the middle, rows land in the default",
      g: g(layout([months[0]!, months[2]!], { defaultPartition: "public.ledger_default" }), {
        min: T0 - DAY,
        max: now,
        now: T0 + 40 * DAY,
        end: T0 + 40 * DAY,
      }),
      status: "fail",
      text: /from 2025-01-01T00:00:00\.000Z to 2025-02-01T00:00:00\.000Z \(exclusive\): rows there land in the default partition public\.ledger_default/,
    },
    {
      name: "old rows below the first partition",
      g: g(layout(months.slice(1)), { min: T0 - DAY, max: now, now, end: now }),
      status: "fail",
      text: /from 2024-12-31T00:00:00\.000Z to 2025-01-01T00:00:00\.000Z/,
    },
    {
      name: "numeric key with premade",
      inv: inv({ check: "partitions_cover", table: "t", premade: 1000 }),
      g: g(
        layout([part("a", 0, 1000), part("b", 1000, 3000)], {
          keyKind: "numeric",
          keyColumn: "id",
          keyType: "bigint",
        }),
        { min: 1, max: 1500, now: null, end: null },
      ),
      status: "pass",
    },
    {
      name: "numeric key, the max row's successor range missing",
      inv: inv({ check: "partitions_cover", table: "t", premade: 1000 }),
      g: g(
        layout([part("a", 0, 1000), part("b", 1000, 2000)], {
          keyKind: "numeric",
          keyColumn: "id",
          keyType: "bigint",
        }),
        { min: 1, max: 1500, now: null, end: null },
      ),
      status: "fail",
      text: /no partition covers id from 2000 to 2500/,
    },
    {
      name: "hash: every remainder taken (mixed moduli)",
      g: g(
        layout(
          [
            { ...part("h0", 0, 0), bound: "FOR VALUES WITH (modulus 2, remainder 0)" },
            { ...part("h1", 0, 0), bound: "FOR VALUES WITH (modulus 4, remainder 1)" },
            { ...part("h3", 0, 0), bound: "FOR VALUES WITH (modulus 4, remainder 3)" },
          ],
          { strategy: "hash" },
        ),
        null,
      ),
      status: "pass",
    },
    {
      name: "hash: a remainder missing",
      g: g(
        layout(
          [
            { ...part("h0", 0, 0), bound: "FOR VALUES WITH (modulus 4, remainder 0)" },
            { ...part("h1", 0, 0), bound: "FOR VALUES WITH (modulus 4, remainder 1)" },
            { ...part("h3", 0, 0), bound: "FOR VALUES WITH (modulus 4, remainder 3)" },
          ],
          { strategy: "hash" },
        ),
        null,
      ),
      status: "fail",
      text: /no partition for modulus 4, remainder 2/,
    },
    {
      name: "numeric premade on a time key",
      inv: inv({ check: "partitions_cover", table: "ledger", premade: 5 }),
      g: g(layout(months), { min: 0, max: 0, now: 0, end: 0 }),
      status: "error",
    },
    { name: "list partitioning", g: g(layout([], { strategy: "list" }), null), status: "error" },
    { name: "not partitioned", g: g(null, null), status: "error", text: /not partitioned/ },
    {
      name: "missing table",
      g: { table: "public.ledger", exists: false, layout: null, data: null },
      status: "error",
    },
  ];
  it.each(cases)("$name → $status", (c) => {
    const r = evaluatePartitionsCover(
      c.inv ?? inv({ check: "partitions_cover", table: "ledger" }),
      input({ after: c.g }),
    );
    expectOutcome(r, c.status, c.text);
  });

  it.each([
    { ranges: [{ from: 0, to: 10 }], start: 0, end: 9, holes: [] },
    { ranges: [{ from: 0, to: 10 }], start: 0, end: 10, holes: [{ from: 10, to: 10, open: false }] },
    {
      ranges: [
        { from: 5, to: 10 },
        { from: 0, to: 3 },
      ],
      start: 0,
      end: 9,
      holes: [{ from: 3, to: 5, open: true }],
    },
    { ranges: [], start: 1, end: 2, holes: [{ from: 1, to: 2, open: false }] },
    { ranges: [{ from: -Infinity, to: Infinity }], start: 1, end: 2, holes: [] },
    {
      ranges: [
        { from: 0, to: 5 },
        { from: 20, to: 30 },
      ],
      start: 0,
      end: 10,
      holes: [{ from: 5, to: 10, open: false }],
    },
  ])("findHoles %j", ({ ranges, start, end, holes }) => {
    expect(findHoles(ranges, start, end)).toEqual(holes);
  });

  it.each([
    ["DEFAULT", { kind: "default" }],
    ["FOR VALUES WITH (modulus 8, remainder 3)", { kind: "hash", modulus: 8, remainder: 3 }],
    [
      "FOR VALUES FROM (MINVALUE) TO ('2025-01-01 00:00:00+00')",
      {
        kind: "range",
        from: [{ kind: "minvalue" }],
        to: [{ kind: "value", text: "2025-01-01 00:00:00+00" }],
      },
    ],
    [
      "FOR VALUES FROM (1, 'it''s, (x)') TO (MAXVALUE, MAXVALUE)",
      {
        kind: "range",
        from: [
          { kind: "value", text: "1" },
          { kind: "value", text: "it's, (x)" },
        ],
        to: [{ kind: "maxvalue" }, { kind: "maxvalue" }],
      },
    ],
    ["FOR VALUES IN ('a', NULL, 'b,c')", { kind: "list", values: ["a", null, "b,c"] }],
  ] as const)("parseBound %s", (text, parsed) => {
    expect(parseBound(text)).toEqual(parsed);
  });

  it("maps types and formats values", () => {
    expect(keyKind("timestamp(3) with time zone")).toBe("timestamptz");
    expect(keyKind("timestamp without time zone")).toBe("timestamp");
    expect(keyKind("numeric(20,0)")).toBe("numeric");
    expect(keyKind("uuid")).toBe("other");
    expect(formatKeyValue("date", T0)).toBe("2025-01-01");
    expect(formatKeyValue("timestamp", T0)).toBe("2025-01-01T00:00:00.000");
    expect(formatKeyValue("numeric", -Infinity)).toBe("MINVALUE");
  });
});

// ---------------------------------------------------------------- row_parity

describe("row_parity", () => {
  const chunk = (
    index: number,
    rows: number,
    hash: string,
    first = `${index * ROW_PARITY_CHUNK + 1}`,
  ): Chunk => ({
    index,
    rows,
    firstKey: first,
    lastKey: `${index * ROW_PARITY_CHUNK + rows}`,
    hash,
  });
  const digest = (chunks: Chunk[], over = {}): TableDigest => ({
    table: "public.ledger",
    exists: true,
    missingColumns: [],
    rows: chunks.reduce((s, c) => s + c.rows, 0),
    hash: chunks.reduce((s, c) => s + BigInt(c.hash), 0n).toString(),
    lastKey: chunks.at(-1)?.lastKey ?? null,
    chunks,
    ...over,
  });
  /** What the after stage reads first: only the whole-table totals. */
  const totals = (chunks: Chunk[]): TableDigest => ({ ...digest(chunks), chunks: null });
  const before = inv({
    check: "row_parity",
    source: "ledger",
    target: "ledger",
    source_at: "before",
    columns: ["id", "amount"],
  });
  const same = [chunk(0, 10_000, "11"), chunk(1, 10_000, "22"), chunk(2, 5, "33")];
  const cases: Array<{
    name: string;
    inv?: Of<"row_parity">;
    g: { before?: RowParityGathered; after?: RowParityGathered };
    status: string;
    text?: RegExp;
  }> = [
    {
      name: "identical",
      g: { before: { source: digest(same) }, after: { target: digest(same) } },
      status: "pass",
    },
    {
      name: "identical by the whole-table totals alone",
      g: { before: { source: digest(same) }, after: { target: totals(same) } },
      status: "pass",
      text: /20005 rows, identical hash over id, amount/,
    },
    {
      name: "totals differ but the target was not read in chunks",
      g: { before: { source: digest(same) }, after: { target: totals([chunk(0, 10_000, "11")]) } },
      status: "error",
      text: /not read in chunks/,
    },
    {
      name: "one row lost in the second chunk",
      g: {
        before: { source: digest(same) },
        after: { target: digest([chunk(0, 10_000, "11"), chunk(1, 10_000, "99"), chunk(2, 4, "98")]) },
      },
      status: "fail",
      text: /public\.ledger has 20004 rows, public\.ledger had 20005 \(-1\)\nrows #10001–20000 by id differ: source id 10001 … 20000 \(10000 rows\)/,
    },
    {
      name: "same count, a value changed",
      g: {
        before: { source: digest(same) },
        after: { target: digest([chunk(0, 10_000, "11"), chunk(1, 10_000, "22"), chunk(2, 5, "34")]) },
      },
      status: "fail",
      text: /same row count, different contents[\s\S]*rows #20001–30000/,
    },
    {
      name: "target missing",
      g: { before: { source: digest(same) }, after: { target: digest([], { exists: false }) } },
      status: "fail",
      text: /does not exist after the migration/,
    },
    {
      name: "empty source without allow_empty_source",
      g: { before: { source: digest([]) }, after: { target: digest([]) } },
      status: "error",
      text: /parity would prove nothing/,
    },
    {
      name: "empty source allowed",
      inv: inv({
        check: "row_parity",
        source: "ledger_old",
        target: "ledger",
        columns: ["id"],
        allow_empty_source: true,
      }),
      g: { after: { source: digest([]), target: digest(same) } },
      status: "pass",
    },
    {
      name: "source missing",
      g: { before: { source: digest([], { exists: false }) }, after: { target: digest(same) } },
      status: "error",
      text: /does not exist before the migration; fix the scenario's invariant/,
    },
    {
      name: "target lacks a column",
      g: { before: { source: digest(same) }, after: { target: digest([], { missingColumns: ["amount"] }) } },
      status: "fail",
    },
  ];
  it.each(cases)("$name → $status", (c) => {
    expectOutcome(evaluateRowParity(c.inv ?? before, input(c.g)), c.status, c.text);
  });
});

// ---------------------------------------------------------------- registry

describe("registry", () => {
  it("has a check for every invariant kind, keyed by its kind", () => {
    for (const [kind, check] of Object.entries(CHECKS)) expect(check.kind).toBe(kind);
    const kinds = InvariantSchema.options.map((o) => o.shape.check.value).sort();
    expect(Object.keys(CHECKS).sort()).toEqual(kinds);
  });

  it("declares gather stages only where it gathers", () => {
    for (const check of Object.values(CHECKS)) {
      expect(!!check.gather).toBe((check.stages ?? []).length > 0);
    }
  });

  it("turns missing gathered data into an error result, not a crash", () => {
    const r = evaluateInvariant(inv({ check: "sequence", table: "ledger", id: "seq" }), input({}));
    expect(r).toMatchObject({ id: "seq", kind: "invariant", status: "error" });
  });
});
