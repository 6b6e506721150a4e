/**
 * No password in any output. Each test rehearses with a recognisable password — the clone's generated one,
 * one in a --target-url, one in PGPASSWORD, the Aurora clone's master password and AWS keys — and searches
 * everything the run left: every file under --out, $GITHUB_STEP_SUMMARY, stdout, stderr (at --debug, with
 * server logs) and the error messages of runs that fail to connect. The count must be 0.
 *
 * Each password carries a random token; the search looks for the token alone, so a password that slipped
 * through JSON, XML, HTML or Markdown escaping (or URL encoding) is still found.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ModifyDBClusterCommand, RDSClient } from "@aws-sdk/client-rds";
import { mockClient } from "aws-sdk-client-mock";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuroraProvider } from "../../src/clone/aurora.ts";
import { EmbeddedProvider } from "../../src/clone/embedded.ts";
import type { Clone, CloneProvider } from "../../src/clone/provider.ts";
import { ident } from "../../src/db/sql.ts";
import { renderTerminal } from "../../src/report/terminal.ts";
import { writeReports } from "../../src/report/write.ts";
import { rehearse } from "../../src/run/rehearsal.ts";
import { createLogger } from "../../src/util/logger.ts";
import { fakeRds as fakeRdsApi, rdsFault } from "../support/aurora-mock.ts";
import { seedFixture } from "../support/seed-fixture.ts";

const repo = path.resolve(import.meta.dirname, "../..");
const bin = path.join(repo, "bin/rehearse.js");
const fixture = path.resolve(import.meta.dirname, "../fixtures/cached-dataset");
const scratch = mkdtempSync(path.join(tmpdir(), "rehearse-secrets-"));
chmodSync(scratch, 0o755);

/** A password whose token is recognisable, with characters that URL encoding and HTML/XML/JSON escape. */
function secret(label: string): { password: string; token: string } {
  const token = `${label}${randomBytes(8).toString("hex")}`;
  return { token, password: `${token}@/:?#&<>"'|%` };
}
const URL_PW = secret("URLPW");
const ENV_PW = secret("ENVPW");
const WRONG_PW = secret("WRONGPW");
const BROKEN_PW = secret("BROKENPW");

let server: Clone;
let admin: pg.Client;
let port: number;

beforeAll(async () => {
  // The "existing database" a user points rehearse at: a real server, roles that log in with the passwords.
  server = await new EmbeddedProvider().start({});
  port = Number(server.connectionConfig().port);
  admin = new pg.Client(server.connectionConfig());
  await admin.connect();
  for (const [role, pw] of [
    ["url_user", URL_PW.password],
    ["env_user", ENV_PW.password],
  ] as const) {
    // Superuser: seeding with session_replication_role = replica needs it, as on a real disposable clone.
    await admin.query(`CREATE ROLE ${ident(role)} LOGIN SUPERUSER PASSWORD ${admin.escapeLiteral(pw)}`);
    await admin.query(`CREATE DATABASE ${ident(`${role}_db`)} OWNER ${ident(role)}`);
  }
  // A source for `rehearse init --from-url`: one analysed table.
  await admin.query("CREATE DATABASE init_src OWNER url_user");
  const src = new pg.Client({ ...server.connectionConfig(), database: "init_src" });
  await src.connect();
  await src.query(`CREATE TABLE orders (id bigserial PRIMARY KEY, amount int NOT NULL, memo text);
    INSERT INTO orders (amount, memo) SELECT g % 100, 'order ' || g FROM generate_series(1, 2000) g;
    ANALYZE orders;`);
  await src.end();
});
afterAll(async () => {
  await admin?.end();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** Every file under `dir`, recursively, as text. */
function filesUnder(dir: string): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ file: path.relative(scratch, p), text: readFileSync(p, "utf8") });
    }
  };
  walk(dir);
  return out;
}

/** Where each token occurs: must be empty. */
function leaks(texts: { file: string; text: string }[], tokens: string[]): string[] {
  const found: string[] = [];
  for (const { file, text } of texts)
    for (const t of tokens) {
      const at = text.indexOf(t);
      // With some context, so a failure shows which output carried it.
      if (at >= 0) found.push(`${t} in ${file}: …${text.slice(Math.max(0, at - 80), at + 40)}…`);
    }
  return found;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout, stderr, and every file the run wrote (reports, the step summary). */
  artifacts: { file: string; text: string }[];
}

