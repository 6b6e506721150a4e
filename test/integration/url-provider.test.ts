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
    const { report, texts } = await run("unmarked");
    expect(report.status).toBe("inconclusive");
    expect(report.exit_code).toBe(2);
    expect(report.reason).toMatch(/no clone marker \(no _rehearse\.provenance table\)/);
    expect(report.reason).toMatch(/--i-know-this-is-not-production/);
    expect(report.reason).toContain(`postgres://postgres:***@127.0.0.1:`);
    expect(await tablesIn("unmarked")).toEqual([]);
    expectNoPassword(texts);
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
