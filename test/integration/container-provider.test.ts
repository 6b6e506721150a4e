/**
 * The `container` provider on a real engine: whole rehearsals through the CLI on
 * localhost/rehearse-postgres:15, checking that the container is gone afterwards — after a pass, a bad image
 * and an interrupt. Needs what scripts/container-engine.sh sets up (podman's Docker-API socket and the image)
 * and its environment (DOCKER_HOST…). Where there is none the engine tests are skipped, saying why; .ci/run
 * sets REHEARSE_REQUIRE_CONTAINER_ENGINE=1, and there a missing engine fails instead.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { getContainerRuntimeClient, ImageName } from "testcontainers";
import { afterAll, describe, expect, it } from "vitest";
import { ContainerProvider, LABEL_RUN_ID } from "../../src/clone/container.ts";
import { readProvenance } from "../../src/clone/provenance.ts";
import { CloneRefusedError } from "../../src/clone/provider.ts";

const IMAGE = "localhost/rehearse-postgres:15";
const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");

/** Why the engine tests cannot run here, or undefined when they can. */
async function engineMissing(): Promise<string | undefined> {
  const fix = "run scripts/container-engine.sh as root and export what it prints";
  try {
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer within 15 s")), 15_000)),
    ]);
    if (!(await client.image.exists(ImageName.fromString(IMAGE))))
      return `the engine at ${process.env.DOCKER_HOST ?? "the default socket"} has no ${IMAGE}: ${fix}`;
    return undefined;
  } catch (err) {
    return `no container engine reachable (DOCKER_HOST=${process.env.DOCKER_HOST ?? "unset"}: ${(err as Error).message}): ${fix}`;
  }
}

const missing = await engineMissing();
const required = process.env.REHEARSE_REQUIRE_CONTAINER_ENGINE === "1";
if (missing && !required) console.warn(`container provider tests skipped: ${missing}`);

/** The CLI the engine's containers are listed with, as a user would: podman where it is installed. */
const psTool = (() => {
  for (const tool of ["podman", "docker"]) {
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
      return tool;
    } catch {
      // try the next
    }
  }
  return undefined;
})();

/** Names of every container (running or not) whose label rehearse.run-id matches `runId` (or any, if "*"). */
function containersOf(runId: string): string[] {
  if (!psTool) throw new Error("neither podman nor docker is installed to list containers with");
  const filter = runId === "*" ? `label=${LABEL_RUN_ID}` : `label=${LABEL_RUN_ID}=${runId}`;
  return execFileSync(psTool, ["ps", "-a", "--filter", filter, "--format", "{{.Names}}"], {
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean);
}

const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-container-test-"));
chmodSync(scratch, 0o755);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let n = 0;
function scenario(target: string, rows = 5000): string {
  const dir = path.join(scratch, `s${++n}`);
  mkdirSync(dir);
  writeFileSync(
    path.join(dir, "scenario.yaml"),
    `version: 1
name: container-${n}
target:
${target}
dataset:
  schema: {file: schema.sql}
  seed: 5
  tables:
    - name: items
      rows: ${rows}
      columns: {id: {gen: serial}, v: {gen: uniform, min: 1, max: 1000}}
migration:
  phases:
    - name: change
      steps:
        - {name: add_note, sql: "ALTER TABLE items ADD COLUMN note text"}
        - {name: index_v, sql: "CREATE INDEX CONCURRENTLY items_v ON items (v)"}
invariants:
  - {check: indexes_valid, tables: [items]}
budgets:
  locks:
    - {mode: AccessExclusiveLock, relation: "*", max: 2s}
`,
  );
  writeFileSync(
    path.join(dir, "schema.sql"),
    "CREATE TABLE items (id bigserial PRIMARY KEY, v int NOT NULL);",
  );
  return dir;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  out: string;
  tmp: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const tmp = path.join(scratch, `tmp${++n}`);
  const out = path.join(scratch, `reports${n}`);
  mkdirSync(tmp, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, [bin, ...args, "--out", out, "--no-progress"], {
    cwd: repo,
    env: { ...process.env, TMPDIR: tmp, CI: "true", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr, out, tmp })),
  );
  return { child, done, stderrSoFar: () => stderr };
}

function onlyReport(out: string) {
  const dirs = readdirSync(out);
  expect(dirs).toHaveLength(1);
  return {
    dir: path.join(out, dirs[0]!),
    report: JSON.parse(readFileSync(path.join(out, dirs[0]!, "report.json"), "utf8")),
  };
}

describe("container provider, no engine", () => {
  it("exits 2 naming the setup script when DOCKER_HOST points at no engine, and creates nothing", async () => {
    const r = await start(["run", scenario(`  provider: container\n  image: ${IMAGE}`)], {
      DOCKER_HOST: `unix://${path.join(scratch, "no-engine.sock")}`,
    }).done;
    expect(r.code).toBe(2);
    const { report } = onlyReport(r.out);
    expect(report).toMatchObject({ status: "inconclusive", exit_code: 2 });
    expect(report.reason).toContain("no container engine is reachable");
    expect(report.reason).toContain("no-engine.sock");
    expect(report.reason).toContain("fix: run scripts/container-engine.sh");
    expect(report.steps).toEqual([]);
    expect(readdirSync(r.tmp).filter((f) => f.startsWith("rehearse-"))).toEqual([]);
  });
});

