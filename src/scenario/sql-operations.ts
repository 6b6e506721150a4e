/**
 * What a statement does, read from its parse tree: the operations a budget names when it says how to do the
 * same thing without blocking the application (CREATE INDEX → CONCURRENTLY, ADD FOREIGN KEY → NOT VALID then
 * VALIDATE). Pure; the lock tracer's evidence decides whether something failed, this only picks the remedy.
 */

/** Operations a remediation text exists for; anything else is not named. */
export const SQL_OPERATIONS = [
  "create_index",
  "create_index_concurrently",
  "reindex",
  "reindex_concurrently",
  "add_foreign_key",
  "add_foreign_key_not_valid",
  "add_check",
  "add_check_not_valid",
  "add_unique",
  "add_unique_using_index",
  "validate_constraint",
  "attach_partition",
  "set_not_null",
  "add_column",
  "alter_column_type",
  "vacuum_full",
  "cluster",
] as const;
export type SqlOperation = (typeof SQL_OPERATIONS)[number];

type Node = Record<string, unknown>;

const isObj = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

function constraintOps(c: Node): SqlOperation[] {
  const notValid = c.skip_validation === true;
  switch (c.contype) {
    case "CONSTR_FOREIGN":
      return [notValid ? "add_foreign_key_not_valid" : "add_foreign_key"];
    case "CONSTR_CHECK":
      return [notValid ? "add_check_not_valid" : "add_check"];
    case "CONSTR_PRIMARY":
    case "CONSTR_UNIQUE":
    case "CONSTR_EXCLUSION":
      return [typeof c.indexname === "string" ? "add_unique_using_index" : "add_unique"];
    default:
      return [];
  }
}

function alterTableOps(cmd: Node): SqlOperation[] {
  const def = isObj(cmd.def) ? cmd.def : {};
  switch (cmd.subtype) {
    case "AT_AddConstraint":
      return isObj(def.Constraint) ? constraintOps(def.Constraint) : [];
    case "AT_AddColumn": {
      const col = isObj(def.ColumnDef) ? def.ColumnDef : {};
      const cons = Array.isArray(col.constraints) ? col.constraints : [];
      // A column added with an inline REFERENCES or CHECK validates it against every row at once.
      const inline = cons.flatMap((c) =>
        isObj(c) && isObj(c.Constraint) ? constraintOps(c.Constraint) : [],
      );
      return ["add_column", ...inline];
    }
    case "AT_AttachPartition":
      return ["attach_partition"];
    case "AT_SetNotNull":
      return ["set_not_null"];
    case "AT_AlterColumnType":
      return ["alter_column_type"];
    case "AT_ValidateConstraint":
      return ["validate_constraint"];
    default:
      return [];
  }
}

const hasOption = (node: Node, key: string, name: string): boolean =>
  Array.isArray(node[key]) &&
  (node[key] as unknown[]).some((o) => isObj(o) && isObj(o.DefElem) && o.DefElem.defname === name);

/** The operations of one parsed statement (libpg-query's node for it), in the order written, deduplicated. */
export function statementOperations(stmt: Node): SqlOperation[] {
  const [kind] = Object.keys(stmt);
  const node = isObj(stmt[kind ?? ""]) ? (stmt[kind ?? ""] as Node) : {};
  let ops: SqlOperation[] = [];
  if (kind === "IndexStmt") ops = [node.concurrent === true ? "create_index_concurrently" : "create_index"];
  else if (kind === "ReindexStmt")
    ops = [hasOption(node, "params", "concurrently") ? "reindex_concurrently" : "reindex"];
  else if (kind === "AlterTableStmt" && Array.isArray(node.cmds))
    ops = node.cmds.flatMap((c) =>
      isObj(c) && isObj(c.AlterTableCmd) ? alterTableOps(c.AlterTableCmd) : [],
    );
  else if (kind === "VacuumStmt" && hasOption(node, "options", "full")) ops = ["vacuum_full"];
  else if (kind === "ClusterStmt") ops = ["cluster"];
  return [...new Set(ops)];
}
