/**
 * The load's statements, resolved once before the run: each template compiled against the history columns
 * into a named prepared statement, with an index per parameter saying where its value comes from (a history
 * column, or a value generated per request). Binding a request is then array indexing, nothing parsed.
 */
import { type Load, writeOperations } from "../scenario/schema.ts";
import type { Logger } from "../util/logger.ts";
import type { SourceReader, SourceRow } from "./source-reader.ts";
import {
  GENERATED_PARAMS,
  type GeneratedParam,
  parseTemplate,
  resolveParams,
  TemplateError,
} from "./template.ts";
import type { PreparedStatement } from "./wire.ts";

// A statement parameter's source: ≥ 0 is a history row index, negative a generated value.
const GEN_UUID = -1;
const GEN_NOW = -2;
const GEN_RUN = -3;
const GEN_OP = -4;
const GEN_CODE: Record<GeneratedParam, number> = {
  new_uuid: GEN_UUID,
  now: GEN_NOW,
  run_id: GEN_RUN,
  op: GEN_OP,
};

export interface Compiled {
  prepared: PreparedStatement;
  when: string | undefined;
  unless: string | undefined;
  sources: Int32Array;
}

/** One operation of the write mix, compiled. */
export interface CompiledOp {
  name: string;
  weight: number;
  writes: Compiled[];
  /**
   * Its acknowledged writes go to the ack ledger: it uses the ack key (or no operation does, and every write
   * is acknowledged as before mixes existed). An UPDATE or DELETE of a history row has no new key to find.
   */
  acks: boolean;
}

/** Everything the engine sends, and which generated values a request needs (the others cost nothing). */
export interface LoadStatements {
  /** The write mix: one operation per write arrival, picked by weight (mix.ts). */
  ops: CompiledOp[];
  read: Compiled | undefined;
  /** Where a write's ack key comes from (a parameter source). */
  ackSource: number;
  needUuid: boolean;
  needNow: boolean;
  needOp: boolean;
}

/** One request's generated values; the engine reuses one object, refilled per request. */
export interface Generated {
  uuid: string;
  now: string;
  runId: string;
  op: string;
}

/** "load.write.mix[1].statements[0].sql" for an operation's i-th statement. */
function where(at: (string | number)[], i: number): string {
  return `${[...at, i].join(".").replace(/\.(\d+)/g, "[$1]")}.sql`;
}

/** Compiles one template against the history columns; names each statement for PREPARE. */
function compile(sql: string, name: string, source: SourceReader, where: string): Compiled {
  try {
    const t = parseTemplate(sql);
    const params = resolveParams(t.names, source.columns);
    const sources = Int32Array.from(params, (p) => (p.kind === "column" ? p.index : GEN_CODE[p.name]));
    // History columns are bound with their own column's type, so `-:amount` resolves (an untyped parameter
    // would leave `-` ambiguous); generated values stay untyped and take the type their context needs.
    const types = Array.from(sources, (s) => (s >= 0 ? (source.types[s] ?? 0) : 0));
    return { prepared: { name, text: t.text, types }, when: undefined, unless: undefined, sources };
  } catch (err) {
    if (err instanceof TemplateError) throw new Error(`${where}: ${err.message}`);
    throw err;
  }
}

/** Compiles the load's write and read statements and resolves its ack key; throws what the user must fix. */
export function compileLoad(load: Load, source: SourceReader, logger: Logger): LoadStatements {
  const ops = writeOperations(load).map((op, o) => ({
    name: op.name,
    weight: op.weight,
    acks: true,
    writes: op.statements.map((st, i) => ({
      ...compile(st.sql, o === 0 ? `rehearse_w${i}` : `rehearse_w${o}_${i}`, source, where(op.at, i)),
      when: st.when,
      unless: st.unless,
    })),
  }));
  const writes = ops.flatMap((op) => op.writes);
  const read = load.read ? compile(load.read.sql, "rehearse_r", source, "load.read.sql") : undefined;

  const used = new Set<number>();
  for (const c of [...writes, ...(read ? [read] : [])]) for (const s of c.sources) used.add(s);
  const ackKey = load.write.ack_key;
  const ackGen = (GENERATED_PARAMS as readonly string[]).includes(ackKey);
  const ackCol = source.columns.get(ackKey);
  if (!ackGen && ackCol === undefined)
    throw new Error(
      `load.write.ack_key: :${ackKey} is neither a history column (source.columns) nor a generated value (${GENERATED_PARAMS.join(", ")})`,
    );
  const ackSource = ackGen ? GEN_CODE[ackKey as GeneratedParam] : ackCol!;
  if (!writes.some((w) => w.sources.includes(ackSource)))
    logger.info(
      `load: no write statement uses :${ackKey} (write.ack_key), so the ack ledger's keys are not in the table`,
    );
  used.add(ackSource);
  const usesAck = (op: CompiledOp) => op.writes.some((w) => w.sources.includes(ackSource));
  if (ops.some(usesAck)) for (const op of ops) op.acks = usesAck(op);
  return {
    ops,
    read,
    ackSource,
    needUuid: used.has(GEN_UUID),
    needNow: used.has(GEN_NOW),
    needOp: used.has(GEN_OP),
  };
}

/** The value of parameter source `s` for one request. */
export function bindValue(s: number, row: SourceRow, g: Generated): string | null {
  return s >= 0 ? row[s]! : s === GEN_UUID ? g.uuid : s === GEN_NOW ? g.now : s === GEN_RUN ? g.runId : g.op;
}

/** Binds one statement's values in place (the array is reused for every request on the connection). */
export function bindValues(
  values: (string | null)[],
  sources: Int32Array,
  row: SourceRow,
  g: Generated,
): void {
  for (let p = 0; p < sources.length; p++) values[p] = bindValue(sources[p]!, row, g);
}
