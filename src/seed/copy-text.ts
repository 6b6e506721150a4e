/**
 * COPY text-format encoding (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2): fields are
 * tab-separated, rows newline-terminated, NULL is `\N`, and backslash, tab, newline and carriage return inside a
 * value must be backslash-escaped. Everything here runs in the seeding hot loop, so it avoids allocation where
 * it can: values known at compile time are escaped once, and numbers never need escaping.
 */

/** The COPY text representation of NULL. */
export const COPY_NULL = "\\N";

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const ESCAPABLE = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** Escapes one value for a COPY text field (backslash, tab, newline, CR). */
export function escapeCopyText(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPABLE, (c) => ESCAPES[c]!) : value;
}

/** Two-digit zero-padded strings "00".."99", so formatting a timestamp allocates no intermediate strings. */
const PAD2: string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, "0"));
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

/**
 * Formats a scaled integer as a fixed-point decimal: (12345, 2) → "123.45", (-5, 2) → "-0.05". Integer
 * arithmetic avoids `toFixed`, which is slower and rounds binary fractions in surprising ways.
 */
export function formatScaled(scaled: number, decimals: number): string {
  if (decimals === 0) return String(scaled);
  const negative = scaled < 0;
  let digits = String(negative ? -scaled : scaled);
  if (digits.length <= decimals) digits = "0".repeat(decimals + 1 - digits.length) + digits;
  const cut = digits.length - decimals;
  const text = digits.slice(0, cut) + "." + digits.slice(cut);
  return negative ? "-" + text : text;
}

const MS_PER_DAY = 86_400_000;
/**
 * The instants the formatter handles: 0001-01-01 to 9999-12-31 UTC. PostgreSQL accepts more (4713 BC to
 * 294276 AD), but four-digit AD years cover any plausible "far future" outlier and keep the text ISO 8601.
 */
export const MIN_TIMESTAMP_MS = -62_135_596_800_000;
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;

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

/**
 * Makes a formatter from epoch milliseconds to "YYYY-MM-DD HH:MM:SS.mmm+00". The explicit UTC offset makes
 * timestamptz columns independent of the server's TimeZone; `timestamp` columns ignore it, and `date` columns
 * keep the date. The formatter caches the date prefix of the last day it saw: ascending timestamps hit it on
 * almost every row.
 */
export function timestampFormatter(): (ms: number) => string {
  let cachedDay = Number.NaN;
  let cachedPrefix = "";
  return (ms: number): string => {
    const day = Math.floor(ms / MS_PER_DAY);
    if (day !== cachedDay) {
      const [y, m, d] = civilFromDays(day);
      cachedDay = day;
      cachedPrefix = String(y).padStart(4, "0") + "-" + PAD2[m] + "-" + PAD2[d] + " ";
    }
    let rest = ms - day * MS_PER_DAY;
    const hour = Math.floor(rest / 3_600_000);
    rest -= hour * 3_600_000;
    const minute = Math.floor(rest / 60_000);
    rest -= minute * 60_000;
    const second = Math.floor(rest / 1000);
    return (
      cachedPrefix +
      PAD2[hour] +
      ":" +
      PAD2[minute] +
      ":" +
      PAD2[second] +
      "." +
      PAD3[rest - second * 1000] +
      "+00"
    );
  };
}
