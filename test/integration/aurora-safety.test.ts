/**
 * Production safety of the Aurora provider: every command sent to the (mocked) RDS API is recorded across
 * whole rehearsals — success, a failing migration, each provisioning call failing, a clone that never becomes
 * available, an endpoint that refuses connections, a deletion that fails — and every write-capable command
 * must name only the clone this run created, never the source cluster. A clone identifier equal to the
 * source is refused before any call, and the guard refuses a write naming the source in any field.
 *
 * The clone's endpoint is a real local PostgreSQL holding the fixture's data, so the runs are real rehearsals.
 */
import { RDSClient } from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeRefusal } from "../../src/clone/aurora-guard.ts";
import { AuroraProvider, type AuroraProviderOptions } from "../../src/clone/aurora.ts";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import { CloneRefusedError, type Clone } from "../../src/clone/provider.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { silentLogger } from "../../src/util/logger.ts";
import { fakeRds as fakeRdsApi, rdsCalls, rdsFault } from "../support/aurora-mock.ts";
import { seedFixture } from "../support/seed-fixture.ts";

const SOURCE = "prod-ledger";
const SOURCE_ARN = `arn:aws:rds:eu-west-1:123456789012:cluster:${SOURCE}`;
const fixture = path.resolve(import.meta.dirname, "../fixtures/cached-dataset");
const rds = mockClient(RDSClient);
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-aurora-safety-"));
let local: Clone;
let admin: pg.Client;
let port: number;
let databases = 0;

interface Call {
  scenario: string;
  command: string;
  input: Record<string, unknown>;
}
/** Every command sent in this file, tagged with the scenario that sent it. */
const recorded: Call[] = [];

/**
 * Commands that change something in the account. Anything not matching Describe/List is treated as one too
 * (see the last assertion), so a new kind of call cannot slip past as a "read".
 */
const MUTATING =
  /^(Add|Apply|Authorize|Backtrack|Copy|Create|Delete|Deregister|Disable|Enable|Failover|Modify|Promote|Purchase|Reboot|Register|Remove|Reset|Restore|Revoke|Start|Stop|Switchover)/;
const READ = /^(Describe|List)/;

type Breakage = "none" | "restore" | "cluster-timeout" | "instance" | "modify" | "endpoint" | "delete";

/** A fake RDS in which the provider's clones come and go; `breakage` makes one call (or the endpoint) fail. */
function fakeRds(breakage: Breakage) {
  const when = (b: Breakage, name: string, message: string) => () =>
    breakage === b ? rdsFault(name, message) : undefined;
  fakeRdsApi(rds, {
    source: {
      DBClusterIdentifier: SOURCE,
      DBClusterArn: SOURCE_ARN,
      MasterUsername: "postgres",
      Endpoint: "prod-ledger.cluster-abc.eu-west-1.rds.amazonaws.com",
    },
    admin,
    masterUser: "aurora_master",
    // Port 1: nothing listens there, the clone's endpoint refuses connections.
    port: breakage === "endpoint" ? 1 : port,
    clusterStatus: () => (breakage === "cluster-timeout" ? "creating" : "available"),
    fail: {
      restore: when("restore", "InsufficientDBClusterCapacityFault", "no capacity"),
      instance: when("instance", "InsufficientDBInstanceCapacity", "no db.r6g.large left"),
      modify: when("modify", "InvalidDBClusterStateFault", "cluster is busy"),
      deleteCluster: when("delete", "InvalidDBClusterStateFault", "cluster is busy"),
    },
  });
}

/** Each run gets its own copy of the seeded data (the "clone"), as each real clone would. */
async function freshDatabase(): Promise<string> {
  const name = `clone_${++databases}`;
  await admin.query(`CREATE DATABASE ${name} TEMPLATE seeded OWNER aurora_master`);
  return name;
}

const provider = (extra: Partial<AuroraProviderOptions> = {}, database = "seeded") =>
  new AuroraProvider({
    settings: { source_cluster: SOURCE, subnet_group: "rehearse-subnets", ssl: false, database },
    client: new RDSClient({ region: "eu-west-1" }),
    wait: { minDelay: 0.01, maxDelay: 0.02, maxWaitTime: 1 },
    sleep: async () => {},
    ...extra,
  });

