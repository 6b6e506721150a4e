/**
 * `rehearse init --strategy inheritance` (audits-inheritance-to-declarative, write-up 003): partitioning by
 * inheritance first, the table as its first child, then one catalog-only switch to declarative partitioning.
 */
import type { ColumnInfo, ConstraintInfo, IndexInfo, TriggerInfo } from "../../catalog/types.ts";
import { ident, qualified } from "../../db/sql.ts";
import { renderGrants, renderRls } from "../ddl.ts";
import type { Scaffold, ScaffoldOptions } from "../scaffold-types.ts";
import type { SourceTable } from "../source.ts";
import { guardInvariants, type Info, name63, names, widenedKeys } from "../strategy-common.ts";
import { columnDefs, copiedIndexes, copiedTriggers, seqLiteral } from "./copied-ddl.ts";
import { followViews, uniquenessGuard } from "./carry-over.ts";
import {
  fixedKey,
  integerKey,
  plainTable,
  plainUniques,
  refuseIf,
  noIncomingForeignKeys,
} from "./refusals.ts";

/** Why the table cannot be partitioned by inheritance, if it cannot; else its key and the ranges ahead. */
function refusals(t: SourceTable): { key: ColumnInfo; start: number; step: number } {
  const info = t.info;
  plainTable(info, "inheritance");
  const key = integerKey(info, "inheritance", "partitions by ranges of the integer primary key");
  plainUniques(info);
  noIncomingForeignKeys(
    info,
    "inheritance",
    "renames the table to its first child: they would keep pointing at that child alone",
  );
  const identity = info.columns.find((c) => c.identity);
  refuseIf(
    identity,
    `${info.qualifiedName}.${identity?.name} is an identity column: its sequence belongs to the old table`,
    "convert it to a sequence DEFAULT first (ALTER TABLE … ALTER COLUMN … DROP IDENTITY; then DEFAULT nextval(…))",
  );
  const stats = t.stats.get(key.name);
  const keyValues = [...(stats?.histogram ?? []), ...(stats?.mcv ?? [])].map(Number).filter(Number.isFinite);
  refuseIf(
    keyValues.length === 0,
    `${info.qualifiedName}.${key.name} has no histogram or common values in the statistics: the ranges cannot be chosen`,
    `ANALYZE ${info.qualifiedName}, then init again`,
  );
  const max = Math.max(...keyValues);
  const step = 10 ** Math.max(1, Math.floor(Math.log10(Math.max(10, max))));
  return { key, start: (Math.floor(max / step) + 1) * step, step };
}

/** Everything the files, steps and invariants are written from. */
interface Plan {
  source: SourceTable;
  info: Info;
  naming: ReturnType<typeof names>;
  key: ColumnInfo;
  /** Where the first child's range ends and the new children's begin; each new child's width. */
  start: number;
  step: number;
  /** The first child (the table, renamed), the inheritance parent, the old parent, the default child. */
  P0: string;
  INH: string;
  OLDP: string;
  DEF: string;
  /** The routing trigger and its function. */
  ROUTE: string;
  children: { name: string; from: number; to: number }[];
  /** The empty children: the ranged ones, then the default. */
  newTables: string[];
  everyChild: string[];
  keyed: (cols: string[]) => string[];
  plainIndexes: IndexInfo[];
  uniques: ConstraintInfo[];
  /** Unique keys and unique indexes that must gain the key. */
  widenedU: ConstraintInfo[];
  widenedIdx: IndexInfo[];
  /** The name of the first child's prebuilt index for a widened unique key or index. */
  prebuilt: (n: string) => string;
  triggers: TriggerInfo[];
}

function plan(t: SourceTable, key: ColumnInfo, start: number, step: number): Plan {
  const info = t.info;
  const naming = names(info);
  const T = naming.T;
  const I = key.name;
  const P0 = name63(`${T}_p0`);
  const DEF = name63(`${T}_default`);
  const children = [0, 1, 2].map((n) => ({
    name: name63(`${T}_p${start + n * step}`),
    from: start + n * step,
    to: start + (n + 1) * step,
  }));
  const newTables = [...children.map((c) => c.name), DEF];
  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const plainIndexes = info.indexes.filter(
    (i) => !constraintIndexes.has(i.name) && i.parentIndexOid === null,
  );
  const uniques = info.constraints.filter((c) => c.type === "u" && c.local);
  return {
    source: t,
    info,
    naming,
    key,
    start,
    step,
    P0,
    INH: name63(`partitioned_${T}`),
    OLDP: name63(`old_${T}`),
    DEF,
    ROUTE: name63(`${T}_route`),
    children,
    newTables,
    everyChild: [P0, ...newTables],
    keyed: (cols) => (cols.includes(I) ? cols : [...cols, I]),
    plainIndexes,
    uniques,
    widenedU: uniques.filter((u) => !u.columns.includes(I)),
    widenedIdx: plainIndexes.filter((i) => i.unique && !i.keys.some((x) => x.column === I)),
    prebuilt: (n) => name63(`${P0}_${n.startsWith(`${T}_`) ? n.slice(T.length + 1) : n}_${I}`),
    triggers: info.triggers.filter((tr) => !tr.internal && tr.parentTriggerOid === null),
  };
}

