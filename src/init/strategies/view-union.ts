/**
 * `rehearse init --strategy view-union` (sources-view-union-hash, write-up 002): a hash-partitioned copy
 * behind a UNION ALL view under the table's name, while movers carry the rows across in batches.
 */
import type { ColumnInfo } from "../../catalog/types.ts";
import { ident, qualified } from "../../db/sql.ts";
import { renderGrants, renderRls } from "../ddl.ts";
import { distinctCount } from "../fit.ts";
import type { Scaffold, ScaffoldOptions } from "../scaffold-types.ts";
import { InitError, type SourceTable } from "../source.ts";
import { freshKeySql, guardInvariants, type Info, name63, names, widenedKeys } from "../strategy-common.ts";
import { columnDefs, copiedIndexes, copiedTriggers, keyedConstraints, seqLiteral } from "./copied-ddl.ts";
import { followViews, uniquenessGuard } from "./carry-over.ts";
import { fixedKey, integerKey, plainTable, plainUniques, noIncomingForeignKeys } from "./refusals.ts";

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

/** Everything the files and steps are written from. */
interface Plan {
  info: Info;
  naming: ReturnType<typeof names>;
  /** The integer key the movers cut batches along. */
  key: ColumnInfo;
  /** The hash partition key. */
  H: string;
  distinct: number;
  /** The partitioned copy, and the table once renamed out of the way. */
  N: string;
  OLD: string;
  /** The INSTEAD OF trigger's function. */
  FN: string;
}

/** A column's default on the copy and the view: an identity column's sequence becomes a DEFAULT. */
function keyDefault(c: ColumnInfo): string | null {
  return c.default ?? (c.identity && c.sequence ? `nextval(${seqLiteral(c)})` : null);
}

/** migration/01_create_partitioned.sql: the hash-partitioned copy, its indexes, triggers, privileges. */
function createSql(p: Plan): string {
  const { info, H, N } = p;
  const { T, rel } = p.naming;
  const modulus = Math.max(2, Math.min(20, Math.floor(p.distinct / 1000)));
  const create: string[] = [
    `-- sources-view-union-hash: the same definition, hash partitioned on ${H} (${p.distinct} distinct values`,
    `-- in the statistics), with ${H} added to the unique keys. Ids keep coming from the same sequence, so the`,
    "-- old table's ids and new ones never collide.",
    `CREATE TABLE ${rel(N)} (\n${[
      ...columnDefs(info, [H, p.key.name], keyDefault),
      ...keyedConstraints(info, H, N),
    ].join(",\n")}\n) PARTITION BY HASH (${ident(H)});`,
    "",
    ...Array.from({ length: modulus }, (_, r) => {
      const part = name63(`${T}_p${String(r).padStart(2, "0")}`);
      return `CREATE TABLE ${rel(part)} PARTITION OF ${rel(N)} FOR VALUES WITH (MODULUS ${modulus}, REMAINDER ${r});`;
    }),
  ];
  const indexes = copiedIndexes(info, H, N, rel(N));
  if (indexes.length) create.push("", "-- Indexes on the empty copy: instant.", ...indexes);
  const triggers = copiedTriggers(info, rel(N));
  if (triggers.length) create.push("", "-- The table's triggers, on the copy.", ...triggers);
  const grants = [...renderGrants(info, rel(N)), ...renderRls(info, rel(N))];
  if (grants.length) create.push("", "-- Privileges and policies, on the new parent.", ...grants);
  return `${create.join("\n")}\n`;
}

/** migration/02_view_swap.sql: the table behind a UNION ALL view whose trigger sends writes to the copy. */
function viewSwapSql(p: Plan, t: SourceTable): string {
  const { info, N, OLD, FN } = p;
  const { T, rel, colList, allCols } = p.naming;
  const k = ident(p.key.name);
  const h = ident(p.H);
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
  swap.push(...followViews(t));
  return `${swap.join("\n")}\n`;
}

/** migration/03_finish.sql: the view goes and the copy takes the name. */
function finishSql(p: Plan, t: SourceTable): string {
  const { key, N, FN } = p;
  const { T, rel } = p.naming;
  const finish: string[] = [
    "-- Drop the view and give the partitioned table the name: the old table is empty (table_empty proves it)",
    "-- and stays, renamed, until someone drops it.",
    // The views over the table read the UNION view now; it cannot be dropped under them.
    ...followViews(t, N),
    "",
    `DROP VIEW ${rel(T)};`,
    `DROP FUNCTION ${rel(FN)}();`,
    `ALTER TABLE ${rel(N)} RENAME TO ${ident(T)};`,
    // After the rename: the guard's lookup names the relation that keeps the table's name.
    ...uniquenessGuard(p.info, p.H, T, widenedKeys(p.info, p.H)).sql,
  ];
  if (key.sequence && !key.identity)
    finish.push(
      "-- The sequence must outlive the old table when it is dropped one day.",
      `ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${ident(key.name)};`,
    );
  return `${finish.join("\n")}\n`;
}

function invariants(p: Plan): unknown[] {
  const { key, OLD } = p;
  const { T, display, allCols } = p.naming;
  const out: unknown[] = [
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
    out.push({ check: "sequence", table: display(T), column: key.name, also: [display(OLD)] });
  // The copy is renamed to the table at the end: the keys and the dependents are judged there.
  out.push(...guardInvariants(p.info, p.H, T, { route: freshKeySql(p.info, p.H, T) }));
  return out;
}

export function viewUnion(t: SourceTable, _now: Date, opts: ScaffoldOptions = {}): Scaffold {
  const info = t.info;
  plainTable(info, "view-union");
  const key = integerKey(info, "view-union", "moves the rows in batches by an integer key");
  plainUniques(info);
  noIncomingForeignKeys(
    info,
    "view-union",
    "deletes every row from the old table, and a foreign key cannot point at the view that takes its name",
  );
  const hashed = chooseHashColumn(t, key.name);
  if (hashed instanceof InitError) throw hashed;
  fixedKey(
    opts.partitionKey,
    "view-union",
    hashed.column.name,
    "hash-partitions by the NOT NULL column with the most distinct values",
  );
  const naming = names(info);
  const { T, rel, display, colList, allCols } = naming;
  const p: Plan = {
    info,
    naming,
    key,
    H: hashed.column.name,
    distinct: hashed.distinct,
    N: name63(`${T}_partitioned`),
    OLD: name63(`${T}_old`),
    FN: name63(`${T}_move_to_partitioned`),
  };
  const k = ident(key.name);
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
              source: display(p.OLD),
              target: display(p.N),
              key: key.name,
              batch: 2000,
              workers: 4,
              sql:
                `WITH moved AS (DELETE FROM ${rel(p.OLD)} WHERE ${k} >= :lo AND ${k} < :hi RETURNING *) ` +
                `INSERT INTO ${rel(p.N)} (${colList(allCols)}) SELECT ${colList(allCols)} FROM moved`,
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
    invariants: invariants(p),
    files: {
      "migration/01_create_partitioned.sql": createSql(p),
      "migration/02_view_swap.sql": viewSwapSql(p, t),
      "migration/03_finish.sql": finishSql(p, t),
    },
  };
}
