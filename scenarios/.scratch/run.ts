// Scratch: runs a scenario's SQL the way the harness would, with lock/scan tracing after each statement.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseSql } from "libpg-query";
import pg from "pg";
import YAML from "yaml";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import { Scenario } from "../../src/scenario/schema.ts";

const dir = path.resolve(process.argv[2]!);
const doRollback = process.argv.includes("--rollback");
const ROWS = Number(process.env.ROWS ?? 2000);
const sc = Scenario.parse(YAML.parse(readFileSync(path.join(dir, "scenario.yaml"), "utf8")));
const src = (s: any) => (typeof s === "string" ? s : readFileSync(path.join(dir, s.file), "utf8"));

async function split(sql: string): Promise<string[]> {
  const buf = Buffer.from(sql, "utf8");
  const r = await parseSql(sql);
  return r.stmts.map((s: any) => {
    const start = s.stmt_location ?? 0;
    const len = s.stmt_len || buf.length - start;
    return buf.subarray(start, start + len).toString("utf8").trim();
  });
}

await using clone = await new EmbeddedProvider().start({ settings: sc.target.settings });
const c = new pg.Client(clone.connectionConfig());
await c.connect();
c.on("error", () => {});
process.on("unhandledRejection", (e) => { console.error("UNHANDLED", e); });
const q = (t: string, v?: any[]) => c.query(t, v);

await q(src(sc.dataset.schema));
await q("SET session_replication_role = replica");
await q(`INSERT INTO accounts (id, status) SELECT g, CASE WHEN g % 20 = 0 THEN 'frozen' ELSE 'open' END FROM generate_series(1, 10000) g`);
await q(`INSERT INTO ledger (id, account_id, amount, kind, idempotency_key, created_at, memo)
  SELECT g, 1 + (random()*random()*9999)::int, round((random()*2000-1000)::numeric, 2),
    CASE WHEN random() < 0.6 THEN 'credit' ELSE 'debit' END, gen_random_uuid(),
    '2024-01-01'::timestamptz + (g::float8 / ${ROWS}) * ('2026-10-31'::timestamptz - '2024-01-01'::timestamptz),
    CASE WHEN random() < 0.3 THEN NULL ELSE 'memo ' || g END
  FROM generate_series(1, ${ROWS}) g`);
await q("SET session_replication_role = DEFAULT");
if (sc.dataset.after) await q(src(sc.dataset.after));

async function catalog(label: string) {
  const r = await q(`
    SELECT 'index ' || c.relname || ' ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid AS x
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname IN ('ledger','ledger_history')
    UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated || ' inh=' || coninhcount
      FROM pg_constraint WHERE conrelid::regclass::text IN ('ledger','ledger_history')
    UNION ALL SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname || ' internal=' || tgisinternal || ' parent=' || (tgparentid <> 0) || ' ' || pg_get_triggerdef(oid)
      FROM pg_trigger WHERE tgrelid::regclass::text IN ('ledger','ledger_history') AND NOT (tgisinternal AND tgparentid = 0)
    UNION ALL SELECT 'grant ' || relname || ' ' || coalesce(relacl::text, '') || ' rls=' || relrowsecurity || ' kind=' || relkind::text FROM pg_class WHERE relname IN ('ledger','ledger_history')
    UNION ALL SELECT 'policy ' || tablename || ' ' || policyname || ' ' || permissive || ' ' || cmd || ' ' || roles::text || ' ' || coalesce(qual,'') || ' ' || coalesce(with_check,'') FROM pg_policies WHERE tablename IN ('ledger','ledger_history')
    UNION ALL SELECT 'default ' || attrelid::regclass || '.' || attname || ' ' || pg_get_expr(adbin, adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE adrelid::regclass::text IN ('ledger','ledger_history')
    UNION ALL SELECT 'seqowner ' || s.relname || ' -> ' || coalesce(d.refobjid::regclass::text || '.' || d.refobjsubid, 'none') FROM pg_class s LEFT JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass WHERE s.relkind = 'S' AND s.relname LIKE 'ledger%'
    UNION ALL SELECT 'partition ' || c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid WHERE inhparent = 'ledger'::regclass::oid
    ORDER BY 1`);
  const lines = r.rows.map((x: any) => x.x as string);
  console.log(`\n===== catalog ${label}\n` + lines.join("\n"));
  return lines;
}

