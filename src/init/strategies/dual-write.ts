/**
 * `rehearse init --strategy dual-write` (events-dual-write, write-up 000): a partitioned copy the application
 * writes to alongside the table while the history is copied over in batches, then reads move to it.
 */
import type { ColumnInfo } from "../../catalog/types.ts";
import { ident, qualified } from "../../db/sql.ts";
import { dateValue } from "../../scenario/dates.ts";
import { renderGrants, renderRls } from "../ddl.ts";
import { isoInstant } from "../fit.ts";
import type { Scaffold, ScaffoldOptions } from "../scaffold-types.ts";
import { followViews, uniquenessGuard } from "./carry-over.ts";
import { InitError, type SourceTable } from "../source.ts";
import {
  choosePartitionKey,
  guardInvariants,
  widenedKeys,
  type Info,
  type KeyChoice,
  name63,
  names,
  nextMonthSql,
} from "../strategy-common.ts";
import { columnDefs, copiedIndexes, copiedTriggers, keyedConstraints, seqLiteral } from "./copied-ddl.ts";
import { integerKey, plainTable, plainUniques, refuseIf, noIncomingForeignKeys } from "./refusals.ts";

interface RangeLayout {
  parts: { suffix: string; from: string; to: string }[];
  premade: string | number;
}

/** Range partitions on the key: the history up to this month (or a round integer), then three ahead. */
function rangeLayout(info: Info, picked: KeyChoice, now: Date): RangeLayout {
  if (picked.kind === "time") {
    const bound = dateValue("month", 1, now);
    refuseIf(
      picked.max >= Date.parse(isoInstant(bound)!),
      `${info.qualifiedName}.${picked.column.name} has values at or after ${bound} (the start of next month; the premade partitions begin there)`,
      "choose a partition key whose values lie in the past, or edit the partition bounds in the scaffold",
    );
    return {
      parts: [
        { suffix: "p_history", from: "MINVALUE", to: "'{{month}}'" },
        { suffix: "p_current", from: "'{{month}}'", to: "'{{month+1}}'" },
        ...[1, 2, 3].map((k) => ({
          suffix: `p_next${k}`,
          from: `'{{month+${k}}}'`,
          to: `'{{month+${k + 1}}}'`,
        })),
      ],
      premade: "1 month",
    };
  }
  const step = 10 ** Math.max(1, Math.floor(Math.log10(Math.max(10, picked.max))));
  const start = (Math.floor(picked.max / step) + 1) * step;
  return {
    parts: [
      { suffix: "p_history", from: "MINVALUE", to: String(start) },
      ...[0, 1, 2].map((k) => ({
        suffix: `p${start + k * step}`,
        from: String(start + k * step),
        to: String(start + (k + 1) * step),
      })),
    ],
    premade: step,
  };
}

/** Everything the files, steps and invariants are written from. */
interface Plan {
  info: Info;
  naming: ReturnType<typeof names>;
  /** The integer key the batches are cut along. */
  key: ColumnInfo;
  picked: KeyChoice;
  layout: RangeLayout;
  /** The partitioned copy. */
  N: string;
  /** The key's sequence as a regclass literal, when it has one. */
  seq: string | null;
}

/** migration/01_create_partitioned.sql: the copy, its partitions, indexes and privileges. */
function createSql(p: Plan): string {
  const { info, key, N, seq } = p;
  const { T, rel } = p.naming;
  const K = p.picked.column.name;
  const parts = p.layout.parts.map((x) => ({ ...x, name: name63(`${T}_${x.suffix}`) }));
  const create: string[] = [
    `-- events-dual-write: a partitioned copy with the same columns. Its unique keys gain ${K} (the partition`,
    `-- key must be part of them). No DEFAULT on ${key.name} yet: while the application dual-writes it passes the`,
    "-- legacy row's id; the sequence is attached once the backfill has caught up.",
    `CREATE TABLE ${rel(N)} (\n${[
      ...columnDefs(info, [K], (c) => (c.name === key.name && seq ? null : c.default)),
      ...keyedConstraints(info, K, N),
    ].join(",\n")}\n) PARTITION BY RANGE (${ident(K)});`,
    "",
    p.picked.kind === "time"
      ? "-- History in one partition; from this month on, one a month, three months ahead."
      : "-- History in one partition; then three ranges ahead, each a power of ten wide.",
    ...parts.map(
      (x) =>
        `CREATE TABLE ${rel(x.name)} PARTITION OF ${rel(N)}\n  FOR VALUES FROM (${x.from}) TO (${x.to});`,
    ),
  ];
  const indexes = copiedIndexes(info, K, N, rel(N));
  if (indexes.length)
    create.push(
      "",
      "-- The copy is empty: building its indexes now costs nothing and locks nothing.",
      ...indexes,
    );
  const grants = [...renderGrants(info, rel(N)), ...renderRls(info, rel(N))];
  if (grants.length) create.push("", "-- Privileges and policies, on the new parent.", ...grants);
  create.push(...uniquenessGuard(info, K, N, widenedKeys(info, K)).sql);
  const triggers = copiedTriggers(info, rel(N));
  if (triggers.length)
    create.push(
      "",
      "-- Not created yet: the backfill must copy rows as they are. Create them when writes move here:",
      ...triggers.map((d) => `-- ${d}`),
    );
  return `${create.join("\n")}\n`;
}

