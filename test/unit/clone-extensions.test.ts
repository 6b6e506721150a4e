import { describe, expect, it } from "vitest";
import { debianExtensionPackage, extensionFix, missingExtensionsReason } from "../../src/clone/extensions.ts";

describe("the Debian package named for a missing extension", () => {
  it.each([
    [15, "pg_partman", "postgresql-15-partman"],
    [16, "pg_cron", "postgresql-16-cron"],
    [15, "pg_repack", "postgresql-15-repack"],
    [17, "vector", "postgresql-17-pgvector"],
    [15, "postgis", "postgresql-15-postgis-3"],
    [15, "hypopg", "postgresql-15-hypopg"],
  ])("PostgreSQL %i, %s → %s", (major, ext, pkg) => {
    expect(debianExtensionPackage(major, ext)).toBe(pkg);
  });

  it("system: apt-get install the package", () => {
    expect(extensionFix("system", 15, "pg_partman")).toMatch(/^apt-get install postgresql-15-partman\b/);
  });

  it("embedded: move to the system provider with the package", () => {
    expect(extensionFix("embedded", 15, "pg_partman")).toMatch(
      /^the embedded binaries have no pg_partman: use target.provider: system with Debian's postgresql-15-partman/,
    );
  });

  it("the reason lists every missing extension with its fix", () => {
    const reason = missingExtensionsReason("system", 15, ["pg_partman", "pg_cron"]);
    expect(reason).toContain("has no pg_partman, pg_cron");
    expect(reason).toContain("apt-get install postgresql-15-partman");
    expect(reason).toContain("apt-get install postgresql-15-cron");
  });
});
