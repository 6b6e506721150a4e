/**
 * `rehearse init --strategy attach-history` (ledger-attach-history): the table itself becomes the history
 * partition of a new partitioned parent, so the cutover relabels catalog entries and moves no row.
 */
import type { ColumnInfo, ConstraintInfo, IndexInfo, TriggerInfo } from "../../catalog/types.ts";
import { ident } from "../../db/sql.ts";
import { dateValue } from "../../scenario/dates.ts";
import { renderGrants, renderRls } from "../ddl.ts";
import { isoInstant } from "../fit.ts";
import type { Scaffold, ScaffoldOptions } from "../scaffold-types.ts";
import { InitError, type SourceTable } from "../source.ts";
import { followViews, uniquenessGuard } from "./carry-over.ts";
import { noIncomingForeignKeys } from "./refusals.ts";
import {
  choosePartitionKey,
  guardInvariants,
  type Info,
  INT_TYPE,
  type KeyChoice,
  name63,
  names,
  nextMonthSql,
} from "../strategy-common.ts";

/** Why the table cannot become a history partition, if it cannot; else the partition key. */
function refusals(t: SourceTable, opts: ScaffoldOptions): KeyChoice {
  const info = t.info;
  if (info.partitioning || info.partitionOf)
    throw new InitError(
      `${info.qualifiedName} is already partitioned (or is a partition): attach-history turns a plain table into a partitioned one`,
      "choose a plain table, or manage its partitions directly",
    );
  const picked = choosePartitionKey(t, opts.partitionKey);
  if (picked instanceof InitError) throw picked;
  const K = picked.column.name;
  noIncomingForeignKeys(
    info,
    "attach-history",
    `keeps the old table as the history partition: they would keep pointing at it alone, and at none of the rows written after the cutover (once partitioned by ${K})`,
  );
  const identity = info.columns.find((c) => c.identity);
  if (identity)
    throw new InitError(
      `${info.qualifiedName}.${identity.name} is an identity column: its sequence belongs to the old table`,
      "convert it to a sequence DEFAULT first (ALTER TABLE … ALTER COLUMN … DROP IDENTITY; then DEFAULT nextval(…))",
    );
  const badUnique = info.indexes.find(
    (i) => i.unique && (i.keys.some((k) => k.column === null) || i.predicate !== null) && !i.primary,
  );
  if (badUnique || info.constraints.some((c) => c.type === "x"))
    throw new InitError(
      `${info.qualifiedName} has a unique index on an expression or with a predicate, or an exclusion constraint: ` +
        "it cannot become a partitioned unique index",
      "drop or rewrite it as a plain-column UNIQUE before partitioning",
    );
  return picked;
}

interface HistoryRange {
  /** Where the history partition ends: the upper bound of its range CHECK. */
  historyBound: string;
  partitions: { from: string; to: string; suffix: string }[];
  premade: string | number;
}

/** The history up to next month (or a round integer), then three premade partitions. */
function historyRange(info: Info, picked: KeyChoice, now: Date): HistoryRange {
  if (picked.kind === "time") {
    const bound = dateValue("month", 1, now);
    if (picked.max >= Date.parse(isoInstant(bound)!))
      throw new InitError(
        `${info.qualifiedName}.${picked.column.name} has values at or after ${bound} (the start of next month, where the history range ends)`,
        `choose a partition key whose values lie in the past, or edit the range CHECK bound in the scaffold`,
      );
    return {
      historyBound: "'{{month+1}}'",
      partitions: [1, 2, 3].map((k) => ({
        from: `'{{month+${k}}}'`,
        to: `'{{month+${k + 1}}}'`,
        suffix: `next_${k}`,
      })),
      premade: "1 month",
    };
  }
  const step = 10 ** Math.max(1, Math.floor(Math.log10(Math.max(10, picked.max))));
  const start = (Math.floor(picked.max / step) + 1) * step;
  return {
    historyBound: String(start),
    partitions: [0, 1, 2].map((k) => ({
      from: String(start + k * step),
      to: String(start + (k + 1) * step),
      suffix: `p${start + k * step}`,
    })),
    premade: step,
  };
}

/** A unique key that must gain the partition key, with the index built for it ahead of the cutover. */
interface Widened {
  kind: "pk" | "u" | "index";
  name: string;
  cols: string[];
  prebuilt: string;
}

