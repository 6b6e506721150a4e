/**
 * Date placeholders in scenario SQL. Partition bounds and range CHECKs must be literals (ATTACH is only a
 * catalog change when the CHECK matches the bound exactly), yet a scenario that hard-codes "next month" stops
 * working the day that month begins. So SQL files may write `{{month}}`, `{{month+1}}`, `{{month-3}}` (the
 * start of the current UTC month, shifted by N months) and `{{day}}`, `{{day+7}}` (midnight UTC, shifted by N
 * days); each becomes a timestamptz literal's text, e.g. `2027-01-01 00:00:00+00`, before the SQL is parsed.
 */

const PLACEHOLDER = /\{\{\s*(month|day)\s*(?:([+-])\s*(\d+))?\s*\}\}/g;
const ANY_PLACEHOLDER = /\{\{[^}]*\}\}/g;

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

function formatUtc(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} 00:00:00+00`;
}

/** The value of one placeholder at `now`. */
export function dateValue(unit: "month" | "day", offset: number, now: Date): string {
  if (unit === "month")
    return formatUtc(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)));
  return formatUtc(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + offset)));
}

export interface ExpandResult {
  text: string;
  /** Placeholders that are not {{month±N}} / {{day±N}}, with their offset in the text. */
  unknown: { text: string; offset: number }[];
}

/** Replaces every date placeholder; the text keeps its lines, so errors still point at the right line. */
export function expandDatePlaceholders(text: string, now: Date): ExpandResult {
  const unknown: ExpandResult["unknown"] = [];
  const known = new RegExp(`^${PLACEHOLDER.source}$`);
  for (const m of text.matchAll(ANY_PLACEHOLDER)) {
    if (!known.test(m[0])) unknown.push({ text: m[0], offset: m.index });
  }
  const out = text.replace(PLACEHOLDER, (_all, unit: "month" | "day", sign?: string, n?: string) =>
    dateValue(unit, sign ? (sign === "-" ? -1 : 1) * Number(n) : 0, now),
  );
  return { text: out, unknown };
}
