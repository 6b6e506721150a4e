/**
 * The scaffolds of `rehearse init --strategy dual-write | view-union | inheritance | partman`, each following
 * its built-in scenario (events-dual-write, sources-view-union-hash, audits-inheritance-to-declarative,
 * partman-sync-trigger) with the table's own columns, keys, indexes, triggers, grants and policies, and the
 * partition key, ranges and premade partitions from the statistics. Pure, like scaffold.ts: a strategy that
 * cannot apply to the table throws InitError with the reason and the fix.
 */
import type { ColumnInfo } from "../catalog/types.ts";
import { ident, literal, qualified } from "../db/sql.ts";
import { dateValue } from "../scenario/dates.ts";
import { renderGrants, renderRls } from "./ddl.ts";
import { distinctCount, isoInstant } from "./fit.ts";
import type { Scaffold, StrategyName } from "./scaffold.ts";
import { InitError, type SourceTable } from "./source.ts";
import { choosePartitionKey, INT_TYPE, type KeyChoice, name63 } from "./strategy-common.ts";

/** Dispatches every strategy but attach-history (scaffold.ts). */
export function otherStrategy(strategy: StrategyName, t: SourceTable, now: Date): Scaffold {
  switch (strategy) {
    case "dual-write":
      return dualWrite(t, now);
    case "view-union":
      return viewUnion(t);
    case "inheritance":
      return inheritance(t);
    case "partman":
      return partman(t, now);
    case "attach-history":
      throw new Error("attach-history is scaffolded by scaffold.ts");
  }
}

type Info = SourceTable["info"];

/** Names and quoting for one source table. */
function names(info: Info) {
  const T = info.name;
  const rel = (n: string) => (info.schema === "public" ? ident(n) : `${ident(info.schema)}.${ident(n)}`);
  const display = (n: string) => (info.schema === "public" ? n : `${info.schema}.${n}`);
  const colList = (cols: string[]) => cols.map(ident).join(", ");
  /** orders_ref_key → <prefix>_ref_key; other names gain the prefix. */
  const renamed = (prefix: string, n: string) =>
    name63(n.startsWith(`${T}_`) ? `${prefix}_${n.slice(T.length + 1)}` : `${prefix}_${n}`);
  const allCols = info.columns.filter((c) => !c.generated).map((c) => c.name);
  return { T, rel, display, colList, renamed, allCols };
}

function refuseIf(cond: unknown, message: string, fix: string): void {
  if (cond) throw new InitError(message, fix);
}

function plainTable(info: Info, strategy: string): void {
  refuseIf(
    info.partitioning || info.partitionOf,
    `${info.qualifiedName} is already partitioned (or is a partition): ${strategy} turns a plain table into a partitioned one`,
    "choose a plain table, or manage its partitions directly",
  );
}

/** The single-column integer primary key that batches are cut along. */
function integerKey(info: Info, strategy: string, why: string): ColumnInfo {
  const pk = info.constraints.find((c) => c.type === "p" && c.local);
  const col = pk?.columns.length === 1 ? info.columns.find((c) => c.name === pk.columns[0]) : undefined;
  if (!col || !INT_TYPE.test(col.type))
    throw new InitError(
      `${info.qualifiedName} has no single-column integer primary key: ${strategy} ${why}`,
      "add one (a bigint column with a sequence DEFAULT, backfilled, then PRIMARY KEY USING INDEX), or choose attach-history",
    );
  return col;
}

function plainUniques(info: Info): void {
  const bad = info.indexes.find(
    (i) => i.unique && !i.primary && (i.keys.some((k) => k.column === null) || i.predicate !== null),
  );
  refuseIf(
    bad || info.constraints.some((c) => c.type === "x"),
    `${info.qualifiedName} has a unique index on an expression or with a predicate${bad ? ` (${bad.name})` : ""}, or an exclusion constraint: ` +
      "it cannot become a partitioned unique index",
    "drop or rewrite it as a plain-column UNIQUE before partitioning",
  );
}

function noIncomingFks(info: Info, why: string): void {
  const incoming = info.foreignKeys.incoming.filter((fk) => fk.parentOid === null);
  refuseIf(
    incoming.length,
    `foreign keys reference ${info.qualifiedName} (${incoming.map((f) => `${f.from}.${f.name}`).join(", ")}): ${why}`,
    "drop or re-point those foreign keys first (or choose attach-history, which keeps the rows in place)",
  );
}

/** The sequence a column takes its values from, as a regclass literal. */
function seqLiteral(c: ColumnInfo): string {
  return `${literal(qualified(c.sequence!))}::regclass`;
}

/** Column definitions of a copy: same types, defaults, generated expressions; `notNull` columns NOT NULL. */
function columnDefs(info: Info, notNull: string[], defaults: (c: ColumnInfo) => string | null): string[] {
  return info.columns.map((c) => {
    let l = `  ${ident(c.name)} ${c.type}`;
    const d = defaults(c);
    if (c.generated && c.default) l += ` GENERATED ALWAYS AS (${c.default}) STORED`;
    else if (d) l += ` DEFAULT ${d}`;
    if (c.notNull || notNull.includes(c.name)) l += " NOT NULL";
    return l;
  });
}

/** PK and UNIQUE gaining the partition key (named for the copy), CHECKs and outgoing FKs as they are. */
function keyedConstraints(info: Info, K: string, prefix: string): string[] {
  const { colList, renamed } = names(info);
  const keyed = (cols: string[]) => (cols.includes(K) ? cols : [...cols, K]);
  const out: string[] = [];
  for (const c of info.constraints) {
    if (!c.local || c.parentOid !== null) continue;
    if (c.type === "p")
      out.push(`  CONSTRAINT ${ident(name63(`${prefix}_pkey`))} PRIMARY KEY (${colList(keyed(c.columns))})`);
    if (c.type === "u")
      out.push(`  CONSTRAINT ${ident(renamed(prefix, c.name))} UNIQUE (${colList(keyed(c.columns))})`);
    if (c.type === "c") out.push(`  CONSTRAINT ${ident(c.name)} ${c.definition.replace(/ NOT VALID$/, "")}`);
  }
  for (const fk of info.foreignKeys.outgoing.filter((f) => f.parentOid === null))
    out.push(`  CONSTRAINT ${ident(fk.name)} ${fk.definition.replace(/ NOT VALID$/, "")}`);
  return out;
}

/** A (possibly quoted, possibly schema-qualified) name as pg_get_*def prints it. */
const QNAME = /(?:"(?:[^"]|"")*"|[^\s."]+)(?:\.(?:"(?:[^"]|"")*"|[^\s."]+))?/.source;

