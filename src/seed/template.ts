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
 * All the escaping is decided at compile time: literals and choice options are escaped and encoded once, and
 * the other placeholders only ever produce ASCII that needs no escaping, so rendering copies bytes only.
 */
import { encodeField, INT_BYTES, UUID_BYTES, writeBytes, writeInt } from "./copy-text.ts";
import { below, drawUuid, type Rng } from "./random.ts";
import { WORDS } from "./words.ts";

/** A template that cannot be compiled; the message says which placeholder and why. */
export class TemplateError extends Error {
  override name = "TemplateError";
}

/** Writes one placeholder's value at pos and returns the new pos. */
type Piece = (rng: Rng, buf: Uint8Array, pos: number, row: number) => number;

/** A compiled template: `maxBytes` bounds one rendered field; `forStream` binds it to a chunk's stream. */
export interface CompiledTemplate {
  maxBytes: number;
  forStream(rng: Rng): (buf: Uint8Array, pos: number, row: number) => number;
}

const WORD_BYTES = WORDS.map((w) => encodeField(w));
const QUOTED_WORD_BYTES = WORDS.map((w) => encodeField(`"${w}"`));
const MAX_WORD = Math.max(...WORD_BYTES.map((w) => w.length));
const QUOTE = 0x22;

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

/** The writer for one placeholder and the most bytes it can write; choice options arrive encoded. */
function pieceFor(p: Placeholder, quote: boolean, options: Uint8Array[]): [Piece, number] {
  switch (p.name) {
    case "n":
      return [(_rng, buf, pos, row) => writeInt(buf, pos, row + 1), INT_BYTES];
    case "rand": {
      const min = p.min!;
      const size = p.max! - min + 1;
      return [(rng, buf, pos) => writeInt(buf, pos, min + below(rng, size)), INT_BYTES];
    }
    case "uuid":
      if (!quote) return [(rng, buf, pos) => drawUuid(rng, buf, pos), UUID_BYTES];
      return [
        (rng, buf, pos) => {
          buf[pos] = QUOTE;
          const end = drawUuid(rng, buf, pos + 1);
          buf[end] = QUOTE;
          return end + 1;
        },
        UUID_BYTES + 2,
      ];
    case "word": {
      const words = quote ? QUOTED_WORD_BYTES : WORD_BYTES;
      return [(rng, buf, pos) => writeBytes(buf, pos, words[rng.next() & 255]!), MAX_WORD + 2];
    }
    case "choice": {
      const n = options.length;
      const max = Math.max(...options.map((o) => o.length));
      if (n === 1) return [(_rng, buf, pos) => writeBytes(buf, pos, options[0]!), max];
      return [(rng, buf, pos) => writeBytes(buf, pos, options[below(rng, n)]!), max];
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
export function compileTemplate(template: string, mode: "text" | "json"): CompiledTemplate {
  const json = mode === "json";
  const placeholders = parsePlaceholders(template, json);
  const literals: Uint8Array[] = [];
  const pieces: Piece[] = [];
  let maxBytes = 0;
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
    const encoded = encodeField(literal);
    literals.push(encoded);
    const [piece, pieceMax] = pieceFor(
      p,
      quote,
      options.map((o) => encodeField(o)),
    );
    pieces.push(piece);
    maxBytes += encoded.length + pieceMax;
  }
  const tail = template.slice(at);
  literals.push(encodeField(tail));
  maxBytes += literals[literals.length - 1]!.length;
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
  const count = pieces.length;
  if (count === 0) return { maxBytes, forStream: () => (buf, pos) => writeBytes(buf, pos, head) };
  return {
    maxBytes,
    forStream: (rng) => (buf, pos, row) => {
      let p = writeBytes(buf, pos, head);
      for (let i = 0; i < count; i++) p = writeBytes(buf, pieces[i]!(rng, buf, p, row), literals[i + 1]!);
      return p;
    },
  };
}
