/**
 * The ack ledger: every acknowledged write's key, one per line, appended to the file no_lost_writes reads
 * (src/checks/no-lost-writes.ts); keys of writes whose outcome the load cannot know go to
 * `<file>.indeterminate`. Runs write tens of millions of keys, so keys never accumulate in memory: they are
 * batched into ~64 KB chunks for an append-mode write stream, and should the disk fall behind so far that the
 * stream holds more than 16 MB, chunks are appended synchronously instead (lines are independent and the
 * file is opened O_APPEND, so the order of chunks does not matter to the check).
 *
 * Append, never truncate: the harness gives the migration's load and the rollback's load the same file.
 */
import { appendFileSync, createWriteStream, type WriteStream } from "node:fs";
import { INDETERMINATE_SUFFIX } from "../checks/no-lost-writes.ts";

const CHUNK_CHARS = 64 * 1024;
const MAX_STREAM_BUFFER = 16 * 1024 * 1024;
const FLUSH_EVERY_MS = 500;

class KeyFile {
  #stream: WriteStream | undefined;
  #chunk = "";
  #error: Error | undefined;

  /** eager: create the file now, even if no key ever comes (an empty ledger is a fact; a missing one is not). */
  constructor(
    readonly file: string,
    eager: boolean,
  ) {
    if (eager) this.#stream = this.#open();
  }

  get error(): Error | undefined {
    return this.#error;
  }

  append(key: string): void {
    // A key with a line break would become two keys; the check reads one key per line.
    this.#chunk += key.includes("\n") || key.includes("\r") ? `${key.replace(/[\r\n]/g, " ")}\n` : `${key}\n`;
    if (this.#chunk.length >= CHUNK_CHARS) this.flush();
  }

  flush(): void {
    if (this.#chunk === "") return;
    const chunk = this.#chunk;
    this.#chunk = "";
    const stream = (this.#stream ??= this.#open());
    if (stream.writableLength > MAX_STREAM_BUFFER) {
      try {
        appendFileSync(this.file, chunk);
      } catch (err) {
        this.#error ??= err as Error;
      }
    } else stream.write(chunk);
  }

  #open(): WriteStream {
    const s = createWriteStream(this.file, { flags: "a" });
    s.on("error", (err) => (this.#error ??= err));
    return s;
  }

  async close(): Promise<void> {
    this.flush();
    const s = this.#stream;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.end(() => resolve());
      s.once("error", () => resolve());
    });
  }
}

export class AckLedger {
  readonly #acked: KeyFile;
  readonly #indeterminate: KeyFile;
  readonly #timer: NodeJS.Timeout;
  acknowledged = 0;
  indeterminate = 0;

  constructor(readonly file: string) {
    this.#acked = new KeyFile(file, true);
    this.#indeterminate = new KeyFile(`${file}${INDETERMINATE_SUFFIX}`, false);
    // Keeps the file current within half a second, so a crashed run still leaves a usable ledger.
    this.#timer = setInterval(() => {
      this.#acked.flush();
      this.#indeterminate.flush();
    }, FLUSH_EVERY_MS);
    this.#timer.unref();
  }

  /** A write the database acknowledged (COMMIT returned). */
  ack(key: string): void {
    this.acknowledged++;
    this.#acked.append(key);
  }

  /** A write that may or may not have committed (connection lost, timed out, partly committed). */
  unknown(key: string): void {
    this.indeterminate++;
    this.#indeterminate.append(key);
  }

  /** Why the ledger cannot be trusted (a write error), if it cannot. */
  get error(): Error | undefined {
    return this.#acked.error ?? this.#indeterminate.error;
  }

  /** Flushes and closes both files; the ledger is complete once this resolves. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([this.#acked.close(), this.#indeterminate.close()]);
  }
}