/** The table's own indexes (not those enforcing constraints), recreated on `target` under new names. */
function copiedIndexes(info: Info, K: string, prefix: string, target: string): string[] {
  const { renamed, colList } = names(info);
  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const out: string[] = [];
  for (const i of info.indexes) {
    if (constraintIndexes.has(i.name) || i.parentIndexOid !== null) continue;
    const n = renamed(prefix, i.name);
    if (i.unique && !i.keys.some((k) => k.column === K)) {
      out.push(
        `CREATE UNIQUE INDEX ${ident(n)} ON ${target} (${colList([...i.keys.map((k) => k.column!), K])});`,
      );
      continue;
    }
    const m = new RegExp(`^CREATE (UNIQUE )?INDEX ${QNAME} ON (?:ONLY )?${QNAME}`).exec(i.definition);
    if (!m) throw new InitError(`cannot read the definition of index ${i.name}`, "recreate it by hand");
    out.push(`CREATE ${m[1] ?? ""}INDEX ${ident(n)} ON ${target}${i.definition.slice(m[0].length)};`);
  }
  return out;
}

/** The user's triggers, recreated on `target`. */
function copiedTriggers(info: Info, target: string): string[] {
  return info.triggers
    .filter((tr) => !tr.internal && tr.parentTriggerOid === null)
    .map((tr) => {
      const at = tr.definition.indexOf(" ON ");
      const rest = tr.definition.slice(at + 4);
      const m = new RegExp(`^${QNAME}`).exec(rest);
      return `${tr.definition.slice(0, at)} ON ${target}${rest.slice(m ? m[0].length : 0)};`;
    });
}

interface RangeLayout {
  parts: { suffix: string; from: string; to: string }[];
  premade: string | number;
}

/** Range partitions on the key: the history up to this month (or a round integer), then three ahead. */
function rangeLayout(info: Info, picked: KeyChoice, now: Date): RangeLayout {
  if (picked.kind === "time") {
    const bound = dateValue("month", 1, now);
    refuseIf(
      picked.max >= Date.parse(isoInstant(bound)!),
      `${info.qualifiedName}.${picked.column.name} has values at or after ${bound} (the start of next month; the premade partitions begin there)`,
      "choose a partition key whose values lie in the past, or edit the partition bounds in the scaffold",
    );
    return {
      parts: [
        { suffix: "p_history", from: "MINVALUE", to: "'{{month}}'" },
        { suffix: "p_current", from: "'{{month}}'", to: "'{{month+1}}'" },
        ...[1, 2, 3].map((k) => ({
          suffix: `p_next${k}`,
          from: `'{{month+${k}}}'`,
          to: `'{{month+${k + 1}}}'`,
        })),
      ],
      premade: "1 month",
    };
  }
  const step = 10 ** Math.max(1, Math.floor(Math.log10(Math.max(10, picked.max))));
  const start = (Math.floor(picked.max / step) + 1) * step;
  return {
    parts: [
      { suffix: "p_history", from: "MINVALUE", to: String(start) },
      ...[0, 1, 2].map((k) => ({
        suffix: `p${start + k * step}`,
        from: String(start + k * step),
        to: String(start + (k + 1) * step),
      })),
    ],
    premade: step,
  };
}

// ---------------------------------------------------------------------------------------------------------
// dual-write (events-dual-write, write-up 000)

