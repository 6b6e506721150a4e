/** The table's definition rendered again for a copy: shared by the strategies that build one. */
import type { ColumnInfo } from "../../catalog/types.ts";
import { ident, literal, qualified } from "../../db/sql.ts";
import { InitError } from "../source.ts";
import { type Info, name63, names } from "../strategy-common.ts";

/** The sequence a column takes its values from, as a regclass literal. */
export function seqLiteral(c: ColumnInfo): string {
  return `${literal(qualified(c.sequence!))}::regclass`;
}

/** Column definitions of a copy: same types, defaults, generated expressions; `notNull` columns NOT NULL. */
export function columnDefs(
  info: Info,
  notNull: string[],
  defaults: (c: ColumnInfo) => string | null,
): string[] {
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
export function keyedConstraints(info: Info, K: string, prefix: string): string[] {
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
export function copiedIndexes(info: Info, K: string, prefix: string, target: string): string[] {
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
export function copiedTriggers(info: Info, target: string): string[] {
  return info.triggers
    .filter((tr) => !tr.internal && tr.parentTriggerOid === null)
    .map((tr) => {
      const at = tr.definition.indexOf(" ON ");
      const rest = tr.definition.slice(at + 4);
      const m = new RegExp(`^${QNAME}`).exec(rest);
      return `${tr.definition.slice(0, at)} ON ${target}${rest.slice(m ? m[0].length : 0)};`;
    });
}
