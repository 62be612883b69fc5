import { afterAll, beforeAll, expect, it } from "vitest";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * The local stack's sweep timer reconciles as AWS's does: once per `reconcileEveryMs`, not at every tick. Pointed at
 * real Twilio, reconciling at every 5 s tick would cost two REST requests a room every 5 s.
 */

let h: PipelineHarness;
const TICK_MS = 40;

beforeAll(async () => {
  h = await startPipelineHarness({ sweepTimer: { tickMs: TICK_MS, reconcileEveryMs: 60_000 } });
});
afterAll(async () => {
  await h.stop();
});

it("the local sweep timer reconciles once a minute, not at every tick", async () => {
  const roomSid = await h.room("cadence-room");
  await h.emulator.join(roomSid, "carla");
  await h.settle();
  const roomFetches = () => h.emulator.requests.filter((r) => r.method === "GET" && r.path === `/v1/Rooms/${roomSid}`);
  // Wait until the first reconciling run has seen the room, then for many more ticks.
  for (let waited = 0; roomFetches().length === 0 && waited < 5000; waited += TICK_MS) {
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  expect(roomFetches()).toHaveLength(1);
  await new Promise((resolve) => setTimeout(resolve, TICK_MS * 15));
  expect(roomFetches()).toHaveLength(1);
});
