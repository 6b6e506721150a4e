/**
 * A typed picture of the user schemas' catalog, taken before and after every rehearsal and compared by the
 * invariant checks. It is plain data (JSON-serialisable: 64-bit values are decimal strings) so snapshots can
 * be written next to a report and hand-built in unit tests.
 *
 * Relations are keyed by "schema.name" (unquoted, exactly as stored in pg_class), the same key
 * `relationKey()` makes from a scenario's table name.
 */

/** "schema.name" of a table, view or sequence. */
export type QualifiedName = string;

export type RelKind = "table" | "partitioned" | "view";

export interface ColumnInfo {
  name: string;
  /** attnum: position in the table (dropped columns leave holes). */
  num: number;
  /** format_type(): "bigint", "numeric(12,2)", "timestamp with time zone"… */
  type: string;
  notNull: boolean;
  /** The DEFAULT expression as pg_get_expr() prints it, e.g. "nextval('ledger_id_seq'::regclass)". */
  default: string | null;
  identity: "always" | "by default" | null;
  generated: "stored" | null;
  /**
   * The sequence this column takes its values from: the one its DEFAULT calls nextval() on (found through
   * pg_depend, so it survives renames) or its identity sequence. null when it uses none.
   */
  sequence: QualifiedName | null;
}

export interface IndexKey {
  /** The column, for a plain column key; null for an expression. */
  column: string | null;
  /** The expression as pg_get_indexdef(oid, n, true) prints it, for an expression key. */
  expression: string | null;
  /** Operator class name (null for INCLUDE columns, which have none). */
  opclass: string | null;
  opclassIsDefault: boolean;
  /** Collation name when the key is collatable ("default", "C"…), else null. */
  collation: string | null;
  desc: boolean;
  nullsFirst: boolean;
}

export interface IndexInfo {
  name: string;
  oid: number;
  /** Access method: btree, hash, gin, gist, brin… */
  method: string;
  /** Key columns/expressions in index order (INCLUDE columns are in `include`). */
  keys: IndexKey[];
  /** INCLUDE (…) columns. */
  include: string[];
  /** WHERE predicate, or null. */
  predicate: string | null;
  unique: boolean;
  primary: boolean;
  /** NULLS NOT DISTINCT. */
  nullsNotDistinct: boolean;
  valid: boolean;
  ready: boolean;
  /** true for the index of a partitioned table (relkind 'I'): it has no storage of its own. */
  partitioned: boolean;
  /** The partitioned index this one is attached to (it is then a partition of that index). */
  parentIndexOid: number | null;
  parentIndex: string | null;
  /** The constraint it implements (PRIMARY KEY / UNIQUE / EXCLUDE), if any. */
  constraint: string | null;
  /** pg_get_indexdef(): the full CREATE INDEX statement. */
  definition: string;
}

/** p primary key, u unique, c check, f foreign key, x exclusion, n not null (PostgreSQL 18+), t constraint trigger. */
export type ConstraintType = "p" | "u" | "c" | "f" | "x" | "n" | "t";

export interface ConstraintInfo {
  name: string;
  oid: number;
  type: ConstraintType;
  /** pg_get_constraintdef(oid, true); ends in " NOT VALID" when not validated. */
  definition: string;
  validated: boolean;
  /** conkey as column names (for CHECK: the columns the expression references). */
  columns: string[];
  /** The index enforcing it (p/u/x/f), if any. */
  index: string | null;
  /** The constraint on the parent table this one was cloned from (constraints of partitions). */
  parentOid: number | null;
  /** Declared on this table itself (false: only inherited from a parent). */
  local: boolean;
}

export type FkAction = "no action" | "restrict" | "cascade" | "set null" | "set default";

export interface ForeignKeyInfo {
  name: string;
  oid: number;
  /** Referencing table. */
  from: QualifiedName;
  fromColumns: string[];
  /** Referenced table. */
  to: QualifiedName;
  toColumns: string[];
  onUpdate: FkAction;
  onDelete: FkAction;
  validated: boolean;
  /** Set on the copies PostgreSQL makes for partitions; the user-declared FK has null. */
  parentOid: number | null;
  definition: string;
}

export type TriggerEvent = "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE";

export interface TriggerInfo {
  name: string;
  oid: number;
  timing: "BEFORE" | "AFTER" | "INSTEAD OF";
  /** In this fixed order: INSERT, UPDATE, DELETE, TRUNCATE. */
  events: TriggerEvent[];
  level: "row" | "statement";
  /** The trigger function, "schema.name". */
  function: string;
  /** O origin/local (enabled), D disabled, R replica only, A always. */
  enabled: "O" | "D" | "R" | "A";
  /** Made by PostgreSQL itself (foreign key enforcement): not the user's trigger. */
  internal: boolean;
  /** The partitioned table's trigger this is the per-partition clone of, or null. */
  parentTriggerOid: number | null;
  /** pg_get_triggerdef(oid, true). */
  definition: string;
}

export interface GrantInfo {
  /** Role name, or "PUBLIC". */
  grantee: string;
  /** Sorted: DELETE, INSERT, MAINTAIN, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE. */
  privileges: string[];
  /** The subset held WITH GRANT OPTION. */
  grantable: string[];
}

