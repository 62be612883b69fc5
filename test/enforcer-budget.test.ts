import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { enforcerDependencies } from "../core/composition/runtime.ts";
import { FINISH_MARGIN_MS, recordBudgetMs } from "../core/invocation-budget.ts";
import { createEnforcerHandler } from "../functions/enforcer.ts";
import { observability } from "../functions/observability.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";
import { connectRecord, participantOf } from "./support/sqs-records.ts";

/**
 * The enforcer's time budget: a batch whose first kicks meet a slow Twilio hands back the records it has no time
 * for, untouched, instead of running past the Lambda timeout (which would deliver the whole batch again, receive
 * counts rising toward the dead-letter queue), and never starts a Twilio request that could not end in time.
 * (Records of different identities run side by side by default, test/enforcer-groups.test.ts; here one group at a
 * time, the case of one identity's records queued behind its own slow kick.)
 */

const TWILIO_TIMEOUT_MS = 1000;
const FUNCTION_TIMEOUT_MS = 6000;
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipelineHarness({ twilioTimeoutMs: TWILIO_TIMEOUT_MS, twilioMaxAttempts: 3 });
});
afterAll(async () => {
  await h.stop();
});

it("a slow Twilio hands back the batch's remaining records unattempted, and no request outlives the invocation", async () => {
  // No status callback: the test hands the enforcer its records itself, as one batch.
  const slow = await h.emulator.createRoom({ uniqueName: "budget-slow" });
  const healthy = await h.emulator.createRoom({ uniqueName: "budget-healthy" });
  await h.addRule({ kind: "ban", identityPattern: "budget-*", reason: "x" });
  // Every kick in the slow room takes longer than an attempt may: three attempts time out, ~3 s and backoff each.
  h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${slow.sid}/Participants/` }, delayMs: 1500 });
  const records = [
    await connectRecord(h, { sid: slow.sid, name: "budget-slow" }, "budget-slow-1", 1),
    await connectRecord(h, { sid: slow.sid, name: "budget-slow" }, "budget-slow-2", 2),
    ...(await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        connectRecord(h, { sid: healthy.sid, name: "budget-healthy" }, `budget-ok-${i}`, i + 3),
      ),
    )),
  ];
  const handler = createEnforcerHandler(enforcerDependencies(h.stores, h.twilio), observability("enforcer"), {
    recordBudgetMs: recordBudgetMs(TWILIO_TIMEOUT_MS),
    // One group at a time, so that the slow kicks come first and the others meet the end of the budget.
    groupConcurrency: 1,
  });
  const startedAt = Date.now();
  const invocationEnd = startedAt + FUNCTION_TIMEOUT_MS;
  const requestsBefore = h.emulator.requests.length;
  const response = await handler({ Records: records } as SQSEvent, {
    getRemainingTimeInMillis: () => invocationEnd - Date.now(),
  });
  const finishedAt = Date.now();
  h.emulator.clearFaults();

  // Answered within the function's timeout.
  expect(finishedAt).toBeLessThan(invocationEnd);
  const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
  // The first slow kick was tried and failed; everything after it went back to the queue.
  expect(failed.has("m-1")).toBe(true);
  expect(failed.size).toBeGreaterThanOrEqual(2);
  const handedBack = records.filter((record) => failed.has(record.messageId) && record.messageId !== "m-1");
  // Handed back untouched: no audit entry, no Twilio request for them.
  for (const record of handedBack) {
    const ParticipantSid = participantOf(record);
    expect(await h.audit.get(auditEntryIds.kick(ParticipantSid))).toBeUndefined();
    expect(h.emulator.requests.some((r) => r.path.endsWith(ParticipantSid))).toBe(false);
  }
  // Every Twilio request the invocation started could end (by its timeout) before the finishing margin.
  const started = h.emulator.requests.slice(requestsBefore);
  expect(started.length).toBeGreaterThan(0);
  for (const request of started) {
    expect(request.at).toBeLessThanOrEqual(invocationEnd - FINISH_MARGIN_MS);
  }
  // The records that were attempted and succeeded are not in the failures.
  const kicked = records.filter((record) => !failed.has(record.messageId));
  for (const record of kicked) {
    expect(await h.audit.get(auditEntryIds.kick(participantOf(record)))).toMatchObject({ outcome: "disconnected" });
  }
}, 20_000);
