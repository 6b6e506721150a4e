/**
 * `rehearse init --strategy partman` (partman-sync-trigger, write-up 004): a pg_partman-managed copy kept in
 * step by a sync trigger while a resumable procedure copies the history, then a swap of names.
 */
import type { ColumnInfo } from "../../catalog/types.ts";
import { ident, literal, qualified } from "../../db/sql.ts";
import { dateValue } from "../../scenario/dates.ts";
import { renderGrants, renderRls } from "../ddl.ts";
import { isoInstant } from "../fit.ts";
import type { Scaffold, ScaffoldOptions } from "../scaffold-types.ts";
import { followViews, uniquenessGuard } from "./carry-over.ts";
import { InitError, type SourceTable } from "../source.ts";
import {
  choosePartitionKey,
  guardInvariants,
  type KeyChoice,
  widenedKeys,
  type Info,
  name63,
  names,
  nextMonthSql,
} from "../strategy-common.ts";
import { columnDefs, copiedIndexes, copiedTriggers, keyedConstraints, seqLiteral } from "./copied-ddl.ts";
import { integerKey, plainTable, plainUniques, refuseIf, noIncomingForeignKeys } from "./refusals.ts";

/** Why pg_partman cannot take the table over, if it cannot; else its integer key and time column. */
function refusals(
  t: SourceTable,
  now: Date,
  opts: ScaffoldOptions,
): { key: ColumnInfo; K: string; picked: KeyChoice } {
  const info = t.info;
  plainTable(info, "partman");
  const key = integerKey(info, "partman", "copies the history in batches by an integer key");
  plainUniques(info);
  noIncomingForeignKeys(
    info,
    "partman",
    "moves the rows to a new partitioned table: they would keep pointing at the renamed old one",
  );
  const picked = choosePartitionKey(t, opts.partitionKey);
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
  return { key, K: picked.column.name, picked };
}

/** Everything the files, steps and invariants are written from. */
interface Plan {
  info: Info;
  naming: ReturnType<typeof names>;
  /** The integer key the batches are cut along, and the time column partitions are made by. */
  key: ColumnInfo;
  K: string;
  /** The partitioned copy; the table once renamed at the cutover. */
  N: string;
  OLD: string;
  /** The migration status table, the sync function and its trigger, the batch procedure. */
  STATUS: string;
  SYNC: string;
  SYNC_TRIGGER: string;
  BATCH: string;
  /** pg_partman's name for a table of the schema: 'schema.name'. */
  parentLiteral: (n: string) => string;
}

function plan(info: Info, key: ColumnInfo, K: string): Plan {
  const naming = names(info);
  const T = naming.T;
  return {
    info,
    naming,
    key,
    K,
    N: name63(`${T}_partitioned`),
    OLD: name63(`${T}_old`),
    STATUS: "partition_migration_status",
    SYNC: name63(`sync_${T}_to_partitioned`),
    SYNC_TRIGGER: name63(`sync_${T}_trigger`),
    BATCH: name63(`migrate_${T}_batch`),
    parentLiteral: (n) => literal(`${info.schema}.${n}`),
  };
}

