/**
 * Time is an argument (design §7): the core never reads the system clock itself.
 *
 * @module clock
 */

export interface Clock {
  /** Seconds since the epoch, as an integer (JWT NumericDate, RFC 7519 §2). */
  now(): number;
  /**
   * Milliseconds since the epoch, for what is timed finer than a second (the store's TTLs).
   * Optional: a clock without it reads `now() * 1000` (see `epochMs`).
   */
  nowMs?(): number;
}

export const systemClock: Clock = {
  now: () => Math.floor(Date.now() / 1000),
  nowMs: () => Date.now(),
};

/** The clock's reading in milliseconds: `nowMs()`, or whole seconds for a clock without it. */
export function epochMs(clock: Clock): number {
  return clock.nowMs?.() ?? clock.now() * 1000;
}

/**
 * A clock that stands still until moved: for tests. `advance` takes seconds, fractions
 * included (`advance(0.001)` is one millisecond); `now()` reads whole seconds, rounded down.
 */
export function fixedClock(
  start: number,
): Clock & { nowMs(): number; advance(seconds: number): void } {
  let ms = start * 1000;
  return {
    now: () => Math.floor(ms / 1000),
    nowMs: () => ms,
    advance(seconds: number) {
      // Whole milliseconds: 0.001 × 1000 must add exactly 1, not 1.0000000000000002.
      ms += Math.round(seconds * 1000);
    },
  };
}
