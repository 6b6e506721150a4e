/**
 * Reads a CatalogSnapshot of the user schemas. It runs before and after every rehearsal, so it is a fixed
 * handful of set-based catalog queries (one per kind of object, each over every table at once), never a
 * query per table.
 *
 * Consistency: PostgreSQL reads the catalogs with a fresh catalog snapshot per statement, so run this inside
 * one REPEATABLE READ transaction on a single connection if DDL may run concurrently; the rehearsal takes its
 * snapshots while the migration is idle, where that does not matter.
 */
import type { Queryable } from "../db/sql.ts";
import { CONSTRAINTS_SQL, type ConstraintRow, decodeConstraint, decodeForeignKey } from "./constraints.ts";
import { decodeDependents, DEPENDENTS_SQL, type DependentRow } from "./dependents.ts";
import { decodeIndex, INDEXES_SQL, type IndexRow } from "./indexes.ts";
import { decodePolicy, POLICIES_SQL, type PolicyRow } from "./policies.ts";
import {
  COLUMNS_SQL,
  type ColumnRow,
  decodeColumn,
  decodeTable,
  linkPartitions,
  RELATIONS_SQL,
  type RelationRow,
  SCHEMAS_SQL,
} from "./relations.ts";
import { decodeSequence, readSequenceValues, SEQUENCES_SQL, type SequenceRow } from "./sequences.ts";
import { decodeTrigger, TRIGGERS_SQL, type TriggerRow } from "./triggers.ts";
import type { CatalogSnapshot, ForeignKeyInfo, QualifiedName, SequenceInfo, TableInfo } from "./types.ts";

export interface SnapshotOptions {
  /** Schemas to cover; default: every schema except PostgreSQL's own and rehearse's (_rehearse*). */
  schemas?: string[];
}

/** Reads the catalog of the user schemas (or `options.schemas`) into a CatalogSnapshot. */
export async function takeSnapshot(db: Queryable, options: SnapshotOptions = {}): Promise<CatalogSnapshot> {
  const head = await db.query<{ now: Date; version: string }>(
    "SELECT clock_timestamp() AS now, current_setting('server_version_num') AS version",
  );
  const schemaRows = (await db.query<{ oid: number; name: string }>(SCHEMAS_SQL, [options.schemas ?? null]))
    .rows;
  const nsOids = schemaRows.map((r) => r.oid);

  const relations = (await db.query<RelationRow>(RELATIONS_SQL, [nsOids])).rows;
  const relOids = relations.map((r) => r.oid);
  const columns = (await db.query<ColumnRow>(COLUMNS_SQL, [relOids])).rows;
  const indexes = (await db.query<IndexRow>(INDEXES_SQL, [relOids])).rows;
  const constraints = (await db.query<ConstraintRow>(CONSTRAINTS_SQL, [relOids])).rows;
  const triggers = (await db.query<TriggerRow>(TRIGGERS_SQL, [relOids])).rows;
  const policies = (await db.query<PolicyRow>(POLICIES_SQL, [relOids])).rows;
  const sequenceRows = (await db.query<SequenceRow>(SEQUENCES_SQL, [nsOids])).rows;
  const sequenceValues = await readSequenceValues(db, sequenceRows);
  const dependentRows = (await db.query<DependentRow>(DEPENDENTS_SQL, [nsOids])).rows;

  const foreignKeys = constraints.filter((c) => c.type === "f").map(decodeForeignKey);
  const tables = assembleTables(
    relations,
    { columns, indexes, constraints, triggers, policies },
    foreignKeys,
  );
  const sequences: Record<QualifiedName, SequenceInfo> = {};
  for (const s of sequenceRows)
    sequences[`${s.schema}.${s.name}`] = decodeSequence(s, sequenceValues.get(s.oid));

  return {
    takenAt: head.rows[0]!.now.toISOString(),
    serverVersion: Number(head.rows[0]!.version),
    schemas: schemaRows.map((r) => r.name),
    tables,
    sequences,
    foreignKeys,
    dependents: decodeDependents(dependentRows, foreignKeys),
  };
}

/** The rows of each kind, as the set-based queries return them (every table at once). */
interface PartRows {
  columns: ColumnRow[];
  indexes: IndexRow[];
  constraints: ConstraintRow[];
  triggers: TriggerRow[];
  policies: PolicyRow[];
}

/** Hands each relation the rows that belong to it, decoded, then links partitions to their parents. */
function assembleTables(
  relations: RelationRow[],
  rows: PartRows,
  foreignKeys: ForeignKeyInfo[],
): Record<QualifiedName, TableInfo> {
  const columnsByRel = groupBy(rows.columns, (r) => r.rel);
  const indexesByRel = groupBy(rows.indexes, (r) => r.rel);
  const triggersByRel = groupBy(rows.triggers, (r) => r.rel);
  const policiesByRel = groupBy(rows.policies, (r) => r.rel);
  const constraintsByRel = groupBy(
    rows.constraints.filter((c) => c.type !== "f"),
    (r) => r.rel,
  );
  const tables: Record<QualifiedName, TableInfo> = {};
  for (const r of relations) {
    const parts = {
      columns: (columnsByRel.get(r.oid) ?? []).map(decodeColumn),
      indexes: (indexesByRel.get(r.oid) ?? []).map(decodeIndex),
      constraints: (constraintsByRel.get(r.oid) ?? []).map(decodeConstraint),
      triggers: (triggersByRel.get(r.oid) ?? []).map(decodeTrigger),
      policies: (policiesByRel.get(r.oid) ?? []).map(decodePolicy),
    };
    const table = decodeTable(r, parts, foreignKeys);
    tables[table.qualifiedName] = table;
  }
  linkPartitions(Object.values(tables));
  return tables;
}

function groupBy<T>(rows: T[], key: (row: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}
