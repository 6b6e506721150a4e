/**
 * Migration scaffolds for `rehearse init --strategy`: the steps, rollback and invariants of a built-in
 * strategy, filled in from the source table's catalog and statistics. Pure: the source read in, files and
 * scenario sections out. A strategy that cannot apply to the table throws InitError with the reason and fix.
 */
import { ident } from "../db/sql.ts";
import { dateValue } from "../scenario/dates.ts";
import { renderGrants, renderRls } from "./ddl.ts";
import { isoInstant } from "./fit.ts";
import { InitError, type SourceRead, type SourceTable } from "./source.ts";
import { choosePartitionKey, INT_TYPE, name63 } from "./strategy-common.ts";
import { otherStrategy } from "./strategies.ts";

export { choosePartitionKey } from "./strategy-common.ts";

export const STRATEGIES = ["attach-history", "dual-write", "view-union", "inheritance", "partman"] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface Scaffold {
  phases: unknown[];
  /** Commented YAML appended to scenario.yaml (a template the user fills in). */
  yamlAppendix?: string;
  /** Merged into the scenario's target (partman: provider system, extensions). */
  target?: Record<string, unknown>;
  rollback?: unknown[];
  invariants: unknown[];
  budgets?: Record<string, unknown>;
  /** Path inside the scenario folder → content. */
  files: Record<string, string>;
}

/** Builds the scaffold of `strategy` for the table `key` ("schema.name"). */
export function scaffoldStrategy(
  strategy: StrategyName,
  read: SourceRead,
  key: string,
  now = new Date(),
): Scaffold {
  const source = read.tables.find((t) => t.info.qualifiedName === key)!;
  if (strategy === "attach-history") return attachHistory(source, now);
  return otherStrategy(strategy, source, now);
}

