/**
 * Traffic fitted from production's own statistics (issue 15, item 5). When the source has pg_stat_statements
 * and the role can read it, init reads the normalized statements that touch the table — their text has `$n`
 * where the literals were, so still no row data — with their calls and exec times, and the window the
 * counters cover; and, from pg_stat_activity, the sessions holding a lock on the table in a long transaction
 * right now (their command word and ages only: pg_stat_activity's text carries literals). The reading is
 * `readTraffic` (I/O, inside init's READ ONLY transaction); the fitting is `fitTraffic` (pure): the statements
 * classified by their parse tree into INSERT / UPDATE / DELETE / SELECT on the table, the write mix at
 * production's shares, the rates scaled (SCALE below), the long-running ones as background suggestions.
 */
import { parseSync } from "libpg-query";
import type { TableInfo } from "../catalog/types.ts";
import { ident, qualified, type Queryable } from "../db/sql.ts";
import { loadSqlParser } from "../scenario/sql.ts";

/** One pg_stat_statements entry (one normalized statement of this database). */
export interface StatementStat {
  query: string;
  calls: number;
  meanMs: number;
  maxMs: number;
  rows: number;
}

/** A backend holding a lock on one of the tables in a transaction open for a while, at init time. */
export interface LongTransaction {
  table: string;
  /** "active", "idle in transaction", … */
  state: string;
  /** The first word of its current or last statement (SELECT, UPDATE…): never the text, which has literals. */
  command: string;
  mode: string;
  xactMs: number;
  queryMs: number;
}

export type TrafficRead =
  | {
      available: true;
      /** Seconds the counters cover, and from what that was measured. */
      windowS: number;
      windowFrom: string;
      statements: StatementStat[];
      /** Statements the role may not see (pg_stat_statements shows `<insufficient privilege>`). */
      hidden: number;
      longTransactions: LongTransaction[];
    }
  | { available: false; reason: string; fix: string; longTransactions: LongTransaction[] };

/** A transaction open this long while holding a lock on the table is worth rehearsing behind. */
export const LONG_MS = 1000;

const EXTENSION_SQL = `
SELECT n.nspname::text AS schema, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements'`;

const LONG_TX_SQL = `
SELECT DISTINCT ON (a.pid, l.relation) l.relation::regclass::text AS table, coalesce(a.state, '') AS state,
       upper(split_part(ltrim(coalesce(a.query, '')), ' ', 1)) AS command, l.mode,
       (extract(epoch FROM clock_timestamp() - a.xact_start) * 1000)::float8 AS xact_ms,
       (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 AS query_ms
FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid AND l.granted
WHERE l.relation = ANY($1::oid[]) AND a.pid <> pg_backend_pid()
  AND a.xact_start < clock_timestamp() - make_interval(secs => $2::float8 / 1000)
ORDER BY a.pid, l.relation, a.xact_start`;

/**
 * Reads pg_stat_statements and pg_stat_activity for `tables`. Never throws for a missing extension or a
 * missing privilege: says why traffic could not be read instead. Runs inside init's transaction, so every
 * query that may fail is fenced by a savepoint.
 */
