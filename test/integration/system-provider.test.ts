/**
 * The `system` provider on a real installed PostgreSQL (Debian's postgresql-<major>): it starts a cluster of
 * its own, stops it and leaves no process and no directory behind — also when the rehearsal stops early
 * because an extension the scenario needs is missing. Where no PostgreSQL is installed under
 * /usr/lib/postgresql those tests are skipped (CI installs postgresql-15, so there they run).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { CloneUnavailableError, type Clone, type CloneOptions } from "../../src/clone/provider.ts";
import { findSystemInstalls, SystemProvider } from "../../src/clone/system.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { ScenarioError } from "../../src/scenario/load.ts";
import { loadCheckedScenario as loadScenario } from "../../src/run/scenario.ts";
import { silentLogger } from "../../src/util/logger.ts";

const installs = await findSystemInstalls();
const SKIP_NOTE =
  "no PostgreSQL under /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql-15 to run this test (.ci/run does)";
const newest = installs[0];

const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-system-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** PIDs of processes whose command line names `dir` (the server runs with -D <dir>/data). */
function processesUsing(dir: string): string[] {
  try {
    return execFileSync("pgrep", ["-f", dir], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** The real provider, remembering what it started so the test can look for leftovers afterwards. */
class RecordingSystemProvider extends SystemProvider {
  readonly started: { dir: string; clone: Clone }[] = [];
  override async start(options: CloneOptions = {}) {
    const clone = await super.start(options);
    this.started.push({ dir: clone.dir, clone });
    return clone;
  }
}

describe("system provider", () => {
  it("starts a fresh cluster of the installed PostgreSQL, and stops it leaving nothing behind", async (ctx) => {
    ctx.skip(!newest, SKIP_NOTE);
    const clone = await new SystemProvider().start({ settings: { work_mem: "8MB" } });
    const dir = clone.dir;
    try {
      expect(clone.provider).toBe("system");
      expect(clone.displayUrl()).not.toContain(String(clone.connectionConfig().password));
      expect(existsSync(path.join(dir, "data", "PG_VERSION"))).toBe(true);
      expect(processesUsing(dir).length).toBeGreaterThan(0);
      const c = new pg.Client(clone.connectionConfig());
      await c.connect();
      try {
        const r = await c.query(
          `SELECT current_setting('server_version_num')::int / 10000 AS major, current_database() AS db,
                  current_setting('fsync') AS fsync, current_setting('work_mem') AS work_mem,
                  inet_server_addr()::text AS addr`,
        );
        expect(r.rows[0]).toEqual({
          major: newest!.major,
          db: "rehearsal",
          fsync: "off",
          work_mem: "8MB",
          addr: "127.0.0.1/32",
        });
        // Our own cluster, not Debian's: a fresh catalog with no user tables.
        const t = await c.query("SELECT count(*)::int AS n FROM pg_stat_user_tables");
        expect(t.rows[0].n).toBe(0);
      } finally {
        await c.end();
      }
    } finally {
      await clone.stop();
    }
    expect(processesUsing(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    await clone.stop(); // a second stop is a no-op
  });

  it("`await using` stops the server when the scope ends", async (ctx) => {
    ctx.skip(!newest, SKIP_NOTE);
    let dir = "";
    {
      await using clone = await new SystemProvider().start();
      dir = clone.dir;
      expect(processesUsing(dir).length).toBeGreaterThan(0);
    }
    expect(processesUsing(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it("copies the installed binaries' initdb template: each clone with its own password, settings and port", async (ctx) => {
    ctx.skip(!newest, SKIP_NOTE);
    const lines: string[] = [];
    await using a = await new SystemProvider().start({ log: (l) => lines.push(l) });
    await using b = await new SystemProvider().start({
      settings: { work_mem: "9MB" },
      log: (l) => lines.push(l),
    });
    expect(lines.filter((l) => l.includes("copied the initdb template"))).toHaveLength(2);
    expect(a.connectionConfig().password).not.toBe(b.connectionConfig().password);
    const settings = async (clone: typeof a) => {
      const c = new pg.Client(clone.connectionConfig());
      await c.connect();
      try {
        return (
          await c.query(
            "SELECT current_setting('work_mem') AS work_mem, current_setting('port')::int AS port, current_database() AS db",
          )
        ).rows[0];
      } finally {
        await c.end();
      }
    };
    expect(await settings(a)).toEqual({ work_mem: "4MB", port: a.connectionConfig().port, db: "rehearsal" });
    expect(await settings(b)).toEqual({ work_mem: "9MB", port: b.connectionConfig().port, db: "rehearsal" });
  });

  it("names the package to install when the asked-for version is not installed", async () => {
    const err = await new SystemProvider().start({ version: 99 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloneUnavailableError);
    expect((err as CloneUnavailableError).packageName).toBe("postgresql-99");
    expect((err as Error).message).toContain("apt-get install postgresql-99");
  });

  it("names the package to install when no PostgreSQL is installed at all", async () => {
    const empty = path.join(scratch, "no-postgresql");
    mkdirSync(empty);
    const err = await new SystemProvider({ root: empty }).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloneUnavailableError);
    expect((err as Error).message).toContain("apt-get install postgresql-15");
  });
});

const SCHEMA = "CREATE TABLE items (id bigserial PRIMARY KEY, v int NOT NULL);";

let n = 0;
function scenario(target: string): string {
  const dir = path.join(scratch, `s${++n}`);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: extensions-${n}
target:
${target}
dataset:
  schema: {file: schema.sql}
  tables:
    - name: items
      rows: 100
      columns: {id: {gen: serial}, v: {gen: uniform, min: 1, max: 9}}
migration:
  phases:
    - name: change
      steps:
        - {name: add_column, sql: "ALTER TABLE items ADD COLUMN note text"}
`,
  );
  writeFileSync(path.join(dir, "schema.sql"), SCHEMA);
  return dir;
}

describe("target.extensions", () => {
  it("a missing extension makes the rehearsal inconclusive, names the package, and stops the server", async (ctx) => {
    ctx.skip(!newest, SKIP_NOTE);
    const provider = new RecordingSystemProvider();
    const report = await rehearse({
      scenarioPath: scenario("  provider: system\n  extensions: [plpgsql, pg_nonexistent]"),
      logger: silentLogger,
      providers: { system: provider },
    });
    expect(report.status).toBe("inconclusive");
    expect(report.exit_code).toBe(2);
    expect(report.reason).toContain("has no pg_nonexistent");
    expect(report.reason).not.toContain("plpgsql"); // only what is missing
    expect(report.reason).toContain(`apt-get install postgresql-${newest!.major}-nonexistent`);
    // Checked before anything ran: no schema, no migration.
    expect(report.timings.map((t) => t.stage)).not.toContain("creating the schema");
    expect(report.steps).toEqual([]);
    // The clone did start, and is gone.
    expect(provider.started).toHaveLength(1);
    const { dir } = provider.started[0]!;
    expect(processesUsing(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it("extensions the server has pass the check and the rehearsal runs", async (ctx) => {
    ctx.skip(!newest, SKIP_NOTE);
    const report = await rehearse({
      scenarioPath: scenario("  provider: system\n  extensions: [plpgsql, pg_stat_statements]"),
      logger: silentLogger,
    });
    expect(report.reason ?? "").toBe("");
    expect(report.status).toBe("passed");
    expect(report.context.provider).toBe("system");
    expect(report.context.postgres_version).toMatch(new RegExp(`^${newest!.major}\\.`));
  });

  it("validate rejects an extension the embedded binaries do not have, pointing at the system provider", async () => {
    const err = await loadScenario(scenario("  provider: embedded\n  extensions: [pg_partman]")).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ScenarioError);
    const problems = (err as ScenarioError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "target.extensions[0]" });
    expect(problems[0]!.message).toContain('no extension "pg_partman"');
    expect(problems[0]!.fix).toMatch(
      /the embedded binaries have no pg_partman: use target.provider: system with Debian's postgresql-\d+-partman/,
    );
  });

  it("validate accepts an extension the embedded binaries bring", async () => {
    const rs = await loadScenario(scenario("  provider: embedded\n  extensions: [pgcrypto]"));
    expect(rs.scenario.target.extensions).toEqual(["pgcrypto"]);
  });
});