async function trace() {
  const locks = await q(`SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE l.pid = pg_backend_pid() AND c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p') ORDER BY 1, 2`);
  const stats = await q(`SELECT relid, relname, seq_scan, seq_tup_read, coalesce(idx_tup_fetch,0) idx_tup_fetch FROM pg_stat_xact_user_tables`);
  const files = await q(`SELECT oid, relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`);
  return { locks: locks.rows, stats: stats.rows, files: files.rows };
}

async function runStep(section: string, phase: string, step: any) {
  const stmts = await split(src(step.sql));
  const concurrently = stmts.some((s) => /\bCONCURRENTLY\b|^\s*VACUUM/i.test(s.replace(/--.*$/gm, "")));
  const tx = step.transaction ?? !concurrently;
  console.log(`\n----- ${section}/${phase}/${step.name} (${tx ? "one transaction" : "each alone"}, ${stmts.length} statements)`);
  if (step.lock_timeout !== undefined) await q(`SET lock_timeout = ${step.lock_timeout}`);
  else await q("RESET lock_timeout");
  const t0 = performance.now();
  if (tx) await q("BEGIN");
  let prev = tx ? await trace() : undefined;
  const fileBefore = new Map<number, string>();
  if (prev) for (const f of prev.files) fileBefore.set(f.oid, f.relfilenode);
  for (const [i, s] of stmts.entries()) {
    const first = s.replace(/--.*$/gm, "").replace(/\s+/g, " ").trim().slice(0, 90);
    const ts = performance.now();
    try {
      await q(s);
    } catch (e: any) {
      console.log(`  #${i} ERROR ${e.code} ${e.message} :: ${first}`);
      if (tx) await q("ROLLBACK");
      throw e;
    }
    const dt = (performance.now() - ts).toFixed(1);
    if (!tx) { console.log(`  #${i} ${dt}ms ${first}`); continue; }
    const now = await trace();
    const deltas: string[] = [];
    for (const st of now.stats) {
      const p = prev!.stats.find((x: any) => x.relid === st.relid);
      const ds = Number(st.seq_scan) - Number(p?.seq_scan ?? 0);
      const dr = Number(st.seq_tup_read) - Number(p?.seq_tup_read ?? 0);
      const di = Number(st.idx_tup_fetch) - Number(p?.idx_tup_fetch ?? 0);
      if (ds || dr || di) deltas.push(`${st.relname}: seq_scan+${ds} tup_read+${dr} idx_fetch+${di}`);
    }
    const rewrites: string[] = [];
    for (const f of now.files) {
      const b = fileBefore.get(f.oid);
      if (b !== undefined && b !== f.relfilenode) rewrites.push(f.relname);
    }
    const ae = now.locks.filter((l: any) => l.mode === "AccessExclusiveLock").map((l: any) => l.relname);
    console.log(`  #${i} ${dt}ms ${first}`);
    if (deltas.length) console.log(`      SCAN ${deltas.join("; ")}`);
    if (rewrites.length) console.log(`      REWRITE ${rewrites.join(", ")}`);
    console.log(`      AE on: ${[...new Set(ae)].join(", ")}`);
    prev = now;
  }
  if (tx) {
    const all = await q(`SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = pg_backend_pid() AND c.relkind IN ('r','p') AND c.relnamespace='public'::regnamespace ORDER BY 1,2`);
    console.log(`  locks at end: ${all.rows.map((r: any) => `${r.relname}:${r.mode.replace("Lock", "")}`).join(" ")}`);
    await q("COMMIT");
  }
  console.log(`  step took ${(performance.now() - t0).toFixed(1)}ms`);
}