export interface PolicyInfo {
  name: string;
  command: "ALL" | "SELECT" | "INSERT" | "UPDATE" | "DELETE";
  permissive: boolean;
  /** Role names, sorted; "public" for PUBLIC. */
  roles: string[];
  using: string | null;
  check: string | null;
}

export interface PartitionKeyPart {
  column: string | null;
  expression: string | null;
}

export interface PartitionRef {
  name: QualifiedName;
  oid: number;
  /** pg_get_expr(relpartbound): "FOR VALUES FROM (…) TO (…)", "FOR VALUES IN (…)", "FOR VALUES WITH (…)", "DEFAULT". */
  bound: string;
  isDefault: boolean;
}

export interface PartitioningInfo {
  strategy: "range" | "list" | "hash";
  key: PartitionKeyPart[];
  /** pg_get_partkeydef(): "RANGE (created_at)". */
  definition: string;
  /** Direct partitions, sorted by name (a partition that is itself partitioned has its own `partitioning`). */
  partitions: PartitionRef[];
}

export interface TableInfo {
  schema: string;
  name: string;
  /** "schema.name", the key of `CatalogSnapshot.tables`. */
  qualifiedName: QualifiedName;
  oid: number;
  relkind: RelKind;
  owner: string;
  /** Changes when the table is rewritten (a rewrite under ACCESS EXCLUSIVE is what budgets look for). */
  relfilenode: number;
  /** Planner estimate of the row count (-1: never analysed). */
  reltuples: number;
  columns: ColumnInfo[];
  indexes: IndexInfo[];
  /** Every pg_constraint row of the table except foreign keys (those are in `foreignKeys`). */
  constraints: ConstraintInfo[];
  triggers: TriggerInfo[];
  /** The effective ACL (relacl, or the owner's default privileges when relacl is NULL). */
  grants: GrantInfo[];
  rls: { enabled: boolean; forced: boolean; policies: PolicyInfo[] };
  foreignKeys: { outgoing: ForeignKeyInfo[]; incoming: ForeignKeyInfo[] };
  /** Set when the table is partitioned. */
  partitioning: PartitioningInfo | null;
  /** Set when the table is a partition. */
  partitionOf: { parent: QualifiedName; parentOid: number; bound: string; isDefault: boolean } | null;
}

export interface SequenceInfo {
  schema: string;
  name: string;
  qualifiedName: QualifiedName;
  oid: number;
  /** "bigint", "integer", "smallint". */
  dataType: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /**
   * The sequence's last_value and is_called (decimal strings keep 64-bit values exact). null when the role
   * taking the snapshot may not read the sequence.
   */
  lastValue: string | null;
  isCalled: boolean | null;
  /** The column it belongs to: OWNED BY for serial columns, the column for identity sequences. */
  ownedBy: { table: QualifiedName; column: string } | null;
  /** An identity column's internal sequence. */
  identity: boolean;
}

export type DependentKind =
  "view" | "materialized view" | "foreign key" | "trigger" | "policy" | "publication";

/**
 * An object outside a table that names it, so a migration that renames or replaces the table must carry it
 * over: a view or materialized view reading it, a foreign key from another table, a trigger on another
 * relation declared FROM it, a policy of another table whose expressions read it, a publication listing it.
 * Each follows the table's OID, not its name: after RENAME it reads the renamed table.
 */
export interface DependentInfo {
  kind: DependentKind;
  /** Views and materialized views: "schema.name"; the others: their own name (on `on` when they have one). */
  name: string;
  /** The relation a foreign key, trigger or policy is declared on; null for views and publications. */
  on: QualifiedName | null;
  oid: number;
  /** The relations it references (sorted), as far as the snapshot's schemas cover. */
  references: QualifiedName[];
  /** Views and materialized views: the columns the query reads, by relation (from pg_depend). */
  readsColumns?: Record<QualifiedName, string[]>;
  /** Views and materialized views: pg_get_viewdef(); foreign keys: pg_get_constraintdef(). */
  definition?: string;
}

export interface CatalogSnapshot {
  /** ISO timestamp (server clock) of the snapshot. */
  takenAt: string;
  /** server_version_num, e.g. 170004. */
  serverVersion: number;
  /** The schemas the snapshot covers. */
  schemas: string[];
  tables: Record<QualifiedName, TableInfo>;
  sequences: Record<QualifiedName, SequenceInfo>;
  /** Every foreign key touching a snapshotted table, in either direction (also on each TableInfo). */
  foreignKeys: ForeignKeyInfo[];
  /**
   * What names each relation from outside it (views, foreign keys from other tables…), sorted by kind and
   * name. Absent in snapshots built by hand or written by older versions.
   */
  dependents?: DependentInfo[];
}

/** The snapshot key of a scenario's table name: "ledger" → "public.ledger" (unqualified means public). */
export function relationKey(name: string): QualifiedName {
  const dot = name.indexOf(".");
  return dot < 0 ? `public.${name}` : name;
}
