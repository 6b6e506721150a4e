/**
 * What the load's failed requests were: a count per SQLSTATE and the first message of each (counts say how
 * often, the message says what), and for a write whether its outcome is unknown, which decides between an
 * error and an indeterminate write in the ack ledger.
 */

/** SQLSTATE (or "connection"/"timeout") and whether the write may have committed. */
export function classify(err: Error): { code: string; unknown: boolean } {
  const e = err as Error & { code?: unknown; severity?: unknown };
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === "string") {
    // FATAL/PANIC end the session: the server may have committed before it died. Class 08 is the
    // connection itself; 57P0x is an administrator or crash shutdown.
    const unknown = e.severity !== "ERROR" || e.code.startsWith("08") || e.code.startsWith("57P");
    return { code: e.code, unknown };
  }
  return { code: "connection", unknown: true };
}

export interface ErrorSample {
  sqlstate: string;
  message: string;
  first_ms: number;
}

export class ErrorTally {
  count = 0;
  readonly bySqlstate: Record<string, number> = {};
  readonly #samples = new Map<string, ErrorSample>();

  /** A request failed with `code` at `atMs` (ms since t0); its message is kept if it is the first for `code`. */
  record(code: string, message: string, atMs: number): void {
    this.#count(code);
    if (!this.#samples.has(code))
      this.#samples.set(code, { sqlstate: code, message: message.slice(0, 300), first_ms: atMs });
  }

  /** A request still running at the stop deadline, abandoned: it has no message. */
  timeout(): void {
    this.#count("timeout");
  }

  samples(): ErrorSample[] {
    return [...this.#samples.values()];
  }

  #count(code: string): void {
    this.count++;
    this.bySqlstate[code] = (this.bySqlstate[code] ?? 0) + 1;
  }
}
