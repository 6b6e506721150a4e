/**
 * COPY text-format encoding (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): fields are
 * tab-separated, rows newline-terminated, NULL is `\N`, and backslash, tab, newline and carriage return inside a
 * value must be backslash-escaped.
 *
 * The seeding hot loop writes bytes straight into a Buffer instead of building strings: at a million rows a
 * second, string concatenation and the garbage it leaves cost more than generating the values. So every value
 * known at compile time is escaped and UTF-8 encoded once, and everything generated per row (numbers,
 * timestamps, UUIDs) is plain ASCII that never needs escaping. Writers take (buf, pos) and return the new pos;
 * callers guarantee room for the writer's declared maximum.
 */

/** The COPY text representation of NULL. */
export const COPY_NULL = "\\N";
export const NULL_BYTES = 2;
const BACKSLASH = 0x5c;
const N_UPPER = 0x4e;

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPABLE = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Escapes one value for a COPY text field (backslash, tab, newline, CR). */
export function escapeCopyText(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPABLE, (c) => ESCAPES[c]!) : value;
}

const encoder = new TextEncoder();

/** A value as escaped COPY text, UTF-8 encoded, ready to copy into rows. */
export function encodeField(value: string): Uint8Array {
  return encoder.encode(escapeCopyText(value));
}

/** Writes `\N`. */
export function writeNull(buf: Uint8Array, pos: number): number {
  buf[pos] = BACKSLASH;
  buf[pos + 1] = N_UPPER;
  return pos + 2;
}

/** Copies pre-encoded bytes; a plain loop beats TypedArray#set for the short values rows are made of. */
export function writeBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) {
    buf.set(bytes, pos);
    return pos + n;
  }
  for (let i = 0; i < n; i++) buf[pos + i] = bytes[i]!;
  return pos + n;
}

/** Longest output of writeInt: "-9007199254740991". */
export const INT_BYTES = 17;

/** Decimal digits of a non-negative safe integer. */
function digitCount(n: number): number {
  let len = 1;
  for (let p = 10; p <= n; p *= 10) len++;
  return len;
}

/** Writes a safe integer in decimal. */
export function writeInt(buf: Uint8Array, pos: number, value: number): number {
  let n = value;
  if (n < 0) {
    buf[pos++] = 0x2d;
    n = -n;
  }
  if (n < 10) {
    buf[pos] = 0x30 + n;
    return pos + 1;
  }
  const end = pos + digitCount(n);
  let p = end;
  // Small numbers divide in int32 arithmetic; floor(n / 10) is still exact for any safe integer.
  while (n >= 2147483648) {
    const q = Math.floor(n / 10);
    buf[--p] = 0x30 + (n - q * 10);
    n = q;
  }
  while (n >= 10) {
    const q = (n / 10) | 0;
    buf[--p] = 0x30 + (n - q * 10);
    n = q;
  }
  buf[--p] = 0x30 + n;
  return end;
}

/**
 * Writes a scaled integer as a fixed-point decimal: (12345, 2) → "123.45", (-5, 2) → "-0.05". Integer
 * arithmetic rather than `toFixed`, which is slower and rounds binary fractions in surprising ways.
 */
export function writeScaled(
  buf: Uint8Array,
  pos: number,
  scaled: number,
  decimals: number,
  pow10: number,
): number {
  let n = scaled;
  if (n < 0) {
    buf[pos++] = 0x2d;
    n = -n;
  }
  const whole = Math.floor(n / pow10);
  let frac = n - whole * pow10;
  pos = writeInt(buf, pos, whole);
  buf[pos] = 0x2e;
  const end = pos + 1 + decimals;
  for (let p = end - 1; p > pos; p--) {
    const q = Math.floor(frac / 10);
    buf[p] = 0x30 + (frac - q * 10);
    frac = q;
  }
  return end;
}

const MS_PER_DAY = 86_400_000;

/**
 * The instants the timestamp writer handles: 0001-01-01 to 9999-12-31 UTC. PostgreSQL accepts more (4713 BC to
 * 294276 AD), but four-digit AD years cover any plausible "far future" outlier and keep the text ISO 8601.
 */
