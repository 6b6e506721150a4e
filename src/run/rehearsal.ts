/**
 * One rehearsal, start to finish, as a table of contents: each stage is a function in its own file under
 * src/run/, given the run context and what the stages before it returned. Never throws: whatever happens,
 * the caller gets a RunReport whose status says what it means — passed, failed, inconclusive (could not be
 * carried out) or aborted.
 */
import type { RunReport } from "../report/model.ts";
import { RunAborted, RunContext } from "./context.ts";
import { prepareDataset } from "./dataset.ts";
import { recordFailure } from "./errors.ts";
import { finish } from "./expectation.ts";
import { judge } from "./judge.ts";
import { migrate } from "./migrate.ts";
import type { RehearsalOptions } from "./options.ts";
import { planRun } from "./plan.ts";
import { preflight } from "./preflight.ts";
import { provision, recordReplica } from "./provision.ts";
import { readScenario } from "./scenario.ts";
import { teardown } from "./teardown.ts";

// Imported from here by the CLI, project runs, tests and benches.
export { UsageError } from "./errors.ts";
export { judgeExpectation } from "./expectation.ts";
export type { RehearsalOptions } from "./options.ts";
export { defaultProviders } from "./providers.ts";
export { resolveRows } from "./rows.ts";
export { newRunId } from "./run-id.ts";
export { runSetupSql } from "./setup-sql.ts";

/** Runs one rehearsal. Never throws. */
export async function rehearse(opts: RehearsalOptions): Promise<RunReport> {
  // From here, an interrupt marks the report aborted in the stage it lands in, and hands it to opts.onAbort.
  const ctx = new RunContext(opts);
  try {
    const rs = await readScenario(ctx);
    ctx.enter("starting the clone");
    const plan = planRun(ctx, rs);
    const clone = await provision(ctx, plan);
    if (clone.empty) await prepareDataset(ctx, plan, clone.db, clone.connect);
    recordReplica(ctx, plan, clone);
    ctx.stopIfAborted();
    const pre = await preflight(ctx, plan, clone);
    const migrated = await migrate(ctx, plan, clone, pre);
    await judge(ctx, plan, migrated);
  } catch (err) {
    // The interrupt listener wrote the aborted report as it stood; stopping at a stage boundary keeps it so.
    if (err instanceof RunAborted) return ctx.report;
    if (!ctx.aborted) recordFailure(ctx.report, ctx.log, err, ctx.stage);
  } finally {
    await teardown(ctx);
  }
  ctx.closeTiming();
  finish(ctx.report, ctx.t0);
  return ctx.report;
}
