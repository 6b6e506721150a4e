/**
 * The url provider's interlock: a database without the clone marker is refused (exit 2, nothing written to
 * it) unless --i-know-this-is-not-production; a marked one is rehearsed on; the password in the URL appears
 * in no report file and no log line.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { writeReports } from "../../src/report/write.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { createLogger } from "../../src/util/logger.ts";

const fixture = (name: string) => path.resolve(import.meta.dirname, "../fixtures", name);
const out = mkdtempSync(path.join(tmpdir(), "rehearse-url-"));
// Characters that must be percent-encoded in a URL, so both the raw and the encoded form are checked.
const password = `p@ss:w/rd#${randomBytes(9).toString("hex")}`;
let server: Clone;
let admin: pg.Client;

const urlFor = (database: string) => {
  const cfg = server.connectionConfig();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${cfg.port}/${database}`;
};

beforeAll(async () => {
  // The embedded provider writes the clone marker into its database ("rehearsal"); "unmarked" has none.
  server = await new EmbeddedProvider().start({});
  admin = new pg.Client(server.connectionConfig());
  await admin.connect();
  await admin.query(`ALTER ROLE postgres PASSWORD ${admin.escapeLiteral(password)}`);
  await admin.query("CREATE DATABASE unmarked");
  await admin.query("CREATE DATABASE disposable");
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
  rmSync(out, { recursive: true, force: true });
});

async function tablesIn(database: string): Promise<string[]> {
  const c = new pg.Client({ ...server.connectionConfig(), password, database });
  await c.connect();
  try {
    const r = await c.query<{ t: string }>(
      "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
    return r.rows.map((x) => x.t);
  } finally {
    await c.end();
  }
}

/**
 * What a rehearsal could have changed in a database: its schemas, relations (tables, sequences, views,
 * indexes), functions, extensions, the cluster's roles and databases, and the rows inserted, updated or
 * deleted there (pg_stat_database, flushed when the writing backend exits: waited for first).
 */
async function fingerprint(database: string): Promise<Record<string, unknown>> {
  const c = new pg.Client({ ...server.connectionConfig(), password, database });
  await c.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const others = await c.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
      );
      if (others.rowCount === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await c.query(`SELECT
      (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace) AS schemas,
      (SELECT json_agg(c.oid::regclass::text || ':' || c.relkind::text ORDER BY 1) FROM pg_class c
        WHERE c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace, 'pg_toast'::regnamespace)) AS relations,
      (SELECT count(*)::int FROM pg_proc) AS functions,
      (SELECT json_agg(extname ORDER BY extname) FROM pg_extension) AS extensions,
      (SELECT json_agg(rolname ORDER BY rolname) FROM pg_roles) AS roles,
      (SELECT json_agg(datname ORDER BY datname) FROM pg_database) AS databases,
      (SELECT (tup_inserted + tup_updated + tup_deleted)::int FROM pg_stat_database
        WHERE datname = current_database()) AS rows_written`);
    return r.rows[0];
  } finally {
    await c.end();
  }
}

async function run(database: string, allowUnmarked = false) {
  const lines: string[] = [];
  const report = await rehearse({
    scenarioPath: fixture("cached-dataset"),
    provider: "url",
    targetUrl: urlFor(database),
    allowUnmarked,
    cache: false,
    logger: createLogger({ debug: true, write: (l) => lines.push(l) }),
  });
  const dir = path.join(out, report.run_id);
  await writeReports(report, dir);
  const artifacts = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), "utf8"));
  return { report, texts: [...artifacts, lines.join("\n"), renderTerminal(report, { color: false })] };
}

function expectNoPassword(texts: string[]): void {
  expect(texts.length).toBeGreaterThanOrEqual(4);
  for (const t of texts) {
    expect(t.includes(password)).toBe(false);
    expect(t.includes(encodeURIComponent(password))).toBe(false);
  }
}

describe("url provider", () => {
  it("refuses a database without the clone marker, says why and how, and writes nothing to it", async () => {
    const before = await fingerprint("unmarked");
    const { report, texts } = await run("unmarked");
    expect(report.status).toBe("inconclusive");
    expect(report.exit_code).toBe(2);
    expect(report.reason).toMatch(/no clone marker \(no _rehearse\.provenance table\)/);
    expect(report.reason).toMatch(/--i-know-this-is-not-production/);
    expect(report.reason).toContain(`postgres://postgres:***@127.0.0.1:`);
    expect(await tablesIn("unmarked")).toEqual([]);
    // Nothing at all, not only no table: no schema, sequence, function, extension, role, database or row.
    expect(await fingerprint("unmarked")).toEqual(before);
    expectNoPassword(texts);
  });

  it("the fingerprint sees a write (so the check above can fail)", async () => {
    const before = await fingerprint("disposable");
    const c = new pg.Client({ ...server.connectionConfig(), password, database: "disposable" });
    await c.connect();
    await c.query(
      "CREATE SCHEMA IF NOT EXISTS probe; CREATE TABLE probe.t (x int); INSERT INTO probe.t VALUES (1)",
    );
    await c.query("DROP SCHEMA probe CASCADE");
    await c.end();
    // Schema and table are gone again: only the row counter remembers.
    expect(await fingerprint("disposable")).not.toEqual(before);
  });

  it("rehearses on a marked database (seeding it when it is empty)", async () => {
    const { report, texts } = await run("rehearsal");
    expect(report.status, report.reason).toBe("passed");
    expect(report.context.provider).toBe("url");
    expect(report.context.clone).toMatchObject({ method: "existing", cache: "off" });
    expect(report.seeding?.rows).toBe(22_000);
    expect(await tablesIn("rehearsal")).toEqual(["_rehearse.provenance", "public.accounts", "public.items"]);
    expectNoPassword(texts);
  });

  it("rehearses on an unmarked database with --i-know-this-is-not-production", async () => {
    const { report, texts } = await run("disposable", true);
    expect(report.status, report.reason).toBe("passed");
    expect(await tablesIn("disposable")).toEqual(["public.accounts", "public.items"]);
    expectNoPassword(texts);
  });
});