function dualWrite(t: SourceTable, now: Date): Scaffold {
  const info = t.info;
  plainTable(info, "dual-write");
  const key = integerKey(info, "dual-write", "copies the history in batches by an integer key");
  plainUniques(info);
  const picked = choosePartitionKey(t);
  if (picked instanceof InitError) throw picked;
  const K = picked.column.name;
  const layout = rangeLayout(info, picked, now);
  const { T, rel, display, allCols } = names(info);
  const N = name63(`${T}_partitioned`);
  const seq = key.sequence ? seqLiteral(key) : null;

  const parts = layout.parts.map((p) => ({ ...p, name: name63(`${T}_${p.suffix}`) }));
  const create: string[] = [
    `-- events-dual-write: a partitioned copy with the same columns. Its unique keys gain ${K} (the partition`,
    `-- key must be part of them). No DEFAULT on ${key.name} yet: while the application dual-writes it passes the`,
    "-- legacy row's id; the sequence is attached once the backfill has caught up.",
    `CREATE TABLE ${rel(N)} (\n${[
      ...columnDefs(info, [K], (c) => (c.name === key.name && seq ? null : c.default)),
      ...keyedConstraints(info, K, N),
    ].join(",\n")}\n) PARTITION BY RANGE (${ident(K)});`,
    "",
    picked.kind === "time"
      ? "-- History in one partition; from this month on, one a month, three months ahead."
      : "-- History in one partition; then three ranges ahead, each a power of ten wide.",
    ...parts.map(
      (p) =>
        `CREATE TABLE ${rel(p.name)} PARTITION OF ${rel(N)}\n  FOR VALUES FROM (${p.from}) TO (${p.to});`,
    ),
  ];
  const indexes = copiedIndexes(info, K, N, rel(N));
  if (indexes.length)
    create.push(
      "",
      "-- The copy is empty: building its indexes now costs nothing and locks nothing.",
      ...indexes,
    );
  const grants = [...renderGrants(info, rel(N)), ...renderRls(info, rel(N))];
  if (grants.length) create.push("", "-- Privileges and policies, on the new parent.", ...grants);
  const triggers = copiedTriggers(info, rel(N));
  if (triggers.length)
    create.push(
      "",
      "-- Not created yet: the backfill must copy rows as they are. Create them when writes move here:",
      ...triggers.map((d) => `-- ${d}`),
    );

  const files: Record<string, string> = { "migration/01_create_partitioned.sql": `${create.join("\n")}\n` };
  const maxOf = (n: string) => `(SELECT coalesce(max(${ident(key.name)}), 0) FROM ${rel(n)})`;
  // Forward only: writes go on while this runs, and a setval below an id already handed to a transaction
  // that has not committed yet hands it out again (events-dual-write caught it: 23505 on the legacy key).
  const setval =
    seq && key.sequence
      ? "-- Only when the sequence is behind, and only forward: a setval below an id in flight would hand it\n" +
        "-- out again (sequence-rewind-under-load).\n" +
        `SELECT setval(${seq}, t.target)\nFROM (SELECT GREATEST(1, ${maxOf(T)}, ${maxOf(N)}) AS target) t,\n` +
        `     (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM ${qualified(key.sequence)}) s\n` +
        "WHERE t.target > s.handed_out;"
      : "";
  if (seq)
    files["migration/02_sync_sequence.sql"] =
      "-- events-dual-write: attach the same sequence and make sure nextval cannot collide with any id in\n" +
      "-- either table. Each statement commits alone (transaction: false): the ALTER holds ACCESS EXCLUSIVE on\n" +
      "-- the partitioned table, and held across the setval it deadlocks with the dual-write.\n" +
      `ALTER TABLE ${rel(N)} ALTER COLUMN ${ident(key.name)} SET DEFAULT nextval(${seq});\n${setval}\n`;
  files["migration/03_verify_reads.sql"] =
    "-- Before reads move, the copy must hold exactly what the legacy table holds (one statement, one snapshot).\n" +
    "DO $$\nDECLARE\n  legacy bigint;\n  partitioned bigint;\nBEGIN\n" +
    `  SELECT (SELECT count(*) FROM ${rel(T)}), (SELECT count(*) FROM ${rel(N)}) INTO legacy, partitioned;\n` +
    "  IF legacy <> partitioned THEN\n" +
    `    RAISE EXCEPTION 'backfill incomplete: % rows in ${T.replace(/'/g, "''")}, % in ${N.replace(/'/g, "''")}', legacy, partitioned;\n` +
    "  END IF;\nEND $$;\n";

  const copy = (source: string, target: string) => ({
    source: display(source),
    target: display(target),
    key: key.name,
    batch: 2000,
    workers: 1,
    on_conflict: "skip",
    throttle: { sleep: "10ms" },
  });
  const flipSteps: unknown[] = [];
  if (seq)
    flipSteps.push({
      name: "sync_sequence",
      sql: { file: "migration/02_sync_sequence.sql" },
      transaction: false,
      lock_timeout: "500ms",
      retry: { attempts: 5, backoff: "100ms" },
    });
  flipSteps.push({ name: "verify_reads", sql: { file: "migration/03_verify_reads.sql" } });

  const rollback: unknown[] = [];
  if (seq) {
    files["rollback/01_sequence_back.sql"] =
      "-- The legacy table takes writes again, with ids past every id the partitioned table handed out.\n" +
      `${setval}\n`;
    rollback.push({ name: "sequence_back", sql: { file: "rollback/01_sequence_back.sql" } });
  }
  const { throttle: _unused, ...copyBack } = copy(N, T);
  rollback.push({ name: "copy_back", backfill: copyBack });

  const invariants: unknown[] = [
    { check: "row_parity", source: display(T), target: display(N), key: key.name, columns: allCols },
    { check: "indexes_valid", tables: [display(N)] },
    { check: "indexes_preserved", original: display(T), target: display(N) },
    { check: "partitions_cover", table: display(N), premade: layout.premade },
  ];
  if (seq)
    invariants.splice(1, 0, {
      check: "sequence",
      table: display(N),
      column: key.name,
      sequence: key.sequence!.replace(/^public\./, ""),
      also: [display(T)],
    });

  const insertCols = allCols.filter((c) => c !== key.name);
  const appendix = [
    "",
    "# The write path: rehearse init cannot see the application's writes. To rehearse the dual-write under load",
    "# (scenarios/events-dual-write), fill in this template, uncomment it, and add the flag steps to the",
    "# backfill phase, before copy_history:",
    "#   - {name: enable_dual_write, flag: {dual_write: on}}",
    '#   - {name: wait_for_flag_rollout, sql: "SELECT pg_sleep(1)"}',
    "# and after verify_reads a stop_legacy phase: - {name: stop_legacy_writes, flag: {dual_write: off, partitioned_only: on}}",
    "# load:",
    `#   source: {table: ${display(T)}, key: ${key.name}, columns: [${insertCols.join(", ")}]}`,
    "#   mode: reverse",
    "#   write:",
    "#     statements:",
    `#       - sql: "INSERT INTO ${rel(T).replace(/"/g, '\\"')} (${insertCols.join(", ")}) VALUES (${insertCols.map((c) => `:${c}`).join(", ")})"`,
    "#         unless: partitioned_only",
    `#       - sql: "INSERT INTO ${rel(N).replace(/"/g, '\\"')} SELECT * FROM ${rel(T).replace(/"/g, '\\"')} WHERE ${key.name} = currval('${key.sequence ?? "<sequence>"}') ON CONFLICT DO NOTHING"`,
    "#         when: dual_write",
    `#       - sql: "INSERT INTO ${rel(N).replace(/"/g, '\\"')} (${insertCols.join(", ")}) VALUES (${insertCols.map((c) => `:${c}`).join(", ")})"`,
    "#         when: partitioned_only",
    "#   rate: 200",
    "#   connections: 8",
    "",
  ].join("\n");

  return {
    phases: [
      {
        name: "prepare",
        steps: [{ name: "create_partitioned", sql: { file: "migration/01_create_partitioned.sql" } }],
      },
      { name: "backfill", steps: [{ name: "copy_history", backfill: copy(T, N) }] },
      { name: "flip_reads", steps: flipSteps },
    ],
    rollback,
    invariants,
    files,
    yamlAppendix: appendix,
  };
}

// ---------------------------------------------------------------------------------------------------------
// view-union (sources-view-union-hash, write-up 002)

const HASHABLE =
  /^(smallint|integer|bigint|text|character varying.*|character.*|uuid|numeric.*|date|timestamp.*|bytea)$/;
/** Fewer distinct values than this make lopsided hash partitions. */
export const MIN_HASH_DISTINCT = 100;

/** The hash key: the NOT NULL column with the most distinct values (the moving key itself only as a last resort). */
export function chooseHashColumn(
  t: SourceTable,
  key: string,
): { column: ColumnInfo; distinct: number } | InitError {
  const usable = t.info.columns
    .filter((c) => !c.generated && HASHABLE.test(c.type))
    .map((c) => ({ column: c, s: t.stats.get(c.name) }))
    .filter(({ column, s }) => s !== undefined && column.notNull)
    .map(({ column, s }) => ({ column, distinct: distinctCount(s!.nDistinct, t.reltuples) }))
    .filter((u) => u.distinct >= MIN_HASH_DISTINCT)
    .sort(
      (a, b) => (a.column.name === key ? 1 : 0) - (b.column.name === key ? 1 : 0) || b.distinct - a.distinct,
    );
  return (
    usable[0] ??
    new InitError(
      `${t.info.qualifiedName} has no column to hash on: view-union needs a NOT NULL column with at least ${MIN_HASH_DISTINCT} distinct values`,
      "add NOT NULL to a column with many distinct values (a uid, a uuid), or choose attach-history or dual-write",
    )
  );
}

