/**
 * `rehearse init` against a real PostgreSQL holding a known dataset (skew, NULLs, a time column that grows with
 * the id): the fitted statistics are within tolerance, each strategy's scaffold runs as generated and fails
 * for exactly the uniqueness across partitions it gives up, init reads no row and writes nothing, and bad
 * input exits with the reason and the fix.
 *
 * Proof that no row is read: pg_stats shows a table's statistics only to a role that may SELECT it (and, with
 * row-level security on, only to its owner or a BYPASSRLS role; pg_read_all_stats does not widen pg_stats), so
 * revoking SELECT cannot prove it: init would see no statistics. Locking the tables cannot either: deparsing a
 * column DEFAULT (pg_get_expr) takes ACCESS SHARE like a read. What does prove it: every row read or written
 * moves the table's cumulative counters (seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins/upd/del),
 * flushed when init's backend exits; they must not move, and the same probe must see one row-reading query by
 * the same role move them (so the proof can fail).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { takeSnapshot } from "../../src/catalog/snapshot.ts";
import { findSystemInstalls } from "../../src/clone/system.ts";
import { TOLERANCE } from "../../src/init/fidelity.ts";
import { runInit, type InitOptions } from "../../src/init/init.ts";
import type { StrategyName } from "../../src/init/scaffold.ts";
import { InitError } from "../../src/init/source.ts";
import type { RunReport } from "../../src/report/model.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { useCluster } from "../support/cluster.ts";

const PASSWORD = "s3cret-init-pw";
/** The partman scaffold runs on `target.provider: system`: an installed PostgreSQL with pg_partman. */
const systemInstall = (await findSystemInstalls())[0];
const partmanMissing =
  systemInstall === undefined
    ? "no system PostgreSQL is installed: apt-get install postgresql-15 postgresql-15-partman (.ci/run does)"
    : existsSync(`/usr/share/postgresql/${systemInstall.major}/extension/pg_partman.control`)
      ? undefined
      : `PostgreSQL ${systemInstall.major} has no pg_partman: apt-get install postgresql-${systemInstall.major}-partman`;