/** Everything the migration, rollback and invariants are written from. */
interface Plan {
  source: SourceTable;
  info: Info;
  picked: KeyChoice;
  range: HistoryRange;
  /** The partition key. */
  K: string;
  /** The history partition: the table, renamed. */
  H: string;
  naming: ReturnType<typeof names>;
  /** A name of the table's, renamed for the history partition. */
  hname: (n: string) => string;
  keyed: (cols: string[]) => string[];
  pk: ConstraintInfo | undefined;
  plainIndexes: IndexInfo[];
  widen: Widened[];
  rangeCheck: string;
  rowTriggers: TriggerInfo[];
  /** Indexes that move to the history under a new name at the cutover. */
  renamedIndexes: IndexInfo[];
  sequences: ColumnInfo[];
}

function plan(t: SourceTable, picked: KeyChoice, now: Date): Plan {
  const info = t.info;
  const range = historyRange(info, picked, now);
  const K = picked.column.name;
  const naming = names(info);
  const T = naming.T;
  const H = name63(`${T}_history`);
  const keyed = (cols: string[]) => (cols.includes(K) ? cols : [...cols, K]);
  const pk = info.constraints.find((c) => c.type === "p" && c.local);
  const uniques = info.constraints.filter((c) => c.type === "u" && c.local);
  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const plainIndexes = info.indexes.filter(
    (i) => !constraintIndexes.has(i.name) && i.parentIndexOid === null,
  );
  const widen: Widened[] = [
    ...(pk && !pk.columns.includes(K) ? [{ kind: "pk" as const, name: pk.name, cols: pk.columns }] : []),
    ...uniques
      .filter((u) => !u.columns.includes(K))
      .map((u) => ({ kind: "u" as const, name: u.name, cols: u.columns })),
    ...plainIndexes
      .filter((i) => i.unique && !i.keys.some((k) => k.column === K))
      .map((i) => ({ kind: "index" as const, name: i.name, cols: i.keys.map((k) => k.column!) })),
  ].map((w) => ({ ...w, prebuilt: name63(`${T}_${w.cols.join("_")}_${K}_key`) }));
  return {
    source: t,
    info,
    picked,
    range,
    K,
    H,
    naming,
    hname: (n) => naming.renamed(H, n),
    keyed,
    pk,
    plainIndexes,
    widen,
    rangeCheck: name63(`${H}_range`),
    rowTriggers: info.triggers.filter((tr) => !tr.internal && tr.parentTriggerOid === null),
    renamedIndexes: info.indexes.filter(
      (i) => i.parentIndexOid === null && !(pk && i.name === pk.index && widen.some((w) => w.kind === "pk")),
    ),
    sequences: info.columns.filter((c) => c.sequence && !c.identity),
  };
}

/** The steps before the cutover: the widened unique indexes, then the range CHECK added NOT VALID. */
function prepare(p: Plan): { files: Record<string, string>; steps: unknown[] } {
  const { K, widen, keyed, naming } = p;
  const { T, rel, colList } = naming;
  const files: Record<string, string> = {};
  const steps: unknown[] = [];
  if (widen.length) {
    files["migration/01_unique_indexes.sql"] =
      "-- The partitioned parent's unique keys must include the partition key, and ATTACH only reuses a child\n" +
      "-- index that matches. Build those indexes now, without blocking writes, so the cutover is catalog-only.\n" +
      widen
        .map(
          (w) =>
            `CREATE UNIQUE INDEX CONCURRENTLY ${ident(w.prebuilt)} ON ${rel(T)} (${colList(keyed(w.cols))});`,
        )
        .join("\n") +
      "\n";
    steps.push({ name: "unique_indexes_with_key", sql: { file: "migration/01_unique_indexes.sql" } });
  }
  files["migration/02_add_range_check.sql"] =
    "-- Prove the existing rows belong in the history range without scanning now: NOT VALID checks new rows\n" +
    "-- only. The bound lies after the cutover so live inserts still pass it.\n" +
    `ALTER TABLE ${rel(T)}\n  ADD CONSTRAINT ${ident(p.rangeCheck)}\n` +
    `  CHECK (${ident(K)} IS NOT NULL AND ${ident(K)} < ${p.range.historyBound}) NOT VALID;\n`;
  steps.push({
    name: "add_range_check",
    sql: { file: "migration/02_add_range_check.sql" },
    lock_timeout: "2s",
    retry: { attempts: 5, backoff: "200ms" },
  });
  files["migration/03_validate_range_check.sql"] =
    "-- The one unavoidable full scan, ahead of the cutover, under SHARE UPDATE EXCLUSIVE: reads and writes go on.\n" +
    `ALTER TABLE ${rel(T)} VALIDATE CONSTRAINT ${ident(p.rangeCheck)};\n`;
  return { files, steps };
}