function viewUnion(t: SourceTable): Scaffold {
  const info = t.info;
  plainTable(info, "view-union");
  const key = integerKey(info, "view-union", "moves the rows in batches by an integer key");
  plainUniques(info);
  noIncomingFks(
    info,
    "view-union deletes every row from the old table, and a foreign key cannot point at the view",
  );
  const hashed = chooseHashColumn(t, key.name);
  if (hashed instanceof InitError) throw hashed;
  const H = hashed.column.name;
  const { T, rel, display, colList, allCols } = names(info);
  const N = name63(`${T}_partitioned`);
  const OLD = name63(`${T}_old`);
  const FN = name63(`${T}_move_to_partitioned`);
  const modulus = Math.max(2, Math.min(20, Math.floor(hashed.distinct / 1000)));
  const keyDefault = (c: ColumnInfo) =>
    c.default ?? (c.identity && c.sequence ? `nextval(${seqLiteral(c)})` : null);

  const create: string[] = [
    `-- sources-view-union-hash: the same definition, hash partitioned on ${H} (${hashed.distinct} distinct values`,
    `-- in the statistics), with ${H} added to the unique keys. Ids keep coming from the same sequence, so the`,
    "-- old table's ids and new ones never collide.",
    `CREATE TABLE ${rel(N)} (\n${[
      ...columnDefs(info, [H, key.name], keyDefault),
      ...keyedConstraints(info, H, N),
    ].join(",\n")}\n) PARTITION BY HASH (${ident(H)});`,
    "",
    ...Array.from({ length: modulus }, (_, r) => {
      const p = name63(`${T}_p${String(r).padStart(2, "0")}`);
      return `CREATE TABLE ${rel(p)} PARTITION OF ${rel(N)} FOR VALUES WITH (MODULUS ${modulus}, REMAINDER ${r});`;
    }),
  ];
  const indexes = copiedIndexes(info, H, N, rel(N));
  if (indexes.length) create.push("", "-- Indexes on the empty copy: instant.", ...indexes);
  const triggers = copiedTriggers(info, rel(N));
  if (triggers.length) create.push("", "-- The table's triggers, on the copy.", ...triggers);
  const grants = [...renderGrants(info, rel(N)), ...renderRls(info, rel(N))];
  if (grants.length) create.push("", "-- Privileges and policies, on the new parent.", ...grants);

  const k = ident(key.name);
  const h = ident(H);
  const viewCols = info.columns.map((c) => c.name);
  const values = (row: string) => allCols.map((c) => `${row}.${ident(c)}`).join(", ");
  const swap: string[] = [
    "-- Rename the old table and put a UNION ALL view under its name: reads see both tables, and an INSTEAD OF",
    "-- trigger sends every write to the partitioned table, moving a row out of the old table when it touches one.",
    "-- Autovacuum is off on the old table: it only ever loses rows now, and the movers delete it empty anyway.",
    `ALTER TABLE ${rel(T)} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false);`,
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(OLD)};`,
    `CREATE VIEW ${rel(T)} AS\n  SELECT ${colList(viewCols)} FROM ${rel(OLD)}\n  UNION ALL\n  SELECT ${colList(viewCols)} FROM ${rel(N)};`,
  ];
  const defaults = info.columns.filter((c) => !c.generated && keyDefault(c));
  if (defaults.length) swap.push("-- A view has no defaults of its own: give it the table's.");
  for (const c of defaults)
    swap.push(`ALTER VIEW ${rel(T)} ALTER COLUMN ${ident(c.name)} SET DEFAULT ${keyDefault(c)!};`);
  swap.push(
    "",
    `CREATE FUNCTION ${rel(FN)}() RETURNS trigger LANGUAGE plpgsql AS $$`,
    "BEGIN",
    "  IF TG_OP = 'INSERT' THEN",
    `    INSERT INTO ${rel(N)} (${colList(allCols)})`,
    `    VALUES (${values("NEW")});`,
    "    RETURN NEW;",
    "  ELSIF TG_OP = 'UPDATE' THEN",
    `    DELETE FROM ${rel(OLD)} WHERE ${k} = OLD.${k};`,
    "    IF FOUND THEN",
    `      INSERT INTO ${rel(N)} (${colList(allCols)})`,
    `      VALUES (${values("NEW")});`,
    "    ELSE",
    `      UPDATE ${rel(N)}`,
    `         SET ${allCols.map((c) => `${ident(c)} = NEW.${ident(c)}`).join(", ")}`,
    `       WHERE ${k} = OLD.${k} AND ${h} = OLD.${h};`,
    "    END IF;",
    "    RETURN NEW;",
    "  ELSE",
    `    DELETE FROM ${rel(OLD)} WHERE ${k} = OLD.${k};`,
    `    DELETE FROM ${rel(N)} WHERE ${k} = OLD.${k} AND ${h} = OLD.${h};`,
    "    RETURN OLD;",
    "  END IF;",
    "END $$;",
    `CREATE TRIGGER ${ident(name63(`${T}_view_trigger`))} INSTEAD OF INSERT OR UPDATE OR DELETE ON ${rel(T)}`,
    `  FOR EACH ROW EXECUTE FUNCTION ${rel(FN)}();`,
  );
  const viewGrants = renderGrants(info, rel(T));
  if (viewGrants.length) swap.push("", "-- The view is a new relation: its privileges.", ...viewGrants);

  const finish: string[] = [
    "-- Drop the view and give the partitioned table the name: the old table is empty (table_empty proves it)",
    "-- and stays, renamed, until someone drops it.",
    `DROP VIEW ${rel(T)};`,
    `DROP FUNCTION ${rel(FN)}();`,
    `ALTER TABLE ${rel(N)} RENAME TO ${ident(T)};`,
  ];
  if (key.sequence && !key.identity)
    finish.push(
      "-- The sequence must outlive the old table when it is dropped one day.",
      `ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`,
    );

  const invariants: unknown[] = [
    { check: "table_empty", table: display(OLD) },
    {
      check: "row_parity",
      source: display(T),
      source_at: "before",
      target: display(T),
      key: key.name,
      columns: allCols,
    },
    { check: "indexes_valid", tables: [display(T)] },
    { check: "partitions_cover", table: display(T) },
  ];
  if (key.sequence)
    invariants.push({ check: "sequence", table: display(T), column: key.name, also: [display(OLD)] });

  return {
    phases: [
      {
        name: "prepare",
        steps: [{ name: "create_partitioned", sql: { file: "migration/01_create_partitioned.sql" } }],
      },
      {
        name: "view",
        steps: [
          {
            name: "rename_behind_view",
            sql: { file: "migration/02_view_swap.sql" },
            lock_timeout: "2s",
            retry: { attempts: 5, backoff: "200ms" },
          },
        ],
      },
      {
        name: "move",
        steps: [
          {
            name: "move_rows",
            backfill: {
              source: display(OLD),
              target: display(N),
              key: key.name,
              batch: 2000,
              workers: 4,
              sql:
                `WITH moved AS (DELETE FROM ${rel(OLD)} WHERE ${k} >= :lo AND ${k} < :hi RETURNING *) ` +
                `INSERT INTO ${rel(N)} (${colList(allCols)}) SELECT ${colList(allCols)} FROM moved`,
            },
          },
        ],
      },
      {
        name: "finish",
        steps: [
          {
            name: "drop_view_rename",
            sql: { file: "migration/03_finish.sql" },
            lock_timeout: "2s",
            retry: { attempts: 5, backoff: "200ms" },
          },
        ],
      },
    ],
    invariants,
    files: {
      "migration/01_create_partitioned.sql": `${create.join("\n")}\n`,
      "migration/02_view_swap.sql": `${swap.join("\n")}\n`,
      "migration/03_finish.sql": `${finish.join("\n")}\n`,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// inheritance (audits-inheritance-to-declarative, write-up 003)

function inheritance(t: SourceTable): Scaffold {
  const info = t.info;
  plainTable(info, "inheritance");
  const key = integerKey(info, "inheritance", "partitions by ranges of the integer primary key");
  plainUniques(info);
  noIncomingFks(info, "they would keep pointing at the first child once the table is renamed");
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
  const start = (Math.floor(max / step) + 1) * step;

  const { T, rel, display, colList, renamed, allCols } = names(info);
  const I = key.name;
  const k = ident(I);
  const P0 = name63(`${T}_p0`);
  const INH = name63(`partitioned_${T}`);
  const OLDP = name63(`old_${T}`);
  const DEF = name63(`${T}_default`);
  const ROUTE = name63(`${T}_route`);
  const children = [0, 1, 2].map((n) => ({
    name: name63(`${T}_p${start + n * step}`),
    from: start + n * step,
    to: start + (n + 1) * step,
  }));
  const newTables = [...children.map((c) => c.name), DEF];
  const everyChild = [P0, ...newTables];
  const keyed = (cols: string[]) => (cols.includes(I) ? cols : [...cols, I]);

  const constraintIndexes = new Set(info.constraints.map((c) => c.index).filter((i) => i !== null));
  const plainIndexes = info.indexes.filter(
    (i) => !constraintIndexes.has(i.name) && i.parentIndexOid === null,
  );
  const uniques = info.constraints.filter((c) => c.type === "u" && c.local);
  const widenedU = uniques.filter((u) => !u.columns.includes(I));
  const widenedIdx = plainIndexes.filter((i) => i.unique && !i.keys.some((x) => x.column === I));
  const prebuilt = (n: string) => name63(`${P0}_${n.startsWith(`${T}_`) ? n.slice(T.length + 1) : n}_${I}`);
  const triggers = info.triggers.filter((tr) => !tr.internal && tr.parentTriggerOid === null);
  const rowTriggers = triggers.filter((tr) => tr.level === "row");

  /** The child's own keys: its PK, unique keys with the partition key, FKs (the table is empty: valid at once). */
  const childKeys = (child: string) => [
    `  CONSTRAINT ${ident(name63(`${child}_pkey`))} PRIMARY KEY (${k})`,
    ...uniques.map(
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
    ...children.map(
      (c) =>
        `CREATE TABLE ${rel(c.name)} (\n  ${like},\n${[
          ...childKeys(c.name),
          `  CONSTRAINT ${ident(name63(`${c.name}_range`))} CHECK (${k} >= ${c.from} AND ${k} < ${c.to})`,
        ].join(",\n")}\n);`,
    ),
    "-- The catch-all: rows whose key fits no range, kept for review.",
    `CREATE TABLE ${rel(DEF)} (\n  ${like},\n${childKeys(DEF).join(",\n")}\n);`,
  ];
  const childTriggers = newTables.flatMap((c) => copiedTriggers(info, rel(c)));
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
    ...everyChild.map((c) => `ALTER TABLE ${rel(c)} INHERIT ${rel(INH)};`),
    "-- The application keeps writing to the same name: now the parent.",
    `ALTER TABLE ${rel(INH)} RENAME TO ${ident(T)};`,
    "",
    "-- Inheritance does not route: this trigger does, and must be edited whenever a child is added.",
    `-- ${P0} has no range CHECK yet, so it is listed by the range it is meant to hold.`,
    `CREATE FUNCTION ${rel(ROUTE)}() RETURNS trigger LANGUAGE plpgsql AS $$`,
    "BEGIN",
  );
  const insertInto = (c: string) =>
    `    INSERT INTO ${rel(c)} (${colList(allCols)}) VALUES (${allCols.map((x) => `NEW.${ident(x)}`).join(", ")});`;
  inherit.push(`  IF NEW.${k} < ${start} THEN`, insertInto(P0));
  for (const c of children)
    inherit.push(`  ELSIF NEW.${k} >= ${c.from} AND NEW.${k} < ${c.to} THEN`, insertInto(c.name));
  inherit.push(
    "  ELSE",
    insertInto(DEF),
    "  END IF;",
    "  RETURN NULL;",
    "END",
    "$$;",
    `CREATE TRIGGER ${ident(ROUTE)} BEFORE INSERT ON ${rel(T)} FOR EACH ROW EXECUTE FUNCTION ${rel(ROUTE)}();`,
  );
  const perTable = [T, ...newTables].flatMap((n) => [
    ...renderGrants(info, rel(n)),
    ...renderRls(info, rel(n)),
  ]);
  if (perTable.length)
    inherit.push(
      "",
      `-- Privileges and policies are per table: the parent and each new child (${P0} keeps its own).`,
      ...perTable,
    );

  const files: Record<string, string> = {};
  files["migration/01_inherit.sql"] = `${inherit.join("\n")}\n`;
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
  const concurrently: string[] = [
    "-- ATTACH adopts a partition's index that matches the parent's; with none it builds one under ACCESS",
    "-- EXCLUSIVE. Build them now, CONCURRENTLY, with the definitions the declarative parent will have.",
  ];
  for (const u of widenedU)
    concurrently.push(
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(prebuilt(u.name))} ON ${rel(P0)} (${colList(keyed(u.columns))});`,
    );
  for (const i of widenedIdx)
    concurrently.push(
      `CREATE UNIQUE INDEX CONCURRENTLY ${ident(prebuilt(i.name))} ON ${rel(P0)} (${colList(keyed(i.keys.map((x) => x.column!)))});`,
    );
  for (const c of newTables)
    concurrently.push(
      ...copiedIndexes(info, I, c, rel(c)).map((d) =>
        d.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY "),
      ),
    );
  const hasIndexPhase = concurrently.length > 2;
  if (hasIndexPhase) files["migration/06_index_children.sql"] = `${concurrently.join("\n")}\n`;

  const cut: string[] = [
    "-- Phase 3: from inheritance to declarative partitioning in ONE transaction of catalog-only statements.",
    "-- Every child's validated range CHECK implies its bound and its indexes match the parent's, so ATTACH",
    "-- neither scans a child nor builds an index while ACCESS EXCLUSIVE is held.",
    `LOCK TABLE ${rel(T)} IN ACCESS EXCLUSIVE MODE;`,
    ...everyChild.map((c) => `ALTER TABLE ${rel(c)} NO INHERIT ${rel(T)};`),
    "-- Out of the way, keeping its routing trigger until it is dropped in cleanup.",
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(OLDP)};`,
  ];
  if (widenedU.length)
    cut.push("-- The prebuilt unique indexes back the unique keys that gain the partition key.");
  for (const u of widenedU)
    cut.push(
      `ALTER TABLE ${rel(P0)} ADD CONSTRAINT ${ident(renamed(P0, `${u.name}_${I}`))} UNIQUE USING INDEX ${ident(prebuilt(u.name))};`,
    );
  if (rowTriggers.length)
    cut.push("-- The parent's row triggers are cloned onto every partition by ATTACH: the children's go.");
  for (const c of everyChild)
    for (const tr of rowTriggers) cut.push(`DROP TRIGGER ${ident(tr.name)} ON ${rel(c)};`);
  const parentCols = columnDefs(info, [], (c) => c.default);
  for (const c of info.constraints) {
    if (!c.local || c.parentOid !== null) continue;
    if (c.type === "p")
      parentCols.push(`  CONSTRAINT ${ident(c.name)} PRIMARY KEY (${colList(keyed(c.columns))})`);
    if (c.type === "u")
      parentCols.push(`  CONSTRAINT ${ident(c.name)} UNIQUE (${colList(keyed(c.columns))})`);
    if (c.type === "c")
      parentCols.push(`  CONSTRAINT ${ident(c.name)} ${c.definition.replace(/ NOT VALID$/, "")}`);
  }
  for (const fk of info.foreignKeys.outgoing.filter((f) => f.parentOid === null))
    parentCols.push(`  CONSTRAINT ${ident(fk.name)} ${fk.definition.replace(/ NOT VALID$/, "")}`);
  cut.push(
    "",
    "-- The declarative parent: the original's columns, defaults, keys, CHECKs and foreign keys (same names, so",
    "-- ATTACH merges them instead of adding and checking them).",
    `CREATE TABLE ${rel(T)} (\n${parentCols.join(",\n")}\n) PARTITION BY RANGE (${k});`,
  );
  if (key.sequence)
    cut.push(
      "-- The ids keep coming from the same sequence; the parent owns it now.",
      `ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`,
    );
  const parentIndexes = plainIndexes.map((i) =>
    widenedIdx.includes(i)
      ? `CREATE UNIQUE INDEX ${ident(i.name)} ON ${rel(T)} (${colList(keyed(i.keys.map((x) => x.column!)))});`
      : `${i.definition};`,
  );
  if (parentIndexes.length)
    cut.push(
      "-- On the empty parent these are instant; ATTACH adopts each child's matching index.",
      ...parentIndexes,
    );
  const parentTriggers = triggers.map((tr) => `${tr.definition};`);
  if (parentTriggers.length) cut.push("-- The table's triggers, on the parent.", ...parentTriggers);
  cut.push(...renderGrants(info, rel(T)), ...renderRls(info, rel(T)));
  cut.push(
    "",
    "-- Each bound is exactly the child's validated CHECK: no verification scan.",
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(P0)} FOR VALUES FROM (MINVALUE) TO (${start});`,
    ...children.map(
      (c) =>
        `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(c.name)} FOR VALUES FROM (${c.from}) TO (${c.to});`,
    ),
    "-- The default last: attaching a range partition while a default is attached would scan the default.",
    `ALTER TABLE ${rel(T)} ATTACH PARTITION ${rel(DEF)} DEFAULT;`,
  );
  files["migration/07_cutover.sql"] = `${cut.join("\n")}\n`;
  files["migration/08_cleanup.sql"] =
    "-- Declarative partitioning routes now: the old parent (no rows, no children) and its trigger go.\n" +
    `DROP TABLE ${rel(OLDP)};\nDROP FUNCTION ${rel(ROUTE)}();\n`;

  const retry = { attempts: 5, backoff: "200ms", max_backoff: "2s" };
  const same = (check: string) => ({ check, original: display(T), target: display(T) });
  const invariants: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display(T)] },
    same("constraints_preserved"),
    same("triggers_preserved"),
    same("grants_preserved"),
    same("rls_preserved"),
    same("fks_preserved"),
    { check: "default_partition_empty", table: display(T) },
    { check: "partitions_cover", table: display(T), premade: step },
    {
      check: "row_parity",
      source: display(T),
      source_at: "before",
      target: display(T),
      key: I,
      columns: allCols,
    },
  ];
  if (key.sequence) invariants.splice(7, 0, { check: "sequence", table: display(T), column: I });
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
          ...(hasIndexPhase
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
    invariants,
    budgets: {
      no_scan_under_access_exclusive: true,
      no_rewrite_under_access_exclusive: true,
      phases: { cutover: "2s" },
    },
    files,
  };
}

