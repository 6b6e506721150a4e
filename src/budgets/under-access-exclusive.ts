import type { StatementEffect } from "../report/model.ts";
import type { Budget, RunFacts } from "./budget.ts";
import { where } from "./budget.ts";
import { remediationFor } from "./remedies.ts";

const AEL = "AccessExclusiveLock";

function describeScan(facts: RunFacts, e: StatementEffect): string {
  return `${where(facts, e)} seq-scanned hot table ${e.relation} (${e.seq_tup_read} rows read) while holding ACCESS EXCLUSIVE on it`;
}

/**
 * A hot table scanned while ACCESS EXCLUSIVE is held. Scale-independent: at 100k rows the scan costs
 * milliseconds and passes any time budget, yet on production it is the outage (003's ATTACH, 000's backfill).
 */
export const noScanUnderAccessExclusive: Budget = (budgets, facts) => {
  if (!budgets.no_scan_under_access_exclusive) return [];
  // Tables only: an index's own ACCESS EXCLUSIVE (REINDEX) is judged by no_scan_blocking_writes.
  const bad = facts.effects.filter(
    (e) => e.hot && e.relkind !== "i" && e.held_mode === AEL && e.seq_scans > 0 && e.seq_tup_read > 0,
  );
  const rows = bad.reduce((n, e) => n + e.seq_tup_read, 0);
  return [
    {
      id: "budget.no_scan_under_access_exclusive",
      kind: "budget",
      status: bad.length > 0 ? "fail" : "pass",
      summary:
        bad.length > 0
          ? `${bad.length} full scan(s) of a hot table under ACCESS EXCLUSIVE (${rows} rows read here; production reads them all while every query waits)`
          : "no hot table was scanned while ACCESS EXCLUSIVE was held",
      findings: bad.map((e) => describeScan(facts, e)),
      // Named for the statement that scanned (an ADD COLUMN is not told how to ATTACH).
      remediation:
        bad.length > 0
          ? remediationFor(
              facts,
              bad,
              "Move the scan out of the ACCESS EXCLUSIVE window: prove constraints with a CHECK … NOT VALID validated in an earlier step (SHARE UPDATE EXCLUSIVE), build indexes CONCURRENTLY beforehand, and keep the window catalog-only.",
            )
          : undefined,
      measured: rows,
      limit: 0,
      unit: "rows",
    },
  ];
};

/** A hot table rewritten (new relfilenode) while ACCESS EXCLUSIVE is held: 000's ADD COLUMN … DEFAULT outage. */
export const noRewriteUnderAccessExclusive: Budget = (budgets, facts) => {
  if (!budgets.no_rewrite_under_access_exclusive) return [];
  const bad = facts.effects.filter((e) => e.hot && e.relkind !== "i" && e.held_mode === AEL && e.rewritten);
  return [
    {
      id: "budget.no_rewrite_under_access_exclusive",
      kind: "budget",
      status: bad.length > 0 ? "fail" : "pass",
      summary:
        bad.length > 0
          ? `${bad.length} rewrite(s) of a hot table under ACCESS EXCLUSIVE`
          : "no hot table was rewritten while ACCESS EXCLUSIVE was held",
      findings: bad.map(
        (e) => `${where(facts, e)} rewrote hot table ${e.relation} while holding ACCESS EXCLUSIVE`,
      ),
      remediation:
        bad.length > 0
          ? remediationFor(
              facts,
              bad,
              "Avoid table rewrites on a live table: add columns nullable (or with a non-volatile DEFAULT, metadata-only since PG 11) and backfill in batches; change types via a new column plus backfill; never VACUUM FULL/CLUSTER a hot table.",
            )
          : undefined,
      measured: bad.length,
      limit: 0,
      unit: "rewrites",
    },
  ];
};