/** The new parent's columns and constraints: unique keys gain the key, CHECKs and FKs as on the history. */
function parentColumns(p: Plan): string[] {
  const { info, K, keyed } = p;
  const { colList } = p.naming;
  const cols = info.columns.map((c) => {
    let l = `  ${ident(c.name)} ${c.type}`;
    if (c.generated && c.default) l += ` GENERATED ALWAYS AS (${c.default}) STORED`;
    else if (c.default) l += ` DEFAULT ${c.default}`;
    if (c.notNull || c.name === K) l += " NOT NULL";
    return l;
  });
  for (const c of info.constraints) {
    if (!c.local || c.parentOid !== null) continue;
    if (c.type === "p" || c.type === "u")
      cols.push(
        `  CONSTRAINT ${ident(c.name)} ${c.type === "p" ? "PRIMARY KEY" : "UNIQUE"} (${colList(keyed(c.columns))})`,
      );
    // Same name and expression as on the history table, so ATTACH merges it instead of checking it.
    if (c.type === "c") cols.push(`  CONSTRAINT ${ident(c.name)} ${c.definition.replace(/ NOT VALID$/, "")}`);
  }
  for (const fk of info.foreignKeys.outgoing.filter((f) => f.parentOid === null))
    cols.push(`  CONSTRAINT ${ident(fk.name)} ${fk.definition.replace(/ NOT VALID$/, "")}`);
  return cols;
}

