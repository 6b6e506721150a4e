/**
 * Partition layout of a partitioned table as numbers, for checks that reason about ranges
 * (partitions_cover, the unique_across_partitions probe). Bound literals are converted by PostgreSQL itself
 * (a timestamptz bound to epoch seconds, a numeric bound to a number), in the same session that printed them,
 * so time zones and date styles cannot skew the comparison; evaluate() then stays pure arithmetic.
 */
import { splitTopLevel } from "../catalog/parse.ts";
import type { Queryable } from "../db/sql.ts";

export type BoundValue = { kind: "minvalue" } | { kind: "maxvalue" } | { kind: "value"; text: string | null };

export type ParsedBound =
  | { kind: "default" }
  | { kind: "range"; from: BoundValue[]; to: BoundValue[] }
  | { kind: "list"; values: Array<string | null> }
  | { kind: "hash"; modulus: number; remainder: number }
  | { kind: "unknown"; text: string };

/** How a key's values map to numbers: epoch seconds for time types, the value for numeric types. */
export type KeyKind = "timestamptz" | "timestamp" | "date" | "numeric" | "other";

function parseValue(item: string): BoundValue {
  const t = item.trim();
  if (/^MINVALUE$/i.test(t)) return { kind: "minvalue" };
  if (/^MAXVALUE$/i.test(t)) return { kind: "maxvalue" };
  if (/^NULL$/i.test(t)) return { kind: "value", text: null };
  // A quoted literal, possibly followed by a cast: 'a''b'::text → a'b.
  const m = /^'((?:[^']|'')*)'(?:::.+)?$/s.exec(t);
  if (m) return { kind: "value", text: m[1]!.replace(/''/g, "'") };
  // Bare constants (numbers, true/false), possibly parenthesised or cast.
  return { kind: "value", text: t.replace(/^\((.*)\)$/s, "$1").replace(/::[\w\s]+$/, "") };
}

/** Everything between the parentheses that open at `open` and their matching close. */
function parenthesised(text: string, open: number): string {
  let depth = 0;
  let quote = false;
  for (let i = open; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === "'") {
        if (text[i + 1] === "'") i++;
        else quote = false;
      }
    } else if (ch === "'") quote = true;
    else if (ch === "(") depth++;
    else if (ch === ")" && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/** Parses pg_get_expr(relpartbound) output. */
export function parseBound(text: string): ParsedBound {
  const t = text.trim();
  if (t === "DEFAULT") return { kind: "default" };
  const hash = /^FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)$/.exec(t);
  if (hash) return { kind: "hash", modulus: Number(hash[1]), remainder: Number(hash[2]) };
  if (t.startsWith("FOR VALUES IN (")) {
    const inner = parenthesised(t, t.indexOf("("));
    return {
      kind: "list",
      values: splitTopLevel(inner).map((v) => {
        const p = parseValue(v);
        return p.kind === "value" ? p.text : null;
      }),
    };
  }
  if (t.startsWith("FOR VALUES FROM (")) {
    const fromOpen = t.indexOf("(");
    const from = parenthesised(t, fromOpen);
    const rest = t.slice(fromOpen + from.length + 2);
    const toOpen = rest.indexOf("(");
    if (toOpen >= 0) {
      const to = parenthesised(rest, toOpen);
      return {
        kind: "range",
        from: splitTopLevel(from).map(parseValue),
        to: splitTopLevel(to).map(parseValue),
      };
    }
  }
  return { kind: "unknown", text: t };
}

/** The KeyKind of a format_type() name. */
export function keyKind(type: string | null): KeyKind {
  if (!type) return "other";
  if (/^timestamp(\(\d+\))? with time zone$/.test(type)) return "timestamptz";
  if (/^timestamp(\(\d+\))? without time zone$/.test(type)) return "timestamp";
  if (type === "date") return "date";
  if (/^(smallint|integer|bigint|real|double precision|numeric(\(.*\))?)$/.test(type)) return "numeric";
  return "other";
}

/** SQL turning a text value of the key's type into a float8 (epoch seconds for time kinds). */
export function toNumberSql(kind: KeyKind, textExpr: string): string | null {
  switch (kind) {
    case "timestamptz":
      return `extract(epoch FROM (${textExpr})::timestamptz)::float8`;
    case "timestamp":
      return `extract(epoch FROM (${textExpr})::timestamp)::float8`;
    case "date":
      return `extract(epoch FROM (${textExpr})::date)::float8`;
    case "numeric":
      return `(${textExpr})::numeric::float8`;
    default:
      return null;
  }
}

/** SQL for "now" in the key's own type (the rows' clock: local time for timestamp without time zone). */
export function nowSql(kind: KeyKind): string {
  return kind === "timestamptz" ? "now()" : kind === "timestamp" ? "localtimestamp" : "current_date";
}