let n = 0;
function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const dir = path.join(scratch, `run${++n}`);
  const out = path.join(dir, "reports");
  const tmp = path.join(dir, "tmp");
  const summary = path.join(dir, "step-summary.md");
  mkdirSync(tmp, { recursive: true });
  writeFileSync(summary, "");
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG")));
  const full = [...args, ...(args[0] === "run" ? ["--out", out, "--debug"] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...full], {
      cwd: repo,
      env: { ...base, ...env, TMPDIR: tmp, CI: "true", GITHUB_STEP_SUMMARY: summary },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const files = filesUnder(dir).filter((f) => !f.file.includes(`${path.sep}tmp${path.sep}tsx-`));
      resolve({
        code,
        stdout,
        stderr,
        artifacts: [{ file: "stdout", text: stdout }, { file: "stderr", text: stderr }, ...files],
      });
    });
  });
}

/**
 * The fixture plus a last step whose SQL — and so its error message, statement text and caret excerpt —
 * quotes `text`: users do put connection strings and passwords in SQL (dblink, postgres_fdw user mappings),
 * and this is what makes the search meaningful: without redaction the token would be in every report.
 */
function fixtureQuoting(text: string): string {
  const dir = path.join(scratch, `fixture${++n}`);
  mkdirSync(dir, { recursive: true });
  const yaml = readFileSync(path.join(fixture, "scenario.yaml"), "utf8");
  const anchor = `          sql: "UPDATE items SET note = 'x' WHERE id <= 10"\n`;
  if (!yaml.includes(anchor)) throw new Error("the fixture changed: update fixtureQuoting");
  const step = `        - name: quotes-a-secret\n          sql: |\n            SELECT '${text.replace(/'/g, "''")}'::int\n`;
  writeFileSync(path.join(dir, "scenario.yaml"), yaml.replace(anchor, `${anchor}${step}`));
  copyFileSync(path.join(fixture, "schema.sql"), path.join(dir, "schema.sql"));
  return dir;
}

const urlWith = (user: string, password: string, database: string, p: number | string = port) =>
  `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${p}/${database}`;
const ALL_TOKENS = [URL_PW, ENV_PW, WRONG_PW, BROKEN_PW].map((s) => s.token);
/** `rehearse run` of the fixture on the url provider at `url`. */
const runOn = (url: string) => ["run", fixture, "--provider", "url", "--target-url", url];
/** The PG* environment that connects as env_user with `password`. */
const pgEnv = (password: string) => ({
  PGHOST: "127.0.0.1",
  PGPORT: String(port),
  PGUSER: "env_user",
  PGDATABASE: "env_user_db",
  PGPASSWORD: password,
});

