import pg from "pg";

/** Anything that can run a query: a Client, a PoolClient or a Pool. */
export type Queryable = Pick<pg.ClientBase, "query">;

/** Quotes one identifier ("my""table"). Never interpolate a name into SQL without it. */
export function ident(name: string): string {
  return pg.escapeIdentifier(name);
}

/** Quotes a possibly schema-qualified table name: public.ledger → "public"."ledger". */
export function qualified(name: string): string {
  const dot = name.indexOf(".");
  if (dot < 0) return ident(name);
  return `${ident(name.slice(0, dot))}.${ident(name.slice(dot + 1))}`;
}

/** Splits "public.ledger" into schema and name; unqualified names are in `public`. */
export function splitName(name: string): { schema: string; name: string } {
  const dot = name.indexOf(".");
  return dot < 0 ? { schema: "public", name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
}

/** Quotes a string literal. */
export function literal(value: string): string {
  return pg.escapeLiteral(value);
}