export interface PartitionEntry {
  name: string;
  oid: number;
  bound: string;
  /** relkind of the partition: "r" plain, "p" itself partitioned. */
  relkind: string;
  /** Range partitions with a single supported key: [from, to) as numbers (MINVALUE −∞, MAXVALUE +∞). */
  from: number | null;
  to: number | null;
}

export interface PartitionLayout {
  strategy: "range" | "list" | "hash";
  /** Number of partition key parts. */
  keyParts: number;
  /** The first key part's column (null: an expression). */
  keyColumn: string | null;
  /** Every key part's column (null for expression parts) and its format_type(). */
  keyColumns: Array<{ column: string | null; type: string | null }>;
  /** format_type() of that column. */
  keyType: string | null;
  keyKind: KeyKind;
  defaultPartition: string | null;
  partitions: PartitionEntry[];
}

/** Reads a partitioned table's layout (null when `oid` is not partitioned). */
export async function readPartitionLayout(db: Queryable, oid: number): Promise<PartitionLayout | null> {
  const head = await db.query<{
    strategy: string;
    nparts: number;
    keys: Array<{ column: string | null; type: string | null }>;
  }>(
    `SELECT pt.partstrat::text AS strategy, pt.partnatts::int AS nparts,
            (SELECT json_agg(json_build_object('column', a.attname::text,
                                               'type', format_type(a.atttypid, a.atttypmod)) ORDER BY k.ord)
             FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY k(attnum, ord)
             LEFT JOIN pg_attribute a ON k.attnum <> 0 AND a.attrelid = pt.partrelid AND a.attnum = k.attnum) AS keys
     FROM pg_partitioned_table pt
     WHERE pt.partrelid = $1`,
    [oid],
  );
  const row = head.rows[0];
  if (!row) return null;
  const h = { ...row, key_column: row.keys[0]?.column ?? null, key_type: row.keys[0]?.type ?? null };
  const strategy = h.strategy === "r" ? "range" : h.strategy === "l" ? "list" : "hash";
  const parts = await db.query<{ oid: number; name: string; bound: string; relkind: string }>(
    `SELECT c.oid, n.nspname::text || '.' || c.relname::text AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
            c.relkind::text AS relkind
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.inhparent = $1
     ORDER BY c.relname`,
    [oid],
  );
  const kind = h.key_column ? keyKind(h.key_type) : "other";
  const entries: PartitionEntry[] = parts.rows.map((p) => ({ ...p, from: null, to: null }));

  const conv = toNumberSql(kind, "v");
  if (strategy === "range" && h.nparts === 1 && conv) {
    // Collect every literal bound, convert them in one statement, then put the numbers back.
    const texts: string[] = [];
    const slots: Array<{ entry: PartitionEntry; side: "from" | "to"; index: number | null; fixed?: number }> =
      [];
    for (const e of entries) {
      const b = parseBound(e.bound);
      if (b.kind !== "range") continue;
      for (const side of ["from", "to"] as const) {
        const v = b[side][0];
        if (!v) continue;
        if (v.kind === "minvalue") slots.push({ entry: e, side, index: null, fixed: -Infinity });
        else if (v.kind === "maxvalue") slots.push({ entry: e, side, index: null, fixed: Infinity });
        else if (v.text !== null) {
          slots.push({ entry: e, side, index: texts.length });
          texts.push(v.text);
        }
      }
    }
    const converted =
      texts.length > 0
        ? (
            await db.query<{ n: number }>(
              `SELECT ${conv} AS n FROM unnest($1::text[]) WITH ORDINALITY u(v, i) ORDER BY i`,
              [texts],
            )
          ).rows.map((r) => Number(r.n))
        : [];
    for (const s of slots) s.entry[s.side] = s.index === null ? s.fixed! : converted[s.index]!;
  }
  return {
    strategy,
    keyParts: h.nparts,
    keyColumn: h.key_column,
    keyColumns: row.keys,
    keyType: h.key_type,
    keyKind: kind,
    defaultPartition: entries.find((e) => e.bound === "DEFAULT")?.name ?? null,
    partitions: entries,
  };
}

/** A number on the key's scale as people read it: ISO time for time keys, MINVALUE/MAXVALUE for infinities. */
export function formatKeyValue(kind: KeyKind, n: number): string {
  if (n === -Infinity) return "MINVALUE";
  if (n === Infinity) return "MAXVALUE";
  if (kind === "timestamptz" || kind === "timestamp") {
    const iso = new Date(n * 1000).toISOString();
    return kind === "timestamp" ? iso.replace("Z", "") : iso;
  }
  if (kind === "date") return new Date(n * 1000).toISOString().slice(0, 10);
  return String(n);
}
