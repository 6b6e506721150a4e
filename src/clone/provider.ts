import type pg from "pg";

/** A streaming physical replica of a clone (read-only, on its own port). */
export interface Replica {
  /** Connection settings for the replica (the password is inside; never print this object). */
  connectionConfig(): pg.ClientConfig;
  /** A connection URL with the password replaced by "***", safe to print. */
  displayUrl(): string;
  /**
   * Waits until the replica has replayed everything written so far (the seeding), then applies what was held
   * back until the rehearsal proper (its CPU cap), so the migration starts with a caught-up replica.
   */
  settle?(): Promise<void>;
}

/** A running throwaway database. Disposing it stops the server and removes everything it left on disk. */
export interface Clone extends AsyncDisposable {
  /** Which provider made it, for the report ("embedded"). */
  readonly provider: string;
  /** Present when the clone was started with `replica`: a standby streaming from it. */
  readonly replica?: Replica;
  /** Connection settings for the clone's database (the password is inside; never print this object). */
  connectionConfig(): pg.ClientConfig;
  /** A connection URL with the password replaced by "***", safe to print. */
  displayUrl(): string;
  /**
   * Restarts the server in place (fast shutdown, then start; same port, same data): every connection dies.
   * A replica reconnects by itself. Absent when the provider cannot restart its server.
   */
  restart?(): Promise<void>;
  /** Stops the server (and its replica) and removes its files. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface CloneOptions {
  /** postgresql.conf settings (shared_buffers, max_connections, fsync…). */
  settings?: Record<string, string | number | boolean>;
  /** Database to create and connect to. */
  database?: string;
  /** Also start a streaming physical replica; `settings` are the standby's own (recovery_min_apply_delay…). */
  replica?: { settings?: Record<string, string | number | boolean>; cpu?: number };
  /** For providers that choose among installed servers (system): the major version; default: the newest. */
  version?: number;
  log?: (line: string) => void;
}

/** Makes clones. One implementation per file under src/clone/. */
export interface CloneProvider {
  readonly name: string;
  start(options: CloneOptions): Promise<Clone>;
}

/**
 * This machine cannot make the clone the scenario asks for (no PostgreSQL installed, not the version asked
 * for). Not a harness failure: the message says what to install, and the rehearsal is inconclusive.
 */
export class CloneUnavailableError extends Error {
  constructor(
    message: string,
    /** The Debian package that would make it available ("postgresql-15"). */
    readonly packageName: string,
  ) {
    super(message);
    this.name = "CloneUnavailableError";
  }
}

/** Connection settings for a server this machine runs on loopback as `postgres` (the password is inside). */
export function loopbackConfig(port: number, password: string, database: string): pg.ClientConfig {
  return { host: "127.0.0.1", port, user: "postgres", password, database };
}

/** The same server's URL with the password replaced by "***", safe to print. */
export function loopbackDisplayUrl(port: number, database: string): string {
  return `postgres://postgres:***@127.0.0.1:${port}/${database}`;
}
