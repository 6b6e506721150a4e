import path from "node:path";
import { describe, expect, it } from "vitest";
import { backupIncludes } from "../../src/clone/standby.ts";

describe("what a base backup copies (PostgreSQL docs, low-level API)", () => {
  const cases: [string, boolean][] = [
    ["base/16384/1259", true],
    ["global/pg_control", true],
    ["postgresql.conf", true],
    ["pg_hba.conf", true],
    ["pg_xact/0000", true],
    ["pg_wal", true],
    ["pg_wal/000000010000000000000001", false],
    ["pg_wal/archive_status", false],
    ["pg_replslot", true],
    ["pg_replslot/rehearse_replica/state", false],
    ["pg_stat_tmp/global.stat", false],
    ["pg_subtrans/0000", false],
    ["pg_notify/0000", false],
    ["pg_dynshmem/mcb", false],
    ["postmaster.pid", false],
    ["postmaster.opts", false],
    ["backup_label", false],
    ["tablespace_map", false],
    ["standby.signal", false],
    ["global/pg_internal.init", false],
    ["base/16384/pgsql_tmp", false],
    ["base/pgsql_tmp/pgsql_tmp123.0", false],
  ];
  it.each(cases)("%s → %s", (rel, copied) => {
    expect(backupIncludes(rel.split("/").join(path.sep))).toBe(copied);
  });
});
