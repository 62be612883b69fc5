import { afterAll, beforeAll, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { observability } from "../functions/observability.ts";
import { startLocalPipeline } from "../local/pipeline.ts";
import { manualClock } from "./support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * The local pipeline as `npm start` runs it: the enforcer and the sweep in a worker thread of their own, off the
 * webhook's event loop, built from the same configuration and doing the same work.
 */

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness({ thread: true });
});
afterAll(async () => {
  await h.stop();
});

it("kicks a banned participant through the enforcer's thread, and audits it", async () => {
  await h.addRule({ kind: "ban", identity: "threaded-mallory", reason: "spam" });
  const roomSid = await h.room("thread-room");
  const mallory = await h.emulator.join(roomSid, "threaded-mallory");
  await h.settle();
  expect(h.emulator.participant(roomSid, mallory.sid)?.status).toBe("disconnected");
  expect(await h.audit.get(auditEntryIds.kick(mallory.sid))).toMatchObject({
    outcome: "disconnected",
    trigger: { type: "callback", event: "participant-connected" },
  });
});

it("runs the sweep in the thread when asked, and reports what it did", async () => {
  const roomSid = await h.room("thread-sweep-room");
  const lost = await h.emulator.join(roomSid, "threaded-ghost");
  await h.settle();
  // A ban the callback path never saw applied: the sweep's rule-change pass finds the participant connected.
  await h.addRule({ kind: "ban", identity: "threaded-ghost", reason: "late" });
  const report = await h.pipeline.sweep();
  await h.settle();
  expect(report.ran).toBe(true);
  expect(report.kicks.map((kick) => kick.participantSid)).toContain(lost.sid);
  expect(h.emulator.participant(roomSid, lost.sid)?.status).toBe("disconnected");
});

it("refuses a clock of the test's own: the thread runs on the system clock", async () => {
  await expect(
    startLocalPipeline({
      stores: h.stores,
      twilio: h.twilio,
      clock: manualClock(0),
      thread: true,
      observability: { webhook: undefined as never, enforcer: undefined as never },
    }),
  ).rejects.toThrow("system clock");
});

it("stops once, however often it is told to", async () => {
  const pipeline = await startLocalPipeline({
    stores: h.stores,
    twilio: h.twilio,
    thread: true,
    observability: { webhook: observability("webhook"), enforcer: observability("enforcer") },
  });
  const stops = await Promise.race([
    Promise.all([pipeline.stop(), pipeline.stop()])
      .then(() => pipeline.stop())
      .then(() => "stopped"),
    new Promise((resolve) => setTimeout(() => resolve("hung"), 10_000)),
  ]);
  expect(stops).toBe("stopped");
  await expect(fetch(pipeline.webhookUrl, { method: "POST" })).rejects.toThrow();
});