const cluster = useCluster("init", async (admin) => {
  await admin.query(`CREATE ROLE init_reader LOGIN BYPASSRLS PASSWORD '${PASSWORD}'`);
  await admin.query(`CREATE ROLE init_nostats LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query("GRANT pg_read_all_stats TO init_nostats");
  await admin.query(`CREATE ROLE init_norls LOGIN PASSWORD '${PASSWORD}'`);
  await admin.query("CREATE ROLE orders_reader NOLOGIN");
});

const tmpDirs: string[] = [];
const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

async function outDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), "rehearse-init-"));
  tmpDirs.push(d);
  return path.join(d, "orders-rehearsal");
}

/** Runs init on a fresh source as `role` (orders, no fidelity pass unless `options` say otherwise); returns the folder. */
async function scaffold(options: Partial<InitOptions> = {}, role?: string): Promise<string> {
  const src = await source();
  const out = await outDir();
  await runInit({ url: src.url(role), tables: ["orders"], out, fidelity: false, log: () => {}, ...options });
  return out;
}

/**
 * Rehearses a scaffold as generated: it must pass. Orders' PRIMARY KEY (id) and UNIQUE (ref) gain the
 * partition key in every strategy but the integer-keyed ones; the generated guard keeps them unique across
 * partitions, so each generated unique_across_partitions invariant (`guarded`) passes because its probe's
 * duplicate was rejected with 23505 (issue 15) — not because no probe ran. What referenced orders (nothing
 * here) follows it, so dependents_follow passes.
 */
async function rehearseScaffold(out: string, rollback?: boolean, guarded: string[] = []): Promise<RunReport> {
  const report = await rehearse({ scenarioPath: out, logger: silentLogger, rollback });
  expect(report.reason ?? "", report.status).toBe("");
  expect(report.failing).toEqual([]);
  for (const id of guarded) {
    const check = report.checks.find((c) => c.id === id);
    expect(check?.status, id).toBe("pass");
    expect(check?.summary).toMatch(
      /duplicate of .* was rejected \(23505: duplicate key value violates uniqueness/,
    );
  }
  expect(report.checks.find((c) => c.id === "dependents_follow")?.status).toBe("pass");
  expect(report.status).toBe("passed");
  return report;
}

/** The invariants orders' two widened keys get. */
const ID_AND_REF = ["unique_across_partitions.id", "unique_across_partitions.ref"];

const SOURCE_SQL = `
SELECT setseed(0.42);
CREATE TABLE accounts (id bigint PRIMARY KEY);
INSERT INTO accounts SELECT generate_series(1, 2000);
CREATE SEQUENCE orders_id_seq;
CREATE TABLE orders (
  id         bigint NOT NULL DEFAULT nextval('orders_id_seq'),
  account_id bigint NOT NULL,
  status     text NOT NULL,
  email      text,
  amount     numeric(12,2) NOT NULL,
  ref        uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT orders_pkey PRIMARY KEY (id),
  CONSTRAINT orders_ref_key UNIQUE (ref),
  CONSTRAINT orders_status_check CHECK (status IN ('new', 'paid', 'shipped', 'cancelled')),
  CONSTRAINT orders_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
);
ALTER SEQUENCE orders_id_seq OWNED BY orders.id;
CREATE INDEX orders_account_created_idx ON orders (account_id, created_at DESC);
CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.created_at := coalesce(NEW.created_at, now()); RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION orders_touch();
GRANT SELECT ON orders TO orders_reader;
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY orders_all ON orders FOR ALL TO PUBLIC USING (true);
-- Skew: a few hot accounts; 'paid' dominates; 20% NULL emails, one address on 15% of the rows.
INSERT INTO orders (account_id, status, email, amount, ref, created_at)
SELECT 1 + floor(2000 * power(random(), 3))::int,
       (ARRAY['paid','paid','paid','paid','paid','paid','new','new','shipped','cancelled'])[1 + floor(random() * 10)::int],
       CASE WHEN r < 0.20 THEN NULL WHEN r < 0.35 THEN 'alice@example.com'
            ELSE 'user' || floor(random() * 4000)::int || '@example.com' END,
       round((random() * 1000)::numeric, 2),
       gen_random_uuid(),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '20 minutes'
FROM (SELECT g, random() AS r FROM generate_series(1, 40000) g) x;
CREATE TABLE never_analyzed (id bigint PRIMARY KEY, note text);
CREATE TABLE labels (name text NOT NULL, colour text);
INSERT INTO labels SELECT 'l' || g, 'c' || (g % 7) FROM generate_series(1, 500) g;
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, payload jsonb);
INSERT INTO events (kind, payload) SELECT 'k' || (g % 5), jsonb_build_object('g', g) FROM generate_series(1, 3000) g;
ANALYZE orders; ANALYZE accounts; ANALYZE labels; ANALYZE events;
GRANT SELECT ON orders, accounts, labels, never_analyzed, events TO init_reader;
GRANT SELECT ON orders TO init_norls;
`;

interface Source {
  admin: pg.Client;
  database: string;
  url: (role?: string) => string;
}

async function source(): Promise<Source> {
  const admin = await cluster.freshDb();
  admin.on("error", () => {});
  clients.push(admin);
  await admin.query(SOURCE_SQL);
  const cfg = cluster.clone().connectionConfig();
  const db = (await admin.query<{ d: string }>("SELECT current_database() AS d")).rows[0]!.d;
  return {
    admin,
    database: db,
    url: (role = "init_reader") =>
      `postgres://${role}:${PASSWORD}@${cfg.host ?? "127.0.0.1"}:${cfg.port}/${db}`,
  };
}

/** Every counter that moves when a table's rows are read or written. */
async function tableCounters(admin: pg.Client): Promise<unknown[]> {
  // This session's own counters (from seeding the source) reach shared memory at most once a second unless
  // forced: force them first, so they cannot land between the two readings and pass for init's.
  await admin.query("SELECT pg_stat_force_next_flush()");
  await admin.query("SELECT 1");
  await admin.query("SELECT pg_stat_clear_snapshot()");
  return (
    await admin.query(
      `SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_upd, n_tup_del
       FROM pg_stat_user_tables ORDER BY relname`,
    )
  ).rows;
}

const bin = path.resolve(import.meta.dirname, "../../bin/rehearse.js");

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, CI: "true" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

/** Waits until init's backends have exited: a backend flushes its table counters when it exits. */
async function backendsGone(admin: pg.Client): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const n = await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'rehearse init'");
    if (n.rowCount === 0) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("init's connection to the source is still open");
}

