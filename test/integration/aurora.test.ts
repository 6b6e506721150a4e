/**
 * The aurora provider against a mocked RDS API (aws-sdk-client-mock; the only mock): the API conversation,
 * throttling, a clone that never becomes available, a failed deletion, gc, and that no write-capable call
 * ever names the source cluster. The clone's endpoint is a real local PostgreSQL, and the mocked
 * ModifyDBCluster really resets its password, so everything after provisioning is real — up to one whole
 * rehearsal through the provider.
 */
import {
  DeleteDBClusterCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
  RestoreDBClusterToPointInTimeCommand,
} from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import pg from "pg";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AuroraProvider, gcAurora, type AuroraProviderOptions } from "../../src/clone/aurora.ts";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import { CloneRefusedError, type Clone } from "../../src/clone/provider.ts";
import { readProvenance } from "../../src/clone/provenance.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { createLogger } from "../../src/util/logger.ts";
import { fakeRds as fakeRdsApi, rdsCalls, rdsFault as fault } from "../support/aurora-mock.ts";
import { seedFixture } from "../support/seed-fixture.ts";

const SOURCE = "prod-ledger";
const rds = mockClient(RDSClient);
const client = new RDSClient({ region: "eu-west-1" });
let local: Clone;
let admin: pg.Client;
let port: number;
/** Every command sent in the whole file, for the never-write-the-source check. */
const allCalls: { command: string; input: Record<string, unknown> }[] = [];

/** A fake RDS: clusters and instances come and go as the provider asks; the clone's endpoint is `local`. */
const fakeRds = (opts: { clusterStatus?: () => string } = {}) =>
  fakeRdsApi(rds, {
    source: {
      DBClusterIdentifier: SOURCE,
      MasterUsername: "postgres",
      DBClusterArn: `arn:aws:rds:eu-west-1:123456789012:cluster:${SOURCE}`,
    },
    admin,
    masterUser: "postgres",
    port,
    ...opts,
  });

const calls = () => rdsCalls(rds);

const settings = {
  source_cluster: SOURCE,
  subnet_group: "rehearse-subnets",
  security_groups: ["sg-0123"],
  parameter_group: "pg16-cluster",
  instance_class: "db.r6g.xlarge",
  ssl: false,
  database: "rehearsal",
};
const provider = (extra: Partial<AuroraProviderOptions> = {}) =>
  new AuroraProvider({
    settings,
    client,
    wait: { minDelay: 0.01, maxDelay: 0.02, maxWaitTime: 1 },
    sleep: async () => {},
    owner: "ci",
    now: () => new Date("2026-12-01T12:00:00Z"),
    ...extra,
  });

beforeAll(async () => {
  // The "production data" the clone would carry: the fixture's dataset, seeded into a local server.
  local = await new EmbeddedProvider().start({});
  port = Number(local.connectionConfig().port);
  admin = new pg.Client(local.connectionConfig());
  await admin.connect();
  await seedFixture(
    local.connectionConfig(),
    path.resolve(import.meta.dirname, "../fixtures/cached-dataset"),
  );
});
afterEach(() => {
  allCalls.push(...calls());
});
afterAll(async () => {
  await admin?.end();
  await local?.stop();
  // No write-capable call, in any test, named the source cluster.
  const writes = allCalls.filter((c) => !c.command.startsWith("Describe"));
  expect(writes.length).toBeGreaterThan(10);
  for (const w of writes) {
    expect(w.input.DBClusterIdentifier, w.command).not.toBe(SOURCE);
    expect(w.input.DBInstanceIdentifier, w.command).not.toBe(SOURCE);
  }
  rds.restore();
});

