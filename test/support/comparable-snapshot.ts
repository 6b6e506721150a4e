/**
 * Catalog snapshots (or parts of one) compared across two databases made alike: what differs between any two
 * such databases however alike they are — oids, file nodes, row estimates, sequence positions — taken out.
 */

/** Keys dropped besides every one ending in "oid". */
const VOLATILE = ["relfilenode", "reltuples", "lastValue", "isCalled"];

/**
 * `value` without every key ending in "oid", the VOLATILE keys and the `drop` keys, at any depth; each string
 * through `strings` (names made from oids, say).
 */
export function comparable(
  value: unknown,
  opts: { drop?: string[]; strings?: (s: string) => string } = {},
): unknown {
  const dropped = new Set([...VOLATILE, ...(opts.drop ?? [])]);
  const strip = (v: unknown): unknown => {
    if (typeof v === "string") return opts.strings ? opts.strings(v) : v;
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object")
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !/oid$/i.test(k) && !dropped.has(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  return strip(value);
}
