/**
 * Statement templates: SQL with `:name` parameters (`SELECT ledger_insert(:account_id, -:amount, :kind,
 * :new_uuid)`), translated once per statement into PostgreSQL's positional `$n` form so the statement can be
 * prepared once per connection and only bound per operation.
 *
 * The scan is a small SQL lexer, not a regex, because a `:` means a parameter only outside quoted text and
 * comments, and `::` is a cast: `'10:30'`, `"a:b"`, `$$ x := 1 $$`, `-- note: x` and `x::int` must all be left
 * alone. A name used twice maps to the same `$n`. Positional `$1` parameters are refused: mixing them with the
 * translated ones would silently bind the wrong values.
 */

/** A statement ready to prepare: PostgreSQL text with `$1…$n`, and the parameter name behind each `$i`. */
export interface ParsedTemplate {
  text: string;
  /** names[i] is the parameter bound to `$${i + 1}`. */
  names: string[];
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

const isIdentStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isIdentChar = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
const isParamStart = (c: string) => /[A-Za-z_]/.test(c);
const isParamChar = (c: string) => /[A-Za-z0-9_]/.test(c);

/** Translates `:name` parameters to `$n`. Throws TemplateError for unterminated quotes or `$1` parameters. */
export function parseTemplate(sql: string): ParsedTemplate {
  const names: string[] = [];
  const index = new Map<string, number>();
  let out = "";
  let i = 0;
  const n = sql.length;
  // Copies sql[i..end) to the output verbatim and moves past it.
  const copyTo = (end: number) => {
    out += sql.slice(i, end);
    i = end;
  };

  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1] ?? "";
    const prev = i > 0 ? sql[i - 1]! : "";

    if (c === "-" && next === "-") {
      const eol = sql.indexOf("\n", i);
      copyTo(eol < 0 ? n : eol + 1);
    } else if (c === "/" && next === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (sql[j] === "/" && sql[j + 1] === "*") {
          depth++;
          j += 2;
        } else if (sql[j] === "*" && sql[j + 1] === "/") {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) throw new TemplateError("unterminated /* comment */ in the statement");
      copyTo(j);
    } else if (c === "'") {
      // E'…' strings take backslash escapes; every string takes '' for a quote.
      const escapes = (prev === "E" || prev === "e") && !isIdentChar(sql[i - 2] ?? "");
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new TemplateError("unterminated quoted string in the statement");
        const d = sql[j]!;
        if (escapes && d === "\\") j += 2;
        else if (d === "'" && sql[j + 1] === "'") j += 2;
        else if (d === "'") break;
        else j++;
      }
      copyTo(j + 1);
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= n) throw new TemplateError('unterminated quoted identifier (") in the statement');
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j++;
      }
      copyTo(j + 1);
    } else if (c === "$" && !isIdentChar(prev)) {
      if (/[0-9]/.test(next))
        throw new TemplateError(
          `positional parameter $${next}… in the statement: use :name parameters (history columns, :new_uuid, :now, :run_id, :op)`,
        );
      // Dollar quoting: $$…$$ or $tag$…$tag$.
      const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (!m) {
        copyTo(i + 1);
        continue;
      }
      const tag = m[0];
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) throw new TemplateError(`unterminated dollar-quoted string ${tag} in the statement`);
      copyTo(close + tag.length);
    } else if (c === ":" && next === ":") {
      // A cast: copy both colons so the second is never read as a parameter.
      copyTo(i + 2);
    } else if (c === ":" && isParamStart(next) && prev !== ":") {
      let j = i + 1;
      while (j < n && isParamChar(sql[j]!)) j++;
      const name = sql.slice(i + 1, j);
      let pos = index.get(name);
      if (pos === undefined) {
        names.push(name);
        pos = names.length;
        index.set(name, pos);
      }
      out += `$${pos}`;
      i = j;
    } else if (isIdentStart(c)) {
      // Whole identifiers/keywords at once: keeps E'…' detection simple and the loop fast.
      let j = i + 1;
      while (j < n && isIdentChar(sql[j]!)) j++;
      copyTo(j);
    } else {
      copyTo(i + 1);
    }
  }
  return { text: out, names };
}

/** The values a template can use besides history columns, generated per operation. */
export const GENERATED_PARAMS = ["new_uuid", "now", "run_id", "op"] as const;
export type GeneratedParam = (typeof GENERATED_PARAMS)[number];

/** Where one `$i` takes its value from. */
export type ParamSource = { kind: "column"; index: number } | { kind: "generated"; name: GeneratedParam };

/**
 * Resolves a template's parameter names against the history columns (name → index in a source row) and the
 * generated values. An unknown name is an error listing what is available; a name that is both a history
 * column and a generated value is refused as ambiguous rather than silently picking one.
 */
export function resolveParams(names: readonly string[], columns: ReadonlyMap<string, number>): ParamSource[] {
  return names.map((name) => {
    const gen = (GENERATED_PARAMS as readonly string[]).includes(name);
    const col = columns.get(name);
    if (gen && col !== undefined)
      throw new TemplateError(
        `:${name} is both a history column and a generated value; rename the column in source.columns`,
      );
    if (gen) return { kind: "generated", name: name as GeneratedParam };
    if (col !== undefined) return { kind: "column", index: col };
    throw new TemplateError(
      `unknown parameter :${name}; available: ${[...columns.keys(), ...GENERATED_PARAMS].map((x) => `:${x}`).join(", ")}`,
    );
  });
}
