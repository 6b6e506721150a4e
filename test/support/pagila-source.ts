/**
 * A PostgreSQL 15 source holding Pagila (../shared/fixtures/pagila, loaded with psql) and optionally
 * `pgbench -i -s 5`, analysed: the real schemas issue 15's tests and scripts/init-matrix.ts run init against.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import type { Clone } from "../../src/clone/provider.ts";
import { findSystemInstalls, SystemProvider } from "../../src/clone/system.ts";

/**
 * The fixtures folder: next to the repository (../shared, as in the workspace), else the workspace's own
 * path — CI runs a clean clone elsewhere, where only the absolute one exists. REHEARSE_PAGILA overrides both.
 */
export const PAGILA =
  [
    process.env.REHEARSE_PAGILA,
    path.resolve(import.meta.dirname, "../../../shared/fixtures/pagila"),
    "/work/shared/fixtures/pagila",
  ].find((d) => d !== undefined && existsSync(path.join(d, "pagila-schema.sql"))) ?? "";

/** Why a Pagila source cannot start here, or undefined. */
export async function pagilaMissing(): Promise<string | undefined> {
  if (!PAGILA)
    return "the Pagila fixtures are not here: set REHEARSE_PAGILA to the folder holding pagila-schema.sql";
  const install = (await findSystemInstalls()).find((i) => i.major === 15);
  return install ? undefined : "PostgreSQL 15 is not installed: apt-get install postgresql-15";
}

export interface PagilaSource {
  clone: Clone;
  /** The source's URL (the provider's generated password inside; init never prints it). */
  url: string;
}

export async function startPagilaSource(opts: { pgbench?: boolean } = {}): Promise<PagilaSource> {
  const install = (await findSystemInstalls()).find((i) => i.major === 15);
  if (!install) throw new Error(await pagilaMissing());
  const clone = await new SystemProvider().start({ version: 15 });
  try {
    const c = clone.connectionConfig();
    const env = { ...process.env, PGPASSWORD: String(c.password) };
    const conn = ["-h", String(c.host), "-p", String(c.port), "-U", String(c.user)];
    const run = promisify(execFile);
    for (const file of ["pagila-schema.sql", "pagila-data.sql"])
      await run(
        path.join(install.bin, "psql"),
        ["-q", "-v", "ON_ERROR_STOP=1", ...conn, "-d", String(c.database), "-f", path.join(PAGILA, file)],
        { env, maxBuffer: 64 * 1024 * 1024 },
      );
    if (opts.pgbench)
      await run(path.join(install.bin, "pgbench"), ["-i", "-q", "-s", "5", ...conn, String(c.database)], {
        env,
      });
    // init reads planner statistics only: a freshly loaded database has none until it is analysed.
    await run(path.join(install.bin, "psql"), ["-q", ...conn, "-d", String(c.database), "-c", "ANALYZE"], {
      env,
    });
    const url = `postgres://${c.user}:${encodeURIComponent(String(c.password))}@${c.host}:${c.port}/${c.database}`;
    return { clone, url };
  } catch (err) {
    await clone.stop();
    throw err;
  }
}
