/** The first stage: the scenario read, and what the report says of it before anything starts for it. */
import { embeddedBundle } from "../clone/extensions.ts";
import { type LoadOptions, loadScenario, type ResolvedScenario } from "../scenario/load.ts";
import type { RunContext } from "./context.ts";
import { newRunId } from "./run-id.ts";
import { sourceRowCounts } from "./source-rows.ts";

export async function readScenario(ctx: RunContext): Promise<ResolvedScenario> {
  const { opts, report } = ctx;
  const rs = await loadCheckedScenario(opts.scenarioPath);
  const s = rs.scenario;
  report.scenario = {
    name: s.name,
    path: opts.scenarioPath,
    description: s.description,
    writeup: s.writeup,
  };
  report.run_id = opts.runId ?? newRunId(s.name);
  report.context.seed = s.dataset.seed;
  report.context.settings = s.target.settings;
  report.context.provider = s.target.provider;
  const sourceRows = await sourceRowCounts(rs.dir);
  if (sourceRows) report.context.source_rows = sourceRows;
  report.expectation = {
    verdict: s.expect.verdict,
    failing: s.expect.failing,
    met: false,
    explanation: "",
  };
  return rs;
}

/**
 * loadScenario with what the embedded binaries bring, so an extension they lack is refused before any
 * cluster starts: what `rehearse validate`, a rehearsal and the library's loadScenario all use.
 */
export function loadCheckedScenario(dirOrFile: string, options: LoadOptions = {}): Promise<ResolvedScenario> {
  return loadScenario(dirOrFile, { embedded: embeddedBundle, ...options });
}
