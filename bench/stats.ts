/** Small helpers the benchmark shares: percentiles, formatting, a bounded wait. */

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles of `values` (ms). */
export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const mean = sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length);
  return {
    n: sorted.length,
    min: round(sorted[0] ?? Number.NaN),
    p50: round(at(50) ?? Number.NaN),
    p95: round(at(95) ?? Number.NaN),
    p99: round(at(99) ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(mean),
  };
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Polls `done` every 5 ms until it is true, or throws after `timeoutMs`. */
export async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Twilio-shaped SIDs: a prefix and 32 hex digits. */
export const sid = (prefix: string, n: number, salt = 0) =>
  `${prefix}${salt.toString(16).padStart(8, "0")}${n.toString(16).padStart(24, "0")}`;
