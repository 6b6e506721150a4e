/**
 * dependents_follow, pure over hand-built snapshots: each kind of dependent (view, materialized view, foreign
 * key, trigger, policy, publication) left on the renamed table or dropped fails with a finding naming it and
 * what it now references; all of them re-pointed at the new table pass. Plus the catalog side's folding of
 * per-reference rows into one dependent each (the query itself runs in the Pagila integration test).
 */
import { describe, expect, it } from "vitest";
import { decodeDependents, type DependentRow } from "../../src/catalog/dependents.ts";
import type { CatalogSnapshot, DependentInfo, DependentKind } from "../../src/catalog/types.ts";
import { evaluateInvariant } from "../../src/checks/registry.ts";
import { Invariant } from "../../src/scenario/schema.ts";
import { fk, rangeOn, snapshot, table } from "../support/catalog-fixtures.ts";

let nextOid = 500_000;

function dep(
  kind: DependentKind,
  name: string,
  references: string[],
  on: string | null = null,
): DependentInfo {
  return { kind, name, on, oid: nextOid++, references };
}

/** The same object (same oid) now referencing `references`. */
function moved(d: DependentInfo, references: string[]): DependentInfo {
  return { ...d, references };
}

const BEFORE_DEPS = [
  dep("view", "public.sales_by_store", ["public.rental", "public.store"]),
  dep("materialized view", "public.rental_by_category", ["public.category", "public.rental"]),
  dep("foreign key", "payment_rental_id_fkey", ["public.rental"], "public.payment"),
  dep("trigger", "payment_check_rental", ["public.rental"], "public.payment"),
  dep("policy", "payment_own_rentals", ["public.rental"], "public.payment"),
  dep("publication", "cdc", ["public.rental"]),
  // Declared on rental itself: triggers_preserved / rls_preserved judge these, not dependents_follow.
  dep("trigger", "rental_touch", ["public.rental"], "public.rental"),
  // Unrelated to rental: never judged here.
  dep("view", "public.staff_list", ["public.staff"]),
];

function snapshots(after: DependentInfo[]): { before: CatalogSnapshot; after: CatalogSnapshot } {
  const before = snapshot([table("rental"), table("payment")]);
  const afterSnap = snapshot([
    table("rental", { partitioning: rangeOn("last_update") }),
    table("rental_history", {
      partitionOf: { parent: "rental", bound: "FOR VALUES FROM (MINVALUE) TO ('2027-01-01')" },
    }),
    table("payment"),
  ]);
  return { before: { ...before, dependents: BEFORE_DEPS }, after: { ...afterSnap, dependents: after } };
}

function judge(
  after: DependentInfo[],
  raw: Record<string, unknown> = { check: "dependents_follow", original: "rental" },
) {
  const inv = Invariant.parse(raw);
  return evaluateInvariant(inv, { ...snapshots(after), gathered: {} });
}

/** Every dependent re-pointed: rental_history replaced by rental wherever it was. */
const followed = BEFORE_DEPS.map((d) => ({ ...d }));

