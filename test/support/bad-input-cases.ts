/**
 * The bad-input corpus: malformed scenarios and flags, each of which must make the real CLI exit 2 with a
 * message naming the file (and line), the field and a fix, and no stack trace. Plain data, exported so other
 * tools can count and group the cases; test/integration/bad-input.test.ts runs them.
 *
 * Every case breaks the same valid scenario (`BASE`) in exactly one place. `edit` refuses a replacement that
 * does not apply, so a case can never silently turn back into the valid scenario.
 */

export type BadInputCategory =
  | "yaml-syntax"
  | "wrong-type"
  | "unknown-key"
  | "missing-file"
  | "sql-syntax"
  | "missing-reference"
  | "impossible-rate"
  | "budget-unit"
  | "conflicting-provider"
  | "cli-flag";

export interface BadInputCase {
  name: string;
  category: BadInputCategory;
  /** CLI arguments; SCENARIO stands for the case's scenario folder. */
  args: string[];
  /** The scenario folder's files (relative path → text); absent when the case needs no folder. */
  files?: Record<string, string>;
  /** Environment added for the case (the test removes every PG* variable first). */
  env?: Record<string, string>;
  /** Each must match stdout + stderr: the file (with line where there is one), the field, the fix. */
  want: RegExp[];
  /** The case fails only once a server is up (a reference only the catalog can refute). */
  server?: boolean;
}

/** Placeholder for the scenario folder in `args`. */
export const SCENARIO = "<scenario>";

export const BASE_SCENARIO = `version: 1
name: bad-input-base
description: the valid scenario each bad-input case breaks in one place
target:
  provider: embedded
dataset:
  schema: {file: schema.sql}
  seed: 7
  tables:
    - name: items
      rows: 300
      columns:
        id: {gen: serial}
        v: {gen: uniform, min: 1, max: 9}
migration:
  phases:
    - name: change
      steps:
        - name: add-column
          sql: {file: migration/01_add_column.sql}
          lock_timeout: 2s
rollback:
  steps:
    - name: drop-column
      sql: {file: rollback/01_drop_column.sql}
invariants:
  - {check: indexes_preserved, original: items, target: items}
  - {check: sequence, table: items, column: id}
  - {check: row_parity, source: items, source_at: before, target: items, key: id, columns: [id, v]}
budgets:
  locks:
    - {mode: AccessExclusiveLock, relation: "*", max: 1000ms}
  phases: {change: 5s}
`;

const SCHEMA = `CREATE TABLE items (id bigserial PRIMARY KEY, v int NOT NULL);
CREATE INDEX items_v ON items (v);
CREATE TABLE items_copy (id bigint PRIMARY KEY, v int);
`;

const MIGRATION = `-- a cheap, catalog-only change
ALTER TABLE items ADD COLUMN note text;
`;

const ROLLBACK = `ALTER TABLE items DROP COLUMN note;
`;

/** The valid scenario folder every case starts from. */
export const BASE_FILES: Readonly<Record<string, string>> = {
  "scenario.yaml": BASE_SCENARIO,
  "schema.sql": SCHEMA,
  "migration/01_add_column.sql": MIGRATION,
  "rollback/01_drop_column.sql": ROLLBACK,
};

/** A load section that works against the base scenario (cases break one field of it). */
export const LOAD = `load:
  source: {table: items, key: id, columns: [v]}
  write:
    statements:
      - sql: "INSERT INTO items (v) VALUES (:v)"
  rate: 20
  connections: 2
  warmup: 100ms
  cooldown: 100ms
`;

/** A backfill step appended to the base migration's phase. */
const BACKFILL = `        - name: copy
          backfill: {source: items, target: items_copy, key: id, batch: 100}
`;

/** A background section for the base scenario: a long read of items, with its start, duration or kind replaced. */
function background(start: string, duration = "duration: 2s", kind = "kind: long_read", sql = ""): string {
  return `background:\n  - name: reporting\n    ${kind}\n    table: items\n    ${duration}\n    ${start}\n${sql ? `    ${sql}\n` : ""}`;
}

/** Applies each [from, to] replacement once; throws when `from` is not there. */
function edit(text: string, ...pairs: [string, string][]): string {
  let out = text;
  for (const [from, to] of pairs) {
    if (!out.includes(from)) throw new Error(`bad-input case: ${JSON.stringify(from)} is not in the text`);
    out = out.replace(from, to);
  }
  return out;
}

