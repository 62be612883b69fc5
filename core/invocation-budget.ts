import type { CallBudget } from "./video/video.ts";

/** Time kept at the end of an invocation to finalise audit entries and answer the batch. */
export const FINISH_MARGIN_MS = 2_000;

/** A record's worst useful time: its DynamoDB round trips (a second is generous) and one whole Twilio attempt. */
export const recordBudgetMs = (twilioTimeoutMs: number) => twilioTimeoutMs + 1_000;

/**
 * A record the invocation had no time for: handed back to the queue without being attempted, so that a slow Twilio
 * on earlier records never makes the whole batch time out (and be delivered again, receive counts rising).
 */
export class OutOfTimeError extends Error {
  override readonly name = "OutOfTimeError";
}

/**
 * The budget of one queued record, given the invocation's time left (infinite outside Lambda): every Twilio request
 * of the record ends before the invocation does, with time to finalise its entry. Throws OutOfTimeError when less
 * than `recordBudgetMs` would be left, so that the record is handed back unattempted.
 */
export function recordBudget(leftMs: number, recordBudgetMs: number, now: number): CallBudget {
  if (leftMs - FINISH_MARGIN_MS < recordBudgetMs)
    throw new OutOfTimeError(`${Math.round(leftMs)} ms left in the invocation: handed back unattempted`);
  return Number.isFinite(leftMs) ? { deadline: now + leftMs - FINISH_MARGIN_MS } : {};
}
