/**
 * What a progress view is and where it writes: the interface both views (plain, live) implement and the
 * factory in progress.ts returns. Its own file so the views and the factory import it, not each other.
 */
import type { Logger, ProgressEvent } from "../index.ts";

/** The part of a stream a view writes to (process.stderr, or a fake in tests). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressView extends Logger {
  event(e: ProgressEvent): void;
  /** Leaves the terminal as it found it (clears a live block). Safe to call twice. */
  finish(): void;
}
