/**
 * What differs between the conditions two rehearsals ran under: rows, scale, seed, server settings, provider
 * and clone, PostgreSQL, rollback, the load's shape, the tool and Node. `rehearse compare` states these before
 * any delta, because they explain most deltas (a 10× slower phase at 10× the rows is not a regression). Pure.
 */
import { formatNumber } from "./format.ts";
import type { RunReport } from "./model.ts";

type Value = string | number | boolean | undefined;

const shown = (v: Value): string =>
  v === undefined ? "(not set)" : typeof v === "number" ? formatNumber(v) : String(v);

/** "label: A → B" when the two differ, else nothing. */
function differs(label: string, a: Value, b: Value): string[] {
  return a === b ? [] : [`${label}: ${shown(a)} → ${shown(b)}`];
}

/** Rows per table, with the ratio: what scales every duration and every count of rows scanned. */
function rows(a: RunReport, b: RunReport): string[] {
  const tables = [...new Set([...Object.keys(a.context.rows), ...Object.keys(b.context.rows)])];
  const changed = tables.flatMap((t) => {
    const x = a.context.rows[t];
    const y = b.context.rows[t];
    if (x === y) return [];
    const ratio = x !== undefined && y !== undefined && x > 0 ? ` (×${formatNumber(y / x)})` : "";
    return [`${t} ${shown(x)} → ${shown(y)}${ratio}`];
  });
  return changed.length > 0 ? [`rows: ${changed.join(", ")}`] : [];
}

function settings(a: RunReport, b: RunReport): string[] {
  const sa = a.context.settings;
  const sb = b.context.settings;
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort();
  const changed = keys.flatMap((k) =>
    sa[k] === sb[k] ? [] : [`${k} ${shown(sa[k] ?? "(default)")} → ${shown(sb[k] ?? "(default)")}`],
  );
  return changed.length > 0 ? [`server settings: ${changed.join(", ")}`] : [];
}

function rate(r: RunReport): string | undefined {
  const l = r.load;
  if (!l) return undefined;
  if (typeof l.rate === "number") return `${formatNumber(l.rate)}/s`;
  return l.rate
    .map((s) => `${formatNumber(s.target)}/s for ${formatNumber(s.duration_ms)} ms`)
    .join(", then ");
}

function load(a: RunReport, b: RunReport): string[] {
  if (!a.load !== !b.load) return [`load: ${a.load ? "on" : "off"} → ${b.load ? "on" : "off"}`];
  if (!a.load || !b.load) return [];
  return [
    ...differs("load rate", rate(a), rate(b)),
    ...differs("load connections", a.load.connections, b.load.connections),
    ...differs("load mode", a.load.mode, b.load.mode),
    ...differs("load engine", a.load.engine, b.load.engine),
  ];
}

/** Every difference in the conditions of A and B, most consequential first; empty when they match. */
export function contextDifferences(a: RunReport, b: RunReport): string[] {
  const ca = a.context;
  const cb = b.context;
  const onOff = (v: boolean) => (v ? "on" : "off");
  return [
    ...rows(a, b),
    ...differs("scale", ca.scale, cb.scale),
    ...differs("seed", ca.seed, cb.seed),
    ...differs("--rollback", onOff(ca.rollback), onOff(cb.rollback)),
    ...settings(a, b),
    ...load(a, b),
    ...differs("provider", ca.provider, cb.provider),
    ...differs("clone", ca.clone?.method, cb.clone?.method),
    ...differs("container image", ca.clone?.image, cb.clone?.image),
    ...differs("replica", ca.replica ? "yes" : "no", cb.replica ? "yes" : "no"),
    ...differs("PostgreSQL", ca.postgres_version, cb.postgres_version),
    ...differs("rehearse version", a.tool.version, b.tool.version),
    ...differs("node", ca.node, cb.node),
  ];
}
