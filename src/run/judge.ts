/**
 * The judging stage: the invariants after the migration, the budgets, the rollback (run and checked, when
 * asked for), and the verdict those checks add up to.
 */
import { evaluateBudgets } from "../budgets/index.ts";
import { takeSnapshot } from "../catalog/snapshot.ts";
import type { CatalogSnapshot } from "../catalog/types.ts";
import { invariantId, type RunFacts } from "../checks/check.ts";
import { evaluateAll, type Gathered } from "../checks/gather.ts";
import type { CheckResult, RunReport } from "../report/model.ts";
import type { Invariant } from "../scenario/schema.ts";
import type { RunContext } from "./context.ts";
import { Inconclusive } from "./errors.ts";
import { gatherOnClone } from "./gather.ts";
import { type Migrated, runSection } from "./migrate.ts";
import type { RunPlan } from "./plan.ts";
import { qualify } from "./references.ts";

export async function judge(ctx: RunContext, plan: RunPlan, migrated: Migrated): Promise<void> {
  const { invariants, budgets } = plan.rs.scenario;
  const { pre } = migrated.env;
  ctx.enter("checking invariants");
  const migrationOk = migrated.steps.every((st) => st.status === "success");
  const checks: CheckResult[] = [migrationCompleted(migrated.steps)];
  if (migrationOk) {
    const after = await takeSnapshot(migrated.conns.db);
    await gatherOnClone(ctx, migrated.conns.db, migrated.env.connect, invariants, "after", pre.gathered);
    checks.push(
      ...evaluateAll(invariants, pre.before, after, pre.gathered, "after_migration", runFacts(ctx.report)),
    );
  } else {
    for (const inv of invariants) checks.push(skipped(inv, "the migration did not complete"));
  }
  // Before the rollback: its load merges into the report's, and the budgets are the migration's.
  checks.push(...evaluateBudgets(budgets, ctx.report));
  if (ctx.opts.rollback) checks.push(...(await rollbackChecks(ctx, plan, migrated, migrationOk)));
  setVerdict(ctx.report, checks);
}

/** --rollback: rehearsed under load after a migration that completed, then the original table checked. */
async function rollbackChecks(
  ctx: RunContext,
  plan: RunPlan,
  migrated: Migrated,
  migrationOk: boolean,
): Promise<CheckResult[]> {
  const { rs } = plan;
  if (rs.rollback.length === 0)
    return [
      {
        id: "rollback_completed",
        kind: "invariant",
        status: "error",
        summary: "--rollback was asked for but the scenario has no rollback section",
        findings: [],
        remediation: "add a rollback: {steps: […]} section to scenario.yaml, or run without --rollback",
        stage: "after_rollback",
      },
    ];
  if (!migrationOk) return [];
  ctx.log.info("rolling back");
  const { env } = migrated;
  const { res: rb, conns } = await runSection(
    ctx,
    plan,
    env,
    "rollback",
    [{ name: "rollback", steps: rs.rollback }],
    migrated.conns,
  );
  ctx.stopIfAborted();
  if (rb.harnessError) throw new Inconclusive(rb.harnessError);
  const checks = [
    { ...migrationCompleted(rb.steps), id: "rollback_completed", stage: "after_rollback" as const },
  ];
  if (!rb.steps.every((st) => st.status === "success")) return checks;
  const afterRb = await takeSnapshot(conns.db);
  const invs = rollbackInvariants(rs.scenario.invariants, afterRb);
  const gRb: Gathered = new Map();
  for (const [k, v] of env.pre.gathered) gRb.set(k, { before: v.before });
  await gatherOnClone(ctx, conns.db, env.connect, invs, "after", gRb);
  return [
    ...checks,
    ...evaluateAll(invs, env.pre.before, afterRb, gRb, "after_rollback", runFacts(ctx.report)).map((c) => ({
      ...c,
      id: `${c.id}@rollback`,
    })),
  ];
}

/** What the load saw that explains evidence in the data (a failed insert consumed a sequence id). */
function runFacts(report: RunReport): RunFacts | undefined {
  if (!report.load) return undefined;
  const phases = report.load.windows.filter((w) => w.kind === "write" && w.step === null);
  return { failed_writes: phases.reduce((n, w) => n + w.errors, 0) };
}

/** A failing check fails the run; one that could not be evaluated makes it inconclusive, whatever failed. */
function setVerdict(report: RunReport, checks: CheckResult[]): void {
  report.checks = orderChecks(checks);
  report.failing = report.checks.filter((c) => c.status === "fail").map((c) => c.id);
  const errors = report.checks.filter((c) => c.status === "error");
  if (errors.length > 0) {
    report.status = "inconclusive";
    report.exit_code = 2;
    report.reason = `could not evaluate ${errors.map((c) => `${c.id} (${c.summary})`).join("; ")}`;
  } else if (report.failing.length > 0) {
    report.status = "failed";
    report.exit_code = 1;
  } else {
    report.status = "passed";
    report.exit_code = 0;
  }
}

/** After a rollback the original table must be back as it was: compare it with itself. */
function rollbackInvariants(invariants: Invariant[], afterRb: CatalogSnapshot): Invariant[] {
  const out: Invariant[] = [];
  for (const inv of invariants) {
    switch (inv.check) {
      case "indexes_preserved":
      case "triggers_preserved":
      case "constraints_preserved":
      case "grants_preserved":
      case "rls_preserved":
      case "fks_preserved":
        out.push({ ...inv, target: inv.original });
        break;
      case "row_parity":
        if (inv.source_at === "before") out.push({ ...inv, target: inv.source });
        break;
      case "sequence":
        out.push({ ...inv, also: inv.also.filter((t) => afterRb.tables[qualify(t)] !== undefined) });
        break;
      case "no_lost_writes":
        // Every write acknowledged up to the end of the rollback, the rollback's own included, must still be there.
        out.push(inv);
        break;
      default:
        // Partition checks describe the migrated shape, which a rollback undoes on purpose.
        break;
    }
  }
  return out;
}

function migrationCompleted(steps: RunReport["steps"]): CheckResult {
  const failed = steps.filter((s) => s.status === "error");
  const notRun = steps.filter((s) => s.status === "not_executed");
  return {
    id: "migration_completed",
    kind: "invariant",
    status: failed.length > 0 ? "fail" : "pass",
    summary:
      failed.length > 0
        ? `step ${failed[0]!.phase}/${failed[0]!.name} failed: ${failed[0]!.error?.message ?? "error"}${notRun.length ? `; ${notRun.length} step(s) not executed` : ""}`
        : `all ${steps.length} steps succeeded`,
    findings: failed.map(
      (s) =>
        `${s.phase}/${s.name}: ${s.error?.sqlstate ? `[${s.error.sqlstate}] ` : ""}${s.error?.message ?? ""}${s.error?.file ? ` at ${s.error.file}:${s.error.line ?? "?"}` : ""}`,
    ),
    remediation: failed[0]?.error?.hint,
    stage: "after_migration",
  };
}

function skipped(inv: Invariant, why: string): CheckResult {
  return { id: invariantId(inv), kind: "invariant", status: "skipped", summary: why, findings: [] };
}

/** Failures first, then errors, then the rest in scenario order. */
function orderChecks(checks: CheckResult[]): CheckResult[] {
  const rank = { fail: 0, error: 1, pass: 2, skipped: 3 } as const;
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank[a.c.status] - rank[b.c.status] || a.i - b.i)
    .map((x) => x.c);
}
