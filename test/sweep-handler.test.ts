import type { ScheduledEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { FINISH_MARGIN_MS } from "../core/invocation-budget.ts";
import type { SweepReport } from "../core/sweep/sweep.ts";
import { MIN_DEADLINE_RUN_GAP_MS, nextRun, SWEEP_TICK_MS } from "../core/sweep/sweep-schedule.ts";
import { observability } from "../functions/observability.ts";
import { createSweepHandler } from "../functions/sweep.ts";

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

  it("runs for the deadlines alone when one read ahead passes before the next tick, then sweeps at the tick", async () => {
    const runs: { at: number; deadlinesOnly: boolean }[] = [];
    const started = Date.now();
    const handler = createSweepHandler(async ({ deadlinesOnly }) => {
      runs.push({ at: Date.now() - started, deadlinesOnly: deadlinesOnly === true });
      // The first run reads a deadline 1.2 s ahead; later runs find none.
      return runs.length === 1 ? { ...report, nextDeadlineAt: started + 1200 } : report;
    }, observability("sweep-test").logger);
    await handler({} as ScheduledEvent, { getRemainingTimeInMillis: () => 14_500 - (Date.now() - started) });
    expect(runs.map((r) => r.deadlinesOnly)).toEqual([false, true, false]);
    expect(runs[1]?.at ?? 0).toBeGreaterThanOrEqual(1200);
    expect(runs[1]?.at ?? 0).toBeLessThan(1400);
    expect(runs[2]?.at ?? 0).toBeGreaterThanOrEqual(SWEEP_TICK_MS - 50);
  }, 20_000);
});

describe("nextRun", () => {
  const ahead = (nextDeadlineAt: number) => ({ ...report, nextDeadlineAt });
  it.each([
    { name: "no deadline read ahead: the next tick", report, expected: { inMs: 4000, deadlinesOnly: false } },
    { name: "a failed run: the next tick", report: undefined, expected: { inMs: 4000, deadlinesOnly: false } },
    { name: "a deadline before the tick: then", report: ahead(11_500), expected: { inMs: 1500, deadlinesOnly: true } },
    {
      name: "a deadline after the tick: the tick",
      report: ahead(16_000),
      expected: { inMs: 4000, deadlinesOnly: false },
    },
    {
      name: "a deadline due already: after the minimum gap",
      report: ahead(9_000),
      expected: { inMs: MIN_DEADLINE_RUN_GAP_MS - 100, deadlinesOnly: true },
    },
  ])("$name", ({ report: last, expected }) => {
    // Now is 10,000; the next tick in 4 s; the last run started 100 ms ago.
    expect(nextRun(last, 10_000, 4000, 100)).toEqual(expected);
  });
});