/** The routing trigger's function and trigger: inheritance does not route rows to children, this does. */
function routingTrigger(p: Plan): string[] {
  const { P0, DEF, ROUTE } = p;
  const { T, rel, colList, allCols } = p.naming;
  const k = ident(p.key.name);
  const insertInto = (c: string) =>
    `    INSERT INTO ${rel(c)} (${colList(allCols)}) VALUES (${allCols.map((x) => `NEW.${ident(x)}`).join(", ")});`;
  const out = [
    "-- Inheritance does not route: this trigger does, and must be edited whenever a child is added.",
    `-- ${P0} has no range CHECK yet, so it is listed by the range it is meant to hold.`,
    `CREATE FUNCTION ${rel(ROUTE)}() RETURNS trigger LANGUAGE plpgsql AS $$`,
    "BEGIN",
    `  IF NEW.${k} < ${p.start} THEN`,
    insertInto(P0),
  ];
  for (const c of p.children)
    out.push(`  ELSIF NEW.${k} >= ${c.from} AND NEW.${k} < ${c.to} THEN`, insertInto(c.name));
  out.push(
    "  ELSE",
    insertInto(DEF),
    "  END IF;",
    "  RETURN NULL;",
    "END",
    "$$;",
    `CREATE TRIGGER ${ident(ROUTE)} BEFORE INSERT ON ${rel(T)} FOR EACH ROW EXECUTE FUNCTION ${rel(ROUTE)}();`,
  );
  return out;
}