export const MIN_TIMESTAMP_MS = -62_135_596_800_000;
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;

/** Length of "YYYY-MM-DD HH:MM:SS.mmm+00". */
export const TIMESTAMP_BYTES = 26;

/** Year/month/day of a day count since 1970-01-01 (Howard Hinnant's civil_from_days), proleptic Gregorian. */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

function two(buf: Uint8Array, pos: number, v: number): void {
  const t = (v / 10) | 0;
  buf[pos] = 0x30 + t;
  buf[pos + 1] = 0x30 + (v - t * 10);
}

/**
 * Makes a writer of epoch milliseconds as "YYYY-MM-DD HH:MM:SS.mmm+00". The explicit UTC offset makes
 * timestamptz columns independent of the server's TimeZone; `timestamp` columns ignore it and `date` columns
 * keep the date. The writer caches the date of the last day it saw, which ascending timestamps hit on almost
 * every row. One writer per chunk: the cache is its only state.
 */
export function timestampWriter(): (buf: Uint8Array, pos: number, ms: number) => number {
  let cachedDay = Number.NaN;
  const date = new Uint8Array(11);
  return (buf, pos, ms) => {
    const day = Math.floor(ms / MS_PER_DAY);
    if (day !== cachedDay) {
      cachedDay = day;
      const [y, m, d] = civilFromDays(day);
      two(date, 0, (y / 100) | 0);
      two(date, 2, y % 100);
      date[4] = 0x2d;
      two(date, 5, m);
      date[7] = 0x2d;
      two(date, 8, d);
      date[10] = 0x20;
    }
    for (let i = 0; i < 11; i++) buf[pos + i] = date[i]!;
    let rest = ms - day * MS_PER_DAY;
    const hour = (rest / 3_600_000) | 0;
    rest -= hour * 3_600_000;
    const minute = (rest / 60_000) | 0;
    rest -= minute * 60_000;
    const second = (rest / 1000) | 0;
    const milli = rest - second * 1000;
    two(buf, pos + 11, hour);
    buf[pos + 13] = 0x3a;
    two(buf, pos + 14, minute);
    buf[pos + 16] = 0x3a;
    two(buf, pos + 17, second);
    buf[pos + 19] = 0x2e;
    const h = (milli / 100) | 0;
    buf[pos + 20] = 0x30 + h;
    two(buf, pos + 21, milli - h * 100);
    buf[pos + 23] = 0x2b;
    buf[pos + 24] = 0x30;
    buf[pos + 25] = 0x30;
    return pos + TIMESTAMP_BYTES;
  };
}

/** Length of a UUID in its canonical text form. */
export const UUID_BYTES = 36;
const HEX = new TextEncoder().encode("0123456789abcdef");

function hex32(buf: Uint8Array, pos: number, v: number, nibbles: number): void {
  // Writes the top `nibbles` hex digits of v (as 32 bits), most significant first.
  for (let i = 0; i < nibbles; i++) buf[pos + i] = HEX[(v >>> (28 - 4 * i)) & 15]!;
}

/**
 * Writes a version-4-shaped UUID from four 32-bit draws: 122 random bits, version nibble 4, variant bits 10.
 * xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx with a = first 8 digits, b = next 4 + 3, c = 4 + 4, d = last 8.
 */
export function writeUuid(buf: Uint8Array, pos: number, a: number, b: number, c: number, d: number): number {
  hex32(buf, pos, a, 8);
  buf[pos + 8] = 0x2d;
  hex32(buf, pos + 9, b, 4);
  buf[pos + 13] = 0x2d;
  buf[pos + 14] = 0x34; // version 4
  hex32(buf, pos + 15, b << 16, 3);
  buf[pos + 18] = 0x2d;
  buf[pos + 19] = HEX[8 | ((c >>> 30) & 3)]!; // variant 10xx
  hex32(buf, pos + 20, c << 2, 3);
  buf[pos + 23] = 0x2d;
  hex32(buf, pos + 24, c << 14, 4);
  hex32(buf, pos + 28, d, 8);
  return pos + UUID_BYTES;
}