describe.skipIf(missing !== undefined && !required)("container provider, on a real engine", () => {
  it("has the engine and the image (.ci/run sets them up)", () => {
    expect(missing).toBeUndefined();
  });

  it("starts the image with the settings, writes the clone marker, and removes the container when disposed", async () => {
    const runId = `provider-test-${process.pid}`;
    let name = "";
    {
      await using clone = await new ContainerProvider().start({
        image: IMAGE,
        settings: { work_mem: "8MB" },
        database: "rehearsal",
        runId,
      });
      name = clone.name;
      expect(containersOf(runId)).toEqual([name]);
      // Published on loopback only, like the embedded and system providers' servers.
      const ports = execFileSync(psTool!, ["port", name], { encoding: "utf8" }).trim();
      expect(ports).toMatch(/^5432\/tcp -> 127\.0\.0\.1:\d+$/);
      expect(clone.provider).toBe("container");
      expect(clone.image).toBe(IMAGE);
      const cfg = clone.connectionConfig();
      expect(clone.displayUrl()).not.toContain(String(cfg.password));
      expect(clone.displayUrl()).toBe(`postgres://postgres:***@${cfg.host}:${cfg.port}/rehearsal`);
      const c = new pg.Client(cfg);
      await c.connect();
      try {
        const r = await c.query(
          `SELECT current_setting('server_version_num')::int / 10000 AS major, current_database() AS db,
                  current_setting('work_mem') AS work_mem, current_setting('fsync') AS fsync`,
        );
        expect(r.rows[0]).toEqual({ major: 15, db: "rehearsal", work_mem: "8MB", fsync: "off" });
        const marker = await readProvenance(c);
        expect(marker?.[0]).toMatchObject({ provider: "container", source: `image:${IMAGE}` });
      } finally {
        await c.end();
      }
      // The password is required: the server does not let a wrong one in over the network.
      const wrong = new pg.Client({ ...cfg, password: "not-the-password" });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    }
    expect(containersOf(runId)).toEqual([]);
  });

  it("a server that is not ready in time is refused with the container's log, and the container removed", async () => {
    const runId = `slow-test-${process.pid}`;
    // initdb alone takes longer than this: the second ready line cannot come in time.
    const err = await new ContainerProvider({ startupTimeoutMs: 1_500 })
      .start({ image: IMAGE, runId })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloneRefusedError);
    expect((err as Error).message).toMatch(/did not become ready: Log message .* not received after 1500ms/);
    expect((err as Error).message).toContain("its last log lines:");
    expect((err as CloneRefusedError).fix).toContain(
      'print "database system is ready to accept connections" twice',
    );
    expect(containersOf(runId)).toEqual([]);
  });

  it("a whole rehearsal passes, the report names the provider and image, and the container is gone", async () => {
    const before = containersOf("*");
    const p = start(["run", scenario(`  provider: container\n  image: ${IMAGE}\n  hot_tables: [items]`)]);
    // While it runs the container exists, labelled with the run: the leftover check below can see one.
    let seen: string[] = [];
    const deadline = Date.now() + 120_000;
    while (seen.length === 0 && Date.now() < deadline && p.child.exitCode === null) {
      if (/clone ready/.test(p.stderrSoFar())) seen = containersOf("*").filter((c) => !before.includes(c));
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = await p.done;
    expect(r.stderr).not.toMatch(/harness error/);
    expect(r.code).toBe(0);
    const { dir, report } = onlyReport(r.out);
    expect(report).toMatchObject({
      status: "passed",
      context: { provider: "container", clone: { method: "initdb", image: IMAGE } },
    });
    expect(report.context.postgres_version).toMatch(/^15\./);
    expect(report.seeding.rows).toBe(5000);
    expect(report.steps.map((s: { status: string }) => s.status)).toEqual(["success", "success"]);
    expect(readFileSync(path.join(dir, "summary.md"), "utf8")).toContain(
      `Provider: container (image \`${IMAGE}\`)`,
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(new RegExp(`^rehearse-${report.run_id}-`));
    expect(containersOf(report.run_id)).toEqual([]);
    expect(containersOf("*")).toEqual(before);
  });

  it("a bad image name exits 2 with what to do and leaves nothing behind", async () => {
    const before = containersOf("*");
    const bad = "localhost/rehearse-no-such-image:0";
    const r = await start(["run", scenario(`  provider: container\n  image: ${bad}`)]).done;
    expect(r.code).toBe(2);
    const { report } = onlyReport(r.out);
    expect(report).toMatchObject({ status: "inconclusive", exit_code: 2 });
    expect(report.reason).toContain(`the container image "${bad}" is not on the engine`);
    expect(report.reason).toContain("fix: check target.image");
    expect(report.reason).not.toMatch(/harness error/);
    expect(r.stdout).toContain(`the container image "${bad}"`);
    expect(containersOf(report.run_id)).toEqual([]);
    expect(containersOf("*")).toEqual(before);
    expect(readdirSync(r.tmp).filter((f) => f.startsWith("rehearse-"))).toEqual([]);
  });

  it("on SIGINT during seeding exits 130, marks the report aborted and removes the container", async () => {
    const before = containersOf("*");
    const p = start(["run", scenario(`  provider: container\n  image: ${IMAGE}`, 3_000_000)]);
    const deadline = Date.now() + 120_000;
    while (!/seeding/.test(p.stderrSoFar()) && Date.now() < deadline && p.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 50));
    expect(containersOf("*").filter((c) => !before.includes(c))).toHaveLength(1);
    p.child.kill("SIGINT");
    const r = await p.done;
    expect(r.code).toBe(130);
    const { report } = onlyReport(r.out);
    expect(report).toMatchObject({ status: "aborted", exit_code: 130 });
    expect(containersOf("*")).toEqual(before);
  });
});
