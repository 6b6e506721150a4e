/** The registry: which function scaffolds each strategy, so scaffold.ts knows none of them. */
import type { Scaffold, ScaffoldOptions, StrategyName } from "../scaffold-types.ts";
import type { SourceTable } from "../source.ts";
import { attachHistory } from "./attach-history.ts";
import { dualWrite } from "./dual-write.ts";
import { inheritance } from "./inheritance.ts";
import { partman } from "./partman.ts";
import { viewUnion } from "./view-union.ts";

/** Builds one strategy's scaffold for a source table; throws InitError when the strategy cannot apply. */
export type Scaffolder = (t: SourceTable, now: Date, opts: ScaffoldOptions) => Scaffold;

export const SCAFFOLDERS: Record<StrategyName, Scaffolder> = {
  "attach-history": attachHistory,
  "dual-write": dualWrite,
  "view-union": viewUnion,
  inheritance,
  partman,
};
