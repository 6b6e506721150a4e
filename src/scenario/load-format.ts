/**
 * The `load:` section of scenario.yaml (README "Load"): the history source, the write mix, the rate, the
 * read, the connections and the soak. Part of the format (schema.ts re-exports it); kept apart for size.
 */
import { z } from "zod";
import { Duration, Identifier, TableName } from "./format-common.ts";

const ParamName = z.string().regex(/^[a-z_][a-z0-9_]*$/, "a parameter name (letters, digits, _)");

export const WriteStatement = z.strictObject({
  /** SQL with :name parameters: history columns (:amount), :new_uuid, :now, :run_id, :op (a counter). */
  sql: z.string().min(1),
  /**
   * Run only while this flag is on (000's dual-write). The statement is checked against the database only
   * once the flag is on, so it may name a table the migration creates.
   */
  when: ParamName.optional(),
  /** Run only while this flag is off (000's legacy write, stopped once the new table takes every write). */
  unless: ParamName.optional(),
});

/**
 * One kind of write in a weighted mix (an INSERT, an UPDATE of an existing row, a DELETE…): each write arrival
 * runs one operation, picked by weight from the run's seed, with its own statements and parameters.
 */
export const WriteOperation = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]*$/, "an operation name: lower-case letters, digits, - and _"),
  /** Its share of the write arrivals is weight / the sum of the mix's weights. */
  weight: z
    .number({ error: "a weight: a number above zero (its share is weight / the sum of the weights)" })
    .positive({ error: "a weight above zero (its share is weight / the sum of the weights)" })
    .finite(),
  statements: z.array(WriteStatement).min(1),
});
export type WriteOperation = z.output<typeof WriteOperation>;

/**
 * What a write arrival runs: `statements` (every arrival the same write: a mix of one) or `mix` (one weighted
 * operation per arrival). Exactly one of the two.
 */
const Write = z
  .strictObject({
    statements: z.array(WriteStatement).min(1).optional(),
    mix: z.array(WriteOperation).min(1).optional(),
    /** Several statements run in one transaction unless this is false. */
    transaction: z.boolean().default(true),
    /** The generated parameter that identifies an acknowledged write (recorded in the ack ledger). */
    ack_key: ParamName.default("new_uuid"),
  })
  .superRefine((w, ctx) => {
    if (w.statements && w.mix)
      ctx.addIssue({
        code: "custom",
        path: ["mix"],
        message: "write has both statements: and mix: — give one (statements: is a mix of one operation)",
      });
    else if (!w.statements && !w.mix)
      ctx.addIssue({
        code: "custom",
        path: ["statements"],
        message: 'missing required field "statements" (or "mix")',
      });
    const seen = new Set<string>();
    for (const [i, op] of (w.mix ?? []).entries()) {
      if (seen.has(op.name))
        ctx.addIssue({
          code: "custom",
          path: ["mix", i, "name"],
          message: `two operations of the mix are named "${op.name}": each needs its own name`,
        });
      seen.add(op.name);
    }
  });

const RateStage = z.strictObject({ duration: Duration, target: z.number().nonnegative() });

export const Load = z.strictObject({
  engine: z.enum(["native"]).default("native"),
  /** The table's own history, read by keyset, streamed in batches, never loaded whole. */
  source: z.strictObject({
    table: TableName,
    key: Identifier.default("id"),
    columns: z.array(Identifier).min(1),
    /** At the end of the history: start over, or stop the load (the run becomes inconclusive). */
    at_end: z.enum(["wrap", "stop"]).default("wrap"),
    batch: z.number().int().min(1).max(100_000).default(2000),
  }),
  /** reverse: newest first, each write the inverse of a historical one (001); forward: oldest first. */
  mode: z.enum(["reverse", "forward"]).default("reverse"),
  write: Write,
  /** Operations per second: a constant, or ramping stages. */
  rate: z.union([
    z.number().positive({ error: "a rate above zero (operations per second)" }),
    z.strictObject({ stages: z.array(RateStage).min(1) }),
  ]),
  read: z
    .strictObject({
      sql: z.string().min(1),
      rate: z.number().positive({ error: "a read rate above zero (queries per second)" }),
    })
    .optional(),
  connections: z.number().int().min(1).max(500).default(8),
  max_in_flight: z.number().int().min(1).max(100_000).default(256),
  /**
   * Worker threads the load runs on, each with a disjoint share of the arrivals, the history and the
   * connections. Default: half the machine's cores (the server usually shares the machine), at most
   * `connections`; 1 runs the load on the main thread.
   */
  workers: z.number().int().min(1).max(64).optional(),
  /** A request whose start is this late is dropped (counted, not sent). */
  drop_after: Duration.default(5000),
  /** Load before the first migration step (the baseline phase). */
  warmup: Duration.default(2000),
  /**
   * The soak: load after the last step, judged like a phase (budgets.load key "soak", default error_rate 0), so
   * an application the finished migration broke fails the run. Default 5 s (SOAK_DEFAULT_MS).
   */
  soak: Duration.optional(),
  /** The soak's former name, still read when `soak` is not given (soakOf). */
  cooldown: Duration.optional(),
  /**
   * SQLSTATEs the application expects and handles (a dual write's 23505 races): counted and reported, never
   * toward error_rate.
   */
  expected_errors: z
    .array(
      z
        .string()
        .regex(
          /^[0-9A-Z]{5}$/,
          "a SQLSTATE: five digits or capital letters, e.g. 23505 for unique_violation",
        ),
    )
    .default([]),
});
export type Load = z.output<typeof Load>;

/** The soak when the scenario gives neither `soak` nor `cooldown`. */
export const SOAK_DEFAULT_MS = 5000;

/** How long the load runs (and is judged) after the last step. */
export function soakOf(load: Pick<Load, "soak" | "cooldown">): number {
  return load.soak ?? load.cooldown ?? SOAK_DEFAULT_MS;
}

/** One operation of the write mix as the engine runs it, with where it sits in scenario.yaml. */
export interface WriteOp {
  name: string;
  weight: number;
  statements: z.output<typeof WriteStatement>[];
  /** The statements' path in scenario.yaml: ["load", "write", "statements"] or […, "mix", i, "statements"]. */
  at: (string | number)[];
}

/** The write mix: `mix` as given, or `statements` as a mix of one operation named "write". */
export function writeOperations(load: Pick<Load, "write">): WriteOp[] {
  const w = load.write;
  if (w.mix) return w.mix.map((op, i) => ({ ...op, at: ["load", "write", "mix", i, "statements"] }));
  return [{ name: "write", weight: 1, statements: w.statements ?? [], at: ["load", "write", "statements"] }];
}
