/**
 * Builders for hand-made CatalogSnapshots: the checks' evaluate() is pure over snapshots, so unit tests (and
 * anything that wants to reason about a catalog without PostgreSQL) describe one here in a few lines. Every
 * field defaults to what PostgreSQL would report for the plain case (a valid btree index, an enabled row
 * trigger, no RLS…); oids are assigned from a counter.
 */
import {
  type CatalogSnapshot,
  type ColumnInfo,
  type ConstraintInfo,
  type ForeignKeyInfo,
  type IndexInfo,
  type IndexKey,
  type PolicyInfo,
  relationKey,
  type SequenceInfo,
  type TableInfo,
  type TriggerInfo,
} from "../../src/catalog/types.ts";

let nextOid = 100_000;
const oid = () => nextOid++;

export function col(name: string, type = "bigint", opts: Partial<ColumnInfo> = {}): ColumnInfo {
  return {
    name,
    num: 0,
    type,
    notNull: false,
    default: null,
    identity: null,
    generated: null,
    sequence: null,
    ...opts,
  };
}

/** An index key: a column name, or `{ expression }`, plus options. */
export function key(k: string | { expression: string }, opts: Partial<IndexKey> = {}): IndexKey {
  return {
    column: typeof k === "string" ? k : null,
    expression: typeof k === "string" ? null : k.expression,
    opclass: "int8_ops",
    opclassIsDefault: true,
    collation: null,
    desc: false,
    nullsFirst: false,
    ...opts,
  };
}

export function idx(name: string, keys: Array<string | IndexKey>, opts: Partial<IndexInfo> = {}): IndexInfo {
  const ks = keys.map((k) => (typeof k === "string" ? key(k) : k));
  const method = opts.method ?? "btree";
  const cols = ks.map((k) => `${k.column ?? k.expression}${k.desc ? " DESC" : ""}`).join(", ");
  return {
    name,
    oid: oid(),
    method,
    keys: ks,
    include: [],
    predicate: null,
    unique: false,
    primary: false,
    nullsNotDistinct: false,
    valid: true,
    ready: true,
    partitioned: false,
    parentIndexOid: null,
    parentIndex: null,
    constraint: null,
    definition: `CREATE ${opts.unique || opts.primary ? "UNIQUE " : ""}INDEX ${name} ON t USING ${method} (${cols})${opts.predicate ? ` WHERE (${opts.predicate})` : ""}`,
    ...opts,
  };
}

export function con(
  name: string,
  type: ConstraintInfo["type"],
  definition: string,
  columns: string[],
  opts: Partial<ConstraintInfo> = {},
): ConstraintInfo {
  return {
    name,
    oid: oid(),
    type,
    definition,
    validated: true,
    columns,
    index: null,
    parentOid: null,
    local: true,
    ...opts,
  };
}

export function trg(name: string, opts: Partial<TriggerInfo> = {}): TriggerInfo {
  return {
    name,
    oid: oid(),
    timing: "BEFORE",
    events: ["INSERT"],
    level: "row",
    function: "public.stamp",
    enabled: "O",
    internal: false,
    parentTriggerOid: null,
    definition: `CREATE TRIGGER ${name} …`,
    ...opts,
  };
}

export function policy(name: string, opts: Partial<PolicyInfo> = {}): PolicyInfo {
  return {
    name,
    command: "SELECT",
    permissive: true,
    roles: ["app_rw"],
    using: "(account_id > 0)",
    check: null,
    ...opts,
  };
}

export function fk(
  name: string,
  from: string,
  fromColumns: string[],
  to: string,
  toColumns: string[],
  opts: Partial<ForeignKeyInfo> = {},
): ForeignKeyInfo {
  return {
    name,
    oid: oid(),
    from: relationKey(from),
    fromColumns,
    to: relationKey(to),
    toColumns,
    onUpdate: "no action",
    onDelete: "no action",
    validated: true,
    parentOid: null,
    definition: `FOREIGN KEY (${fromColumns.join(", ")}) REFERENCES ${to}(${toColumns.join(", ")})`,
    ...opts,
  };
}

/**
 * A table. `partitionOf` may be given as { parent, bound } only; snapshot() links parents and partitions
 * and fills foreignKeys from the snapshot-level list.
 */