/** The setval that moves the sequence past every id in either table, and only forward. */
function forwardSetval(p: Plan): string {
  const { key, N, seq } = p;
  const { T, rel } = p.naming;
  if (!seq || !key.sequence) return "";
  const maxOf = (n: string) => `(SELECT coalesce(max(${ident(key.name)}), 0) FROM ${rel(n)})`;
  // Forward only: writes go on while this runs, and a setval below an id already handed to a transaction
  // that has not committed yet hands it out again (events-dual-write caught it: 23505 on the legacy key).
  return (
    "-- Only when the sequence is behind, and only forward: a setval below an id in flight would hand it\n" +
    "-- out again (sequence-rewind-under-load).\n" +
    `SELECT setval(${seq}, t.target)\nFROM (SELECT GREATEST(1, ${maxOf(T)}, ${maxOf(N)}) AS target) t,\n` +
    `     (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS handed_out FROM ${qualified(key.sequence)}) s\n` +
    "WHERE t.target > s.handed_out;"
  );
}

/** The migration's files: the copy, the sequence hand-over, the check before reads move. */
function migrationFiles(p: Plan): Record<string, string> {
  const { key, N, seq } = p;
  const { T, rel } = p.naming;
  const files: Record<string, string> = { "migration/01_create_partitioned.sql": createSql(p) };
  if (seq)
    files["migration/02_sync_sequence.sql"] =
      "-- events-dual-write: attach the same sequence and make sure nextval cannot collide with any id in\n" +
      "-- either table. Each statement commits alone (transaction: false): the ALTER holds ACCESS EXCLUSIVE on\n" +
      "-- the partitioned table, and held across the setval it deadlocks with the dual-write.\n" +
      `ALTER TABLE ${rel(N)} ALTER COLUMN ${ident(key.name)} SET DEFAULT nextval(${seq});\n${forwardSetval(p)}\n`;
  files["migration/03_verify_reads.sql"] =
    "-- Before reads move, the copy must hold exactly what the legacy table holds (one statement, one snapshot).\n" +
    "DO $$\nDECLARE\n  legacy bigint;\n  partitioned bigint;\nBEGIN\n" +
    `  SELECT (SELECT count(*) FROM ${rel(T)}), (SELECT count(*) FROM ${rel(N)}) INTO legacy, partitioned;\n` +
    "  IF legacy <> partitioned THEN\n" +
    `    RAISE EXCEPTION 'backfill incomplete: % rows in ${T.replace(/'/g, "''")}, % in ${N.replace(/'/g, "''")}', legacy, partitioned;\n` +
    "  END IF;\nEND $$;\n";
  return files;
}

/** The batch copy from `source` to `target` along the key. */
function copy(p: Plan, source: string, target: string) {
  const { display } = p.naming;
  return {
    source: display(source),
    target: display(target),
    key: p.key.name,
    batch: 2000,
    workers: 1,
    on_conflict: "skip",
    throttle: { sleep: "10ms" },
  };
}

/** The rollback: the sequence back past the copy's ids, then the rows written since copied back. */
function rollback(p: Plan): { files: Record<string, string>; steps: unknown[] } {
  const files: Record<string, string> = {};
  const steps: unknown[] = [];
  if (p.seq) {
    files["rollback/01_sequence_back.sql"] =
      "-- The legacy table takes writes again, with ids past every id the partitioned table handed out.\n" +
      `${forwardSetval(p)}\n`;
    steps.push({ name: "sequence_back", sql: { file: "rollback/01_sequence_back.sql" } });
  }
  const { throttle: _unused, ...copyBack } = copy(p, p.N, p.naming.T);
  steps.push({ name: "copy_back", backfill: copyBack });
  return { files, steps };
}