describe("aurora provider", () => {
  beforeEach(() => {
    fakeRds();
  });

  it("clones copy-on-write, tags, resets the password, marks the clone, and tears it down", async () => {
    const lines: string[] = [];
    const clone = await provider().start({
      runId: "20261201-120000-ledger-abc123",
      log: (l) => lines.push(l),
    });
    const cfg = clone.connectionConfig();
    expect(cfg.host).toBe("127.0.0.1");
    expect(clone.hasData).toBe(true);
    expect(clone.displayUrl()).toBe(`postgres://postgres:***@127.0.0.1:${port}/rehearsal`);
    // The password the provider set is the one that works now.
    const c = new pg.Client(cfg);
    await c.connect();
    const marker = await readProvenance(c);
    await c.end();
    expect(marker?.[0]).toMatchObject({ provider: "aurora", source: expect.stringContaining(SOURCE) });

    const restore = calls().find((x) => x.command === "RestoreDBClusterToPointInTime")!.input;
    const id = restore.DBClusterIdentifier as string;
    expect(id).toMatch(/^rehearse-20261201-120000-ledger-abc123-[0-9a-f]{6}$/);
    expect(restore).toMatchObject({
      SourceDBClusterIdentifier: SOURCE,
      RestoreType: "copy-on-write",
      UseLatestRestorableTime: true,
      DBSubnetGroupName: "rehearse-subnets",
      VpcSecurityGroupIds: ["sg-0123"],
      DBClusterParameterGroupName: "pg16-cluster",
      Tags: [
        { Key: "rehearse:run-id", Value: "20261201-120000-ledger-abc123" },
        { Key: "rehearse:expires-at", Value: "2026-12-01T18:00:00.000Z" },
        { Key: "rehearse:owner", Value: "ci" },
      ],
    });
    await clone.stop();
    const sequence = calls()
      .map((x) => x.command)
      .filter((n) => !n.startsWith("Describe"));
    expect(sequence).toEqual([
      "RestoreDBClusterToPointInTime",
      "CreateDBInstance",
      "ModifyDBCluster",
      "DeleteDBInstance",
      "DeleteDBCluster",
    ]);
    const byName = (n: string) => calls().find((x) => x.command === n)!.input;
    expect(byName("CreateDBInstance")).toMatchObject({
      DBInstanceIdentifier: `${id}-1`,
      DBClusterIdentifier: id,
      DBInstanceClass: "db.r6g.xlarge",
      Engine: "aurora-postgresql",
    });
    expect(byName("ModifyDBCluster")).toMatchObject({ DBClusterIdentifier: id, ApplyImmediately: true });
    expect(byName("DeleteDBInstance")).toEqual({ DBInstanceIdentifier: `${id}-1`, SkipFinalSnapshot: true });
    expect(byName("DeleteDBCluster")).toEqual({ DBClusterIdentifier: id, SkipFinalSnapshot: true });
    const password = String(byName("ModifyDBCluster").MasterUserPassword);
    expect(password.length).toBeGreaterThanOrEqual(24);
    expect(lines.join("\n")).not.toContain(password);
  });

  it("retries throttled calls", async () => {
    const { clusters } = fakeRds();
    rds
      .on(RestoreDBClusterToPointInTimeCommand)
      .rejectsOnce(fault("ThrottlingException", "Rate exceeded"))
      .rejectsOnce(fault("Throttling", "Rate exceeded"))
      .callsFake((input: { DBClusterIdentifier: string }) => {
        // The third attempt goes through.
        clusters.add(input.DBClusterIdentifier);
        return { DBCluster: { DBClusterIdentifier: input.DBClusterIdentifier } };
      });
    await using clone = await provider().start({ runId: "throttled" });
    expect(clone.provider).toBe("aurora");
    expect(calls().filter((x) => x.command === "RestoreDBClusterToPointInTime")).toHaveLength(3);
  });

  it("a clone that never becomes available times out and is torn down", async () => {
    fakeRds({ clusterStatus: () => "creating" });
    await expect(provider().start({ runId: "stuck" })).rejects.toThrow(/did not become available within 1 s/);
    const names = calls().map((x) => x.command);
    expect(names).toContain("DeleteDBCluster");
    expect(names).not.toContain("CreateDBInstance");
  });

  it("a failed deletion is reported with what is left and how to delete it", async () => {
    const clone = await provider().start({ runId: "undeletable" });
    rds.on(DeleteDBClusterCommand).rejects(fault("InvalidDBClusterStateFault", "cluster is busy"));
    await expect(clone.stop()).rejects.toThrow(
      /could not delete the Aurora clone: cluster rehearse-undeletable-[0-9a-f]{6} \(cluster is busy\).*aws rds delete-db-cluster/,
    );
  });

  it("refuses when settings are missing, naming each fix, before any API call", async () => {
    const p = new AuroraProvider({ settings: {}, client });
    const err = await p.start({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloneRefusedError);
    expect((err as Error).message).toMatch(/no source cluster.*\n.*no DB subnet group/s);
    expect(calls()).toEqual([]);
  });

  it("gc deletes expired clones by tag (instances first), and only reports with --dry-run", async () => {
    const tags = (expires: string) => [
      { Key: "rehearse:run-id", Value: "r" },
      { Key: "rehearse:expires-at", Value: expires },
    ];
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [
        {
          DBClusterIdentifier: "rehearse-old",
          TagList: tags("2026-11-30T00:00:00Z"),
          DBClusterMembers: [{ DBInstanceIdentifier: "rehearse-old-1" }],
        },
        { DBClusterIdentifier: "rehearse-new", TagList: tags("2026-12-02T00:00:00Z") },
        { DBClusterIdentifier: SOURCE, TagList: [] },
      ],
    });
    rds.on(DescribeDBInstancesCommand).rejects(fault("DBInstanceNotFoundFault"));
    const now = new Date("2026-12-01T12:00:00Z");
    const wait = { minDelay: 0.01, maxDelay: 0.02, maxWaitTime: 1 };
    const dry = await gcAurora(client, { dryRun: true, now, wait });
    expect(dry).toEqual({ deleted: ["rehearse-old"], failed: [], kept: 1 });
    expect(calls().filter((x) => x.command.startsWith("Delete"))).toEqual([]);
    const real = await gcAurora(client, { now, wait });
    expect(real.deleted).toEqual(["rehearse-old"]);
    expect(calls().filter((x) => x.command.startsWith("Delete"))).toEqual([
      {
        command: "DeleteDBInstance",
        input: { DBInstanceIdentifier: "rehearse-old-1", SkipFinalSnapshot: true },
      },
      { command: "DeleteDBCluster", input: { DBClusterIdentifier: "rehearse-old", SkipFinalSnapshot: true } },
    ]);
  });

  it("one whole rehearsal through the provider: real from the endpoint on", async () => {
    const lines: string[] = [];
    const report = await rehearse({
      scenarioPath: path.resolve(import.meta.dirname, "../fixtures/cached-dataset"),
      provider: "aurora",
      providers: { aurora: provider() },
      logger: createLogger({ debug: true, write: (l) => lines.push(l) }),
    });
    expect(report.status, report.reason).toBe("passed");
    expect(report.context.provider).toBe("aurora");
    expect(report.context.clone).toMatchObject({ method: "provisioned", cache: "off" });
    // The clone held the data: no schema, no seeding.
    expect(report.timings.map((t) => t.stage)).not.toContain("seeding");
    expect(report.checks.find((c) => c.id.startsWith("row_parity"))?.status).toBe("pass");
    const password = String(calls().find((x) => x.command === "ModifyDBCluster")!.input.MasterUserPassword);
    expect(JSON.stringify(report)).not.toContain(password);
    expect(lines.join("\n")).not.toContain(password);
    expect(calls().map((x) => x.command)).toContain("DeleteDBCluster");
  });
});
