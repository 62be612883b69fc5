import { afterAll, beforeAll, expect, it } from "vitest";
import { SWEEP_TICK_MS } from "../core/sweep/sweep-schedule.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Time limits end on time: the sweep's runs read deadlines ahead of the next tick and run again, for the deadlines
 * alone, when one passes, so a participant's time-limit kick lands within a second of the deadline, never before it,
 * although whole sweeps run only every tick (5 s).
 */

let h: PipelineHarness;
const LIMIT_SECONDS = 7;

beforeAll(async () => {
  h = await startPipelineHarness({ sweepTimer: { tickMs: SWEEP_TICK_MS, reconcileEveryMs: 60_000 } });
});
afterAll(async () => {
  await h.stop();
});

it("kicks at a time limit within a second after the deadline, never before, between two 5 s ticks", async () => {
  const roomSid = await h.room("lateness-room");
  await h.addRule({ kind: "max-duration", limitSeconds: LIMIT_SECONDS, roomPattern: "lateness-room" });
  // Staggered joins: the deadlines fall at different points between the ticks.
  const joined: { sid: string; connectedAt: number }[] = [];
  for (let i = 0; i < 4; i++) {
    joined.push(await h.emulator.join(roomSid, `timed-${i}`));
    await new Promise((resolve) => setTimeout(resolve, 450));
  }
  await h.settle();
  const kickOf = (participantSid: string) =>
    h.emulator.requests.find((r) => r.method === "POST" && r.path.endsWith(`/Participants/${participantSid}`));
  const lastDeadline = Math.max(...joined.map((p) => p.connectedAt)) + LIMIT_SECONDS * 1000;
  while (Date.now() < lastDeadline + 2000 && joined.some((p) => kickOf(p.sid) === undefined)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const lateness = joined.map(
    (p) => (kickOf(p.sid)?.at ?? Number.POSITIVE_INFINITY) - p.connectedAt - LIMIT_SECONDS * 1000,
  );
  for (const ms of lateness) {
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(1000);
  }
}, 30_000);
