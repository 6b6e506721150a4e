/**
 * The FIFO of requests that arrived and wait for a connection: each one is just its intended start, its kind
 * and (a write) the operation of the mix it was picked for, kept in typed arrays used as a ring, so queueing
 * costs no allocation at thousands per second.
 */

export const WRITE = 0;
export const READ = 1;
export type KindCode = typeof WRITE | typeof READ;

export class RequestQueue {
  readonly #at: Float64Array;
  readonly #kind: Uint8Array;
  readonly #op: Uint16Array;
  #head = 0;
  #length = 0;

  /** `capacity` is max_in_flight: arrivals beyond it are dropped before they get here. */
  constructor(capacity: number) {
    this.#at = new Float64Array(capacity);
    this.#kind = new Uint8Array(capacity);
    this.#op = new Uint16Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  push(at: number, kind: KindCode, op = 0): void {
    const tail = (this.#head + this.#length) % this.#at.length;
    this.#at[tail] = at;
    this.#kind[tail] = kind;
    this.#op[tail] = op;
    this.#length++;
  }

  /** The oldest request's intended start; call `shift` after reading it and `headKind`. */
  headAt(): number {
    return this.#at[this.#head]!;
  }

  headKind(): KindCode {
    return this.#kind[this.#head]! as KindCode;
  }

  /** The oldest write's operation (index into the write mix). */
  headOp(): number {
    return this.#op[this.#head]!;
  }

  shift(): void {
    this.#head = (this.#head + 1) % this.#at.length;
    this.#length--;
  }

  /** Forgets every queued request (at stop: they count as dropped). */
  clear(): void {
    this.#length = 0;
  }
}