try {
const original = await catalog("before migration");
for (const ph of sc.migration.phases) for (const st of ph.steps) await runStep("migration", ph.name, st);
const migrated = await catalog("after migration");

// Checks on the write path.
const key = (await q("SELECT idempotency_key k, created_at FROM ledger ORDER BY id LIMIT 1")).rows[0];
for (const probe of sc.invariants.filter((i: any) => i.check === "unique_across_partitions")) {
  const sql = (probe as any).probe.sql.replace(":key", `'${key.k}'::uuid`);
  await q("BEGIN");
  try { const r = await q(sql); console.log("PROBE accepted (BAD):", r.rows); }
  catch (e: any) { console.log("PROBE rejected:", e.code, e.message); }
  await q("ROLLBACK");
}
await q("BEGIN");
try {
  await q(`INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at) VALUES (1, 1, 'credit', gen_random_uuid(), '2027-01-15+00')`);
  console.log("plain INSERT with created_at in 2027-01 accepted (BEFORE trigger resets it?)");
} catch (e: any) { console.log("plain INSERT with future created_at, triggers on:", e.code, e.message); }
await q("ROLLBACK");
await q("BEGIN");
await q("SET LOCAL session_replication_role = replica");
try {
  await q(`INSERT INTO ledger (account_id, amount, kind, idempotency_key, created_at) VALUES (1, 1, 'credit', $1, '2027-01-15+00')`, [key.k]);
  const n = await q("SELECT tableoid::regclass, id, created_at FROM ledger WHERE idempotency_key = $1", [key.k]);
  console.log("plain duplicate INSERT into another partition accepted:", n.rows.map((r: any) => `${r.tableoid}#${r.id}`).join(", "));
} catch (e: any) { console.log("plain duplicate INSERT rejected:", e.code, e.message); }
await q("ROLLBACK");
await q("BEGIN");
const fresh = await q(`SELECT ledger_insert(2, 5.00, 'debit', gen_random_uuid()) id`);
const row = await q(`SELECT tableoid::regclass p, id, created_at FROM ledger WHERE id = $1`, [fresh.rows[0].id]);
const bal = await q(`SELECT balance, updated_at FROM account_balances WHERE account_id = 2`);
console.log("ledger_insert of a new key:", row.rows, "max id before:", (await q("SELECT max(id) FROM ledger WHERE id <> $1", [fresh.rows[0].id])).rows[0].max, "balance row:", bal.rows[0]);
await q("ROLLBACK");
console.log("counts:", (await q("SELECT (SELECT count(*) FROM ledger) ledger, (SELECT count(*) FROM ledger_history) history")).rows[0]);
for (const [label, sql] of [
  ["writer: ledger_insert", "SELECT ledger_insert(3, 7.00, 'credit', gen_random_uuid())"],
  ["writer: plain INSERT", "INSERT INTO ledger (account_id, amount, kind, idempotency_key) VALUES (3, 7.00, 'credit', gen_random_uuid())"],
  ["reader: SELECT count", "SELECT count(*) FROM ledger"],
]) {
  await q("BEGIN");
  await q(`SET LOCAL ROLE ${label.startsWith("writer") ? "ledger_writer" : "ledger_reader"}`);
  try { const r = await q(sql); console.log(label, "OK", JSON.stringify(r.rows)); }
  catch (e: any) { console.log(label, "FAILED", e.code, e.message); }
  await q("ROLLBACK");
}
await q("BEGIN");
const b0 = (await q("SELECT balance FROM account_balances WHERE account_id = 4")).rows[0]?.balance;
await q("SELECT ledger_insert(4, 10.00, 'credit', gen_random_uuid())");
const b1 = (await q("SELECT balance FROM account_balances WHERE account_id = 4")).rows[0]?.balance;
console.log("balance of account 4 before/after a 10.00 insert:", b0, b1);
await q("ROLLBACK");

if (doRollback && sc.rollback) {
  for (const st of sc.rollback.steps) await runStep("rollback", "rollback", st);
  const back = await catalog("after rollback");
  const missing = original.filter((l) => !back.includes(l));
  const extra = back.filter((l) => !original.includes(l));
  console.log("\nROLLBACK DIFF vs original:\n  missing: " + JSON.stringify(missing, null, 2) + "\n  extra: " + JSON.stringify(extra, null, 2));
  console.log("counts:", (await q("SELECT count(*) FROM ledger")).rows[0]);
}
} catch (e: any) { console.error("FAILED:", e.code, e.message, e.where ?? ""); }
await c.end();
