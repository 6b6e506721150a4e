/**
 * Fresh embedded clones are copies of one initdb'd template per server binaries (src/clone/initdb-template.ts):
 * made once, whole or not at all, never written by a clone, each clone with its own password; a damaged
 * template is made again and REHEARSE_INITDB_TEMPLATE=0 runs initdb as before.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterBase, EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone } from "../../src/clone/provider.ts";

const cacheDir = mkdtempSync(path.join(tmpdir(), "rehearse-tpl-cache-"));
let previous: string | undefined;
beforeAll(() => {
  previous = process.env.REHEARSE_CACHE_DIR;
  process.env.REHEARSE_CACHE_DIR = cacheDir;
});
afterAll(() => {
  if (previous === undefined) delete process.env.REHEARSE_CACHE_DIR;
  else process.env.REHEARSE_CACHE_DIR = previous;
  rmSync(cacheDir, { recursive: true, force: true });
});

const templates = () => path.join(cacheDir, ".templates");
const entries = () => (existsSync(templates()) ? readdirSync(templates()) : []);

async function start(lines: string[] = []): Promise<Clone> {
  return new EmbeddedProvider().start({ log: (l) => lines.push(l) });
}

async function query(cfg: pg.ClientConfig, sql: string): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client(cfg);
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Every file under `dir` with its size and mtime: what a clone writing into the template would change. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const f = path.join(d.parentPath, d.name);
      const st = statSync(f);
      return `${path.relative(dir, f)} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

describe("initdb template", () => {
  it("is made once by concurrent first clones, whole, and leaves no build directory", async () => {
    const clones = await Promise.all([start(), start(), start()]);
    try {
      expect(entries()).toHaveLength(1);
      const dir = path.join(templates(), entries()[0]!);
      expect(existsSync(path.join(dir, "data", "PG_VERSION"))).toBe(true);
      expect(statSync(path.join(dir, "secret")).mode & 0o777).toBe(0o600);
      for (const c of clones)
        expect(await query(c.connectionConfig(), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    } finally {
      await Promise.all(clones.map((c) => c.stop()));
    }
    const base = await clusterBase();
    expect(readdirSync(base).filter((f) => f.startsWith("rehearse-template-"))).toEqual([]);
  });

  it("gives each clone its own password and database, and no clone writes into the template", async () => {
    const dir = path.join(templates(), entries()[0]!);
    const before = listing(dir);
    const templatePassword = (await readFile(path.join(dir, "secret"), "utf8")).trim();
    const lines: string[] = [];
    await using a = await start(lines);
    await using b = await start();
    expect(lines.some((l) => l.includes("copied the initdb template"))).toBe(true);
    const cfg = a.connectionConfig();
    expect(cfg.password).not.toBe(b.connectionConfig().password);
    expect(cfg.password).not.toBe(templatePassword);
    await expect(query({ ...cfg, password: templatePassword }, "SELECT 1")).rejects.toThrow(
      /password authentication failed/,
    );
    await query(cfg, "CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g; CHECKPOINT");
    expect(await query(cfg, "SELECT current_database() AS db, count(*)::int AS n FROM t")).toEqual([
      { db: "rehearsal", n: 10000 },
    ]);
    expect(await query(b.connectionConfig(), "SELECT to_regclass('t') AS t")).toEqual([{ t: null }]);
    expect(listing(dir)).toEqual(before);
  });

  it("is made again when damaged, and not used at all with REHEARSE_INITDB_TEMPLATE=0", async () => {
    const dir = path.join(templates(), entries()[0]!);
    await rm(path.join(dir, "secret"));
    const lines: string[] = [];
    await using repaired = await start(lines);
    expect(await query(repaired.connectionConfig(), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
    expect(existsSync(path.join(dir, "secret"))).toBe(true);
    expect(lines.some((l) => l.includes("no initdb template"))).toBe(false);

    await rm(templates(), { recursive: true, force: true });
    process.env.REHEARSE_INITDB_TEMPLATE = "0";
    try {
      const plain: string[] = [];
      await using c = await start(plain);
      expect(await query(c.connectionConfig(), "SELECT 1 AS one")).toEqual([{ one: 1 }]);
      expect(plain.some((l) => l.includes("initdb template"))).toBe(false);
      expect(entries()).toEqual([]);
    } finally {
      delete process.env.REHEARSE_INITDB_TEMPLATE;
    }
  });
});