export async function readTraffic(db: Queryable, tables: TableInfo[]): Promise<TrafficRead> {
  // fitTraffic classifies by parse tree: the parser (WebAssembly) must be loaded before it runs.
  await loadSqlParser();
  const longTransactions = await fenced(db, async () =>
    (
      await db.query<{
        table: string;
        state: string;
        command: string;
        mode: string;
        xact_ms: number;
        query_ms: number;
      }>(LONG_TX_SQL, [tables.map((t) => t.oid), LONG_MS])
    ).rows.map((r) => ({
      table: r.table,
      state: r.state,
      command: r.command,
      mode: r.mode,
      xactMs: Math.round(r.xact_ms),
      queryMs: Math.round(r.query_ms),
    })),
  );
  const long = longTransactions instanceof Error ? [] : longTransactions;
  const ext = (await db.query<{ schema: string; version: string }>(EXTENSION_SQL)).rows[0];
  if (!ext)
    return {
      available: false,
      reason: "the source has no pg_stat_statements extension",
      fix: "add pg_stat_statements to shared_preload_libraries and CREATE EXTENSION pg_stat_statements, then init again after a day of traffic",
      longTransactions: long,
    };
  const view = `${ident(ext.schema)}.pg_stat_statements`;
  const window = await fenced(db, () => readWindow(db, ext.schema));
  const rows = await fenced(db, async () => {
    // Column names changed in 13 (total_time → total_exec_time): take whichever the version has.
    const r = await db.query<Record<string, unknown>>(
      `SELECT * FROM ${view} WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
         AND (query ILIKE ANY($1::text[]) OR query = '<insufficient privilege>')`,
      [tables.map((t) => `%${t.name.replace(/[\\%_]/g, "\\$&")}%`)],
    );
    return r.rows;
  });
  if (rows instanceof Error)
    return {
      available: false,
      reason: `pg_stat_statements cannot be read: ${rows.message}`,
      fix: /shared_preload_libraries/.test(rows.message)
        ? "add pg_stat_statements to shared_preload_libraries (a restart), then init again"
        : "GRANT pg_read_all_stats TO <role> (it reads statistics, no rows)",
      longTransactions: long,
    };
  if (window instanceof Error || window.seconds <= 0)
    return {
      available: false,
      reason: "the window pg_stat_statements' counters cover is unknown",
      fix: "SELECT pg_stat_statements_reset() on the source, let production run a while, then init again",
      longTransactions: long,
    };
  const num = (r: Record<string, unknown>, ...keys: string[]) =>
    Number(keys.map((k) => r[k]).find((v) => v != null) ?? 0);
  const statements = rows
    .filter((r) => r.query !== "<insufficient privilege>")
    .map((r) => ({
      query: String(r.query),
      calls: num(r, "calls"),
      meanMs: num(r, "mean_exec_time", "mean_time"),
      maxMs: num(r, "max_exec_time", "max_time"),
      rows: num(r, "rows"),
    }));
  return {
    available: true,
    windowS: window.seconds,
    windowFrom: window.from,
    statements,
    hidden: rows.length - statements.length,
    longTransactions: long,
  };
}

/** How long the counters have been counting: since pg_stat_statements_info.stats_reset (14+), or server start. */
async function readWindow(db: Queryable, schema: string): Promise<{ seconds: number; from: string }> {
  const info = `${schema}.pg_stat_statements_info`;
  const has = (await db.query<{ ok: boolean }>("SELECT to_regclass($1) IS NOT NULL AS ok", [qualified(info)]))
    .rows[0]!.ok;
  const sql = has
    ? `SELECT extract(epoch FROM now() - stats_reset)::float8 AS s FROM ${ident(schema)}.pg_stat_statements_info`
    : "SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8 AS s";
  const s = (await db.query<{ s: number }>(sql)).rows[0]?.s ?? 0;
  return {
    seconds: s,
    from: has
      ? "pg_stat_statements_info.stats_reset"
      : "pg_postmaster_start_time() (before PostgreSQL 14 the reset time is not recorded: assumes no reset since)",
  };
}

/** Runs `f` under a savepoint so that its failure does not abort init's transaction; returns the error. */
async function fenced<T>(db: Queryable, f: () => Promise<T>): Promise<T | Error> {
  await db.query("SAVEPOINT rehearse_traffic");
  try {
    const out = await f();
    await db.query("RELEASE SAVEPOINT rehearse_traffic");
    return out;
  } catch (err) {
    await db.query("ROLLBACK TO SAVEPOINT rehearse_traffic");
    return err as Error;
  }
}

// ---------------------------------------------------------------- fitting (pure)

export type StatementKind = "insert" | "update" | "delete" | "select";

export interface ClassifiedStatement extends StatementStat {
  kind: StatementKind;
  /** INSERT: the columns it lists (all insertable ones when it lists none); UPDATE: the columns it SETs. */
  columns: string[];
}

/**
 * How the rate is scaled: production's rate as it is (the lock queue behind a migration grows with the
 * absolute arrival rate, not with the table's size), unless writes and reads together exceed MAX_TOTAL_RATE
 * operations per second, a load a laptop's clone sustains; then both are scaled down by the same factor, so
 * the mix and the read:write ratio stay production's. Rates are rounded to 0.01/s.
 */
export const SCALE = { maxTotalRate: 500 } as const;