describe("rehearse init", () => {
  it("fits the statistics within tolerance, reading no row and writing nothing to the source", async () => {
    const src = await source();
    const before = await takeSnapshot(src.admin);
    const countersBefore = await tableCounters(src.admin);
    const lines: string[] = [];
    const out = await outDir();
    const r = await runInit({
      url: src.url(),
      tables: ["orders"],
      out,
      log: (l) => lines.push(l),
    });
    expect(lines.join("\n")).toMatch(/READ ONLY transaction with statement_timeout 5s/);
    expect(lines.join("\n")).not.toContain(PASSWORD);

    // Nothing was written, and no scan or fetch touched the tables.
    await backendsGone(src.admin);
    expect(await tableCounters(src.admin)).toEqual(countersBefore);
    const after = await takeSnapshot(src.admin);
    expect({ ...after, takenAt: "" }).toEqual({ ...before, takenAt: "" });
    // The probe sees a read by the same role: one query reading orders' rows moves the counters.
    const reader = new pg.Client({ connectionString: src.url(), application_name: "rehearse init" });
    await reader.connect();
    await reader.query("SELECT count(*) FROM orders");
    await reader.end();
    await backendsGone(src.admin);
    expect(await tableCounters(src.admin)).not.toEqual(countersBefore);

    // Fidelity: every column within the stated tolerance.
    const fid = r.fidelity!;
    expect(fid.flagged).toEqual([]);
    const orders = fid.tables.find((t) => t.table === "public.orders")!;
    expect(orders.rows.fitted).toBeGreaterThan(40000 * (1 - TOLERANCE.rows));
    const col = (n: string) => orders.columns.find((c) => c.column === n)!;
    expect(col("email").source.nullFrac).toBeCloseTo(0.2, 1);
    expect(Math.abs(col("email").fitted!.nullFrac - col("email").source.nullFrac)).toBeLessThan(
      TOLERANCE.nullFrac,
    );
    expect(col("email").source.top1).toBeCloseTo(0.15, 1);
    expect(Math.abs(col("email").fitted!.top1 - col("email").source.top1)).toBeLessThan(TOLERANCE.top1);
    expect(Math.abs(col("status").fitted!.top1 - 0.6)).toBeLessThan(0.03);
    expect(col("id").fitted!.distinct).toBeGreaterThan(39000);

    // Text from the statistics is synthetic by default; values a CHECK names are kept (they are in the schema).
    const yaml = await readFile(path.join(out, "scenario.yaml"), "utf8");
    expect(yaml).not.toContain("alice@example.com");
    expect(yaml).toContain("paid");
    expect(yaml).toMatch(/created_at:[\s\S]*order: ascending/);
    const schema = await readFile(path.join(out, "schema.sql"), "utf8");
    expect(schema).toContain("CREATE TRIGGER orders_touch");
    expect(schema).toContain("CREATE POLICY");
    expect(schema).not.toContain(PASSWORD);
    expect(await readFile(path.join(out, "fidelity.md"), "utf8")).toContain(
      "Every column is within the tolerance",
    );
  });

  it("--keep-sample-values keeps the values seen in the statistics", async () => {
    const out = await scaffold({ keepSampleValues: true });
    expect(await readFile(path.join(out, "scenario.yaml"), "utf8")).toContain("alice@example.com");
  });

  it("scaffolds attach-history, which runs as generated on the fitted data, its widened keys guarded (and rolls back)", async () => {
    const out = await scaffold({ strategy: "attach-history", rows: 20000 });
    const cutover = await readFile(path.join(out, "migration/04_cutover.sql"), "utf8");
    expect(cutover).toContain(`PARTITION BY RANGE ("created_at")`);
    expect(cutover).toContain("FOR VALUES FROM ('{{month+1}}') TO ('{{month+2}}')");
    expect(cutover).toContain(`ATTACH PARTITION "orders_history"`);
    expect(cutover).toContain(`CREATE TRIGGER "orders_unique_guard" BEFORE INSERT OR UPDATE OF`);
    const report = await rehearseScaffold(out, true, ID_AND_REF);
    expect(report.checks.filter((c) => c.status === "skipped")).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        "partitions_cover",
        "row_parity",
        "sequence",
        "budget.no_scan_under_access_exclusive",
      ]),
    );
  });

  it("scaffolds attach-history on an integer key when there is no timestamp, and it passes", async () => {
    const out = await scaffold({ tables: ["events"], strategy: "attach-history" });
    const cutover = await readFile(path.join(out, "migration/04_cutover.sql"), "utf8");
    expect(cutover).toContain(`PARTITION BY RANGE ("id")`);
    expect(cutover).toContain("FOR VALUES FROM (MINVALUE) TO (4000)");
    await rehearseScaffold(out, true);
  });

  const strategyCases: {
    strategy: StrategyName;
    files: Record<string, RegExp[]>;
    checks: string[];
    /** The unique_across_partitions invariants the guard makes pass: the keys the strategy widens. */
    guarded: string[];
    rollback?: boolean;
    /** Why the case cannot run on this machine, if it cannot. */
    skip?: string;
  }[] = [
    {
      strategy: "dual-write",
      files: {
        "migration/01_create_partitioned.sql": [
          /CREATE TABLE "orders_partitioned" \([\s\S]*PRIMARY KEY \("id", "created_at"\)[\s\S]*PARTITION BY RANGE \("created_at"\)/,
          /FOR VALUES FROM \('\{\{month\}\}'\) TO \('\{\{month\+1\}\}'\)/,
        ],
        "migration/02_sync_sequence.sql": [
          /setval\('"public"\."orders_id_seq"'::regclass, t\.target\)[\s\S]*GREATEST[\s\S]*WHERE t\.target > s\.handed_out/,
        ],
      },
      checks: ["row_parity", "sequence", "indexes_valid", "partitions_cover"],
      guarded: ID_AND_REF,
      rollback: true,
    },
    {
      strategy: "view-union",
      files: {
        "migration/01_create_partitioned.sql": [/PARTITION BY HASH \("ref"\)/, /PRIMARY KEY \("id", "ref"\)/],
        "migration/02_view_swap.sql": [/UNION ALL/, /INSTEAD OF INSERT OR UPDATE OR DELETE ON "orders"/],
      },
      checks: ["table_empty", "row_parity", "indexes_valid", "partitions_cover"],
      // Hash-partitioned on ref: only the primary key (id) is widened.
      guarded: ["unique_across_partitions"],
    },
    {
      strategy: "inheritance",
      files: {
        "migration/01_inherit.sql": [/ALTER TABLE "orders_p0" INHERIT "partitioned_orders"/, /RETURN NULL/],
        "migration/07_cutover.sql": [
          /PARTITION BY RANGE \("id"\)/,
          // The first new child starts above the histogram's top id: 40000 or 50000, as ANALYZE's sample of the
          // 40,000 rows did or did not include the last one (30,000 sampled: 1 run in 4 it does not).
          /ATTACH PARTITION "orders_p0" FOR VALUES FROM \(MINVALUE\) TO \((40000|50000)\)/,
          /CONSTRAINT "orders_ref_key" UNIQUE \("ref", "id"\)/,
        ],
      },
      checks: [
        "row_parity",
        "sequence",
        "default_partition_empty",
        "partitions_cover",
        "budget.no_scan_under_access_exclusive",
      ],
      // Range-partitioned on id: only UNIQUE (ref) is widened.
      guarded: ["unique_across_partitions"],
    },
    {
      strategy: "partman",
      files: {
        "migration/02_partman_create_parent.sql": [/p_parent_table := 'public.orders_partitioned'/],
        "migration/03_sync_trigger.sql": [/AFTER INSERT OR UPDATE OR DELETE ON "orders"/],
        "scenario.yaml": [/provider: system/, /- pg_partman/],
      },
      checks: ["row_parity", "sequence", "default_partition_empty", "partitions_cover", "grants_preserved"],
      guarded: ID_AND_REF,
      rollback: true,
      skip: partmanMissing,
    },
  ];
  for (const c of strategyCases)
    it(`scaffolds ${c.strategy}, which runs as generated on the fitted data, its widened keys guarded`, async (ctx) => {
      ctx.skip(c.skip !== undefined, c.skip);
      const out = await scaffold({ strategy: c.strategy, rows: 20000 });
      for (const [file, patterns] of Object.entries(c.files)) {
        const text = await readFile(path.join(out, file), "utf8");
        for (const p of patterns) expect(text).toMatch(p);
      }
      const report = await rehearseScaffold(out, c.rollback, c.guarded);
      expect(report.checks.filter((ch) => ch.status === "skipped")).toEqual([]);
      expect(report.checks.map((ch) => ch.id)).toEqual(
        expect.arrayContaining([...c.checks, ...c.guarded, "dependents_follow"]),
      );
    });

  it("the CLI writes the scenario and prints the fidelity table, never the password", async () => {
    const src = await source();
    const out = await outDir();
    const r = await cli([
      "init",
      "--from-url",
      src.url(),
      "--table",
      "orders",
      "--out",
      out,
      "--rows",
      "5000",
    ]);
    expect(r.stderr).toMatch(/READ ONLY transaction with statement_timeout 5s/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("# Fidelity of the fitted dataset");
    expect(r.stdout).toContain("rows: source 40000, seeded 5000");
    expect(`${r.stdout}${r.stderr}`).not.toContain(PASSWORD);
  });

  it("the CLI exits 2 with the reason and the fix on bad input, never printing the password", async () => {
    const src = await source();
    const r = await cli([
      "init",
      "--from-url",
      src.url(),
      "--table",
      "labels",
      "--strategy",
      "attach-history",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no usable partition key[\s\S]*fix: add a NOT NULL timestamp/);
    const bad = await cli([
      "init",
      "--from-url",
      src.url().replace(PASSWORD, `${PASSWORD}x`),
      "--table",
      "orders",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/cannot connect to the source/);
    expect(`${r.stderr}${bad.stderr}${bad.stdout}`).not.toContain(PASSWORD);
  });

  it("never overwrites a scenario without --force, names the server version, refuses a URL without a scheme, says --rollback only when there is one", async () => {
    const src = await source();
    const out = await outDir();
    const args = ["init", "--from-url", src.url(), "--table", "orders", "--out", out, "--no-fidelity"];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    // The default strategy has no rollback section: run --rollback would exit 2.
    expect(first.stdout).toMatch(/^next: npx rehearse run \S+$/m);
    const schema = await readFile(path.join(out, "schema.sql"), "utf8");
    expect(schema).toMatch(/\(PostgreSQL \d+\.\d+[^)]*\)/);
    expect(schema).not.toContain("undefined");
    // The user edits the scenario; init again refuses, names what would be lost, and writes nothing.
    await writeFile(path.join(out, "after_seed.sql"), "-- edited\n");
    const again = await cli(args);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a scenario \(.*scenario\.yaml.*\)[\s\S]*fix: pass --force/);
    expect(await readFile(path.join(out, "after_seed.sql"), "utf8")).toBe("-- edited\n");
    const forced = await cli([...args, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(path.join(out, "after_seed.sql"), "utf8")).not.toBe("-- edited\n");
    const hist = await cli([...args, "--force", "--strategy", "attach-history"]);
    expect(hist.stdout).toMatch(/^next: npx rehearse run \S+ --rollback$/m);
    // No scheme: said so, with the form to use, not "getaddrinfo ENOTFOUND base".
    const bare = await cli([
      "init",
      "--from-url",
      "localhost/shop",
      "--table",
      "orders",
      "--out",
      await outDir(),
    ]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/not a PostgreSQL URL[\s\S]*fix: write postgres:\/\/user@host:5432\/dbname/);
    expect(bare.stderr).not.toMatch(/ENOTFOUND/);
  });

  describe("bad input exits with the reason and the fix", () => {
    const cases: {
      name: string;
      role?: string;
      table: string;
      strategy?: "attach-history";
      message: RegExp;
      fix: RegExp;
    }[] = [
      { name: "a table that does not exist", table: "nope", message: /does not exist/, fix: /--table/ },
      { name: "a never-analysed table", table: "never_analyzed", message: /never analysed/, fix: /ANALYZE/ },
      {
        name: "a role without SELECT (pg_read_all_stats is not enough)",
        role: "init_nostats",
        table: "orders",
        message: /cannot read the statistics.*pg_read_all_stats does not widen/,
        fix: /GRANT SELECT ON "public"."orders"/,
      },
      {
        name: "a role that row-level security applies to",
        role: "init_norls",
        table: "orders",
        message: /row-level security/,
        fix: /BYPASSRLS/,
      },
      {
        name: "a strategy that does not fit (no partition key)",
        table: "labels",
        strategy: "attach-history",
        message: /no usable partition key/,
        fix: /NOT NULL timestamp/,
      },
    ];
    for (const c of cases)
      it(c.name, async () => {
        const err = await scaffold({ tables: [c.table], strategy: c.strategy }, c.role).catch(
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InitError);
        expect((err as InitError).message).toMatch(c.message);
        expect((err as InitError).fix).toMatch(c.fix);
        expect((err as InitError).message).not.toContain(PASSWORD);
      });
  });
});