describe("dependents_follow", () => {
  it("passes when every view, materialized view, FK, trigger, policy and publication references the new table", () => {
    const r = judge(followed);
    expect(r.status).toBe("pass");
    expect(r.summary).toMatch(/6 dependents of public\.rental reference public\.rental/);
  });

  it("passes when each was re-created (new oid, same name) over the new table", () => {
    const r = judge(BEFORE_DEPS.map((d) => ({ ...d, oid: d.oid + 1_000_000 })));
    expect(r.status).toBe("pass");
  });

  it("passes with nothing referencing the table, saying so", () => {
    const r = judge([], { check: "dependents_follow", original: "payment" });
    expect(r.status).toBe("pass");
    expect(r.summary).toMatch(/Nothing outside public\.payment referenced it/);
  });

  const kinds: { kind: DependentKind; name: string; finding: RegExp }[] = [
    {
      kind: "view",
      name: "public.sales_by_store",
      finding:
        /^view public\.sales_by_store now references public\.rental_history instead of public\.rental$/,
    },
    {
      kind: "materialized view",
      name: "public.rental_by_category",
      finding: /^materialized view public\.rental_by_category now references public\.rental_history/,
    },
    {
      kind: "foreign key",
      name: "payment_rental_id_fkey",
      finding: /^foreign key payment_rental_id_fkey on public\.payment now references public\.rental_history/,
    },
    {
      kind: "trigger",
      name: "payment_check_rental",
      finding: /^trigger payment_check_rental on public\.payment now references public\.rental_history/,
    },
    {
      kind: "policy",
      name: "payment_own_rentals",
      finding: /^policy payment_own_rentals on public\.payment now references public\.rental_history/,
    },
    { kind: "publication", name: "cdc", finding: /^publication cdc now references public\.rental_history/ },
  ];
  for (const k of kinds) {
    it(`fails when a ${k.kind} still reads the renamed table`, () => {
      const after = followed.map((d) =>
        d.kind === k.kind && d.name === k.name
          ? moved(d, d.references.map((r) => (r === "public.rental" ? "public.rental_history" : r)).sort())
          : d,
      );
      const r = judge(after);
      expect(r.status).toBe("fail");
      expect(r.findings).toHaveLength(1);
      expect(r.findings[0]).toMatch(k.finding);
      expect(r.remediation).toMatch(/CREATE OR REPLACE VIEW/);
    });

    it(`fails when a ${k.kind} was dropped`, () => {
      const r = judge(followed.filter((d) => !(d.kind === k.kind && d.name === k.name)));
      expect(r.status).toBe("fail");
      expect(r.findings).toEqual([
        expect.stringMatching(/\(it referenced public\.rental\) was dropped and not re-created$/),
      ]);
    });
  }

  it("lists every dependent left behind (issue 15: two views and a materialized view on rental_history)", () => {
    const after = followed.map((d) =>
      d.kind.endsWith("view") && d.references.includes("public.rental")
        ? moved(
            d,
            d.references.map((r) => (r === "public.rental" ? "public.rental_history" : r)),
          )
        : d,
    );
    const r = judge(after);
    expect(r.status).toBe("fail");
    expect(r.summary).toMatch(/^2 dependents of public\.rental \(of 6\) no longer reference public\.rental/);
  });

  it("judges against `target` when the table's successor has another name", () => {
    const toNew = BEFORE_DEPS.map((d) => ({
      ...d,
      references: d.references.map((r) => (r === "public.rental" ? "public.rental_partitioned" : r)),
    }));
    const raw = { check: "dependents_follow", original: "rental", target: "rental_partitioned" };
    expect(judge(toNew, raw).status).toBe("pass");
    const r = judge(followed, raw);
    expect(r.status).toBe("fail");
    expect(r.findings[0]).toMatch(/still references public\.rental instead of public\.rental_partitioned/);
  });

  it("is inconclusive on snapshots without dependents, and on an original that did not exist", () => {
    const { before, after } = snapshots(followed);
    const inv = Invariant.parse({ check: "dependents_follow", original: "rental" });
    const { dependents: _omit, ...bare } = after;
    expect(evaluateInvariant(inv, { before, after: bare, gathered: {} }).status).toBe("error");
    const missing = Invariant.parse({ check: "dependents_follow", original: "nope" });
    expect(evaluateInvariant(missing, { before, after, gathered: {} }).status).toBe("error");
  });
});

describe("decodeDependents", () => {
  it("folds one row per referenced column into one dependent, and adds FKs from other tables", () => {
    const rows: DependentRow[] = [
      {
        kind: "view",
        name: "public.v",
        on_rel: null,
        oid: 1,
        ref: "public.rental",
        col: "rental_id",
        definition: " SELECT 1;",
      },
      {
        kind: "view",
        name: "public.v",
        on_rel: null,
        oid: 1,
        ref: "public.rental",
        col: "inventory_id",
        definition: " SELECT 1;",
      },
      {
        kind: "view",
        name: "public.v",
        on_rel: null,
        oid: 1,
        ref: "public.film",
        col: "title",
        definition: " SELECT 1;",
      },
      {
        kind: "publication",
        name: "cdc",
        on_rel: null,
        oid: 2,
        ref: "public.rental",
        col: null,
        definition: null,
      },
    ];
    const fks = [
      fk("payment_rental_id_fkey", "payment", ["rental_id"], "rental", ["rental_id"]),
      fk("self", "rental", ["parent_id"], "rental", ["rental_id"]),
      fk("clone", "payment_p1", ["rental_id"], "rental", ["rental_id"], { parentOid: 7 }),
    ];
    const out = decodeDependents(rows, fks);
    expect(out.map((d) => `${d.kind}:${d.name}`)).toEqual([
      "foreign key:payment_rental_id_fkey",
      "publication:cdc",
      "view:public.v",
    ]);
    const v = out.find((d) => d.kind === "view")!;
    expect(v.references).toEqual(["public.film", "public.rental"]);
    expect(v.readsColumns).toEqual({
      "public.rental": ["rental_id", "inventory_id"],
      "public.film": ["title"],
    });
    expect(out[0]).toMatchObject({ on: "public.payment", references: ["public.rental"] });
  });
});