/** migration/01_inherit.sql: the empty children, then the table relabelled as a new parent's first child. */
function inheritSql(p: Plan): string {
  const { info, P0, INH, DEF, keyed } = p;
  const { T, rel, colList, renamed } = p.naming;
  const k = ident(p.key.name);
  /** The child's own keys: its PK, unique keys with the partition key, FKs (the table is empty: valid at once). */
  const childKeys = (child: string) => [
    `  CONSTRAINT ${ident(name63(`${child}_pkey`))} PRIMARY KEY (${k})`,
    ...p.uniques.map(
      (u) => `  CONSTRAINT ${ident(renamed(child, u.name))} UNIQUE (${colList(keyed(u.columns))})`,
    ),
    ...info.foreignKeys.outgoing
      .filter((f) => f.parentOid === null)
      .map((fk) => `  CONSTRAINT ${ident(fk.name)} ${fk.definition.replace(/ NOT VALID$/, "")}`),
  ];
  const like = `LIKE ${rel(T)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED`;
  const inherit: string[] = [
    "-- Phase 1 (audits-inheritance-to-declarative): partitioning by inheritance, as a stepping stone. A new",
    `-- parent with the same columns becomes ${T}; the existing table becomes its first child ${P0}, next to empty`,
    "-- children for the coming key ranges (each with a CHECK on its range) and a default child for anything out",
    "-- of range. A BEFORE INSERT trigger on the parent routes every new row. The new tables take no lock on",
    `-- ${T}, so they are created before it is locked.`,
    `CREATE TABLE ${rel(INH)} (${like});`,
    ...p.children.map(
      (c) =>
        `CREATE TABLE ${rel(c.name)} (\n  ${like},\n${[
          ...childKeys(c.name),
          `  CONSTRAINT ${ident(name63(`${c.name}_range`))} CHECK (${k} >= ${c.from} AND ${k} < ${c.to})`,
        ].join(",\n")}\n);`,
    ),
    "-- The catch-all: rows whose key fits no range, kept for review.",
    `CREATE TABLE ${rel(DEF)} (\n  ${like},\n${childKeys(DEF).join(",\n")}\n);`,
  ];
  const childTriggers = p.newTables.flatMap((c) => copiedTriggers(info, rel(c)));
  if (childTriggers.length)
    inherit.push(
      "-- Rows routed to a child fire its triggers: the table's own, on every child.",
      ...childTriggers,
    );
  inherit.push(
    "",
    `-- Only now the strongest lock, once: writers queue only for the renames and INHERITs below.`,
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(P0)};`,
    "-- Free the index names for the declarative parent (renaming a constraint's index renames the constraint).",
    ...info.indexes
      .filter((i) => i.parentIndexOid === null)
      .map((i) => `ALTER INDEX ${rel(i.name)} RENAME TO ${ident(renamed(P0, i.name))};`),
    ...p.everyChild.map((c) => `ALTER TABLE ${rel(c)} INHERIT ${rel(INH)};`),
    "-- The application keeps writing to the same name: now the parent.",
    `ALTER TABLE ${rel(INH)} RENAME TO ${ident(T)};`,
    "",
    ...routingTrigger(p),
    ...followViews(p.source),
  );
  const perTable = [T, ...p.newTables].flatMap((n) => [
    ...renderGrants(info, rel(n)),
    ...renderRls(info, rel(n)),
  ]);
  if (perTable.length)
    inherit.push(
      "",
      `-- Privileges and policies are per table: the parent and each new child (${P0} keeps its own).`,
      ...perTable,
    );
  return `${inherit.join("\n")}\n`;
}

/** migration/02–05: the first child's range declared, strays moved out, validated; the default emptied. */
function validateFiles(p: Plan): Record<string, string> {
  const { key, P0, DEF, start } = p;
  const { T, rel, colList, allCols } = p.naming;
  const k = ident(key.name);
  const files: Record<string, string> = {};
  const rangeCheck = name63(`${P0}_range`);
  files["migration/02_add_p0_range.sql"] =
    `-- Phase 2: declare the range ${P0} is meant to hold without scanning it. NOT VALID: enforced for new rows\n` +
    `-- from now on; VALIDATE checks the old rows later. Exactly what ATTACH … TO (${start}) will need.\n` +
    `ALTER TABLE ${rel(P0)}\n  ADD CONSTRAINT ${ident(rangeCheck)} CHECK (${k} IS NOT NULL AND ${k} < ${start}) NOT VALID;\n`;
  files["migration/03_move_out_of_range.sql"] =
    `-- Rows of ${P0} outside its range (written between init's statistics and the migration) go to the\n` +
    "-- default child for review, found through the primary key rather than a scan.\n" +
    `WITH moved AS (\n  DELETE FROM ${rel(P0)} WHERE ${k} >= ${start} RETURNING *\n)\n` +
    `INSERT INTO ${rel(DEF)} (${colList(allCols)}) SELECT ${colList(allCols)} FROM moved;\n`;
  files["migration/04_validate_p0_range.sql"] =
    "-- The one full scan of the existing table, under SHARE UPDATE EXCLUSIVE: reads and writes continue.\n" +
    `ALTER TABLE ${rel(P0)} VALIDATE CONSTRAINT ${ident(rangeCheck)};\n`;
  const empty: string[] = [
    "-- Review of the default child: its rows go to the child whose range holds them, through the routing",
    "-- trigger. The default child must then stay empty: any row there later is an alarm.",
  ];
  if (key.sequence)
    empty.push(
      "-- Only when the sequence is behind, never to where it already is: a setval to its own position races",
      "-- the load's inserts and can hand out again an id just taken. Not nextval() to read the position: the",
      "-- id it burns would be a gap the sequence invariant counts.",
      `SELECT setval(${seqLiteral(key)}, t.target)`,
      `FROM (SELECT max(${k}) AS target FROM ${rel(DEF)}) t,`,
      `     (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM ${qualified(key.sequence)}) s`,
      "WHERE t.target > s.handed_out;",
    );
  empty.push(
    `WITH moved AS (\n  DELETE FROM ${rel(DEF)} RETURNING *\n)\nINSERT INTO ${rel(T)} (${colList(allCols)}) SELECT ${colList(allCols)} FROM moved;`,
  );
  files["migration/05_empty_default.sql"] = `${empty.join("\n")}\n`;
  return files;
}

/** migration/06_index_children.sql, if any: each index ATTACH would otherwise build under its lock. */
function indexChildrenSql(p: Plan): string | undefined {
  const { info, P0, keyed, prebuilt } = p;
  const { rel, colList } = p.naming;
  const concurrently: string[] = [
    "-- ATTACH adopts a partition's index that matches the parent's; with none it builds one under ACCESS",
    "-- EXCLUSIVE. Build them now, CONCURRENTLY, with the definitions the declarative parent will have.",
  ];
  for (const u of p.widenedU)
    concurrently.push(
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(prebuilt(u.name))} ON ${rel(P0)} (${colList(keyed(u.columns))});`,
    );
  for (const i of p.widenedIdx)
    concurrently.push(
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(prebuilt(i.name))} ON ${rel(P0)} (${colList(keyed(i.keys.map((x) => x.column!)))});`,
    );
  for (const c of p.newTables)
    concurrently.push(
      ...copiedIndexes(info, p.key.name, c, rel(c)).map((d) =>
        d.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY "),
      ),
    );
  return concurrently.length > 2 ? `${concurrently.join("\n")}\n` : undefined;
}

