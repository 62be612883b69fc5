import type { SQSEvent, SQSRecord } from "aws-lambda";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { enforcerDependencies } from "../core/composition/runtime.ts";
import { recordBudgetMs } from "../core/invocation-budget.ts";
import { createEnforcerHandler } from "../functions/enforcer.ts";
import { processFifoGroups } from "../functions/fifo-groups.ts";
import { observability } from "../functions/observability.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";
import { connectRecord, participantOf, sqsRecord } from "./support/sqs-records.ts";

/**
 * A batch's message groups (identities) are enforced side by side, each group's records in order: the tenth
 * identity's kick no longer waits for nine whole enforcements, and a slow or failing identity holds up only its own
 * records.
 */

const TWILIO_TIMEOUT_MS = 1000;
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipelineHarness({ twilioTimeoutMs: TWILIO_TIMEOUT_MS, twilioMaxAttempts: 3 });
});
afterAll(async () => {
  await h.stop();
});

const handler = () =>
  createEnforcerHandler(enforcerDependencies(h.stores, h.twilio), observability("enforcer"), {
    recordBudgetMs: recordBudgetMs(TWILIO_TIMEOUT_MS),
  });

describe("the enforcer handler", () => {
  it("kicks ten banned identities of one batch side by side", async () => {
    const room = await h.emulator.createRoom({ uniqueName: "groups-burst" });
    await h.addRule({ kind: "ban", identityPattern: "burst-*", reason: "x" });
    const records = await Promise.all(
      Array.from({ length: 10 }, (_, i) => connectRecord(h, { sid: room.sid, name: "groups-burst" }, `burst-${i}`, i)),
    );
    // Every kick takes 300 ms to answer: one after another, the last would start 2.7 s after the first.
    const delayMs = 300;
    h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${room.sid}/Participants/` }, delayMs });
    const before = h.emulator.requests.length;
    const response = await handler()({ Records: records } as SQSEvent);
    h.emulator.clearFaults();

    expect(response.batchItemFailures).toEqual([]);
    const kicks = h.emulator.requests.slice(before).filter((r) => r.method === "POST");
    expect(kicks).toHaveLength(10);
    const arrivals = kicks.map((r) => r.at);
    // All ten were under way before the first answer came back.
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeLessThan(delayMs);
    for (const record of records) {
      expect(await h.audit.get(auditEntryIds.kick(participantOf(record)))).toMatchObject({ outcome: "disconnected" });
    }
  });

  it("a slow Twilio for one identity fails that identity's records only; the rest of the batch is kicked", async () => {
    const slow = await h.emulator.createRoom({ uniqueName: "groups-slow" });
    const healthy = await h.emulator.createRoom({ uniqueName: "groups-healthy" });
    await h.addRule({ kind: "ban", identityPattern: "groups-*", reason: "x" });
    h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${slow.sid}/Participants/` }, delayMs: 1500 });
    // groups-slow's first kick times out thrice; its second connect (in the healthy room) must wait for its retry.
    const slowFirst = await connectRecord(h, { sid: slow.sid, name: "groups-slow" }, "groups-slow", 1);
    const slowSecond = await connectRecord(h, { sid: healthy.sid, name: "groups-healthy" }, "groups-slow", 2);
    const others = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        connectRecord(h, { sid: healthy.sid, name: "groups-healthy" }, `groups-ok-${i}`, i + 3),
      ),
    );
    const invocationEnd = Date.now() + 6000;
    const response = await handler()({ Records: [slowFirst, slowSecond, ...others] } as SQSEvent, {
      getRemainingTimeInMillis: () => invocationEnd - Date.now(),
    });
    h.emulator.clearFaults();

    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["m-1", "m-2"]);
    expect(await h.audit.get(auditEntryIds.kick(participantOf(slowFirst)))).toMatchObject({ outcome: "failed" });
    // The record behind the failure in its group was not attempted.
    expect(await h.audit.get(auditEntryIds.kick(participantOf(slowSecond)))).toBeUndefined();
    for (const record of others) {
      expect(await h.audit.get(auditEntryIds.kick(participantOf(record)))).toMatchObject({ outcome: "disconnected" });
    }
  }, 20_000);
});

/** One record of a generated batch: its group, how long its handling takes, whether it fails. */
interface Step {
  readonly group: number;
  readonly delayMs: number;
  readonly fails: boolean;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  group: fc.integer({ min: 0, max: 3 }),
  delayMs: fc.integer({ min: 0, max: 3 }),
  fails: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
});

it("per group: records run one at a time in queue order, and a failure fails exactly that group's remainder", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArb, { minLength: 1, maxLength: 10 }),
      fc.integer({ min: 1, max: 10 }),
      async (steps, concurrency) => {
        const records: SQSRecord[] = steps.map((step, i) => sqsRecord({ step: String(i) }, i, `g${step.group}`));
        const started: number[] = [];
        const running = new Set<string>();
        let overlapInGroup = false;
        let groupsAtOnce = 0;
        const response = await processFifoGroups(
          { Records: records },
          async (record) => {
            const i = Number(JSON.parse(record.body).form.step);
            const group = record.attributes.MessageGroupId as string;
            if (running.has(group)) overlapInGroup = true;
            running.add(group);
            groupsAtOnce = Math.max(groupsAtOnce, running.size);
            started.push(i);
            await new Promise((resolve) => setTimeout(resolve, steps[i]?.delayMs));
            running.delete(group);
            if (steps[i]?.fails) throw new Error(`step ${i} failed`);
          },
          { concurrency },
        );

        expect(overlapInGroup).toBe(false);
        expect(groupsAtOnce).toBeLessThanOrEqual(concurrency);
        const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        for (const group of new Set(steps.map((s) => s.group))) {
          const indices = steps.flatMap((s, i) => (s.group === group ? [i] : []));
          const firstFailure = indices.find((i) => steps[i]?.fails);
          const expectedRun = firstFailure === undefined ? indices : indices.filter((i) => i <= firstFailure);
          // Started in queue order, up to and including the first failure, and nothing after it.
          expect(started.filter((i) => steps[i]?.group === group)).toEqual(expectedRun);
          const expectedFailed = firstFailure === undefined ? [] : indices.filter((i) => i >= firstFailure);
          expect(indices.filter((i) => failed.has(`m-${i}`))).toEqual(expectedFailed);
        }
        expect(failed.size).toBe(response.batchItemFailures.length);
      },
    ),
    { numRuns: 200 },
  );
});