// ---------------------------------------------------------------------------------------------------------
// partman (partman-sync-trigger, write-up 004)

function partman(t: SourceTable, now: Date): Scaffold {
  const info = t.info;
  plainTable(info, "partman");
  const key = integerKey(info, "partman", "copies the history in batches by an integer key");
  plainUniques(info);
  noIncomingFks(
    info,
    "once partitioned by time their target's unique keys include the time column, which the referencing tables do not carry",
  );
  const picked = choosePartitionKey(t);
  if (picked instanceof InitError) throw picked;
  refuseIf(
    picked.kind !== "time",
    `${info.qualifiedName} has no NOT NULL timestamp column: the partman scaffold makes monthly partitions by time`,
    "add a NOT NULL timestamp (created_at), backfill it, and init again — or choose inheritance or attach-history for integer ranges",
  );
  const bound = dateValue("month", 1, now);
  refuseIf(
    picked.max >= Date.parse(isoInstant(bound)!),
    `${info.qualifiedName}.${picked.column.name} has values at or after ${bound} (the start of next month)`,
    "choose a partition key whose values lie in the past, or edit the scaffold",
  );
  const K = picked.column.name;
  const { T, rel, display, colList, allCols } = names(info);
  const N = name63(`${T}_partitioned`);
  const OLD = name63(`${T}_old`);
  const STATUS = "partition_migration_status";
  const SYNC = name63(`sync_${T}_to_partitioned`);
  const SYNC_TRIGGER = name63(`sync_${T}_trigger`);
  const BATCH = name63(`migrate_${T}_batch`);
  const k = ident(key.name);
  const parentLiteral = (n: string) => literal(`${info.schema}.${n}`);

  const create: string[] = [
    '-- partman-sync-trigger, "Creates partitioned table": the same columns and defaults (ids from the same',
    `-- sequence), the CHECKs, the primary key and unique keys extended with ${K}, every index, the table's own`,
    "-- foreign keys and triggers, the grants; and the migration status table.",
    `CREATE TABLE ${rel(N)} (\n${[...columnDefs(info, [K], (c) => c.default), ...keyedConstraints(info, K, N)].join(",\n")}\n) PARTITION BY RANGE (${ident(K)});`,
    ...copiedIndexes(info, K, N, rel(N)),
    ...copiedTriggers(info, rel(N)),
    ...renderGrants(info, rel(N)),
    ...renderRls(info, rel(N)),
    "",
    '-- "migration table status to see what data has been migrated"',
    `CREATE TABLE IF NOT EXISTS ${rel(STATUS)} (`,
    "  id            serial PRIMARY KEY,",
    "  table_name    text NOT NULL,",
    "  first_id      bigint,",
    "  last_id       bigint,",
    "  rows_migrated integer,",
    "  started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),",
    "  completed_at  timestamptz,",
    "  error_message text",
    ");",
  ];
  const parentText = parentLiteral(N);
  const partmanSql = [
    '-- partman-sync-trigger, "Configures pg_partman": monthly partitions from the oldest row, premake 4, a',
    "-- default partition, partitions that inherit the parent's grants. create_parent's signature differs",
    "-- between pg_partman 5.x and 4.x: the branch picks the values by the installed version. It makes every",
    "-- monthly partition since the oldest row in this one statement (the lock budget exempts these new tables).",
    "CREATE SCHEMA IF NOT EXISTS partman;",
    "CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman;",
    "DO $$",
    "DECLARE",
    "  partman_major int;",
    "  start_partition text;",
    "BEGIN",
    "  SELECT split_part(extversion, '.', 1)::int INTO partman_major FROM pg_extension WHERE extname = 'pg_partman';",
    `  SELECT date_trunc('month', coalesce(min(${ident(K)}), now()))::text INTO start_partition FROM ${rel(T)};`,
    "  IF partman_major >= 5 THEN",
    "    PERFORM partman.create_parent(",
    `      p_parent_table := ${parentText},`,
    `      p_control := ${literal(K)},`,
    "      p_interval := '1 month',",
    "      p_type := 'range',",
    "      p_premake := 4,",
    "      p_start_partition := start_partition,",
    "      p_default_table := true);",
    "  ELSE",
    "    PERFORM partman.create_parent(",
    `      p_parent_table := ${parentText},`,
    `      p_control := ${literal(K)},`,
    "      p_type := 'native',",
    "      p_interval := 'monthly',",
    "      p_premake := 4,",
    "      p_start_partition := start_partition);",
    "  END IF;",
    "END",
    "$$;",
    "UPDATE partman.part_config",
    "SET retention_keep_table = true, retention_keep_index = true, inherit_privileges = true",
    `WHERE parent_table = ${parentText};`,
    `SELECT partman.reapply_privileges(${parentText});`,
  ];
  const setList = allCols
    .filter((c) => c !== key.name)
    .map((c) => `${ident(c)} = NEW.${ident(c)}`)
    .join(", ");
  const sync = [
    '-- partman-sync-trigger, "Establishes sync trigger": every write to the old table from now on is repeated',
    "-- on the partitioned copy, so the batch copy only carries the rows that existed before this commits.",
    `CREATE FUNCTION ${rel(SYNC)}() RETURNS trigger LANGUAGE plpgsql AS $$`,
    "BEGIN",
    "  IF TG_OP = 'INSERT' THEN",
    `    INSERT INTO ${rel(N)} (${colList(allCols)})`,
    `    VALUES (${allCols.map((c) => `NEW.${ident(c)}`).join(", ")})`,
    "    ON CONFLICT DO NOTHING;",
    "    RETURN NEW;",
    "  ELSIF TG_OP = 'UPDATE' THEN",
    `    UPDATE ${rel(N)}`,
    `    SET ${setList}`,
    `    WHERE ${k} = OLD.${k};`,
    "    RETURN NEW;",
    "  ELSE",
    `    DELETE FROM ${rel(N)} WHERE ${k} = OLD.${k};`,
    "    RETURN OLD;",
    "  END IF;",
    "END",
    "$$;",
    `CREATE TRIGGER ${ident(SYNC_TRIGGER)}`,
    `  AFTER INSERT OR UPDATE OR DELETE ON ${rel(T)}`,
    `  FOR EACH ROW EXECUTE FUNCTION ${rel(SYNC)}();`,
  ];
  const tableName = literal(T);
  const batch = [
    "-- The batch migration as a procedure committing every batch and recording it, so it can be stopped and",
    "-- resumed. Rows above the highest id seen at the start were written with the sync trigger in place.",
    `CREATE PROCEDURE ${rel(BATCH)}(p_batch_size integer DEFAULT 10000)`,
    "LANGUAGE plpgsql AS $$",
    "DECLARE",
    "  done_up_to bigint;",
    "  stop_at bigint;",
    "  batch_end bigint;",
    "  moved integer;",
    "  began timestamptz;",
    "BEGIN",
    "  SELECT coalesce(max(last_id), 0) INTO done_up_to",
    `  FROM ${rel(STATUS)}`,
    `  WHERE table_name = ${tableName} AND completed_at IS NOT NULL;`,
    `  SELECT coalesce(max(${k}), 0) INTO stop_at FROM ${rel(T)};`,
    "  WHILE done_up_to < stop_at LOOP",
    "    began := clock_timestamp();",
    `    SELECT max(${k}) INTO batch_end`,
    `    FROM (SELECT ${k} FROM ${rel(T)} WHERE ${k} > done_up_to ORDER BY ${k} LIMIT p_batch_size) b;`,
    "    EXIT WHEN batch_end IS NULL;",
    `    INSERT INTO ${rel(N)} (${colList(allCols)})`,
    `    SELECT ${colList(allCols)} FROM ${rel(T)}`,
    `    WHERE ${k} > done_up_to AND ${k} <= batch_end`,
    "    ON CONFLICT DO NOTHING;",
    "    GET DIAGNOSTICS moved = ROW_COUNT;",
    `    INSERT INTO ${rel(STATUS)} (table_name, first_id, last_id, rows_migrated, started_at, completed_at)`,
    `    VALUES (${tableName}, done_up_to + 1, batch_end, moved, began, clock_timestamp());`,
    "    done_up_to := batch_end;",
    "    COMMIT;",
    "  END LOOP;",
    "END",
    "$$;",
  ];
  const countCheck = (a: string, b: string) => [
    "DO $$",
    "DECLARE",
    "  old_rows bigint;",
    "  new_rows bigint;",
    "BEGIN",
    `  SELECT count(*) INTO old_rows FROM ${rel(a)};`,
    `  SELECT count(*) INTO new_rows FROM ${rel(b)};`,
    "  IF old_rows <> new_rows THEN",
    `    RAISE EXCEPTION 'count check failed: ${a.replace(/'/g, "''")} has % rows, ${b.replace(/'/g, "''")} has %', old_rows, new_rows;`,
    "  END IF;",
    "END",
    "$$;",
  ];
  const cut = [
    '-- partman-sync-trigger, "Postcutover", with the writers paused (add pause_writes/resume_writes steps',
    "-- around this one once the scenario has a load): the count check, the swap, the sequence fix and",
    "-- pg_partman's config, in one transaction.",
    ...countCheck(T, N),
  ];
  if (key.sequence)
    cut.push(
      "-- The next id is above every id in either table.",
      `SELECT setval(${seqLiteral(key)}, GREATEST(1, (SELECT coalesce(max(${k}), 0) FROM ${rel(T)}), (SELECT coalesce(max(${k}), 0) FROM ${rel(N)})));`,
    );
  cut.push(
    `LOCK TABLE ${rel(T)}, ${rel(N)} IN ACCESS EXCLUSIVE MODE;`,
    `DROP TRIGGER ${ident(SYNC_TRIGGER)} ON ${rel(T)};`,
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(OLD)};`,
    `ALTER TABLE ${rel(N)} RENAME TO ${ident(T)};`,
  );
  if (key.sequence && !key.identity)
    cut.push(
      "-- The sequence must outlive the old table when it is dropped one day.",
      `ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`,
    );
  cut.push(
    "-- pg_partman's maintenance keeps making partitions for the renamed parent.",
    `UPDATE partman.part_config SET parent_table = ${parentLiteral(T)} WHERE parent_table = ${parentText};`,
  );
  const down = [
    "-- partman-sync-trigger's downgrade, with the writers paused: the old table takes the name again and the",
    "-- partitioned one goes back behind the sync trigger. Rows written since the cutover exist only in the",
    "-- partitioned table: carry them back first.",
    `INSERT INTO ${rel(OLD)} (${colList(allCols)})`,
    `SELECT ${allCols.map((c) => `n.${ident(c)}`).join(", ")} FROM ${rel(T)} n`,
    `WHERE n.${k} > (SELECT coalesce(max(${k}), 0) FROM ${rel(OLD)});`,
    ...countCheck(OLD, T),
    `LOCK TABLE ${rel(T)}, ${rel(OLD)} IN ACCESS EXCLUSIVE MODE;`,
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(N)};`,
    `ALTER TABLE ${rel(OLD)} RENAME TO ${ident(T)};`,
  ];
  if (key.sequence && !key.identity)
    down.push(`ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`);
  down.push(
    `UPDATE partman.part_config SET parent_table = ${parentText} WHERE parent_table = ${parentLiteral(T)};`,
    `CREATE TRIGGER ${ident(SYNC_TRIGGER)}`,
    `  AFTER INSERT OR UPDATE OR DELETE ON ${rel(T)}`,
    `  FOR EACH ROW EXECUTE FUNCTION ${rel(SYNC)}();`,
  );

  const same = (check: string) => ({ check, original: display(T), target: display(T) });
  const invariants: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display(T)] },
    same("triggers_preserved"),
    same("constraints_preserved"),
    same("grants_preserved"),
    same("fks_preserved"),
  ];
  if (key.sequence)
    invariants.push({ check: "sequence", table: display(T), column: key.name, also: [display(OLD)] });
  invariants.push(
    { check: "default_partition_empty", table: display(T) },
    { check: "partitions_cover", table: display(T), premade: "3 months" },
    {
      check: "row_parity",
      source: display(T),
      source_at: "before",
      target: display(T),
      key: key.name,
      columns: allCols,
    },
  );
  const locked = { transaction: true, lock_timeout: "2s", retry: { attempts: 5, backoff: "200ms" } };
  return {
    target: { provider: "system", extensions: ["pg_partman"] },
    phases: [
      {
        name: "prepare",
        steps: [
          { name: "create_partitioned_copy", sql: { file: "migration/01_create_partitioned.sql" } },
          { name: "partman_create_parent", sql: { file: "migration/02_partman_create_parent.sql" } },
          {
            name: "sync_trigger",
            sql: { file: "migration/03_sync_trigger.sql" },
            lock_timeout: "2s",
            retry: locked.retry,
          },
          { name: "batch_procedure", sql: { file: "migration/04_batch_procedure.sql" } },
        ],
      },
      {
        name: "migrate",
        steps: [{ name: "run_batches", sql: { file: "migration/05_run_batches.sql" }, transaction: false }],
      },
      { name: "cutover", steps: [{ name: "swap", sql: { file: "migration/06_cutover.sql" }, ...locked }] },
    ],
    rollback: [{ name: "downgrade", sql: { file: "rollback/01_downgrade.sql" }, ...locked }],
    invariants,
    // create_parent makes every monthly partition since the oldest row in one statement, holding ACCESS
    // EXCLUSIVE on those new, empty tables (and pg_partman's config) for as long as that takes: nobody waits
    // on them. What the application waits on is the table itself, and every table during the cutover.
    budgets: {
      locks: [
        { mode: "AccessExclusiveLock", relation: display(T), max: "1s" },
        { mode: "AccessExclusiveLock", relation: "*", phase: "cutover", max: "1s" },
      ],
    },
    files: {
      "migration/01_create_partitioned.sql": `${create.join("\n")}\n`,
      "migration/02_partman_create_parent.sql": `${partmanSql.join("\n")}\n`,
      "migration/03_sync_trigger.sql": `${sync.join("\n")}\n`,
      "migration/04_batch_procedure.sql": `${batch.join("\n")}\n`,
      "migration/05_run_batches.sql":
        "-- The batch migration, run to the end (the sync trigger carries the writes meanwhile).\n" +
        `CALL ${rel(BATCH)}(10000);\nANALYZE ${rel(N)};\n`,
      "migration/06_cutover.sql": `${cut.join("\n")}\n`,
      "rollback/01_downgrade.sql": `${down.join("\n")}\n`,
    },
  };
}
