import { ident } from "../db/sql.ts";

/**
 * A segment's share of the load (k6's execution segments, striped): segment `index` of `of` takes the
 * arrivals k ≡ index (mod of), the write mix's picks at those same arrivals, and the history rows whose key
 * hashes to it. The shares are disjoint and together are the whole load, so N segments on N threads (or,
 * later, N processes on N machines) send what one would, with no coordination per request.
 */
export interface Share {
  index: number;
  of: number;
}

export const WHOLE: Share = { index: 0, of: 1 };

/** Segment i's share of `total` (connections, max_in_flight): the first total mod n segments get one more. */
export function portion(total: number, share: Share): number {
  return Math.floor(total / share.of) + (share.index < total % share.of ? 1 : 0);
}

/**
 * SQL for the segment a history row of `key` belongs to (0 … of-1). `of` is an integer the engine computed,
 * never input, so it is inlined; the key is quoted.
 */
export function segmentOf(key: string, of: number): string {
  return `mod(abs(hashtext(${ident(key)}::text)::bigint), ${Math.trunc(of)})`;
}