function attachHistory(t: SourceTable, now: Date): Scaffold {
  const info = t.info;
  if (info.partitioning || info.partitionOf)
    throw new InitError(
      `${info.qualifiedName} is already partitioned (or is a partition): attach-history turns a plain table into a partitioned one`,
      "choose a plain table, or manage its partitions directly",
    );
  const picked = choosePartitionKey(t);
  if (picked instanceof InitError) throw picked;
  const K = picked.column.name;
  const incoming = info.foreignKeys.incoming.filter((fk) => fk.parentOid === null);
  if (incoming.length)
    throw new InitError(
      `foreign keys reference ${info.qualifiedName} (${incoming.map((f) => `${f.from}.${f.name}`).join(", ")}): ` +
        `once partitioned by ${K}, its unique keys include ${K}, so they cannot point at it`,
      "drop or re-point those foreign keys first (or choose a strategy that keeps the table unpartitioned)",
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
  let historyBound: string;
  let partitions: { from: string; to: string; suffix: string }[];
  let premade: string | number;
  if (picked.kind === "time") {
    const bound = dateValue("month", 1, now);
    if (picked.max >= Date.parse(isoInstant(bound)!))
      throw new InitError(
        `${info.qualifiedName}.${K} has values at or after ${bound} (the start of next month, where the history range ends)`,
        `choose a partition key whose values lie in the past, or edit the range CHECK bound in the scaffold`,
      );
    historyBound = "'{{month+1}}'";
    partitions = [1, 2, 3].map((k) => ({
      from: `'{{month+${k}}}'`,
      to: `'{{month+${k + 1}}}'`,
      suffix: `next_${k}`,
    }));
    premade = "1 month";
  } else {
    const step = 10 ** Math.max(1, Math.floor(Math.log10(Math.max(10, picked.max))));
    const start = (Math.floor(picked.max / step) + 1) * step;
    historyBound = String(start);
    partitions = [0, 1, 2].map((k) => ({
      from: String(start + k * step),
      to: String(start + (k + 1) * step),
      suffix: `p${start + k * step}`,
    }));
    premade = step;
  }

  const T = info.name;
  const H = name63(`${T}_history`);
  const rel = (n: string) => (info.schema === "public" ? ident(n) : `${ident(info.schema)}.${ident(n)}`);
  const hname = (n: string) => name63(n.startsWith(`${T}_`) ? `${H}_${n.slice(T.length + 1)}` : `${H}_${n}`);
  const keyed = (cols: string[]) => (cols.includes(K) ? cols : [...cols, K]);
  const colList = (cols: string[]) => cols.map(ident).join(", ");

  const pk = info.constraints.find((c) => c.type === "p" && c.local);
  const uniques = info.constraints.filter((c) => c.type === "u" && c.local);
  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const plainIndexes = info.indexes.filter(
    (i) => !constraintIndexes.has(i.name) && i.parentIndexOid === null,
  );
  // Unique keys that must gain the partition key, each with the index built ahead of the cutover.
  const widen = [
    ...(pk && !pk.columns.includes(K) ? [{ kind: "pk" as const, name: pk.name, cols: pk.columns }] : []),
    ...uniques
      .filter((u) => !u.columns.includes(K))
      .map((u) => ({ kind: "u" as const, name: u.name, cols: u.columns })),
    ...plainIndexes
      .filter((i) => i.unique && !i.keys.some((k) => k.column === K))
      .map((i) => ({ kind: "index" as const, name: i.name, cols: i.keys.map((k) => k.column!) })),
  ].map((w) => ({ ...w, prebuilt: name63(`${T}_${w.cols.join("_")}_${K}_key`) }));

  const files: Record<string, string> = {};
  const prepareSteps: unknown[] = [];
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
    prepareSteps.push({ name: "unique_indexes_with_key", sql: { file: "migration/01_unique_indexes.sql" } });
  }
  const rangeCheck = name63(`${H}_range`);
  files["migration/02_add_range_check.sql"] =
    "-- Prove the existing rows belong in the history range without scanning now: NOT VALID checks new rows\n" +
    "-- only. The bound lies after the cutover so live inserts still pass it.\n" +
    `ALTER TABLE ${rel(T)}\n  ADD CONSTRAINT ${ident(rangeCheck)}\n` +
    `  CHECK (${ident(K)} IS NOT NULL AND ${ident(K)} < ${historyBound}) NOT VALID;\n`;
  prepareSteps.push({
    name: "add_range_check",
    sql: { file: "migration/02_add_range_check.sql" },
    lock_timeout: "2s",
    retry: { attempts: 5, backoff: "200ms" },
  });
  files["migration/03_validate_range_check.sql"] =
    "-- The one unavoidable full scan, ahead of the cutover, under SHARE UPDATE EXCLUSIVE: reads and writes go on.\n" +
    `ALTER TABLE ${rel(T)} VALIDATE CONSTRAINT ${ident(rangeCheck)};\n`;

  const rowTriggers = info.triggers.filter((tr) => !tr.internal && tr.parentTriggerOid === null);
  const cut: string[] = [
    "-- The cutover: one short transaction of catalog changes; nothing scans or rewrites the history.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    "",
    "-- Relabel, don't move: the existing table becomes the history partition.",
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(H)};`,
  ];
  const renamed = info.indexes.filter(
    (i) => i.parentIndexOid === null && !(pk && i.name === pk.index && widen.some((w) => w.kind === "pk")),
  );
  if (renamed.length) cut.push("", "-- Free the index names for the parent (index names are per schema).");
  for (const i of renamed) cut.push(`ALTER INDEX ${rel(i.name)} RENAME TO ${ident(hname(i.name))};`);
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
  if (!picked.column.notNull)
    cut.push(
      "",
      "-- The validated range CHECK proves the key has no NULLs, so this is a catalog change.",
      `ALTER TABLE ${rel(H)} ALTER COLUMN ${ident(K)} SET NOT NULL;`,
    );
  const rowLevel = rowTriggers.filter((tr) => tr.level === "row");
  if (rowLevel.length) {
    cut.push(
      "",
      "-- ATTACH clones the parent's row triggers onto the history; the parent's copies take over.",
    );
    for (const tr of rowLevel) cut.push(`DROP TRIGGER ${ident(tr.name)} ON ${rel(H)};`);
  }
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
  cut.push(
    "",
    `-- The new parent: same columns and defaults; unique keys gain ${K}; the same CHECKs and foreign keys so`,
    "-- ATTACH adopts them without checking the history again.",
    `CREATE TABLE ${rel(T)} (\n${cols.join(",\n")}\n) PARTITION BY RANGE (${ident(K)});`,
  );
  const sequences = info.columns.filter((c) => c.sequence && !c.identity);
  for (const c of sequences)
    cut.push(
      `-- Reuse the sequence: ids continue where the history stopped.`,
      `ALTER SEQUENCE ${c.sequence!.split(".").map(ident).join(".")} OWNED BY ${rel(T)}.${ident(c.name)};`,
    );
  if (plainIndexes.length)
    cut.push("", "-- Indexes on the still-empty parent: instant; ATTACH adopts the history's.");
  for (const i of plainIndexes) {
    const w = widen.find((x) => x.kind === "index" && x.name === i.name);
    cut.push(
      w
        ? `CREATE UNIQUE INDEX ${ident(i.name)} ON ${rel(T)} (${colList(keyed(w.cols))});`
        : `${i.definition};`,
    );
  }
  if (rowTriggers.length)
    cut.push("", "-- The triggers move to the parent: same names, functions, timing, events.");
  for (const tr of rowTriggers) cut.push(`${tr.definition};`);
  const parts = partitions.map((p) => ({ ...p, name: name63(`${T}_${p.suffix}`) }));
  cut.push("", "-- Premade partitions, empty (nothing to scan).");
  for (const p of parts)
    cut.push(
      `CREATE TABLE ${rel(p.name)} PARTITION OF ${rel(T)}\n  FOR VALUES FROM (${p.from}) TO (${p.to});`,
    );
  const grants = [T, ...parts.map((p) => p.name)].flatMap((n) => renderGrants(info, rel(n)));
  const rls = [T, ...parts.map((p) => p.name)].flatMap((n) => renderRls(info, rel(n)));
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
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(H)}\n  FOR VALUES FROM (MINVALUE) TO (${historyBound});`,
  );
  files["migration/04_cutover.sql"] = `${cut.join("\n")}\n`;

  // Rollback: the cutover in reverse, following ledger-attach-history's.
  const rollback: unknown[] = [];
  const pkWiden = widen.find((w) => w.kind === "pk");
  const pkRebuilt = pkWiden ? name63(`${H}_${pkWiden.cols.join("_")}_key`) : undefined;
  if (pkWiden && pkRebuilt) {
    files["rollback/01_index_pk.sql"] =
      "-- The original PK was dropped at the cutover: rebuild its index without blocking writes.\n" +
      `DROP INDEX CONCURRENTLY IF EXISTS ${rel(pkRebuilt)};\n` +
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(pkRebuilt)} ON ${rel(H)} (${colList(pkWiden.cols)});\n`;
    rollback.push({ name: "index_pk", sql: { file: "rollback/01_index_pk.sql" } });
  }
  const allCols = info.columns.filter((c) => !c.generated).map((c) => c.name);
  const back: string[] = [
    "-- The cutover in reverse, in one short transaction.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    `ALTER TABLE ${rel(T)} DETACH PARTITION ${rel(H)};`,
    `ALTER TABLE ${rel(H)} DROP CONSTRAINT IF EXISTS ${ident(rangeCheck)};`,
    "-- Rows written since the cutover, routed to the new partitions.",
    `INSERT INTO ${rel(H)} (${colList(allCols)})\nSELECT ${colList(allCols)} FROM ${rel(T)};`,
  ];
  for (const c of sequences)
    back.push(
      `ALTER SEQUENCE ${c.sequence!.split(".").map(ident).join(".")} OWNED BY ${rel(H)}.${ident(c.name)};`,
    );
  back.push(`DROP TABLE ${rel(T)};`, `ALTER TABLE ${rel(H)} RENAME TO ${ident(T)};`);
  for (const w of widen) {
    if (w.kind === "pk")
      back.push(
        `ALTER TABLE ${rel(T)} DROP CONSTRAINT ${ident(name63(`${H}_pkey`))};`,
        `ALTER TABLE ${rel(T)} ADD CONSTRAINT ${ident(w.name)} PRIMARY KEY USING INDEX ${ident(pkRebuilt!)};`,
      );
    else if (w.kind === "u") back.push(`ALTER TABLE ${rel(T)} DROP CONSTRAINT ${ident(hname(w.prebuilt))};`);
    else back.push(`DROP INDEX ${rel(w.prebuilt)};`);
  }
  for (const i of renamed) back.push(`ALTER INDEX ${rel(hname(i.name))} RENAME TO ${ident(i.name)};`);
  if (!picked.column.notNull) back.push(`ALTER TABLE ${rel(T)} ALTER COLUMN ${ident(K)} DROP NOT NULL;`);
  for (const tr of rowLevel) back.push(`${tr.definition};`);
  back.push(...renderGrants(info, rel(T)));
  if (info.rls.enabled) back.push(`ALTER TABLE ${rel(T)} ENABLE ROW LEVEL SECURITY;`);
  files["rollback/02_reverse_cutover.sql"] = `${back.join("\n")}\n`;
  rollback.push({
    name: "reverse_cutover",
    sql: { file: "rollback/02_reverse_cutover.sql" },
    transaction: true,
    lock_timeout: "2s",
    retry: { attempts: 5, backoff: "500ms", max_backoff: "5s" },
  });

  const display = info.schema === "public" ? T : info.qualifiedName;
  const same = (check: string) => ({ check, original: display, target: display });
  const invariants: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display] },
    same("triggers_preserved"),
    same("constraints_preserved"),
    same("grants_preserved"),
    same("rls_preserved"),
    same("fks_preserved"),
  ];
  for (const c of sequences) invariants.push({ check: "sequence", table: display, column: c.name });
  invariants.push({ check: "partitions_cover", table: display, premade });
  const intKey =
    pk && pk.columns.length === 1 ? info.columns.find((c) => c.name === pk.columns[0]) : undefined;
  if (intKey && INT_TYPE.test(intKey.type))
    invariants.push({
      check: "row_parity",
      source: display,
      source_at: "before",
      target: display,
      key: intKey.name,
      columns: allCols,
    });

  return {
    phases: [
      { name: "prepare", steps: prepareSteps },
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
    rollback,
    invariants,
    budgets: { phases: { cutover: "2s" } },
    files,
  };
}
