/**
 * Percentiles of recorded latencies and medians of rounds: the only statistics the bench
 * computes itself (autocannon computes its own).
 */

/** The latency summary of one run, in ms. */
export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest rank: the smallest value that at least a fraction `q` of the values do not exceed. */
function rank(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

/** p50, p99, p99.9, max and mean of `values` (sorted in place: a typed array sorts numerically). */
export function percentiles(values: Float64Array): Percentiles {
  values.sort();
  let sum = 0;
  for (const v of values) sum += v;
  return {
    p50: rank(values, 0.5),
    p99: rank(values, 0.99),
    p999: rank(values, 0.999),
    max: values.length === 0 ? Number.NaN : (values[values.length - 1] as number),
    mean: values.length === 0 ? Number.NaN : sum / values.length,
  };
}

/** The element of `list` whose `key` is the median (the lower one of an even count). */
export function medianBy<T>(list: readonly T[], key: (x: T) => number): T {
  const sorted = [...list].sort((a, b) => key(a) - key(b));
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  if (mid === undefined) throw new Error("no rounds");
  return mid;
}

/** The median of some numbers (the lower one of an even count, as `medianBy`). */
export const median = (values: readonly number[]): number => medianBy(values, (v) => v);