export function table(
  name: string,
  opts: Omit<Partial<TableInfo>, "partitionOf"> & {
    partitionOf?: { parent: string; bound: string; isDefault?: boolean; parentOid?: number } | null;
  } = {},
): TableInfo {
  const qualifiedName = relationKey(name);
  const dot = qualifiedName.indexOf(".");
  const { partitionOf, ...rest } = opts;
  const columns = (rest.columns ?? []).map((c, i) => ({ ...c, num: c.num || i + 1 }));
  return {
    schema: qualifiedName.slice(0, dot),
    name: qualifiedName.slice(dot + 1),
    qualifiedName,
    oid: oid(),
    relkind: rest.partitioning ? "partitioned" : "table",
    owner: "postgres",
    relfilenode: 0,
    reltuples: -1,
    indexes: [],
    constraints: [],
    triggers: [],
    grants: [{ grantee: "postgres", privileges: ["DELETE", "INSERT", "SELECT", "UPDATE"], grantable: [] }],
    rls: { enabled: false, forced: false, policies: [] },
    foreignKeys: { outgoing: [], incoming: [] },
    partitioning: null,
    ...rest,
    columns,
    partitionOf: partitionOf
      ? {
          parent: relationKey(partitionOf.parent),
          parentOid: partitionOf.parentOid ?? 0,
          bound: partitionOf.bound,
          isDefault: partitionOf.isDefault ?? partitionOf.bound === "DEFAULT",
        }
      : null,
  };
}

/** Range partitioning on `column` (partitions are filled in by snapshot()). */
export function rangeOn(...columns: string[]): TableInfo["partitioning"] {
  return {
    strategy: "range",
    key: columns.map((c) => ({ column: c, expression: null })),
    definition: `RANGE (${columns.join(", ")})`,
    partitions: [],
  };
}

export function sequence(name: string, opts: Partial<SequenceInfo> = {}): SequenceInfo {
  const qualifiedName = relationKey(name);
  const dot = qualifiedName.indexOf(".");
  return {
    schema: qualifiedName.slice(0, dot),
    name: qualifiedName.slice(dot + 1),
    qualifiedName,
    oid: oid(),
    dataType: "bigint",
    start: "1",
    increment: "1",
    min: "1",
    max: "9223372036854775807",
    cache: "1",
    cycle: false,
    lastValue: "1",
    isCalled: false,
    ownedBy: null,
    identity: false,
    ...opts,
  };
}

/** Assembles a snapshot, linking partitions to parents and foreign keys to both of their tables. */
export function snapshot(
  tables: TableInfo[],
  opts: { sequences?: SequenceInfo[]; foreignKeys?: ForeignKeyInfo[] } = {},
): CatalogSnapshot {
  const byName: Record<string, TableInfo> = {};
  const copies = tables.map((t) => ({
    ...t,
    partitioning: t.partitioning ? { ...t.partitioning, partitions: [...t.partitioning.partitions] } : null,
  }));
  for (const t of copies) byName[t.qualifiedName] = t;
  for (const t of copies) {
    if (!t.partitionOf) continue;
    const parent = byName[t.partitionOf.parent];
    if (!parent?.partitioning) continue;
    t.partitionOf = { ...t.partitionOf, parentOid: parent.oid };
    if (!parent.partitioning.partitions.some((p) => p.name === t.qualifiedName)) {
      parent.partitioning.partitions.push({
        name: t.qualifiedName,
        oid: t.oid,
        bound: t.partitionOf.bound,
        isDefault: t.partitionOf.isDefault,
      });
    }
  }
  const foreignKeys = opts.foreignKeys ?? [];
  for (const t of copies) {
    t.foreignKeys = {
      outgoing: [...t.foreignKeys.outgoing, ...foreignKeys.filter((f) => f.from === t.qualifiedName)],
      incoming: [...t.foreignKeys.incoming, ...foreignKeys.filter((f) => f.to === t.qualifiedName)],
    };
  }
  const allFks = [
    ...new Set([
      ...foreignKeys,
      ...copies.flatMap((t) => [...t.foreignKeys.outgoing, ...t.foreignKeys.incoming]),
    ]),
  ];
  return {
    takenAt: "2025-01-01T00:00:00.000Z",
    serverVersion: 170000,
    schemas: [...new Set(copies.map((t) => t.schema))],
    tables: byName,
    sequences: Object.fromEntries((opts.sequences ?? []).map((s) => [s.qualifiedName, s])),
    foreignKeys: allFks,
  };
}
