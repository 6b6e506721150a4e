/**
 * A sub-millisecond alarm for the arrival schedule, on the main thread, without burning a core.
 *
 * Why not setTimeout alone: Node's timers (and libuv's poll timeout) have 1 ms granularity, so a request due
 * 0.3 ms from now would wait a millisecond or more; since latency is measured from the intended start, that
 * slop would show up as latency the database never caused (at a few thousand requests per second, most of
 * the p99). Why not a helper thread that sleeps precisely and posts a message: measured, waking another
 * thread costs ~20 µs of CPU per arrival on a small VM (a cross-CPU wake-up), which the database needs more.
 *
 * So: a deadline more than ~1.5 ms away is approached with setTimeout (waking about 1 ms early); the last
 * stretch is covered in slices: sleep on Atomics.wait for at most SLICE_MS (a futex with a fractional-ms
 * timeout, the cheap same-CPU kind of wake-up), then yield to the event loop through setImmediate so socket
 * completions are handled, and repeat until due. A completion is thus never held up by more than a slice, and
 * the alarm fires within the kernel's wake-up latency of its deadline (~0.07 ms typical here).
 */

/**
 * Longest the event loop is held in one sleep while closing in on a deadline. Measured on a 2-vCPU VM:
 * 0.05 ms slices cost up to 4x the CPU per arrival (every sleep/wake-up is expensive there) for no better
 * precision (the kernel's timer slack adds ~0.05 ms to any sleep); at 0.25 ms a busy schedule (arrivals
 * < 0.25 ms apart) sleeps once per arrival, and a reply is handled at most 0.25 ms late.
 */
const SLICE_MS = 0.25;
/** Deadlines further away than this are approached with setTimeout first. */
const TIMER_THRESHOLD_MS = 1.5;

export class Alarm {
  /** Never notified: Atomics.wait on it is a plain precise sleep. */
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4));
  #deadline = Infinity;
  #timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires; Infinity when none. */
  #timerAt = Infinity;
  #immediate: NodeJS.Immediate | undefined;
  #closed = false;

  /** `fire` runs when the armed deadline (a performance.now() value) is reached. */
  constructor(private readonly fire: () => void) {}

  /** Fires once at `at` (performance.now() time), replacing any deadline armed before. */
  arm(at: number): void {
    if (this.#closed) return;
    this.#deadline = at;
    if (this.#immediate) return; // the slice loop re-reads the deadline
    const wait = at - performance.now();
    if (wait <= TIMER_THRESHOLD_MS) {
      this.#cancelTimer();
      this.#immediate = setImmediate(this.#tick);
      return;
    }
    // Wake ~1 ms early (timers fire late, never early, at ms granularity) and slice the rest.
    const timerAt = at - 1;
    if (this.#timer && this.#timerAt <= timerAt) return; // an earlier wake-up re-arms anyway
    this.#cancelTimer();
    this.#timerAt = timerAt;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.floor(wait - 1)));
  }

  close(): void {
    this.#closed = true;
    this.#cancelTimer();
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  #cancelTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  readonly #onTimer = () => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed || this.#immediate) return;
    this.#tick();
  };

  readonly #tick = () => {
    this.#immediate = undefined;
    if (this.#closed || this.#deadline === Infinity) return;
    let wait = this.#deadline - performance.now();
    if (wait > TIMER_THRESHOLD_MS) {
      this.arm(this.#deadline);
      return;
    }
    if (wait > 0) {
      Atomics.wait(this.#sleeper, 0, 0, Math.min(wait, SLICE_MS));
      wait = this.#deadline - performance.now();
    }
    if (wait > 0.005) {
      // Not yet: let the event loop handle I/O, then continue.
      this.#immediate = setImmediate(this.#tick);
      return;
    }
    this.#deadline = Infinity;
    this.fire();
  };
}
