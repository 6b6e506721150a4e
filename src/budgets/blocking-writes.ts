/**
 * Every lock that blocks the application's writes, judged by what happened under it. ACCESS EXCLUSIVE on a
 * hot table has its own two budgets (under-access-exclusive.ts); this one takes the rest: a hot table
 * seq-scanned or rewritten under SHARE, SHARE ROW EXCLUSIVE or EXCLUSIVE (CREATE INDEX, ADD FOREIGN KEY
 * validated in place), and an index of a hot table built or rebuilt while its table or the index itself was
 * locked against writes (CREATE INDEX, REINDEX). Scale-independent, like the ACCESS EXCLUSIVE budgets: the
 * scan costs milliseconds on the clone and minutes of queued writes on production.
 */
import { BLOCKS_WRITES } from "../report/format.ts";
import type { CheckResult, StatementEffect } from "../report/model.ts";
import type { Budget, RunFacts } from "./budget.ts";
import { where } from "./budget.ts";
import { operationLabel, remediationFor } from "./remedies.ts";

const AEL = "AccessExclusiveLock";
/** Statements whose index fetches read the whole table too (validation through an index scan). */
const VALIDATES = ["add_foreign_key", "add_check", "set_not_null", "attach_partition", "add_column"];

const MODE_NAMES: Record<string, string> = {
  ShareLock: "SHARE",
  ShareRowExclusiveLock: "SHARE ROW EXCLUSIVE",
  ExclusiveLock: "EXCLUSIVE",
  AccessExclusiveLock: "ACCESS EXCLUSIVE",
};
const modeName = (m: string | null | undefined) => (m ? (MODE_NAMES[m] ?? m) : "no lock");

const blocksWrites = (m: string | null | undefined) => m !== null && m !== undefined && BLOCKS_WRITES.has(m);
const isIndex = (e: StatementEffect) => e.relkind === "i";
const sameStatement = (a: StatementEffect, b: StatementEffect) =>
  a.section === b.section && a.phase === b.phase && a.step === b.step && a.statement === b.statement;

function readRows(facts: RunFacts, e: StatementEffect): number {
  const seq = e.seq_scans > 0 ? e.seq_tup_read : 0;
  const step = facts.steps.find((s) => s.section === e.section && s.phase === e.phase && s.name === e.step);
  const ops = step?.statements.find((s) => s.index === e.statement)?.operations ?? [];
  return seq + (ops.some((op) => VALIDATES.includes(op)) ? e.idx_tup_fetch : 0);
}

/** A hot table read in full or rewritten under a write-blocking mode short of ACCESS EXCLUSIVE. */
function tableHit(facts: RunFacts, e: StatementEffect): boolean {
  if (isIndex(e) || !e.hot || e.held_mode === AEL || !blocksWrites(e.held_mode)) return false;
  return readRows(facts, e) > 0 || e.rewritten;
}

/**
 * An index of a hot table built or rebuilt while writes were blocked: by the lock on its table, or (a rebuild
 * of an existing index) by ACCESS EXCLUSIVE on the index, which every writer must update. Left to the ACCESS
 * EXCLUSIVE budgets when the table itself was scanned or rewritten under ACCESS EXCLUSIVE in that statement
 * (ADD COLUMN with a volatile DEFAULT rebuilding every index, ATTACH building a missing one).
 */
function indexHit(e: StatementEffect, all: StatementEffect[]): boolean {
  if (!isIndex(e) || !e.table_hot || !(e.built || e.rewritten)) return false;
  if (!blocksWrites(e.table_mode) && !(e.rewritten && e.held_mode === AEL)) return false;
  if (e.table_mode !== AEL) return true;
  return !all.some(
    (t) =>
      sameStatement(t, e) &&
      !isIndex(t) &&
      t.hot &&
      t.table === undefined &&
      t.relation === e.table &&
      (t.seq_scans > 0 || t.rewritten),
  );
}

interface Hit {
  at: StatementEffect;
  table: string;
  tableMode: string | null;
  scans: StatementEffect[];
  indexes: StatementEffect[];
}

function group(facts: RunFacts): Hit[] {
  const hits = new Map<string, Hit>();
  const add = (e: StatementEffect, table: string, mode: string | null, kind: "scans" | "indexes") => {
    const key = `${e.section}/${e.phase}/${e.step}/${e.statement}/${table}`;
    let h = hits.get(key);
    if (!h) hits.set(key, (h = { at: e, table, tableMode: mode, scans: [], indexes: [] }));
    h[kind].push(e);
  };
  for (const e of facts.effects) {
    if (tableHit(facts, e)) add(e, e.relation, e.held_mode, "scans");
    else if (indexHit(e, facts.effects)) add(e, e.table ?? e.relation, e.table_mode ?? null, "indexes");
  }
  return [...hits.values()];
}

function describe(facts: RunFacts, h: Hit): string {
  const what: string[] = [];
  for (const s of h.scans) {
    const rows = readRows(facts, s);
    if (rows > 0) what.push(`read ${rows} rows of hot table ${s.relation}`);
    if (s.rewritten) what.push(`rewrote hot table ${s.relation}`);
  }
  const built = h.indexes.filter((i) => i.built).map((i) => i.relation);
  const rebuilt = h.indexes.filter((i) => !i.built).map((i) => i.relation);
  const of = h.scans.length > 0 ? "it" : `hot table ${h.table}`;
  if (built.length > 0) what.push(`built index ${built.join(", ")} on ${of}`);
  if (rebuilt.length > 0) what.push(`rebuilt index ${rebuilt.join(", ")} of ${of}`);
  const locked = h.indexes.filter((i) => !i.built && i.held_mode === AEL).map((i) => i.relation);
  const held = [`${modeName(h.tableMode)} on ${h.table}`];
  if (locked.length > 0) held.push(`ACCESS EXCLUSIVE on ${locked.join(", ")}`);
  const readsToo =
    h.tableMode === AEL
      ? "every read of it waited as well"
      : locked.length > 0
        ? "so did every read that uses those indexes"
        : "reads went on";
  const label = operationLabel(facts, h.at);
  return `${where(facts, h.at)}${label ? ` ${label}` : ""}: ${what.join(" and ")} while holding ${held.join(" and ")}: every write to ${h.table} waited, ${readsToo}`;
}

export const noScanBlockingWrites: Budget = (budgets, facts) => {
  if (!budgets.no_scan_blocking_writes) return [];
  const hits = group(facts);
  const result: CheckResult = {
    id: "budget.no_scan_blocking_writes",
    kind: "budget",
    status: hits.length > 0 ? "fail" : "pass",
    summary:
      hits.length > 0
        ? `${hits.length} statement(s) scanned a hot table or built its indexes while holding a lock that blocks writes (production's writers queue for the whole scan, however short it is here)`
        : "no hot table was scanned, nor its indexes built, while a lock that blocks writes was held",
    findings: hits.map((h) => describe(facts, h)),
    measured: hits.length,
    limit: 0,
    unit: "statements",
  };
  if (hits.length > 0)
    result.remediation = remediationFor(
      facts,
      hits.map((h) => h.at),
      "Do the work under SHARE UPDATE EXCLUSIVE or weaker (the CONCURRENTLY and NOT VALID + VALIDATE forms), or in committed batches; keep write-blocking locks for catalog-only statements.",
    );
  return [result];
};