/** migration/01_create_partitioned.sql: the copy with everything of the table's, and the status table. */
function createSql(p: Plan): string {
  const { info, K, N } = p;
  const { rel } = p.naming;
  return `${[
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
    `CREATE TABLE IF NOT EXISTS ${rel(p.STATUS)} (`,
    "  id            serial PRIMARY KEY,",
    "  table_name    text NOT NULL,",
    "  first_id      bigint,",
    "  last_id       bigint,",
    "  rows_migrated integer,",
    "  started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),",
    "  completed_at  timestamptz,",
    "  error_message text",
    ");",
  ].join("\n")}\n`;
}

/** migration/02_partman_create_parent.sql: pg_partman takes the copy over, whichever major is installed. */
function createParentSql(p: Plan): string {
  const { K } = p;
  const { T, rel } = p.naming;
  const parentText = p.parentLiteral(p.N);
  return `${[
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
  ].join("\n")}\n`;
}

/** The trigger repeating every write to the table on the copy (made by the migration and the downgrade). */
function syncTrigger(p: Plan): string[] {
  const { T, rel } = p.naming;
  return [
    `CREATE TRIGGER ${ident(p.SYNC_TRIGGER)}`,
    `  AFTER INSERT OR UPDATE OR DELETE ON ${rel(T)}`,
    `  FOR EACH ROW EXECUTE FUNCTION ${rel(p.SYNC)}();`,
  ];
}

/** migration/03_sync_trigger.sql: the sync function and its trigger. */
function syncTriggerSql(p: Plan): string {
  const { key, N } = p;
  const { rel, colList, allCols } = p.naming;
  const k = ident(key.name);
  const setList = allCols
    .filter((c) => c !== key.name)
    .map((c) => `${ident(c)} = NEW.${ident(c)}`)
    .join(", ");
  return `${[
    '-- partman-sync-trigger, "Establishes sync trigger": every write to the old table from now on is repeated',
    "-- on the partitioned copy, so the batch copy only carries the rows that existed before this commits.",
    `CREATE FUNCTION ${rel(p.SYNC)}() RETURNS trigger LANGUAGE plpgsql AS $$`,
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
    ...syncTrigger(p),
  ].join("\n")}\n`;
}

/** migration/04_batch_procedure.sql: the resumable batch copy, recording each batch in the status table. */
function batchProcedureSql(p: Plan): string {
  const { N, STATUS } = p;
  const { T, rel, colList, allCols } = p.naming;
  const k = ident(p.key.name);
  const tableName = literal(T);
  return `${[
    "-- The batch migration as a procedure committing every batch and recording it, so it can be stopped and",
    "-- resumed. Rows above the highest id seen at the start were written with the sync trigger in place.",
    `CREATE PROCEDURE ${rel(p.BATCH)}(p_batch_size integer DEFAULT 10000)`,
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
  ].join("\n")}\n`;
}

/** A DO block that fails unless tables `a` and `b` hold as many rows. */
function countCheck(p: Plan, a: string, b: string): string[] {
  const { rel } = p.naming;
  return [
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
}

/** migration/06_cutover.sql: the count check, the swap of names, the sequence and pg_partman's config. */
function cutoverSql(p: Plan, t: SourceTable): string {
  const { key, N, OLD } = p;
  const { T, rel } = p.naming;
  const k = ident(key.name);
  const cut = [
    '-- partman-sync-trigger, "Postcutover", with the writers paused (add pause_writes/resume_writes steps',
    "-- around this one once the scenario has a load): the count check, the swap, the sequence fix and",
    "-- pg_partman's config, in one transaction.",
    ...countCheck(p, T, N),
  ];
  if (key.sequence)
    cut.push(
      "-- The next id is above every id in either table.",
      `SELECT setval(${seqLiteral(key)}, GREATEST(1, (SELECT coalesce(max(${k}), 0) FROM ${rel(T)}), (SELECT coalesce(max(${k}), 0) FROM ${rel(N)})));`,
    );
  cut.push(
    `LOCK TABLE ${rel(T)}, ${rel(N)} IN ACCESS EXCLUSIVE MODE;`,
    `DROP TRIGGER ${ident(p.SYNC_TRIGGER)} ON ${rel(T)};`,
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
    `UPDATE partman.part_config SET parent_table = ${p.parentLiteral(T)} WHERE parent_table = ${p.parentLiteral(N)};`,
  );
  // After the rename: the guard's lookup names the relation that keeps the table's name.
  cut.push(...uniquenessGuard(p.info, p.K, T, widenedKeys(p.info, p.K)).sql, ...followViews(t));
  return `${cut.join("\n")}\n`;
}

/** rollback/01_downgrade.sql: new rows carried back, the names swapped back, the sync trigger again. */
function downgradeSql(p: Plan, t: SourceTable): string {
  const { key, N, OLD } = p;
  const { T, rel, colList, allCols } = p.naming;
  const k = ident(key.name);
  const down = [
    "-- partman-sync-trigger's downgrade, with the writers paused: the old table takes the name again and the",
    "-- partitioned one goes back behind the sync trigger. Rows written since the cutover exist only in the",
    "-- partitioned table: carry them back first.",
    `INSERT INTO ${rel(OLD)} (${colList(allCols)})`,
    `SELECT ${allCols.map((c) => `n.${ident(c)}`).join(", ")} FROM ${rel(T)} n`,
    `WHERE n.${k} > (SELECT coalesce(max(${k}), 0) FROM ${rel(OLD)});`,
    ...countCheck(p, OLD, T),
    `LOCK TABLE ${rel(T)}, ${rel(OLD)} IN ACCESS EXCLUSIVE MODE;`,
    `ALTER TABLE ${rel(T)} RENAME TO ${ident(N)};`,
    `ALTER TABLE ${rel(OLD)} RENAME TO ${ident(T)};`,
  ];
  if (key.sequence && !key.identity)
    down.push(`ALTER SEQUENCE ${qualified(key.sequence)} OWNED BY ${rel(T)}.${k};`);
  down.push(
    `UPDATE partman.part_config SET parent_table = ${p.parentLiteral(N)} WHERE parent_table = ${p.parentLiteral(T)};`,
    ...syncTrigger(p),
    ...uniquenessGuard(p.info, p.K, T, widenedKeys(p.info, p.K)).drop,
    ...followViews(t),
  );
  return `${down.join("\n")}\n`;
}

function invariants(p: Plan): unknown[] {
  const { key, OLD } = p;
  const { T, display, allCols } = p.naming;
  const same = (check: string) => ({ check, original: display(T), target: display(T) });
  const out: unknown[] = [
    same("indexes_preserved"),
    { check: "indexes_valid", tables: [display(T)] },
    same("triggers_preserved"),
    same("constraints_preserved"),
    same("grants_preserved"),
    same("fks_preserved"),
  ];
  if (key.sequence)
    out.push({ check: "sequence", table: display(T), column: key.name, also: [display(OLD)] });
  out.push(
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
  const type = p.info.columns.find((c) => c.name === p.K)?.type ?? "timestamptz";
  out.push(...guardInvariants(p.info, p.K, T, { route: nextMonthSql(type) }));
  return out;
}

export function partman(t: SourceTable, now: Date, opts: ScaffoldOptions = {}): Scaffold {
  const { key, K, picked } = refusals(t, now, opts);
  const p = plan(t.info, key, K);
  const { T, rel, display } = p.naming;
  const locked = { transaction: true, lock_timeout: "2s", retry: { attempts: 5, backoff: "200ms" } };
  return {
    notes: [`partition key ${picked.why}`],
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
    invariants: invariants(p),
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
      "migration/01_create_partitioned.sql": createSql(p),
      "migration/02_partman_create_parent.sql": createParentSql(p),
      "migration/03_sync_trigger.sql": syncTriggerSql(p),
      "migration/04_batch_procedure.sql": batchProcedureSql(p),
      "migration/05_run_batches.sql":
        "-- The batch migration, run to the end (the sync trigger carries the writes meanwhile).\n" +
        `CALL ${rel(p.BATCH)}(10000);\nANALYZE ${rel(p.N)};\n`,
      "migration/06_cutover.sql": cutoverSql(p, t),
      "rollback/01_downgrade.sql": downgradeSql(p, t),
    },
  };
}
