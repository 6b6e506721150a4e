import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearSecrets, REDACTED, redact, redactDeep, registerSecret } from "../../src/util/redact.ts";

beforeEach(() => {
  clearSecrets();
  vi.stubEnv("PGPASSWORD", undefined);
});
afterEach(() => {
  clearSecrets();
  vi.unstubAllEnvs();
});

describe("redact", () => {
  it("replaces a registered secret wherever it appears, and its URL-encoded form", () => {
    registerSecret("s3cr3t/pa ss");
    expect(redact("connect with s3cr3t/pa ss now")).toBe(`connect with ${REDACTED} now`);
    expect(redact("host=x pw-in-url: s3cr3t%2Fpa%20ss")).toBe(`host=x pw-in-url: ${REDACTED}`);
  });

  it("replaces a secret quoted in a SQL literal (' doubled) and JSON-escaped, for registered and $PGPASSWORD alike", () => {
    registerSecret(`it's"a`);
    expect(redact(`SELECT 'it''s"a'::int`)).toBe(`SELECT '${REDACTED}'::int`);
    expect(redact(`{"p": "it's\\"a"}`)).toBe(`{"p": "${REDACTED}"}`);
    clearSecrets();
    vi.stubEnv("PGPASSWORD", "o'k");
    expect(redact("dblink_connect('password=o''k')")).not.toContain("o''k");
  });

  it("replaces the longer of two overlapping secrets whole", () => {
    registerSecret("abc123");
    registerSecret("abc123def456");
    expect(redact("[abc123def456]")).toBe(`[${REDACTED}]`);
  });

  it("ignores an empty secret instead of redacting between every character", () => {
    registerSecret("");
    registerSecret(undefined);
    expect(redact("plain text")).toBe("plain text");
  });

  it("hides the password of postgres:// and postgresql:// URLs, keeping user, host and database", () => {
    expect(redact("postgres://app:hunter2@db.internal:5432/prod")).toBe(
      "postgres://app:***@db.internal:5432/prod",
    );
    expect(redact("see POSTGRESQL://app:hunter2@db/prod.")).toBe("see POSTGRESQL://app:***@db/prod.");
    expect(redact('url "postgresql://:hunter2@db/x" failed')).toBe('url "postgresql://:***@db/x" failed');
    // A raw password containing "@" and "/": stopping at the first "@" would print "ss/w0rd".
    expect(redact("postgres://u:p@ss/w0rd@db:5432/x")).toBe("postgres://u:***@db:5432/x");
    expect(redact("postgres://app@db/prod and postgres://db/prod")).toBe(
      "postgres://app@db/prod and postgres://db/prod",
    );
  });

  it("hides password= in URL query strings without eating the parameters after it", () => {
    expect(redact("postgres://db/prod?sslmode=require&password=hunter2&application_name=x")).toBe(
      "postgres://db/prod?sslmode=require&password=***&application_name=x",
    );
  });

  it("hides password= in key/value conninfo strings, quoted or not, and PGPASSWORD= in shell lines", () => {
    expect(redact("host=db user=app password=hunter2 dbname=prod")).toBe(
      "host=db user=app password=*** dbname=prod",
    );
    expect(redact("host=db password = 'it\\'s a secret' dbname=prod")).toBe(
      "host=db password = *** dbname=prod",
    );
    expect(redact("PGPASSWORD=hunter2 psql -h db")).toBe("PGPASSWORD=*** psql -h db");
    expect(redact("Password=hunter2")).toBe("Password=***");
    // Prose about passwords is left alone.
    expect(redact('password authentication failed for user "app"')).toBe(
      'password authentication failed for user "app"',
    );
  });

  it("hides the value of $PGPASSWORD, read at call time", () => {
    expect(redact("token Jm2env-pw here")).toBe("token Jm2env-pw here");
    vi.stubEnv("PGPASSWORD", "Jm2env-pw");
    expect(redact("token Jm2env-pw here")).toBe(`token ${REDACTED} here`);
  });

  it("is idempotent", () => {
    registerSecret("hunter2");
    const once = redact("postgres://a:hunter2@h/d?password=x password='y' hunter2");
    expect(redact(once)).toBe(once);
    expect(once).not.toContain("hunter2");
  });
});

describe("redactDeep", () => {
  it("redacts every string, keys included, and password-named values outright, without mutating the input", () => {
    registerSecret("Zq9secret");
    const input = {
      n: 42,
      ok: true,
      nothing: null,
      list: ["a Zq9secret b", { url: "postgres://u:pw1@h/d" }],
      settings: { password: "anything-at-all", PGPASSWORD: 12345, "Zq9secret-key": 1 },
    };
    const copy = structuredClone(input);
    const out = redactDeep(input);
    expect(out).toEqual({
      n: 42,
      ok: true,
      nothing: null,
      list: [`a ${REDACTED} b`, { url: "postgres://u:***@h/d" }],
      settings: { password: REDACTED, PGPASSWORD: REDACTED, "***-key": 1 },
    });
    expect(input).toEqual(copy);
  });
});