function record(scenario: string): Call[] {
  const calls = rdsCalls(rds).map((c) => ({ scenario, ...c }));
  recorded.push(...calls);
  return calls;
}

/** The fixture with a migration step that fails (exit 1): the error path after provisioning. */
function failingFixture(): string {
  const dir = path.join(scratch, "failing");
  mkdirSync(dir, { recursive: true });
  const yaml = readFileSync(path.join(fixture, "scenario.yaml"), "utf8");
  const broken = yaml.replace(
    'sql: "ALTER TABLE items ADD COLUMN note text"',
    'sql: "ALTER TABLE items ADD COLUMN note text REFERENCES nowhere (id)"',
  );
  if (broken === yaml) throw new Error("the fixture's migration changed: update failingFixture");
  writeFileSync(path.join(dir, "scenario.yaml"), broken);
  copyFileSync(path.join(fixture, "schema.sql"), path.join(dir, "schema.sql"));
  return dir;
}

beforeAll(async () => {
  local = await new EmbeddedProvider().start({});
  port = Number(local.connectionConfig().port);
  admin = new pg.Client(local.connectionConfig());
  await admin.connect();
  await admin.query("CREATE ROLE aurora_master LOGIN SUPERUSER");
  await admin.query("CREATE DATABASE seeded OWNER aurora_master");
  await seedFixture({ ...local.connectionConfig(), database: "seeded" }, fixture);
});
afterAll(async () => {
  await admin?.end();
  await local?.stop();
  rmSync(scratch, { recursive: true, force: true });
  rds.restore();
});