/** The base files with scenario.yaml edited. */
function yaml(...pairs: [string, string][]): Record<string, string> {
  return { ...BASE_FILES, "scenario.yaml": edit(BASE_SCENARIO, ...pairs) };
}

/** The base files with scenario.yaml edited and other files replaced (undefined removes one). */
function files(
  changes: Record<string, string | undefined>,
  ...pairs: [string, string][]
): Record<string, string> {
  const out: Record<string, string | undefined> = { ...yaml(...pairs), ...changes };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The 1-based line of the first line containing `needle` in `text`. */
export function lineOf(text: string, needle: string): number {
  const i = text.split("\n").findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`bad-input case: ${JSON.stringify(needle)} is on no line`);
  return i + 1;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `scenario.yaml:<line>:<col>: <path>:` for the line of `needle` in the case's scenario.yaml. */
function at(f: Record<string, string>, needle: string, fieldPath: string): RegExp {
  return new RegExp(`scenario\\.yaml:${lineOf(f["scenario.yaml"]!, needle)}:\\d+: ${esc(fieldPath)}:`);
}

const FIX = /fix: \S/;
const run = [`run`, SCENARIO];

function scenarioCase(
  category: BadInputCategory,
  name: string,
  f: Record<string, string>,
  want: (f: Record<string, string>) => RegExp[],
  extra: Partial<BadInputCase> = {},
): BadInputCase {
  return { name, category, args: run, files: f, want: [...want(f), FIX], ...extra };
}

/** Cases that are flags, not files: run against the valid base scenario (or none). */
function flagCase(name: string, args: string[], want: RegExp[], withScenario = true): BadInputCase {
  return {
    name,
    category: "cli-flag",
    args,
    ...(withScenario ? { files: { ...BASE_FILES } } : {}),
    want,
  };
}

export const BAD_INPUT_CASES: BadInputCase[] = [
  // ------------------------------------------------------------------ YAML syntax
  scenarioCase(
    "yaml-syntax",
    "an unclosed flow mapping",
    yaml(["id: {gen: serial}", "id: {gen: serial"]),
    () => [/scenario\.yaml:\d+:\d+: .*(flow|Flow|collection)/],
  ),
  scenarioCase(
    "yaml-syntax",
    "a key indented under a scalar",
    yaml(["  seed: 7\n", "  seed: 7\n     extra: 1\n"]),
    // The parser reports it where the compact mapping starts: the key above.
    (f) => [new RegExp(`scenario\\.yaml:${lineOf(f["scenario.yaml"]!, "seed: 7")}:\\d+: YAML: `)],
  ),
  scenarioCase("yaml-syntax", "a duplicated key", yaml(["  seed: 7\n", "  seed: 7\n  seed: 8\n"]), (f) => [
    new RegExp(`scenario\\.yaml:${lineOf(f["scenario.yaml"]!, "seed: 8")}:\\d+: .*unique`),
  ]),
  scenarioCase("yaml-syntax", "an empty scenario.yaml", files({ "scenario.yaml": "" }), () => [
    /scenario\.yaml:.*empty/,
  ]),
  scenarioCase(
    "yaml-syntax",
    "a list where the scenario mapping belongs",
    files({ "scenario.yaml": "- version: 1\n- name: x\n" }),
    () => [/scenario\.yaml:.*(mapping|object)/],
  ),
  scenarioCase("yaml-syntax", "a tab used for indentation", yaml(["  seed: 7\n", "\tseed: 7\n"]), (f) => [
    new RegExp(`scenario\\.yaml:${lineOf(f["scenario.yaml"]!, "\tseed: 7")}:\\d+: `),
  ]),

  // ------------------------------------------------------------------ wrong types
  scenarioCase("wrong-type", "rows given as words", yaml(["rows: 300", "rows: many"]), (f) => [
    at(f, "rows: many", "dataset.tables[0].rows"),
    /number/,
  ]),
  scenarioCase("wrong-type", "a negative row count", yaml(["rows: 300", "rows: -5"]), (f) => [
    at(f, "rows: -5", "dataset.tables[0].rows"),
  ]),
  scenarioCase(
    "wrong-type",
    "no_lost_writes told a write creates no rows",
    yaml([
      "  - {check: sequence, table: items, column: id}\n",
      "  - {check: sequence, table: items, column: id}\n  - {check: no_lost_writes, table: items, column: v, rows_per_write: 0}\n",
    ]),
    (f) => [at(f, "rows_per_write: 0", "invariants[2].rows_per_write"), /at least 1/],
  ),
  scenarioCase(
    "wrong-type",
    "a format version this rehearse does not read",
    yaml(["version: 1", "version: 2"]),
    (f) => [at(f, "version: 2", "version"), /version 1/],
  ),
  scenarioCase(
    "wrong-type",
    "a scenario name with spaces and capitals",
    yaml(["name: bad-input-base", "name: Bad Input"]),
    (f) => [at(f, "name: Bad Input", "name"), /lower-case/],
  ),
  scenarioCase(
    "wrong-type",
    "a string where transaction takes a boolean",
    yaml(["          lock_timeout: 2s\n", "          lock_timeout: 2s\n          transaction: sometimes\n"]),
    (f) => [at(f, "transaction: sometimes", "migration.phases[0].steps[0].transaction"), /boolean/],
  ),
  scenarioCase(
    "wrong-type",
    "a generator that does not exist",
    yaml(["v: {gen: uniform, min: 1, max: 9}", "v: {gen: gaussian, mean: 5}"]),
    (f) => [at(f, "gen: gaussian", "dataset.tables[0].columns.v.gen"), /uniform/],
  ),
  scenarioCase(
    "wrong-type",
    "an invariant check that does not exist",
    yaml(["{check: sequence, table: items, column: id}", "{check: sequences, table: items}"]),
    (f) => [at(f, "check: sequences", "invariants[1].check"), /"sequence"/],
  ),
  scenarioCase(
    "wrong-type",
    "phases given as a mapping",
    yaml(["  phases:\n    - name: change\n", "  phases:\n    change:\n      name: change\n"]),
    (f) => [at(f, "    change:", "migration.phases"), /array/],
  ),

  // ------------------------------------------------------------------ unknown keys
  scenarioCase("unknown-key", "a misspelt top-level section", yaml(["invariants:", "invariant:"]), (f) => [
    new RegExp(`scenario\\.yaml:${lineOf(f["scenario.yaml"]!, "invariant:")}:\\d+: .*"invariant"`),
  ]),
  scenarioCase(
    "unknown-key",
    "a misspelt step option",
    yaml(["lock_timeout: 2s", "lock_timout: 2s"]),
    (f) => [at(f, "lock_timout", "migration.phases[0].steps[0].lock_timout"), /unknown key "lock_timout"/],
  ),
  scenarioCase(
    "unknown-key",
    "a misspelt target option",
    yaml(["  provider: embedded\n", "  provider: embedded\n  replicas: true\n"]),
    (f) => [at(f, "replicas: true", "target.replicas"), /unknown key "replicas"/],
  ),

  // ------------------------------------------------------------------ missing files
  scenarioCase(
    "missing-file",
    "a scenario folder without scenario.yaml",
    files({ "scenario.yaml": undefined }),
    () => [/scenario\.yaml/, /(no such|not found|does not exist|missing)/i],
  ),
  scenarioCase(
    "missing-file",
    "a schema file that does not exist",
    yaml(["schema: {file: schema.sql}", "schema: {file: schema-v2.sql}"]),
    (f) => [at(f, "schema-v2.sql", "dataset.schema.file"), /schema-v2\.sql/],
  ),
  scenarioCase(
    "missing-file",
    "a migration SQL file that does not exist",
    files({ "migration/01_add_column.sql": undefined }),
    (f) => [at(f, "01_add_column.sql", "migration.phases[0].steps[0].sql.file"), /01_add_column\.sql/],
  ),
  scenarioCase(
    "missing-file",
    "a rollback SQL file that does not exist",
    files({ "rollback/01_drop_column.sql": undefined }),
    (f) => [at(f, "01_drop_column.sql", "rollback.steps[0].sql.file"), /01_drop_column\.sql/],
  ),
  scenarioCase(
    "missing-file",
    "a dataset.after file that does not exist",
    yaml(["  seed: 7\n", "  seed: 7\n  after: {file: after_seed.sql}\n"]),
    (f) => [at(f, "after_seed.sql", "dataset.after.file"), /after_seed\.sql/],
  ),
  scenarioCase(
    "missing-file",
    "a SQL file outside the scenario folder",
    yaml(["sql: {file: migration/01_add_column.sql}", "sql: {file: ../../../etc/passwd.sql}"]),
    (f) => [at(f, "passwd.sql", "migration.phases[0].steps[0].sql.file")],
  ),

  // ------------------------------------------------------------------ SQL syntax
  scenarioCase(
    "sql-syntax",
    "a syntax error in a migration file",
    files({
      "migration/01_add_column.sql":
        "-- a cheap, catalog-only change\nALTR TABLE items ADD COLUMN note text;\n",
    }),
    () => [
      /migration\/01_add_column\.sql:2:1: migration\.phases\[0\]\.steps\[0\]\.sql: SQL syntax error/,
      /ALTR/,
      /\| \^/,
    ],
  ),
  scenarioCase(
    "sql-syntax",
    "a syntax error in schema.sql",
    files({
      "schema.sql": SCHEMA.replace("CREATE INDEX items_v ON items (v);", "CREATE INDEX items_v ON items (v;"),
    }),
    () => [/schema\.sql:2:\d+: dataset\.schema: SQL syntax error/],
  ),
  scenarioCase(
    "sql-syntax",
    "a syntax error in inline step SQL",
    yaml(["sql: {file: migration/01_add_column.sql}", 'sql: "ALTER TABLE items ADD COLUMN note text,"']),
    (f) => [at(f, "ADD COLUMN note text,", "migration.phases[0].steps[0].sql"), /SQL syntax error/],
  ),
  scenarioCase(
    "sql-syntax",
    "a syntax error in a rollback file",
    files({ "rollback/01_drop_column.sql": "ALTER TABLE items DROP COLUMN;\n" }),
    () => [/rollback\/01_drop_column\.sql:1:\d+: rollback\.steps\[0\]\.sql: SQL syntax error/],
  ),
  scenarioCase(
    "sql-syntax",
    "an unterminated dollar quote",
    files({ "migration/01_add_column.sql": "DO $$ BEGIN PERFORM 1; END;\n" }),
    () => [/migration\/01_add_column\.sql:1:\d+: migration\.phases\[0\]\.steps\[0\]\.sql: SQL syntax error/],
  ),
  scenarioCase(
    "sql-syntax",
    "an unknown date placeholder",
    files({
      "migration/01_add_column.sql": "ALTER TABLE items ADD CONSTRAINT c CHECK (now() < '{{week+1}}');\n",
    }),
    () => [/migration\/01_add_column\.sql:1:\d+: .*\{\{week\+1\}\}/],
  ),

  // ------------------------------------------------------------------ missing tables and columns
  scenarioCase(
    "missing-reference",
    "a sequence invariant on a table that does not exist",
    yaml(["{check: sequence, table: items, column: id}", "{check: sequence, table: itemz, column: id}"]),
    (f) => [at(f, "table: itemz", "invariants[1].table"), /"itemz" does not exist/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a sequence invariant on a column that does not exist",
    yaml(["{check: sequence, table: items, column: id}", "{check: sequence, table: items, column: ident}"]),
    (f) => [at(f, "column: ident", "invariants[1].column"), /"ident"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a row_parity key column that does not exist",
    yaml(["target: items, key: id, columns", "target: items, key: item_id, columns"]),
    (f) => [at(f, "key: item_id", "invariants[2].key"), /"item_id"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a row_parity column that does not exist",
    yaml(["columns: [id, v]}", "columns: [id, value]}"]),
    (f) => [at(f, "columns: [id, value]", "invariants[2].columns[1]"), /"value"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a dataset table the schema does not create",
    yaml(["    - name: items\n      rows: 300", "    - name: widgets\n      rows: 300"]),
    (f) => [at(f, "name: widgets", "dataset.tables[0].name"), /"widgets"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a generator for a column the table does not have",
    yaml(["v: {gen: uniform, min: 1, max: 9}", "w: {gen: uniform, min: 1, max: 9}"]),
    (f) => [at(f, "w: {gen", "dataset.tables[0].columns.w"), /"w"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a load source table that does not exist",
    yaml(["budgets:\n", `${LOAD.replace("table: items", "table: item_history")}budgets:\n`]),
    (f) => [at(f, "table: item_history", "load.source.table"), /"item_history"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a backfill from a table that does not exist",
    yaml([
      "          lock_timeout: 2s\n",
      `          lock_timeout: 2s\n${BACKFILL.replace("source: items", "source: items_old")}`,
    ]),
    (f) => [at(f, "source: items_old", "migration.phases[0].steps[1].backfill.source"), /"items_old"/],
    { server: true },
  ),
  scenarioCase(
    "missing-reference",
    "a backfill key column that does not exist",
    yaml([
      "          lock_timeout: 2s\n",
      `          lock_timeout: 2s\n${BACKFILL.replace("key: id", "key: item_id")}`,
    ]),
    (f) => [at(f, "key: item_id", "migration.phases[0].steps[1].backfill.key"), /"item_id"/],
    { server: true },
  ),
  {
    name: "--rows naming a table the dataset does not seed",
    category: "missing-reference",
    args: [...run, "--rows", "widgets=1000"],
    files: { ...BASE_FILES },
    want: [/--rows widgets=1000/, /"widgets"/, /items/, FIX],
  },

  // ------------------------------------------------------------------ impossible rates
  scenarioCase(
    "impossible-rate",
    "a negative load rate",
    yaml(["budgets:\n", `${LOAD.replace("rate: 20", "rate: -5")}budgets:\n`]),
    (f) => [at(f, "rate: -5", "load.rate")],
  ),
  scenarioCase(
    "impossible-rate",
    "zero load connections",
    yaml(["budgets:\n", `${LOAD.replace("connections: 2", "connections: 0")}budgets:\n`]),
    (f) => [at(f, "connections: 0", "load.connections")],
  ),
  scenarioCase(
    "impossible-rate",
    "a read rate without read SQL",
    yaml(["budgets:\n", `${LOAD.replace("rate: 20\n", "rate: 20\n  read: {rate: 50}\n")}budgets:\n`]),
    (f) => [at(f, "read: {rate: 50}", "load.read.sql")],
  ),
  scenarioCase(
    "impossible-rate",
    "a ramp with no stages",
    yaml(["budgets:\n", `${LOAD.replace("rate: 20", "rate: {stages: []}")}budgets:\n`]),
    (f) => [at(f, "stages: []", "load.rate.stages")],
  ),
  scenarioCase(
    "impossible-rate",
    "max_in_flight of zero",
    yaml(["budgets:\n", `${LOAD.replace("connections: 2", "connections: 2\n  max_in_flight: 0")}budgets:\n`]),
    (f) => [at(f, "max_in_flight: 0", "load.max_in_flight")],
  ),
  scenarioCase(
    "budget-unit",
    "a soak without a unit",
    yaml(["budgets:\n", `${LOAD.replace("cooldown: 100ms", "soak: 5")}budgets:\n`]),
    (f) => [at(f, "soak: 5", "load.soak"), /duration with a unit/],
  ),
  scenarioCase(
    "missing-reference",
    "a migration phase named soak under load",
    yaml(["budgets:\n", `${LOAD}budgets:\n`], ["- name: change", "- name: soak"]),
    (f) => [at(f, "name: soak", "migration.phases[0].name"), /the load's own window/],
  ),
  scenarioCase(
    "wrong-type",
    "an expected error that is not a SQLSTATE",
    yaml([
      "budgets:\n",
      `${LOAD.replace("cooldown: 100ms", 'expected_errors: ["unique_violation"]')}budgets:\n`,
    ]),
    (f) => [at(f, "unique_violation", "load.expected_errors[0]"), /SQLSTATE/],
  ),

  // ------------------------------------------------------------------ budgets with wrong units
  scenarioCase(
    "budget-unit",
    "a phase budget in parsecs",
    yaml(["phases: {change: 5s}", 'phases: {change: "5 parsecs"}']),
    (f) => [at(f, "5 parsecs", "budgets.phases.change"), /duration/],
  ),
  scenarioCase(
    "budget-unit",
    "a duration where a count is expected",
    yaml([
      "  phases: {change: 5s}\n",
      '  phases: {change: 5s}\n  load: {"*": {max_blocked_by_one_lock: 1s}}\n',
    ]),
    (f) => [at(f, "max_blocked_by_one_lock", "budgets.load.*.max_blocked_by_one_lock"), /number/],
  ),
  scenarioCase(
    "budget-unit",
    "a lock budget without a unit",
    yaml(['relation: "*", max: 1000ms}', 'relation: "*", max: 1000}']),
    (f) => [at(f, "max: 1000}", "budgets.locks[0].max"), /unit/],
  ),
  scenarioCase(
    "budget-unit",
    "a lock-wait budget without a unit",
    yaml([
      "  phases: {change: 5s}\n",
      "  phases: {change: 5s}\n  lock_waits: [{mode: AccessExclusiveLock, max: 500}]\n",
    ]),
    (f) => [at(f, "max: 500}", "budgets.lock_waits[0].max"), /unit/],
  ),
  scenarioCase(
    "budget-unit",
    "a lock-queue budget without a unit",
    yaml(["  phases: {change: 5s}\n", "  phases: {change: 5s}\n  lock_queue: {max: 2}\n"]),
    (f) => [at(f, "max: 2}", "budgets.lock_queue.max"), /unit/],
  ),
  scenarioCase(
    "budget-unit",
    "an error rate above 1",
    yaml(["  phases: {change: 5s}\n", "  phases: {change: 5s}\n  load: {change: {error_rate: 5%}}\n"]),
    (f) => [at(f, "error_rate: 5%", "budgets.load.change.error_rate")],
  ),
  scenarioCase(
    "budget-unit",
    "a lock mode PostgreSQL does not have",
    yaml(["mode: AccessExclusiveLock", "mode: AccessExclusive"]),
    (f) => [at(f, "mode: AccessExclusive,", "budgets.locks[0].mode"), /AccessExclusiveLock/],
  ),
  scenarioCase(
    "budget-unit",
    "a step budget naming a step that does not exist",
    yaml(["  phases: {change: 5s}\n", "  phases: {change: 5s}\n  steps: {change/add-columns: 1s}\n"]),
    (f) => [at(f, "change/add-columns", "budgets.steps.change/add-columns"), /add-column/],
  ),

  // ------------------------------------------------------------------ background sessions
  scenarioCase(
    "missing-reference",
    "a background session at a step that does not exist",
    yaml(["budgets:\n", `${background("at: change/add-colum")}budgets:\n`]),
    (f) => [at(f, "at: change/add-colum", "background[0].at"), /no phase or step "change\/add-colum"/],
  ),
  scenarioCase(
    "budget-unit",
    "a background session duration without a unit",
    yaml(["budgets:\n", `${background("at: change", "duration: 5")}budgets:\n`]),
    (f) => [at(f, "duration: 5", "background[0].duration"), /duration with a unit/],
  ),
  scenarioCase(
    "sql-syntax",
    "background session SQL that does not parse",
    yaml([
      "budgets:\n",
      `${background("at: change", "duration: 2s", "kind: sql", 'sql: "SELEC pg_sleep(1)"')}budgets:\n`,
    ]),
    (f) => [at(f, "SELEC pg_sleep", "background[0].sql"), /SQL syntax error/],
  ),

  // ------------------------------------------------------------------ conflicting providers
  scenarioCase(
    "conflicting-provider",
    "the seeded-cluster cache with a replica",
    yaml(["  provider: embedded\n", "  provider: embedded\n  cache: true\n  replica: true\n"]),
    (f) => [at(f, "cache: true", "target.cache"), /replica/],
  ),
  scenarioCase(
    "conflicting-provider",
    "the url provider with no URL and no PG environment",
    yaml(["provider: embedded", "provider: url"]),
    (f) => [
      at(f, "provider: url", "target.provider"),
      /target\.provider is url but no database is named/,
      /--target-url/,
    ],
  ),
  scenarioCase(
    "conflicting-provider",
    "the aurora provider without its settings",
    yaml(["provider: embedded", "provider: aurora"]),
    (f) => [
      at(f, "provider: aurora", "target.provider"),
      /no source cluster/,
      /no DB subnet group/,
      /target\.aurora/,
    ],
  ),
  scenarioCase(
    "conflicting-provider",
    "replica settings without a replica",
    yaml([
      "  provider: embedded\n",
      "  provider: embedded\n  replica_settings: {recovery_min_apply_delay: 2s}\n",
    ]),
    (f) => [at(f, "replica_settings", "target.replica_settings"), /replica: true/],
  ),
  scenarioCase(
    "conflicting-provider",
    "a provider that does not exist",
    yaml(["provider: embedded", "provider: docker"]),
    (f) => [at(f, "provider: docker", "target.provider"), /"embedded"/],
  ),
  {
    name: "--provider naming a provider that does not exist",
    category: "conflicting-provider",
    args: [...run, "--provider", "docker"],
    files: { ...BASE_FILES },
    want: [/--provider docker: no clone provider of that name/, /embedded/, FIX],
  },
  {
    name: "--target-url with the embedded provider",
    category: "conflicting-provider",
    args: [...run, "--target-url", "postgres://u@127.0.0.1:1/db"],
    files: { ...BASE_FILES },
    want: [/--target-url names a database, but this run uses the embedded provider/, /--provider url/, FIX],
  },
  {
    name: "a --target-url that does not parse",
    category: "conflicting-provider",
    args: [...run, "--provider", "url", "--target-url", "postgres://u@127.0.0.1:port/db"],
    files: { ...BASE_FILES },
    want: [/--target-url is not a valid postgres:\/\/ URL/, FIX],
  },

  // ------------------------------------------------------------------ flags
  flagCase(
    "an unknown option",
    [...run, "--bogus"],
    [/unknown option '--bogus'/, /\(see: rehearse run --help\)$/m],
  ),
  flagCase(
    "--rows that is not a number",
    [...run, "--rows", "lots"],
    [/--rows/, /'lots' is invalid/, /--rows 1000000/],
  ),
  flagCase("--rows of zero", [...run, "--rows", "items=0"], [/--rows/, /positive row count/]),
  flagCase(
    "--rows with a misplaced separator",
    [...run, "--rows", "items=1__000"],
    [/--rows/, /positive row count/],
  ),
  flagCase("a negative --scale", [...run, "--scale", "-1"], [/--scale/, /positive number/]),
  flagCase(
    "--project-to that is not a row count",
    [...run, "--project-to", "huge"],
    [/--project-to/, /e\.g\. 350000000/],
  ),
  flagCase(
    "--project-scales with one scale",
    [...run, "--project-to", "1000000", "--project-scales", "2"],
    [/--project-scales/, /e\.g\. 1,2,4/],
  ),
  flagCase(
    "an unknown subcommand",
    ["frobnicate"],
    [/unknown command 'frobnicate'/, /\(see: rehearse --help\)$/m],
    false,
  ),
  flagCase(
    "validate with no scenario",
    ["validate"],
    [/missing required argument 'scenario'/, /\(see: rehearse validate --help\)$/m],
    false,
  ),
  flagCase(
    "compare with one run",
    ["compare", "reports/a"],
    [/missing required argument 'runB'/, /\(see: rehearse compare --help\)$/m],
    false,
  ),
  flagCase(
    "compare --format pdf",
    ["compare", "a", "b", "--format", "pdf"],
    [/--format/, /markdown, html/],
    false,
  ),
  flagCase(
    "cache prune --older-than without a unit",
    ["cache", "prune", "--older-than", "7"],
    [/--older-than/, /30m, 12h, 7d/],
    false,
  ),
  flagCase(
    "an unknown option of a nested subcommand",
    ["cache", "ls", "--all"],
    [/unknown option '--all'/, /\(see: rehearse cache ls --help\)$/m],
    false,
  ),
  flagCase(
    "an unknown cache subcommand",
    ["cache", "frob"],
    [/unknown command 'frob'/, /\(see: rehearse cache --help\)$/m],
    false,
  ),
  flagCase(
    "an argument to a command that takes none",
    ["schema", "extra"],
    [/too many arguments for 'schema'/, /\(see: rehearse schema --help\)$/m],
    false,
  ),
  flagCase(
    "an unknown option of gc",
    ["gc", "--bogus"],
    [/unknown option '--bogus'/, /\(see: rehearse gc --help\)$/m],
    false,
  ),
  flagCase(
    "init without --table",
    ["init", "--from-url", "postgres://u@127.0.0.1:1/db"],
    [/required option '--table <name>'/, /\(see: rehearse init --help\)$/m],
    false,
  ),
];
