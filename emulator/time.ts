/** Twilio's two ways of writing an instant, and its way of counting durations. */

/** REST resources carry ISO 8601 UTC to the second (`2015-07-30T20:00:00Z`), as in every example Twilio publishes. */
export function restTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Status callbacks carry `Timestamp` with milliseconds (`2015-07-30T20:00:00.123Z`). */
export function callbackTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Whole seconds between two instants, counted on the second-precision times the resource shows, so that a
 * participant's `duration` always equals `end_time - start_time` as a reader computes it.
 */
export function durationSeconds(startMs: number, endMs: number): number {
  return Math.floor(endMs / 1000) - Math.floor(startMs / 1000);
}