export interface FittedTraffic {
  /** The load: section, or undefined when traffic could not be fitted (init keeps today's template). */
  load?: Record<string, unknown>;
  /** Production's figures behind it, per kind: calls, calls/s, mean and max ms. */
  kinds: Record<
    StatementKind,
    { calls: number; perS: number; meanMs: number; maxMs: number; statements: number }
  >;
  /** The factor production's rates were multiplied by. */
  scale: number;
  classified: ClassifiedStatement[];
  /** Statements on the table that ran longer than LONG_MS at least once. */
  longStatements: ClassifiedStatement[];
  /** fidelity.md's section. */
  markdown: string;
  /** Commented background: suggestions for scenario.yaml ("" when there is nothing long-running). */
  yamlAppendix: string;
  /** One-line notes for the terminal. */
  notes: string[];
}

const KINDS: StatementKind[] = ["insert", "update", "delete", "select"];

/** The relations a parse tree reads or writes (RangeVar nodes; a DML's target is a bare RangeVar). */
function rangeVars(node: unknown, out: { schemaname?: string; relname: string }[]): void {
  if (Array.isArray(node)) for (const n of node) rangeVars(n, out);
  else if (node && typeof node === "object")
    for (const [k, v] of Object.entries(node)) {
      if (k === "RangeVar" || k === "relation") out.push(v as { schemaname?: string; relname: string });
      rangeVars(v, out);
    }
}

interface Target {
  relation?: { schemaname?: string; relname: string };
  cols?: { ResTarget: { name: string } }[];
  targetList?: { ResTarget: { name?: string } }[];
  selectStmt?: { SelectStmt?: { valuesLists?: { List: { items: unknown[] } }[] } };
}

/** What one normalized statement does to `table`, from its parse tree; undefined when it does not touch it. */
export function classifyStatement(s: StatementStat, table: TableInfo): ClassifiedStatement | undefined {
  let stmt: Record<string, Target>;
  try {
    const parsed = parseSync(s.query) as { stmts: { stmt: Record<string, Target> }[] };
    if (parsed.stmts.length !== 1) return undefined;
    stmt = parsed.stmts[0]!.stmt;
  } catch {
    return undefined;
  }
  const is = (r: { schemaname?: string; relname: string } | undefined) =>
    r !== undefined && r.relname === table.name && (r.schemaname ?? table.schema) === table.schema;
  const insertable = table.columns.filter((c) => c.generated === null).map((c) => c.name);
  const [type, body] = Object.entries(stmt)[0] ?? [];
  if (type === "InsertStmt" && is(body!.relation)) {
    const listed = (body!.cols ?? []).map((c) => c.ResTarget.name);
    const values = body!.selectStmt?.SelectStmt?.valuesLists?.[0]?.List.items.length;
    const columns = listed.length > 0 ? listed : insertable.slice(0, values ?? insertable.length);
    return { ...s, kind: "insert", columns };
  }
  if (type === "UpdateStmt" && is(body!.relation)) {
    const columns = (body!.targetList ?? []).flatMap((t) => (t.ResTarget.name ? [t.ResTarget.name] : []));
    return { ...s, kind: "update", columns };
  }
  if (type === "DeleteStmt" && is(body!.relation)) return { ...s, kind: "delete", columns: [] };
  if (type === "SelectStmt") {
    const rels: { schemaname?: string; relname: string }[] = [];
    rangeVars(body, rels);
    if (rels.some(is)) return { ...s, kind: "select", columns: [] };
  }
  return undefined;
}