function invariants(p: Plan): unknown[] {
  const { key, N } = p;
  const { T, display, allCols } = p.naming;
  const out: unknown[] = [
    { check: "row_parity", source: display(T), target: display(N), key: key.name, columns: allCols },
    { check: "indexes_valid", tables: [display(N)] },
    { check: "indexes_preserved", original: display(T), target: display(N) },
    { check: "partitions_cover", table: display(N), premade: p.layout.premade },
  ];
  if (p.seq)
    out.splice(1, 0, {
      check: "sequence",
      table: display(N),
      column: key.name,
      sequence: key.sequence!.replace(/^public\./, ""),
      also: [display(T)],
    });
  const route = p.picked.kind === "time" ? nextMonthSql(p.picked.column.type) : p.layout.parts.at(-1)!.from;
  out.push(...guardInvariants(p.info, p.picked.column.name, N, { route, follow: N }));
  return out;
}

/** The write path rehearse init cannot see: a commented load template for scenario.yaml. */
function writePathAppendix(p: Plan): string {
  const { key, N } = p;
  const { T, rel, display, allCols } = p.naming;
  const insertCols = allCols.filter((c) => c !== key.name);
  return [
    "",
    "# The write path: rehearse init cannot see the application's writes. To rehearse the dual-write under load",
    "# (scenarios/events-dual-write), fill in this template, uncomment it, and add the flag steps to the",
    "# backfill phase, before copy_history:",
    "#   - {name: enable_dual_write, flag: {dual_write: on}}",
    '#   - {name: wait_for_flag_rollout, sql: "SELECT pg_sleep(1)"}',
    "# and after verify_reads a stop_legacy phase: - {name: stop_legacy_writes, flag: {dual_write: off, partitioned_only: on}}",
    "# load:",
    `#   source: {table: ${display(T)}, key: ${key.name}, columns: [${insertCols.join(", ")}]}`,
    "#   mode: reverse",
    "#   write:",
    "#     statements:",
    `#       - sql: "INSERT INTO ${rel(T).replace(/"/g, '\\"')} (${insertCols.join(", ")}) VALUES (${insertCols.map((c) => `:${c}`).join(", ")})"`,
    "#         unless: partitioned_only",
    `#       - sql: "INSERT INTO ${rel(N).replace(/"/g, '\\"')} SELECT * FROM ${rel(T).replace(/"/g, '\\"')} WHERE ${key.name} = currval('${key.sequence ?? "<sequence>"}') ON CONFLICT DO NOTHING"`,
    "#         when: dual_write",
    `#       - sql: "INSERT INTO ${rel(N).replace(/"/g, '\\"')} (${insertCols.join(", ")}) VALUES (${insertCols.map((c) => `:${c}`).join(", ")})"`,
    "#         when: partitioned_only",
    "#   rate: 200",
    "#   connections: 8",
    "",
  ].join("\n");
}

export function dualWrite(t: SourceTable, now: Date, opts: ScaffoldOptions = {}): Scaffold {
  const info = t.info;
  plainTable(info, "dual-write");
  const key = integerKey(info, "dual-write", "copies the history in batches by an integer key");
  plainUniques(info);
  noIncomingForeignKeys(
    info,
    "dual-write",
    "moves the writes and reads to a new partitioned table: they would keep pointing at the legacy one",
  );
  const picked = choosePartitionKey(t, opts.partitionKey);
  if (picked instanceof InitError) throw picked;
  const layout = rangeLayout(info, picked, now);
  const naming = names(info);
  const N = name63(`${naming.T}_partitioned`);
  const p: Plan = { info, naming, key, picked, layout, N, seq: key.sequence ? seqLiteral(key) : null };

  const flipSteps: unknown[] = [];
  if (p.seq)
    flipSteps.push({
      name: "sync_sequence",
      sql: { file: "migration/02_sync_sequence.sql" },
      transaction: false,
      lock_timeout: "500ms",
      retry: { attempts: 5, backoff: "100ms" },
    });
  flipSteps.push({ name: "verify_reads", sql: { file: "migration/03_verify_reads.sql" } });
  const views = followViews(t, N);
  if (views.length)
    flipSteps.push({ name: "views_read_partitioned", sql: { file: "migration/04_views.sql" } });
  const back = rollback(p);
  return {
    notes: [`partition key ${picked.why}`],
    phases: [
      {
        name: "prepare",
        steps: [{ name: "create_partitioned", sql: { file: "migration/01_create_partitioned.sql" } }],
      },
      { name: "backfill", steps: [{ name: "copy_history", backfill: copy(p, naming.T, N) }] },
      { name: "flip_reads", steps: flipSteps },
    ],
    rollback: back.steps,
    invariants: invariants(p),
    files: {
      ...migrationFiles(p),
      ...(views.length ? { "migration/04_views.sql": `${views.join("\n").trimStart()}\n` } : {}),
      ...back.files,
    },
    yamlAppendix: writePathAppendix(p),
  };
}
