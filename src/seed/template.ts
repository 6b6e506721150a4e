/**
 * `text` and `json` generator templates. Placeholders:
 *
 * - `{n}` the row number (1-based, the same as a default `serial`)
 * - `{rand:MIN:MAX}` a uniform random integer in [MIN, MAX]
 * - `{uuid}` a random version-4-shaped UUID
 * - `{choice:a|b|c}` one of the options, equally likely
 * - `{word}` a random lowercase English word
 *
 * Any other `{name}` / `{name:…}` is an error (a typo should not silently become literal text); braces that do
 * not look like a placeholder, such as JSON's own `{"a": 1}`, are literal.
 *
 * All the escaping is decided at compile time: literals and choice options are escaped once, and the other
 * placeholders only ever produce characters that need no escaping, so rendering a row is concatenation only.
 */
import { escapeCopyText } from "./copy-text.ts";
import { below, type Rng, uuidV4 } from "./random.ts";
import { WORDS } from "./words.ts";

/** A template that cannot be compiled; the message says which placeholder and why. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

type Piece = (rng: Rng, row: number) => string;

interface Placeholder {
  name: "n" | "rand" | "uuid" | "choice" | "word";
  start: number;
  end: number;
  /** json mode: the placeholder sits inside a JSON string literal. */
  inString: boolean;
  min?: number;
  max?: number;
  options?: string[];
}

const PLACEHOLDER = /\{([a-z]+)(?::([^{}]*))?\}/g;
const INTEGER = /^-?\d+$/;

function parsePlaceholders(template: string, json: boolean): Placeholder[] {
  const found: Placeholder[] = [];
  let inString = false;
  let escaped = false;
  let scanned = 0;
  // Tracks whether each placeholder is inside a JSON string by scanning the literal text between them.
  const scanTo = (end: number): void => {
    for (; scanned < end; scanned++) {
      const c = template[scanned];
      if (escaped) escaped = false;
      else if (inString && c === "\\") escaped = true;
      else if (c === '"') inString = !inString;
    }
  };
  for (const m of template.matchAll(PLACEHOLDER)) {
    const start = m.index;
    const end = start + m[0].length;
    if (json) scanTo(start);
    scanned = end;
    const name = m[1]!;
    const arg = m[2];
    const where = `placeholder ${m[0]} at offset ${start}`;
    const base = { start, end, inString };
    if (name === "n" || name === "uuid" || name === "word") {
      if (arg !== undefined) throw new TemplateError(`${where}: {${name}} takes no argument`);
      found.push({ ...base, name });
    } else if (name === "rand") {
      const parts = arg?.split(":") ?? [];
      if (parts.length !== 2 || !INTEGER.test(parts[0]!) || !INTEGER.test(parts[1]!))
        throw new TemplateError(`${where}: expected {rand:MIN:MAX} with integer bounds, e.g. {rand:1:100}`);
      const min = Number(parts[0]);
      const max = Number(parts[1]);
      if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max)
        throw new TemplateError(`${where}: MIN must be ≤ MAX, both safe integers`);
      found.push({ ...base, name, min, max });
    } else if (name === "choice") {
      if (arg === undefined || arg === "") throw new TemplateError(`${where}: expected {choice:a|b|c}`);
      found.push({ ...base, name, options: arg.split("|") });
    } else {
      throw new TemplateError(
        `${where}: unknown placeholder; use {n}, {rand:MIN:MAX}, {uuid}, {choice:a|b}, {word}`,
      );
    }
  }
  return found;
}

/** The text a placeholder renders before COPY escaping; `pick` chooses among precomputed variants. */
function pieceFor(p: Placeholder, quote: boolean, options: string[]): Piece {
  switch (p.name) {
    case "n":
      return (_rng, row) => String(row + 1);
    case "rand": {
      const min = p.min!;
      const size = p.max! - min + 1;
      return (rng) => String(min + below(rng, size));
    }
    case "uuid":
      return quote ? (rng) => '"' + uuidV4(rng) + '"' : uuidV4;
    case "word":
      return quote ? (rng) => '"' + WORDS[rng.next() & 255] + '"' : (rng) => WORDS[rng.next() & 255]!;
    case "choice": {
      const n = options.length;
      return n === 1 ? () => options[0]! : (rng) => options[below(rng, n)]!;
    }
  }
}

/** A sample of what a placeholder renders (unescaped), used to validate json templates at compile time. */
function sampleFor(p: Placeholder, quote: boolean, options: string[]): string {
  const q = (s: string): string => (quote ? `"${s}"` : s);
  switch (p.name) {
    case "n":
      return "1";
    case "rand":
      return String(p.min);
    case "uuid":
      return q("00000000-0000-4000-8000-000000000000");
    case "word":
      return q(WORDS[0]!);
    case "choice":
      return options[0]!;
  }
}

/**
 * Compiles a template into a per-chunk renderer of COPY text fields.
 *
 * **json mode** — the output is always valid JSON, checked when the scenario is compiled:
 * - inside a JSON string (`"user-{n}"`, `"{choice:a|b}"`) a placeholder's text is JSON-escaped as needed;
 * - outside strings, `{n}` and `{rand:…}` are bare JSON numbers (`{"amount": {rand:1:500}}`), `{uuid}` and
 *   `{word}` become quoted JSON strings (`{"ref": {uuid}}` → `{"ref": "…"}`), and each `{choice:…}` option is
 *   inserted verbatim, so every option must itself be a JSON value: `{choice:1|2|null}`, `{choice:"a"|"b"}`.
 * A template that could render invalid JSON is refused with a TemplateError.
 */
export function compileTemplate(
  template: string,
  mode: "text" | "json",
): (rng: Rng) => (row: number) => string {
  const json = mode === "json";
  const placeholders = parsePlaceholders(template, json);
  const literals: string[] = [];
  const pieces: Piece[] = [];
  let sample = "";
  let at = 0;
  for (const p of placeholders) {
    const literal = template.slice(at, p.start);
    at = p.end;
    // Outside a JSON string a uuid or word would be a bare token; quoting makes it a JSON string.
    const quote = json && !p.inString && (p.name === "uuid" || p.name === "word");
    let options = p.options ?? [];
    if (json && p.inString) options = options.map((o) => JSON.stringify(o).slice(1, -1));
    if (json && !p.inString) {
      for (const o of options) {
        try {
          JSON.parse(o);
        } catch {
          throw new TemplateError(
            `json template: option ${JSON.stringify(o)} of {choice:…} at offset ${p.start} is outside a JSON string, ` +
              `so it must be a JSON value itself (a number, true/false/null, or a "quoted string")`,
          );
        }
      }
    }
    sample += literal + sampleFor(p, quote, options);
    literals.push(escapeCopyText(literal));
    pieces.push(pieceFor(p, quote, options.map(escapeCopyText)));
  }
  const tail = template.slice(at);
  literals.push(escapeCopyText(tail));
  sample += tail;
  if (json) {
    try {
      JSON.parse(sample);
    } catch (err) {
      throw new TemplateError(
        `json template is not valid JSON once placeholders are filled in (e.g. ${JSON.stringify(sample.slice(0, 120))}): ` +
          (err as Error).message,
      );
    }
  }

  const head = literals[0]!;
  if (pieces.length === 0) return () => () => head;
  if (pieces.length === 1) {
    const piece = pieces[0]!;
    const after = literals[1]!;
    return (rng) => (row) => head + piece(rng, row) + after;
  }
  return (rng) => (row) => {
    let out = head;
    for (let i = 0; i < pieces.length; i++) out += pieces[i]!(rng, row) + literals[i + 1]!;
    return out;
  };
}
