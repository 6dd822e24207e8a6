/**
 * Durations in policy files: a positive integer and one unit, `30s`, `5m` or `1h` (design §3.3).
 *
 * One spelling only, so that a reader never wonders whether `90` means seconds or minutes, and
 * no fractions or days, so that every value converts exactly to whole seconds (JWT NumericDate
 * is in seconds, RFC 7519 §2).
 *
 * @module policy/duration
 */

/** The accepted text: no sign, no leading zero, at most six digits, then `s`, `m` or `h`. */
export const DURATION_PATTERN = /^[1-9][0-9]{0,5}[smh]$/;

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/** Whether `text` is a duration this module can parse. */
export function isDuration(text: string): boolean {
  return DURATION_PATTERN.test(text);
}

/**
 * Seconds in `text`, e.g. `parseDuration("5m") === 300`.
 *
 * @throws RangeError when `text` is not a duration (validate with the schema first).
 */
export function parseDuration(text: string): number {
  const unit = UNIT_SECONDS[text.slice(-1)];
  if (!isDuration(text) || unit === undefined) {
    throw new RangeError(`not a duration: ${JSON.stringify(text)} (expected e.g. 30s, 5m, 1h)`);
  }
  return Number(text.slice(0, -1)) * unit;
}