describe.concurrent("no password in any artifact", () => {
  it("a URL password: a whole rehearsal on a real server, every report, stdout and stderr", async () => {
    const r = await cli([
      "run",
      fixtureQuoting(urlWith("url_user", URL_PW.password, "url_user_db")),
      "--provider",
      "url",
      "--target-url",
      urlWith("url_user", URL_PW.password, "url_user_db"),
      "--i-know-this-is-not-production",
    ]);
    // The whole migration ran; its last step failed quoting the URL: exit 1, the error in every report.
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/invalid input syntax for type integer: "postgres:\/\/url_user:\*\*\*@/);
    // The run really happened on that database and printed its (redacted) URL: something worth searching.
    expect(r.stderr).toContain(`postgres://url_user:***@127.0.0.1:${port}/url_user_db`);
    const names = r.artifacts.map((a) => path.basename(a.file));
    expect(names).toEqual(
      expect.arrayContaining(["report.json", "summary.md", "junit.xml", "index.html", "step-summary.md"]),
    );
    expect(r.artifacts.find((a) => a.file.endsWith("step-summary.md"))!.text.length).toBeGreaterThan(100);
    expect(leaks(r.artifacts, ALL_TOKENS)).toEqual([]);
  });

  it("PGPASSWORD and the PG* environment: a whole rehearsal, every artifact", async () => {
    const r = await cli(
      ["run", fixtureQuoting(ENV_PW.password), "--provider", "url", "--i-know-this-is-not-production"],
      pgEnv(ENV_PW.password),
    );
    expect(r.code, r.stdout + r.stderr).toBe(1);
    // A bare password in SQL matches no URL pattern: only knowing PGPASSWORD's value can hide it.
    expect(r.stdout).toMatch(/invalid input syntax for type integer: "\*\*\*"/);
    expect(r.stderr).toMatch(/env_user:\*\*\*@127\.0\.0\.1/);
    expect(leaks(r.artifacts, ALL_TOKENS)).toEqual([]);
  });

  it("init --from-url with a URL password: the scenario it writes, stdout and stderr", async () => {
    const out = path.join(scratch, `init-ok-${randomBytes(3).toString("hex")}`);
    const r = await cli([
      "init",
      "--from-url",
      urlWith("url_user", URL_PW.password, "init_src"),
      "--table",
      "orders",
      "--out",
      out,
      "--no-fidelity",
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const written = filesUnder(out);
    expect(written.map((f) => path.basename(f.file))).toEqual(
      expect.arrayContaining(["scenario.yaml", "schema.sql"]),
    );
    expect(leaks([...r.artifacts, ...written], ALL_TOKENS)).toEqual([]);
  });

  const failures: { name: string; args: () => string[]; env?: () => Record<string, string>; want: RegExp }[] =
    [
      {
        name: "a wrong password in the URL",
        args: () => runOn(urlWith("url_user", WRONG_PW.password, "url_user_db")),
        want: /password authentication failed/,
      },
      {
        name: "a wrong PGPASSWORD",
        args: () => ["run", fixture, "--provider", "url"],
        env: () => pgEnv(WRONG_PW.password),
        want: /password authentication failed/,
      },
      {
        name: "a server that refuses the connection",
        args: () => runOn(urlWith("url_user", URL_PW.password, "url_user_db", 1)),
        want: /could not connect to postgres:\/\/url_user:\*\*\*@127\.0\.0\.1:1\/url_user_db/,
      },
      {
        name: "a URL that does not parse",
        args: () => runOn(`postgres://url_user:${BROKEN_PW.token}@127.0.0.1:port/db`),
        want: /--target-url is not a valid postgres:\/\/ URL/,
      },
      {
        name: "the right password on a database that carries no clone marker",
        args: () => runOn(urlWith("url_user", URL_PW.password, "postgres")),
        want: /refusing to rehearse on postgres:\/\/url_user:\*\*\*@/,
      },
      {
        name: "init --from-url naming a table that does not exist",
        args: () => [
          "init",
          "--from-url",
          urlWith("url_user", URL_PW.password, "url_user_db"),
          "--table",
          "nope",
          "--out",
          path.join(scratch, "init-out"),
        ],
        want: /nope/,
      },
    ];
  for (const f of failures) {
    it(`the error message of ${f.name} carries no password`, async () => {
      const r = await cli(f.args(), f.env?.());
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stdout + r.stderr).toMatch(f.want);
      expect(leaks(r.artifacts, ALL_TOKENS)).toEqual([]);
    });
  }
});

describe("no password in any artifact (in-process providers)", () => {
  it("the clone's generated password appears in no report and no log line", async () => {
    const passwords: string[] = [];
    const inner = new EmbeddedProvider();
    const spying: CloneProvider = {
      name: "embedded",
      async start(options) {
        const clone = await inner.start(options);
        passwords.push(String(clone.connectionConfig().password));
        return clone;
      },
    };
    const lines: string[] = [];
    const report = await rehearse({
      scenarioPath: path.resolve(import.meta.dirname, "../fixtures/sql-error-at-runtime"),
      providers: { embedded: spying },
      logger: createLogger({ debug: true, write: (l) => lines.push(l) }),
    });
    const dir = path.join(scratch, "embedded", report.run_id);
    await writeReports(report, dir);
    expect(passwords).toHaveLength(1);
    const secretPw = passwords[0]!;
    expect(secretPw.length).toBeGreaterThanOrEqual(16);
    const artifacts = filesUnder(dir);
    expect(artifacts.length).toBeGreaterThanOrEqual(4);
    // The run really produced output worth searching: server logs at --debug, a failing step, every format.
    expect(lines.length).toBeGreaterThan(5);
    const texts = [
      ...artifacts,
      { file: "log", text: lines.join("\n") },
      { file: "terminal", text: renderTerminal(report, { color: false }) },
    ];
    expect(leaks(texts, [secretPw])).toEqual([]);
  });

  describe("aurora", () => {
    const rds = mockClient(RDSClient);
    const AWS_SECRET = secret("AWSSECRET");
    const saved = { ...process.env };
    beforeAll(() => {
      // Credentials the SDK would read from the environment: they must never be echoed either.
      process.env.AWS_ACCESS_KEY_ID = "AKIAREHEARSETEST0001";
      process.env.AWS_SECRET_ACCESS_KEY = AWS_SECRET.password;
    });
    afterAll(() => {
      for (const k of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      rds.restore();
    });

    /** A fake RDS whose clone endpoint is the local server, and ModifyDBCluster really sets the password. */
    const fakeRds = (opts: { failModify?: boolean } = {}) =>
      fakeRdsApi(rds, {
        source: { DBClusterIdentifier: "prod", MasterUsername: "aurora_master" },
        admin,
        masterUser: "aurora_master",
        port,
        fail: {
          // The worst an API error could do: quote the rejected value back.
          modify: (password) =>
            opts.failModify
              ? rdsFault(
                  "InvalidParameterValue",
                  `The parameter MasterUserPassword is not valid: ${password}`,
                )
              : undefined,
        },
      });
    const masterPasswords = () =>
      rds
        .commandCalls(ModifyDBClusterCommand)
        .map((c) => String((c.args[0].input as { MasterUserPassword?: string }).MasterUserPassword));

    beforeAll(async () => {
      await admin.query("CREATE ROLE aurora_master LOGIN SUPERUSER");
      await admin.query("CREATE DATABASE aurora_db OWNER aurora_master");
      // The "production data" the clone carries: the fixture's dataset, seeded as the cluster's content.
      await seedFixture({ ...server.connectionConfig(), database: "aurora_db" }, fixture);
    });

    async function auroraRun(label: string) {
      const lines: string[] = [];
      const report = await rehearse({
        scenarioPath: fixture,
        provider: "aurora",
        providers: {
          aurora: new AuroraProvider({
            settings: { source_cluster: "prod", subnet_group: "subnets", ssl: false, database: "aurora_db" },
            client: new RDSClient({ region: "eu-west-1" }),
            wait: { minDelay: 0.01, maxDelay: 0.02, maxWaitTime: 2 },
            sleep: async () => {},
          }),
        },
        logger: createLogger({ debug: true, write: (l) => lines.push(l) }),
      });
      const dir = path.join(scratch, label, report.run_id);
      await writeReports(report, dir);
      const texts = [
        ...filesUnder(dir),
        { file: "log", text: lines.join("\n") },
        { file: "terminal", text: renderTerminal(report, { color: false }) },
      ];
      return { report, texts };
    }

    it("the clone's master password and the AWS secret key appear nowhere after a whole run", async () => {
      fakeRds();
      const { report, texts } = await auroraRun("aurora-ok");
      expect(report.status, report.reason).toBe("passed");
      expect(report.context.provider).toBe("aurora");
      const [pw] = masterPasswords();
      expect(pw!.length).toBeGreaterThanOrEqual(24);
      expect(texts.length).toBeGreaterThanOrEqual(5);
      expect(leaks(texts, [pw!, AWS_SECRET.token])).toEqual([]);
    });

    it("nor when the API quotes the password back in an error", async () => {
      fakeRds({ failModify: true });
      const { report, texts } = await auroraRun("aurora-error");
      expect(report.status).toBe("inconclusive");
      // The error itself is reported — redacted — so the search has something to look in.
      expect(report.reason).toMatch(/MasterUserPassword is not valid: \*\*\*/);
      const [pw] = masterPasswords();
      expect(pw!.length).toBeGreaterThanOrEqual(24);
      expect(leaks(texts, [pw!, AWS_SECRET.token])).toEqual([]);
    });
  });
});