describe("the aurora provider never writes to the source cluster", () => {
  const runs: { name: string; breakage: Breakage; scenario?: () => string; want: RegExp; status: string }[] =
    [
      { name: "a whole passing rehearsal", breakage: "none", want: /^$/, status: "passed" },
      {
        name: "a rehearsal whose migration fails",
        breakage: "none",
        scenario: failingFixture,
        want: /^$/,
        status: "failed",
      },
      { name: "a restore that fails", breakage: "restore", want: /no capacity/, status: "inconclusive" },
      {
        name: "a clone that never becomes available",
        breakage: "cluster-timeout",
        want: /did not become available/,
        status: "inconclusive",
      },
      {
        name: "an instance that cannot be created",
        breakage: "instance",
        want: /no db\.r6g\.large left/,
        status: "inconclusive",
      },
      {
        name: "a password reset that fails",
        breakage: "modify",
        want: /cluster is busy/,
        status: "inconclusive",
      },
      {
        name: "an endpoint that refuses connections",
        breakage: "endpoint",
        want: /ECONNREFUSED|connect/,
        status: "inconclusive",
      },
      { name: "a deletion that fails at teardown", breakage: "delete", want: /^$/, status: "passed" },
    ];
  for (const r of runs) {
    it(`${r.name}: mutating calls name only the clone`, async () => {
      fakeRds(r.breakage);
      const report = await rehearse({
        scenarioPath: r.scenario?.() ?? fixture,
        provider: "aurora",
        providers: { aurora: provider({}, await freshDatabase()) },
        logger: silentLogger,
      });
      expect(report.status, report.reason).toBe(r.status);
      expect(report.reason ?? "").toMatch(r.want);
      if (r.breakage === "delete") expect(report.context.clone?.teardown_error).toMatch(/could not delete/);
      const calls = record(r.name);
      const restore = calls.find((c) => c.command === "RestoreDBClusterToPointInTime");
      expect(restore?.input.SourceDBClusterIdentifier).toBe(SOURCE);
      const clone = String(restore!.input.DBClusterIdentifier);
      expect(clone).toMatch(/^rehearse-/);
      const mine = new Set([clone, `${clone}-1`]);
      for (const c of calls.filter((x) => !READ.test(x.command))) {
        for (const [field, value] of Object.entries(c.input)) {
          if (!/(Identifier|ResourceName|Arn)$/.test(field)) continue;
          if (c.command === "RestoreDBClusterToPointInTime" && field === "SourceDBClusterIdentifier")
            continue;
          expect(mine.has(String(value)), `${c.command}.${field} = ${String(value)}`).toBe(true);
        }
      }
      // Whatever failed, what was created was deleted: the cluster always, the instance once it existed.
      const created = calls.filter((c) => /^(Restore|Create)/.test(c.command)).length;
      if (created > 0) expect(calls.map((c) => c.command)).toContain("DeleteDBCluster");
      if (calls.some((c) => c.command === "CreateDBInstance"))
        expect(calls.map((c) => c.command)).toContain("DeleteDBInstance");
    });
  }

  it("a clone identifier equal to the source is refused before any call", async () => {
    fakeRds("none");
    for (const id of [SOURCE, SOURCE.toUpperCase()]) {
      const err = await provider({ identifier: () => id })
        .start({ runId: "collide" })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CloneRefusedError);
      expect((err as Error).message).toMatch(/like its source cluster prod-ledger/);
    }
    expect(record("collision")).toEqual([]);
  });

  it("the guard refuses a write naming the source in any field, even when it is listed as owned", () => {
    const owned = new Set(["rehearse-x-abc123", "rehearse-x-abc123-1", SOURCE]);
    const cases: [string, Record<string, unknown>][] = [
      ["DeleteDBCluster", { DBClusterIdentifier: SOURCE, SkipFinalSnapshot: true }],
      ["ModifyDBCluster", { DBClusterIdentifier: "PROD-LEDGER", MasterUserPassword: "x" }],
      ["RebootDBInstance", { DBInstanceIdentifier: SOURCE }],
      ["AddTagsToResource", { ResourceName: SOURCE_ARN, Tags: [] }],
      ["RestoreDBClusterToPointInTime", { DBClusterIdentifier: SOURCE, SourceDBClusterIdentifier: SOURCE }],
      ["CreateDBInstance", { DBInstanceIdentifier: "rehearse-x-abc123-1", DBClusterIdentifier: SOURCE }],
      ["FailoverDBCluster", { DBClusterIdentifier: "rehearse-x-abc123", TargetDBInstanceIdentifier: SOURCE }],
    ];
    for (const [command, input] of cases)
      expect(writeRefusal(command, input, owned, SOURCE), command).toMatch(/source cluster/);
    // Not the clone's: refused. Names nothing: refused. The clone's own calls pass.
    expect(writeRefusal("DeleteDBCluster", { DBClusterIdentifier: "someone-else" }, owned, SOURCE)).toMatch(
      /only writes to the clone it created/,
    );
    expect(writeRefusal("ModifyDBClusterParameterGroup", { Parameters: [] }, owned, SOURCE)).toMatch(
      /names no clone identifier/,
    );
    expect(
      writeRefusal(
        "RestoreDBClusterToPointInTime",
        { DBClusterIdentifier: "rehearse-x-abc123", SourceDBClusterIdentifier: SOURCE },
        owned,
        SOURCE,
      ),
    ).toBeUndefined();
    expect(
      writeRefusal("DeleteDBInstance", { DBInstanceIdentifier: "rehearse-x-abc123-1" }, owned, SOURCE),
    ).toBeUndefined();
  });

  it("across every run above, no call but a read ever named the source", () => {
    const names = new Set(recorded.map((c) => c.command));
    // The recording covers the whole conversation, teardown included.
    for (const n of [
      "DescribeDBClusters",
      "RestoreDBClusterToPointInTime",
      "CreateDBInstance",
      "ModifyDBCluster",
      "DeleteDBInstance",
      "DeleteDBCluster",
    ])
      expect(names).toContain(n);
    const writes = recorded.filter((c) => !READ.test(c.command));
    expect(writes.every((c) => MUTATING.test(c.command))).toBe(true);
    expect(writes.length).toBeGreaterThan(20);
    for (const w of writes) {
      const named = Object.entries(w.input)
        .filter(
          ([f]) => !(w.command === "RestoreDBClusterToPointInTime" && f === "SourceDBClusterIdentifier"),
        )
        .map(([, v]) => String(JSON.stringify(v)).toLowerCase());
      expect(
        named.some((v) => v.includes(SOURCE)),
        `${w.scenario}: ${w.command}`,
      ).toBe(false);
    }
  });
});
