/**
 * Migration scaffolds for `rehearse init --strategy`: the steps, rollback and invariants of a built-in
 * strategy, filled in from the source table's catalog and statistics. Pure: the source read in, files and
 * scenario sections out. A strategy that cannot apply to the table throws InitError with the reason and fix.
 * Each strategy lives in strategies/ (one file each); this is the entry point the CLI and init use.
 */
import type { Scaffold, ScaffoldOptions, StrategyName } from "./scaffold-types.ts";
import type { SourceRead } from "./source.ts";
import { SCAFFOLDERS } from "./strategies/index.ts";

export { STRATEGIES, type Scaffold, type ScaffoldOptions, type StrategyName } from "./scaffold-types.ts";
export { choosePartitionKey } from "./strategy-common.ts";

/** Builds the scaffold of `strategy` for the table `key` ("schema.name"). */
export function scaffoldStrategy(
  strategy: StrategyName,
  read: SourceRead,
  key: string,
  opts: ScaffoldOptions = {},
  now = new Date(),
): Scaffold {
  const source = read.tables.find((t) => t.info.qualifiedName === key)!;
  return SCAFFOLDERS[strategy](source, now, opts);
}
