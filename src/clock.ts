/**
 * Time is an argument (design §7): the core never reads the system clock itself.
 *
 * @module clock
 */

export interface Clock {
  /** Seconds since the epoch, as an integer (JWT NumericDate, RFC 7519 §2). */
  now(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) };

/** A clock that stands still until moved: for tests. */
export function fixedClock(start: number): Clock & { advance(seconds: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(seconds: number) {
      t += seconds;
    },
  };
}
