import { access, constants } from "node:fs/promises";
import path from "node:path";

/** pgbench from PATH, else a Debian PostgreSQL install; undefined when absent (apt-get install postgresql-15). */
export async function findPgbench(): Promise<string | undefined> {
  const dirs = [
    ...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean),
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/15/bin",
  ];
  for (const dir of dirs) {
    const candidate = path.join(dir, "pgbench");
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}