/** migration/04_cutover.sql: the renames, the new parent and partitions, and the ATTACH. */
function cutoverSql(p: Plan): string {
  const { info, K, H, hname, keyed, widen } = p;
  const { T, rel, colList } = p.naming;
  const cut: string[] = [
    "-- The cutover: one short transaction of catalog changes; nothing scans or rewrites the history.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    "",
    "-- Relabel, don't move: the existing table becomes the history partition.",
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(H)};`,
  ];
  if (p.renamedIndexes.length)
    cut.push("", "-- Free the index names for the parent (index names are per schema).");
  for (const i of p.renamedIndexes) cut.push(`ALTER INDEX ${rel(i.name)} RENAME TO ${ident(hname(i.name))};`);
  for (const w of widen) {
    if (w.kind === "pk")
      cut.push(
        "",
        "-- Swap the history PK to the prebuilt index that includes the partition key: no scan, no build.",
        `ALTER TABLE ${rel(H)} DROP CONSTRAINT ${ident(w.name)};`,
        `ALTER TABLE ${rel(H)} ADD CONSTRAINT ${ident(name63(`${H}_pkey`))} PRIMARY KEY USING INDEX ${ident(w.prebuilt)};`,
      );
    else if (w.kind === "u")
      cut.push(
        `ALTER TABLE ${rel(H)} ADD CONSTRAINT ${ident(hname(w.prebuilt))} UNIQUE USING INDEX ${ident(w.prebuilt)};`,
      );
  }
  if (!p.picked.column.notNull)
    cut.push(
      "",
      "-- The validated range CHECK proves the key has no NULLs, so this is a catalog change.",
      `ALTER TABLE ${rel(H)} ALTER COLUMN ${ident(K)} SET NOT NULL;`,
    );
  const rowLevel = p.rowTriggers.filter((tr) => tr.level === "row");
  if (rowLevel.length) {
    cut.push(
      "",
      "-- ATTACH clones the parent's row triggers onto the history; the parent's copies take over.",
    );
    for (const tr of rowLevel) cut.push(`DROP TRIGGER ${ident(tr.name)} ON ${rel(H)};`);
  }
  cut.push(
    "",
    `-- The new parent: same columns and defaults; unique keys gain ${K}; the same CHECKs and foreign keys so`,
    "-- ATTACH adopts them without checking the history again.",
    `CREATE TABLE ${rel(T)} (\n${parentColumns(p).join(",\n")}\n) PARTITION BY RANGE (${ident(K)});`,
  );
  for (const c of p.sequences)
    cut.push(
      `-- Reuse the sequence: ids continue where the history stopped.`,
      `ALTER SEQUENCE ${c.sequence!.split(".").map(ident).join(".")} OWNED BY ${rel(T)}.${ident(c.name)};`,
    );
  if (p.plainIndexes.length)
    cut.push("", "-- Indexes on the still-empty parent: instant; ATTACH adopts the history's.");
  for (const i of p.plainIndexes) {
    const w = widen.find((x) => x.kind === "index" && x.name === i.name);
    cut.push(
      w
        ? `CREATE UNIQUE INDEX ${ident(i.name)} ON ${rel(T)} (${colList(keyed(w.cols))});`
        : `${i.definition};`,
    );
  }
  if (p.rowTriggers.length)
    cut.push("", "-- The triggers move to the parent: same names, functions, timing, events.");
  for (const tr of p.rowTriggers) cut.push(`${tr.definition};`);
  const parts = p.range.partitions.map((x) => ({ ...x, name: name63(`${T}_${x.suffix}`) }));
  cut.push("", "-- Premade partitions, empty (nothing to scan).");
  for (const x of parts)
    cut.push(
      `CREATE TABLE ${rel(x.name)} PARTITION OF ${rel(T)}\n  FOR VALUES FROM (${x.from}) TO (${x.to});`,
    );
  const grants = [T, ...parts.map((x) => x.name)].flatMap((n) => renderGrants(info, rel(n)));
  const rls = [T, ...parts.map((x) => x.name)].flatMap((n) => renderRls(info, rel(n)));
  if (grants.length || rls.length)
    cut.push(
      "",
      "-- Privileges and policies are per relation: the parent and each new partition.",
      ...grants,
      ...rls,
    );
  cut.push(
    "",
    "-- The validated range CHECK implies the partition constraint: ATTACH skips the verification scan.",
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(H)}\n  FOR VALUES FROM (MINVALUE) TO (${p.range.historyBound});`,
  );
  cut.push(
    ...uniquenessGuard(
      info,
      K,
      T,
      widen.map((w) => w.cols),
    ).sql,
  );
  cut.push(...followViews(p.source));
  return `${cut.join("\n")}\n`;
}

