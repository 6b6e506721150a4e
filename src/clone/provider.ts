import type pg from "pg";

/** How a clone's data directory was made: a fresh initdb, or a copy of a cached seeded cluster. */
export type CloneMethodName = "initdb" | "overlay" | "reflink" | "copy" | "provisioned" | "existing";

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
  /** Connection settings for the clone's database (the password is inside; never print this object). */
  connectionConfig(): pg.ClientConfig;
  /** A connection URL with the password replaced by "***", safe to print. */
  displayUrl(): string;
  /** Stops the server and removes its files. Safe to call more than once. */
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