/** The column UPDATE and DELETE find an existing row by: a single-column primary key, else unique NOT NULL. */
export function rowKey(table: TableInfo): string | undefined {
  const single = (i: TableInfo["indexes"][number]) =>
    i.unique && i.predicate === null && i.keys.length === 1 && i.keys[0]!.column !== null;
  const pk = table.indexes.find((i) => i.primary && single(i));
  if (pk) return pk.keys[0]!.column!;
  const notNull = new Set(table.columns.filter((c) => c.notNull).map((c) => c.name));
  const unique = table.indexes.find((i) => single(i) && notNull.has(i.keys[0]!.column!));
  return unique ? unique.keys[0]!.column! : undefined;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Sums one kind's statements. */
function kindFigures(list: ClassifiedStatement[], windowS: number) {
  const calls = list.reduce((a, s) => a + s.calls, 0);
  return {
    calls,
    perS: calls / windowS,
    meanMs: calls > 0 ? list.reduce((a, s) => a + s.meanMs * s.calls, 0) / calls : 0,
    maxMs: list.reduce((a, s) => Math.max(a, s.maxMs), 0),
    statements: list.length,
  };
}

/** Columns of `kind`'s statements, the most-called statement's first, each once. */
function columnsOf(list: ClassifiedStatement[]): string[] {
  const out: string[] = [];
  for (const s of [...list].sort((a, b) => b.calls - a.calls))
    for (const c of s.columns) if (!out.includes(c)) out.push(c);
  return out;
}

export interface FitOptions {
  /** The phase a suggested background session should start before (the scenario's first). */
  phase?: string;
  /** The table as the scenario names it ("orders" for public.orders). */
  display: string;
}

/** Fits the load: section to what production ran on `table`. Pure (after loadSqlParser(), as readTraffic does). */
export function fitTraffic(read: TrafficRead, table: TableInfo, opts: FitOptions): FittedTraffic {
  const empty = { calls: 0, perS: 0, meanMs: 0, maxMs: 0, statements: 0 };
  const base: FittedTraffic = {
    kinds: { insert: empty, update: empty, delete: empty, select: empty },
    scale: 1,
    classified: [],
    longStatements: [],
    markdown: "",
    yamlAppendix: "",
    notes: [],
  };
  if (!read.available) {
    base.notes.push(`traffic: not fitted (${read.reason}); the load stays a template to fill in`);
    base.markdown = renderMarkdown(base, read, table, [`Not fitted: ${read.reason}. Fix: ${read.fix}.`]);
    base.yamlAppendix = backgroundAppendix(base, read, opts);
    return base;
  }
  const classified = read.statements.flatMap((s) => classifyStatement(s, table) ?? []);
  const byKind = (k: StatementKind) => classified.filter((s) => s.kind === k);
  const kinds = Object.fromEntries(
    KINDS.map((k) => [k, kindFigures(byKind(k), read.windowS)]),
  ) as FittedTraffic["kinds"];
  const fit: FittedTraffic = {
    ...base,
    kinds,
    classified,
    longStatements: classified.filter((s) => s.maxMs >= LONG_MS).sort((a, b) => b.maxMs - a.maxMs),
  };
  const caveats: string[] = [];
  const key = rowKey(table);
  const writeKinds = (["insert", "update", "delete"] as const).filter(
    (k) => kinds[k].calls > 0 && (k === "insert" || key !== undefined),
  );
  if (key === undefined && (kinds.update.calls > 0 || kinds.delete.calls > 0))
    caveats.push(
      "UPDATEs and DELETEs were left out of the mix: the table has no single-column primary key or unique NOT NULL column to find an existing row by.",
    );
  if (writeKinds.length === 0) {
    const why = `no INSERT, UPDATE or DELETE on ${table.qualifiedName} in pg_stat_statements over ${Math.round(read.windowS)} s`;
    fit.notes.push(`traffic: not fitted (${why}); the load stays a template to fill in`);
    fit.markdown = renderMarkdown(fit, read, table, [`Not fitted: ${why}.`, ...caveats]);
    fit.yamlAppendix = backgroundAppendix(fit, read, opts);
    return fit;
  }
  const writesPerS = writeKinds.reduce((a, k) => a + kinds[k].perS, 0);
  const total = writesPerS + kinds.select.perS;
  fit.scale = total > SCALE.maxTotalRate ? SCALE.maxTotalRate / total : 1;
  fit.load = buildLoad(fit, table, key, writeKinds, writesPerS, opts, caveats);
  const mix = writeKinds.map((k) => `${k} ${pct(kinds[k].calls, writeKinds)}%`).join(", ");
  fit.notes.push(
    `traffic: load fitted to pg_stat_statements over ${Math.round(read.windowS)} s: ${round2(writesPerS * fit.scale)} writes/s (${mix})` +
      (kinds.select.calls > 0 ? `, ${round2(kinds.select.perS * fit.scale)} reads/s` : "") +
      (fit.scale < 1 ? ` (production's rates × ${round2(fit.scale)})` : ""),
  );
  fit.markdown = renderMarkdown(fit, read, table, caveats);
  fit.yamlAppendix = backgroundAppendix(fit, read, opts);
  return fit;

  function pct(calls: number, ks: readonly StatementKind[]): number {
    const sum = ks.reduce((a, k) => a + kinds[k].calls, 0);
    return Math.round((calls / sum) * 1000) / 10;
  }
}

/** The load: section: the source, the mix (weights: production's calls), the rates, the read. */
function buildLoad(
  fit: FittedTraffic,
  table: TableInfo,
  key: string | undefined,
  writeKinds: readonly ("insert" | "update" | "delete")[],
  writesPerS: number,
  opts: FitOptions,
  caveats: string[],
): Record<string, unknown> {
  const rel = qualified(table.qualifiedName);
  const known = new Set(table.columns.map((c) => c.name));
  const insertCols = columnsOf(fit.classified.filter((s) => s.kind === "insert")).filter((c) => known.has(c));
  const setCols = columnsOf(fit.classified.filter((s) => s.kind === "update")).filter(
    (c) => known.has(c) && c !== key,
  );
  const columns = [...new Set([...(key ? [key] : []), ...insertCols, ...setCols])];
  const param = (c: string) => `:${c}`;
  const unique = table.indexes.filter(
    (i) => i.unique && i.keys.some((k) => k.column && insertCols.includes(k.column)),
  );
  if (unique.length > 0)
    caveats.push(
      `The INSERTs replay history rows, so a value of ${unique.map((i) => i.name).join(", ")} is inserted again: expect unique violations (23505) unless the application's INSERT generates it; edit the insert or add load.expected_errors.`,
    );
  const statements: Record<string, string> = {
    insert: `INSERT INTO ${rel} (${insertCols.map(ident).join(", ")}) VALUES (${insertCols.map(param).join(", ")})`,
    update:
      setCols.length > 0
        ? `UPDATE ${rel} SET ${setCols.map((c) => `${ident(c)} = ${param(c)}`).join(", ")} WHERE ${ident(key ?? "")} = ${param(key ?? "")}`
        : `UPDATE ${rel} SET ${ident(key ?? "")} = ${ident(key ?? "")} WHERE ${ident(key ?? "")} = ${param(key ?? "")}`,
    delete: `DELETE FROM ${rel} WHERE ${ident(key ?? "")} = ${param(key ?? "")}`,
  };
  if (insertCols.length === 0) statements.insert = `INSERT INTO ${rel} DEFAULT VALUES`;
  const rate = Math.max(0.01, round2(writesPerS * fit.scale));
  const writeCalls = writeKinds.reduce((a, k) => a + fit.kinds[k].calls, 0);
  const readRate = round2(fit.kinds.select.perS * fit.scale);
  return {
    source: {
      table: opts.display,
      key: key ?? columns[0] ?? "id",
      columns: columns.length > 0 ? columns : [key ?? "id"],
    },
    mode: "reverse",
    write: {
      mix: writeKinds.map((k) => ({
        name: k,
        // Production's share of the writes, in percent (a tiny share is kept, never rounded to nothing).
        weight: Math.max(0.01, round2((100 * fit.kinds[k].calls) / writeCalls)),
        statements: [{ sql: statements[k] }],
      })),
    },
    rate,
    ...(readRate > 0 && key
      ? { read: { sql: `SELECT * FROM ${rel} WHERE ${ident(key)} = ${param(key)}`, rate: readRate } }
      : {}),
    connections: 8,
  };
}

const ms = (n: number) => (n >= 1000 ? `${round2(n / 1000)} s` : `${round2(n)} ms`);
const oneLine = (q: string) => q.replace(/\s+/g, " ").trim().slice(0, 160).replace(/\|/g, "\\|");

/** fidelity.md's "Traffic" section: what was fitted, from what, and what runs long. */
function renderMarkdown(fit: FittedTraffic, read: TrafficRead, table: TableInfo, caveats: string[]): string {
  const out = ["", `## Traffic on ${table.qualifiedName}`, ""];
  if (read.available) {
    out.push(
      `Read from pg_stat_statements (normalized statements: \`$n\` where the values were, no row data) over ` +
        `${Math.round(read.windowS)} s, since ${read.windowFrom}.` +
        (read.hidden > 0
          ? ` ${read.hidden} statements were hidden from the role (\`<insufficient privilege>\`): GRANT pg_read_all_stats to see them.`
          : ""),
      "",
      "| kind | statements | calls | calls/s | fitted /s | mean | max |",
      "| ---- | ---------: | ----: | ------: | --------: | ---: | --: |",
      ...KINDS.map((k) => {
        const f = fit.kinds[k];
        const fitted = fit.load ? round2(f.perS * fit.scale) : "—";
        return `| ${k} | ${f.statements} | ${f.calls} | ${round2(f.perS)} | ${fitted} | ${ms(f.meanMs)} | ${ms(f.maxMs)} |`;
      }),
      "",
    );
    if (fit.load)
      out.push(
        `Fitted: \`load.write.mix\` weighted by production's calls per kind; \`load.rate\` the writes' calls/s and ` +
          `\`load.read.rate\` the SELECTs' calls/s, ${fit.scale < 1 ? `scaled by ${round2(fit.scale)} (production's ${round2(SCALE.maxTotalRate / fit.scale)} operations/s is above the ${SCALE.maxTotalRate}/s a clone sustains; the mix and read:write ratio are kept)` : `as production ran them (under ${SCALE.maxTotalRate} operations/s in all: not scaled)`}. ` +
          "The statements are the table's own write path rebuilt from the columns production's INSERTs list and UPDATEs set, " +
          "with the values of a history row (UPDATE and DELETE find that row by its key); the read is a lookup by key. Production's statements:",
        "",
      );
    out.push(
      ...fit.classified
        .sort((a, b) => b.calls - a.calls)
        .slice(0, 12)
        .map(
          (s) =>
            `- ${s.kind}, ${s.calls} calls, mean ${ms(s.meanMs)}, max ${ms(s.maxMs)}: \`${oneLine(s.query)}\``,
        ),
      "",
    );
  }
  out.push(...caveats.map((c) => `${c}\n`));
  out.push(...longRunning(fit, read));
  return `${out.join("\n")}\n`;
}

function longRunning(fit: FittedTraffic, read: TrafficRead): string[] {
  const out = ["### Long-running work on the table", ""];
  if (fit.longStatements.length === 0 && read.longTransactions.length === 0)
    return [
      ...out,
      `None seen: no statement on the table over ${LONG_MS} ms, no transaction holding a lock on it that long at init time.`,
      "",
    ];
  for (const s of fit.longStatements)
    out.push(
      `- statement (pg_stat_statements), ${s.kind}, max ${ms(s.maxMs)}, mean ${ms(s.meanMs)}, ${s.calls} calls: \`${oneLine(s.query)}\``,
    );
  for (const t of read.longTransactions)
    out.push(
      `- transaction (pg_stat_activity at init), ${t.state || "unknown state"}, ${t.command || "?"} holding ${t.mode} on ${t.table}, open ${ms(t.xactMs)}`,
    );
  out.push(
    "",
    "scenario.yaml ends with commented `background:` sessions that reproduce them: uncomment to rehearse behind them.",
    "",
  );
  return out;
}

/** Commented background: sessions for what ran long (README "Background sessions"). */
function backgroundAppendix(fit: FittedTraffic, read: TrafficRead, opts: FitOptions): string {
  const sessions: string[] = [];
  const at = opts.phase ?? "<phase>";
  const dur = (n: number) => `${Math.max(1, Math.ceil(n / 1000))}s`;
  const longest = fit.longStatements[0];
  if (longest) {
    const kind = longest.kind === "select" ? "long_read" : "update_batch";
    sessions.push(
      `#   - {name: long-${longest.kind}, kind: ${kind}, table: ${opts.display}, duration: ${dur(longest.maxMs)}, at: ${at}} # pg_stat_statements max ${ms(longest.maxMs)}`,
    );
  }
  const tx = [...read.longTransactions].sort((a, b) => b.xactMs - a.xactMs)[0];
  if (tx) {
    const kind = tx.state.startsWith("idle in transaction") ? "idle_in_transaction" : "long_read";
    sessions.push(
      `#   - {name: open-transaction, kind: ${kind}, table: ${opts.display}, duration: ${dur(tx.xactMs)}, at: ${at}} # pg_stat_activity: ${tx.state}, open ${ms(tx.xactMs)}`,
    );
  }
  if (sessions.length === 0) return "";
  return [
    "",
    "# Long-running work production had on the table (fidelity.md, Traffic): uncomment to rehearse behind it.",
    "# background:",
    ...sessions,
    "",
  ].join("\n");
}
