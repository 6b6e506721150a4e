/**
 * An existing database, named by --target-url or the PG* environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE). The interlock: it is rehearsed on only when it carries the clone marker a rehearse provider
 * wrote (`_rehearse.provenance`), or when the user says, with --i-know-this-is-not-production, that it is
 * disposable. A migration rehearsal writes, rewrites and locks; pointed at production by mistake it would be
 * the outage it was meant to prevent.
 */
import pg from "pg";
import { registerSecret } from "../util/redact.ts";
import { readProvenance } from "./provenance.ts";
import { type Clone, type CloneOptions, type CloneProvider, CloneRefusedError } from "./provider.ts";

export interface UrlProviderOptions {
  /** postgres://user:password@host:port/database; else the PG* environment. */
  url?: string;
  /** Rehearse on a database without the clone marker (--i-know-this-is-not-production). */
  allowUnmarked?: boolean;
  /** The environment to read PG* from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

const PG_ENV = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"] as const;

/** A printable form of a connection URL: the password (and any password= parameter) replaced by ***. */
export function displayConnection(url: string | undefined, env: NodeJS.ProcessEnv): string {
  if (url) {
    try {
      const u = new URL(url);
      if (u.password) u.password = "***";
      for (const k of [...u.searchParams.keys()])
        if (/^(pg)?password$/i.test(k)) u.searchParams.set(k, "***");
      return u.toString().replace("%2A%2A%2A", "***");
    } catch {
      return "(an unparsable URL)";
    }
  }
  const host = env.PGHOST ?? "localhost";
  return `postgres://${env.PGUSER ?? ""}${env.PGUSER ? ":***@" : ""}${host}:${env.PGPORT ?? 5432}/${env.PGDATABASE ?? ""} (from the PG* environment)`;
}

/** The database behind the URL, as the rehearsal's clone. Stopping it closes nothing and drops nothing. */
class ExistingDatabase implements Clone {
  readonly provider = "url";
  readonly method = "existing" as const;
  constructor(
    private readonly config: pg.ClientConfig,
    private readonly shown: string,
    readonly hasData: boolean,
  ) {}
  connectionConfig(): pg.ClientConfig {
    return { ...this.config };
  }
  displayUrl(): string {
    return this.shown;
  }
  async stop(): Promise<void> {
    // Not ours to remove: the user provisioned it and removes it.
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export class UrlProvider implements CloneProvider {
  readonly name = "url";
  readonly #url: string | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #allowUnmarked: boolean;

  constructor(options: UrlProviderOptions = {}) {
    this.#url = options.url;
    this.#env = options.env ?? process.env;
    this.#allowUnmarked = options.allowUnmarked ?? false;
    // Known from the moment we hold it: nothing logged from here on can carry it.
    if (this.#url) {
      try {
        const password = new URL(this.#url).password;
        registerSecret(password);
        registerSecret(decodeURIComponent(password));
      } catch {
        // Not a URL; pg will say so when connecting, and redact() still hides postgres://u:p@ patterns.
      }
    }
    registerSecret(this.#env.PGPASSWORD);
  }

  async start(options: CloneOptions = {}): Promise<Clone> {
    const env = this.#env;
    if (!this.#url && !PG_ENV.some((k) => env[k])) {
      throw new CloneRefusedError(
        "target.provider is url but no database is named: neither --target-url nor PGHOST/PGDATABASE is set",
        "pass --target-url postgres://user@host:5432/db (the password in PGPASSWORD or ~/.pgpass), or set PGHOST and PGDATABASE",
      );
    }
    const shown = displayConnection(this.#url, env);
    if (this.#url && !parsesAsPostgresUrl(this.#url))
      // pg would throw a bare TypeError ("Invalid URL") from deep inside; this is bad input, said as such.
      throw new CloneRefusedError(
        "--target-url is not a valid postgres:// URL (the scheme, a host, a numeric port, and any special " +
          "character in the user or password percent-encoded)",
        "pass --target-url postgres://user@host:5432/db, with the password in PGPASSWORD or ~/.pgpass",
      );
    const config: pg.ClientConfig = this.#url
      ? { connectionString: this.#url }
      : {
          host: env.PGHOST ?? env.PGHOSTADDR,
          port: env.PGPORT ? Number(env.PGPORT) : undefined,
          user: env.PGUSER,
          password: env.PGPASSWORD,
          database: env.PGDATABASE,
        };
    const db = new pg.Client(config);
    db.on("error", () => {});
    try {
      await db.connect();
    } catch (err) {
      throw new CloneRefusedError(
        `could not connect to ${shown}: ${(err as Error).message}`,
        "check the URL (host, port, database, user) and that the password is in it, in PGPASSWORD or in ~/.pgpass",
      );
    }
    try {
      const marker = await readProvenance(db);
      if (!marker && !this.#allowUnmarked) {
        throw new CloneRefusedError(
          `refusing to rehearse on ${shown}: it carries no clone marker (no _rehearse.provenance table), so ` +
            "nothing says it is a throwaway clone and not production; a rehearsal writes, rewrites tables and " +
            "takes ACCESS EXCLUSIVE locks",
          "point --target-url at a clone rehearse made (`rehearse clone`, the aurora provider), or, if this " +
            "database is disposable, pass --i-know-this-is-not-production",
        );
      }
      options.log?.(
        marker
          ? `url target ${shown}: clone marker found (made by ${marker[0]!.provider} at ${marker[0]!.created_at.toISOString()})`
          : `url target ${shown}: no clone marker; going ahead because of --i-know-this-is-not-production`,
      );
      const tables = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_rehearse')
            AND n.nspname NOT LIKE 'pg\\_%'`,
      );
      return new ExistingDatabase(config, shown, (tables.rows[0]?.n ?? 0) > 0);
    } finally {
      await db.end().catch(() => {});
    }
  }
}

function parsesAsPostgresUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return /^postgres(ql)?:$/.test(u.protocol);
  } catch {
    return false;
  }
}
