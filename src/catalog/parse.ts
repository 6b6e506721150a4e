/** Parsing of text PostgreSQL prints, kept apart from the introspection so checks can use it without a driver. */
import type { QualifiedName } from "./types.ts";

/**
 * Splits a comma-separated list of SQL expressions at top level (not inside parentheses, brackets or quotes):
 * pg_get_expr() prints a partition key's expressions as one such list.
 */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) {
        // A doubled quote is an escaped quote inside the literal/identifier.
        if (text[i + 1] === quote) i++;
        else quote = null;
      }
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(" || ch === "[") depth++;
    else if (ch === ")" || ch === "]") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last) parts.push(last);
  return parts;
}

/** Parses an identifier chain as PostgreSQL prints it ("ledger_id_seq", "app.\"My Seq\"") into its parts. */
export function parseIdentifierChain(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let name = "";
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          name += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else name += text[i++];
      }
      parts.push(name);
    } else {
      const dot = text.indexOf(".", i);
      const end = dot < 0 ? text.length : dot;
      // Unquoted identifiers are folded to lower case by the parser.
      parts.push(text.slice(i, end).toLowerCase());
      i = end;
    }
    if (text[i] === ".") i++;
  }
  return parts;
}

/**
 * The sequence a DEFAULT's nextval('…') names, as "schema.name" (unqualified: public). A fallback for
 * defaults whose dependency PostgreSQL did not record (nextval('x'::text) resolves the name at run time).
 */
export function sequenceFromDefault(defaultExpr: string | null): QualifiedName | null {
  if (!defaultExpr) return null;
  const m = /nextval\('((?:[^']|'')+)'(?:::(?:regclass|text))?\)/.exec(defaultExpr);
  if (!m) return null;
  const parts = parseIdentifierChain(m[1]!.replace(/''/g, "'"));
  if (parts.length === 1) return `public.${parts[0]}`;
  if (parts.length === 2) return `${parts[0]}.${parts[1]}`;
  return null;
}
