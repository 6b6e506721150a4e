/**
 * The public API of rehearse: what `import … from "rehearse"` gives, and the only module the CLI imports
 * (ARCHITECTURE.md; the import walls in .dependency-cruiser.cjs hold it). Everything else under src/ is
 * internal and may move between releases.
 */

// Rehearse a scenario: the whole pipeline, and the pieces a caller needs to read its outcome.
export { rehearse, UsageError, type RehearsalOptions } from "./run/rehearsal.ts";
export { provisionClone, type CloneSession } from "./run/clone-session.ts";
export { CloneRefusedError, CloneUnavailableError } from "./clone/provider.ts";

// Scenarios: load and validate scenario.yaml, and its JSON Schema.
export { formatProblem, ScenarioError } from "./scenario/load.ts";
export { loadCheckedScenario as loadScenario } from "./run/scenario.ts";
export { scenarioJsonSchema } from "./scenario/json-schema.ts";

// Reports: the model every reporter reads, writing and re-rendering them, comparing two runs.
export type { RunReport } from "./report/model.ts";
export { fileReporters } from "./report/registry.ts";
export { makeDirectory, OutputDirError, prepareOutputDir, writeReports } from "./report/write.ts";
export { loadRun, ReportInputError, rerenderReport } from "./report/rerender.ts";
export { renderTerminal, shouldUseColor } from "./report/terminal.ts";
export { compareReports } from "./report/compare.ts";
export { renderComparisonHtml, renderComparisonMarkdown } from "./report/compare-render.ts";

// Projection: rehearse at several scales and extrapolate each phase to production's size.
export {
  DEFAULT_PROJECTION_SCALES,
  ProjectionInputError,
  rehearseAtScales,
  sourceRows,
} from "./project/run.ts";
export { buildProjection } from "./project/projection.ts";
export { formatLongDuration, renderProjectionMarkdown } from "./project/markdown.ts";

// `rehearse init`: a scenario fitted to a real database's catalog and statistics.
export { runInit } from "./init/init.ts";
export { InitError } from "./init/source.ts";
export { renderFidelity } from "./init/fidelity.ts";
export { STRATEGIES, type StrategyName } from "./init/scaffold.ts";

// The seeded-cluster cache and Aurora clean-up.
export { cacheRoot, listCache, pruneCache } from "./clone/snapshot-cache.ts";
export { gcAurora } from "./clone/aurora.ts";

// Process lifecycle shared with a caller: clean-ups on exit and signals, secret redaction, progress logging.
export { onInterrupt, registerCleanup, runAllCleanups, signalExitCode } from "./util/cleanup.ts";
export { redact } from "./util/redact.ts";
export {
  createLogger,
  formatLine,
  type LoadSnapshot,
  type Logger,
  type LoggerOptions,
  type ProgressEvent,
} from "./util/logger.ts";
export { TOOL_VERSION } from "./version.ts";
