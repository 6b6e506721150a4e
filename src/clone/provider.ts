import type pg from "pg";

/** How a clone's data directory was made: a fresh initdb, or a copy of a cached seeded cluster. */
export type CloneMethodName = "initdb" | "overlay" | "reflink" | "copy" | "provisioned" | "existing";

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
  /** How its data directory was made (for the report); "initdb" when it started empty. */
  readonly method?: CloneMethodName;
  /**
   * The clone already holds its data (a cloud clone of production, an existing database with tables): the
   * rehearsal skips dataset.schema and seeding and rehearses on what is there.
   */
  readonly hasData?: boolean;
  /** The container image the server runs (container provider), for the report. */
  readonly image?: string;
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

/** A stopped cluster to start the clone from (a cache entry): its data directory is never written to. */
export interface SnapshotSource {
  /** The stopped cluster's data directory. */
  dataDir: string;
  /** The cluster's superuser password (the clone's is changed to a fresh one at start). */
  password: string;
  /** Said in the clone's provenance: where it came from (e.g. "cache:<key>"). */
  source: string;
}

export interface CloneOptions {
  /** postgresql.conf settings (shared_buffers, max_connections, fsync…). */
  settings?: Record<string, string | number | boolean>;
  /** Database to create and connect to. */
  database?: string;
  /** Also start a streaming physical replica; `settings` are the standby's own (recovery_min_apply_delay…). */
  replica?: { settings?: Record<string, string | number | boolean>; cpu?: number };
  /**
   * For providers that choose among installed servers (system): the major version; default: the newest. For
   * the container provider without an image: the official image's tag (postgres:<version>).
   */
  version?: number;
  /** For the container provider: the image to run (target.image); default the official postgres image. */
  image?: string;
  log?: (line: string) => void;
  /** Start from this stopped cluster (a thin copy of it) instead of an empty one. */
  from?: SnapshotSource;
  /** Written into the clone marker. */
  runId?: string;
}

/** A clone whose files can be kept after its server stops: how a seeded cluster gets into the cache. */
export interface KeepableClone extends Clone {
  /**
   * Stops the server cleanly (a checkpoint, so the files are consistent) and hands the data directory over:
   * the caller must move or remove `root` (which contains `dataDir`).
   */
  stopAndKeep(): Promise<{ root: string; dataDir: string; password: string }>;
}

/** Makes clones. One implementation per file under src/clone/. */
export interface CloneProvider {
  readonly name: string;
  start(options: CloneOptions): Promise<Clone>;
  /** Present when the provider can start from a cached seeded cluster (`options.from`). */
  readonly snapshots?: {
    /** What makes a cached cluster usable by this provider: its server binaries' version. */
    version(): string;
    /** Starts an empty clone whose files can be kept for the cache. */
    startKeepable(options: CloneOptions): Promise<KeepableClone>;
  };
}

/**
 * A provider that will not (or cannot) make the clone, for a reason the user can fix: bad settings, a target
 * that is not a clone. The rehearsal reports `message` and `fix` as they are (exit 2), with no stack.
 */
export class CloneRefusedError extends Error {
  override name = "CloneRefusedError";
  constructor(
    message: string,
    /** What to do about it. */
    readonly fix: string,
  ) {
    super(message);
  }
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
