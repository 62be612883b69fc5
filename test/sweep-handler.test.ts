import type { ScheduledEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { SweepReport } from "../core/sweep.ts";
import { observability } from "../functions/observability.ts";
import { createSweepHandler, FINISH_MARGIN_MS, SWEEP_TICK_MS } from "../functions/sweep.ts";

/** The scheduled entry point's loop: sweep every tick while the invocation has time, survive a failed run. */

const report: SweepReport = {
  ran: true,
  deadlinesDue: 0,
  retried: 0,
  ruleChanges: 0,
  roomsReconciled: 0,
  sessionsClosed: 0,
  sessionsAdopted: 0,
  unknownRooms: [],
  kicks: [],
};

describe("sweep handler", () => {
  it("sweeps every tick until the invocation's time runs short, and goes on after a failed run", async () => {
    const runs: number[] = [];
    const deadlines: number[] = [];
    const started = Date.now();
    const handler = createSweepHandler(async ({ deadline }) => {
      runs.push(Date.now() - started);
      deadlines.push(deadline);
      if (runs.length === 1) throw new Error("DynamoDB hiccup");
      return report;
    }, observability("sweep-test").logger);
    // An invocation with 14.5 s left: a run now, one a tick later, then too little time for another.
    await handler({} as ScheduledEvent, { getRemainingTimeInMillis: () => 14_500 - (Date.now() - started) });
    expect(runs).toHaveLength(2);
    expect(runs[1] ?? 0).toBeGreaterThanOrEqual(SWEEP_TICK_MS - 50);
    // Each run's provider requests end before the invocation does, with time left to finalise their entries.
    for (const deadline of deadlines) {
      expect(deadline).toBeLessThanOrEqual(started + 14_500 - FINISH_MARGIN_MS + 5);
      expect(deadline).toBeGreaterThanOrEqual(started + 14_500 - FINISH_MARGIN_MS - 50);
    }
  }, 20_000);
});
