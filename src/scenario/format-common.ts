/**
 * The format's primitives shared by schema.ts and load-format.ts (durations, identifiers, table names): apart
 * so that the load section can live in its own file without the two importing each other.
 */
import { z } from "zod";

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)$/;

/** Parses "250ms", "2s", "5m"/"5min", "1h" into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2];
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "h" ? 3_600_000 : 60_000;
  return n * factor;
}

/** A duration is written with its unit ("500ms", "2s", "5m", "1h"); a bare number is refused as ambiguous. */
export const Duration = z
  .string({ error: 'expected a duration with a unit, e.g. "500ms", "2s", "5m"' })
  .refine((s) => parseDuration(s) !== undefined, {
    message: 'expected a duration with a unit: ms, s, m (or min), h — e.g. "500ms", "2s", "5m"',
  })
  .transform((s) => parseDuration(s)!);

export const Identifier = z
  .string()
  .min(1)
  .max(63, "PostgreSQL identifiers are at most 63 bytes")
  .regex(/^[^\s"]+$/, "a table or column name without spaces or quotes (it is quoted for you)");

/** A table name, optionally schema-qualified ("public.ledger"). */
export const TableName = z
  .string()
  .min(1)
  .regex(
    /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/,
    "a table name like ledger or public.ledger",
  );