/** The cutover in reverse, following ledger-attach-history's rollback. */
function rollback(p: Plan): { files: Record<string, string>; steps: unknown[] } {
  const { info, K, H, hname, widen } = p;
  const { T, rel, colList, allCols } = p.naming;
  const files: Record<string, string> = {};
  const steps: unknown[] = [];
  const pkWiden = widen.find((w) => w.kind === "pk");
  const pkRebuilt = pkWiden ? name63(`${H}_${pkWiden.cols.join("_")}_key`) : undefined;
  if (pkWiden && pkRebuilt) {
    files["rollback/01_index_pk.sql"] =
      "-- The original PK was dropped at the cutover: rebuild its index without blocking writes.\n" +
      `DROP INDEX CONCURRENTLY IF EXISTS ${rel(pkRebuilt)};\n` +
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(pkRebuilt)} ON ${rel(H)} (${colList(pkWiden.cols)});\n`;
    steps.push({ name: "index_pk", sql: { file: "rollback/01_index_pk.sql" } });
  }
  const back: string[] = [
    "-- The cutover in reverse, in one short transaction.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    `ALTER TABLE ${rel(T)} DETACH PARTITION ${rel(H)};`,
    `ALTER TABLE ${rel(H)} DROP CONSTRAINT IF EXISTS ${ident(p.rangeCheck)};`,
    "-- Rows written since the cutover, routed to the new partitions.",
    `INSERT INTO ${rel(H)} (${colList(allCols)})\nSELECT ${colList(allCols)} FROM ${rel(T)};`,
  ];
  for (const c of p.sequences)
    back.push(
      `ALTER SEQUENCE ${c.sequence!.split(".").map(ident).join(".")} OWNED BY ${rel(H)}.${ident(c.name)};`,
    );
  // The views read the parent now: moved back to the history (renamed to the table's name) before the parent goes.
  const abandoned = name63(`${T}_rolled_back`);
  back.push(
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(abandoned)};`,
    `ALTER TABLE ${rel(H)} RENAME TO ${ident(T)};`,
  );
  back.push(...followViews(p.source), "", `DROP TABLE ${rel(abandoned)};`);
  back.push(
    ...uniquenessGuard(
      info,
      K,
      T,
      widen.map((w) => w.cols),
    ).drop,
  );
  for (const w of widen) {
    if (w.kind === "pk")
      back.push(
        `ALTER TABLE ${rel(T)} DROP CONSTRAINT ${ident(name63(`${H}_pkey`))};`,
        `ALTER TABLE ${rel(T)} ADD CONSTRAINT ${ident(w.name)} PRIMARY KEY USING INDEX ${ident(pkRebuilt!)};`,
      );
    else if (w.kind === "u") back.push(`ALTER TABLE ${rel(T)} DROP CONSTRAINT ${ident(hname(w.prebuilt))};`);
    else back.push(`DROP INDEX ${rel(w.prebuilt)};`);
  }
  for (const i of p.renamedIndexes)
    back.push(`ALTER INDEX ${rel(hname(i.name))} RENAME TO ${ident(i.name)};`);
  if (!p.picked.column.notNull) back.push(`ALTER TABLE ${rel(T)} ALTER COLUMN ${ident(K)} DROP NOT NULL;`);
  for (const tr of p.rowTriggers.filter((x) => x.level === "row")) back.push(`${tr.definition};`);
  back.push(...renderGrants(info, rel(T)));
  if (info.rls.enabled) back.push(`ALTER TABLE ${rel(T)} ENABLE ROW LEVEL SECURITY;`);
  files["rollback/02_reverse_cutover.sql"] = `${back.join("\n")}\n`;
  steps.push({
    name: "reverse_cutover",
    sql: { file: "rollback/02_reverse_cutover.sql" },
    transaction: true,
    lock_timeout: "2s",
    retry: { attempts: 5, backoff: "500ms", max_backoff: "5s" },
  });
  return { files, steps };
}

function invariants(p: Plan): unknown[] {
  const { info, pk } = p;
  const { T, allCols } = p.naming;
  const display = info.schema === "public" ? T : info.qualifiedName;
  const same = (check: string) => ({ check, original: display, target: display });
  const out: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display] },
    same("triggers_preserved"),
    same("constraints_preserved"),
    same("grants_preserved"),
    same("rls_preserved"),
    same("fks_preserved"),
  ];
  for (const c of p.sequences) out.push({ check: "sequence", table: display, column: c.name });
  out.push({ check: "partitions_cover", table: display, premade: p.range.premade });
  const intKey =
    pk && pk.columns.length === 1 ? info.columns.find((c) => c.name === pk.columns[0]) : undefined;
  if (intKey && INT_TYPE.test(intKey.type))
    out.push({
      check: "row_parity",
      source: display,
      source_at: "before",
      target: display,
      key: intKey.name,
      columns: allCols,
    });
  const route = p.picked.kind === "time" ? nextMonthSql(p.picked.column.type) : p.range.historyBound;
  out.push(...guardInvariants(info, p.K, T, { route }));
  return out;
}

export function attachHistory(t: SourceTable, now: Date, opts: ScaffoldOptions = {}): Scaffold {
  const p = plan(t, refusals(t, opts), now);
  const prep = prepare(p);
  const files = { ...prep.files, "migration/04_cutover.sql": cutoverSql(p) };
  const back = rollback(p);
  return {
    notes: [`partition key ${p.picked.why}`],
    phases: [
      { name: "prepare", steps: prep.steps },
      {
        name: "validate",
        steps: [{ name: "validate_range_check", sql: { file: "migration/03_validate_range_check.sql" } }],
      },
      {
        name: "cutover",
        steps: [
          {
            name: "swap_to_partitioned",
            sql: { file: "migration/04_cutover.sql" },
            transaction: true,
            lock_timeout: "2s",
            retry: { attempts: 5, backoff: "500ms", max_backoff: "5s" },
          },
        ],
      },
    ],
    rollback: back.steps,
    invariants: invariants(p),
    budgets: { phases: { cutover: "2s" } },
    files: { ...files, ...back.files },
  };
}