/** The declarative parent's columns and constraints, under the original names so ATTACH merges them. */
function parentColumns(p: Plan): string[] {
  const { info, keyed } = p;
  const { colList } = p.naming;
  const cols = columnDefs(info, [], (c) => c.default);
  for (const c of info.constraints) {
    if (!c.local || c.parentOid !== null) continue;
    if (c.type === "p") cols.push(`  CONSTRAINT ${ident(c.name)} PRIMARY KEY (${colList(keyed(c.columns))})`);
    if (c.type === "u") cols.push(`  CONSTRAINT ${ident(c.name)} UNIQUE (${colList(keyed(c.columns))})`);
    if (c.type === "c") cols.push(`  CONSTRAINT ${ident(c.name)} ${c.definition.replace(/ NOT VALID$/, "")}`);
  }
  for (const fk of info.foreignKeys.outgoing.filter((f) => f.parentOid === null))
    cols.push(`  CONSTRAINT ${ident(fk.name)} ${fk.definition.replace(/ NOT VALID$/, "")}`);
  return cols;
}

/** migration/07_cutover.sql: inheritance to declarative partitioning, one catalog-only transaction. */
function cutoverSql(p: Plan): string {
  const { info, key, P0, OLDP, DEF, keyed, prebuilt } = p;
  const { T, rel, colList, renamed } = p.naming;
  const I = key.name;
  const k = ident(I);
  const cut: string[] = [
    "-- Phase 3: from inheritance to declarative partitioning in ONE transaction of catalog-only statements.",
    "-- Every child's validated range CHECK implies its bound and its indexes match the parent's, so ATTACH",
    "-- neither scans a child nor builds an index while ACCESS EXCLUSIVE is held.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    ...p.everyChild.map((c) => `ALTER TABLE ${rel(c)} NO INHERIT ${rel(T)};`),
    "-- Out of the way, keeping its routing trigger until it is dropped in cleanup.",
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(OLDP)};`,
  ];
  if (p.widenedU.length)
    cut.push("-- The prebuilt unique indexes back the unique keys that gain the partition key.");
  for (const u of p.widenedU)
    cut.push(
      `ALTER TABLE ${rel(P0)} ADD CONSTRAINT ${ident(renamed(P0, `${u.name}_${I}`))} UNIQUE USING INDEX ${ident(prebuilt(u.name))};`,
    );
  const rowTriggers = p.triggers.filter((tr) => tr.level === "row");
  if (rowTriggers.length)
    cut.push("-- The parent's row triggers are cloned onto every partition by ATTACH: the children's go.");
  for (const c of p.everyChild)
    for (const tr of rowTriggers) cut.push(`DROP TRIGGER ${ident(tr.name)} ON ${rel(c)};`);
  cut.push(
    "",
    "-- The declarative parent: the original's columns, defaults, keys, CHECKs and foreign keys (same names, so",
    "-- ATTACH merges them instead of adding and checking them).",
    `CREATE TABLE ${rel(T)} (\n${parentColumns(p).join(",\n")}\n) PARTITION BY RANGE (${k});`,
  );
  if (key.sequence)
    cut.push(
      "-- The ids keep coming from the same sequence; the parent owns it now.",
      `ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`,
    );
  const parentIndexes = p.plainIndexes.map((i) =>
    p.widenedIdx.includes(i)
      ? `CREATE UNIQUE INDEX ${ident(i.name)} ON ${rel(T)} (${colList(keyed(i.keys.map((x) => x.column!)))});`
      : `${i.definition};`,
  );
  if (parentIndexes.length)
    cut.push(
      "-- On the empty parent these are instant; ATTACH adopts each child's matching index.",
      ...parentIndexes,
    );
  const parentTriggers = p.triggers.map((tr) => `${tr.definition};`);
  if (parentTriggers.length) cut.push("-- The table's triggers, on the parent.", ...parentTriggers);
  cut.push(...renderGrants(info, rel(T)), ...renderRls(info, rel(T)));
  cut.push(
    "",
    "-- Each bound is exactly the child's validated CHECK: no verification scan.",
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(P0)} FOR VALUES FROM (MINVALUE) TO (${p.start});`,
    ...p.children.map(
      (c) =>
        `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(c.name)} FOR VALUES FROM (${c.from}) TO (${c.to});`,
    ),
    "-- The default last: attaching a range partition while a default is attached would scan the default.",
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(DEF)} DEFAULT;`,
  );
  cut.push(...uniquenessGuard(info, I, T, widenedKeys(info, I)).sql, ...followViews(p.source));
  return `${cut.join("\n")}\n`;
}

function invariants(p: Plan): unknown[] {
  const { key } = p;
  const { T, display, allCols } = p.naming;
  const same = (check: string) => ({ check, original: display(T), target: display(T) });
  const out: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display(T)] },
    same("constraints_preserved"),
    same("triggers_preserved"),
    same("grants_preserved"),
    same("rls_preserved"),
    same("fks_preserved"),
    { check: "default_partition_empty", table: display(T) },
    { check: "partitions_cover", table: display(T), premade: p.step },
    {
      check: "row_parity",
      source: display(T),
      source_at: "before",
      target: display(T),
      key: key.name,
      columns: allCols,
    },
  ];
  if (key.sequence) out.splice(7, 0, { check: "sequence", table: display(T), column: key.name });
  out.push(...guardInvariants(p.info, key.name, T, { route: String(p.start) }));
  return out;
}

export function inheritance(t: SourceTable, _now: Date, opts: ScaffoldOptions = {}): Scaffold {
  const { key, start, step } = refusals(t);
  fixedKey(opts.partitionKey, "inheritance", key.name, "partitions by ranges of the integer primary key");
  const p = plan(t, key, start, step);
  const { rel } = p.naming;
  const indexChildren = indexChildrenSql(p);
  const files: Record<string, string> = {
    "migration/01_inherit.sql": inheritSql(p),
    ...validateFiles(p),
    ...(indexChildren ? { "migration/06_index_children.sql": indexChildren } : {}),
    "migration/07_cutover.sql": cutoverSql(p),
    "migration/08_cleanup.sql":
      "-- Declarative partitioning routes now: the old parent (no rows, no children) and its trigger go.\n" +
      `DROP TABLE ${rel(p.OLDP)};\nDROP FUNCTION ${rel(p.ROUTE)}();\n`,
  };
  const retry = { attempts: 5, backoff: "200ms", max_backoff: "2s" };
  return {
    phases: [
      {
        name: "inherit",
        steps: [
          {
            name: "inheritance_parent_and_routing",
            sql: { file: "migration/01_inherit.sql" },
            transaction: true,
            lock_timeout: "2s",
            retry,
          },
        ],
      },
      {
        name: "validate",
        steps: [
          {
            name: "add_p0_range_not_valid",
            sql: { file: "migration/02_add_p0_range.sql" },
            lock_timeout: "2s",
            retry,
          },
          { name: "move_out_of_range_to_default", sql: { file: "migration/03_move_out_of_range.sql" } },
          { name: "validate_p0_range", sql: { file: "migration/04_validate_p0_range.sql" } },
          { name: "empty_default", sql: { file: "migration/05_empty_default.sql" } },
          ...(indexChildren
            ? [{ name: "index_children_concurrently", sql: { file: "migration/06_index_children.sql" } }]
            : []),
        ],
      },
      {
        name: "cutover",
        steps: [
          {
            name: "swap_to_declarative",
            sql: { file: "migration/07_cutover.sql" },
            transaction: true,
            lock_timeout: "2s",
            retry: { attempts: 5, backoff: "500ms", max_backoff: "5s" },
          },
        ],
      },
      {
        name: "cleanup",
        steps: [
          { name: "drop_old_parent", sql: { file: "migration/08_cleanup.sql" }, lock_timeout: "2s", retry },
        ],
      },
    ],
    invariants: invariants(p),
    budgets: {
      no_scan_under_access_exclusive: true,
      no_rewrite_under_access_exclusive: true,
      phases: { cutover: "2s" },
    },
    files,
  };
}
