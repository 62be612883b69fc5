import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEntry, TimeWarningEntry } from "../core/audit/audit.ts";
import { auditEntryIds } from "../core/audit/audit.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { manualClock } from "./support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Time-limit warnings end to end, on a clock the test moves: the emulator's rooms call the pipeline back, the
 * enforcer and the sweep (real handlers, DynamoDB Local) record each warning point once, before the kick and never
 * after it, at the times a rule change moves them to, and at once for a participant who joins past a point.
 */

const T0 = Date.parse("2026-12-01T09:00:00.000Z");
const clock = manualClock(T0);
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipelineHarness({ clock });
});
afterAll(async () => {
  await h.stop();
});

async function warningsOf(identity: string): Promise<TimeWarningEntry[]> {
  const page = await h.audit.query({ identity }, { limit: 100 });
  return page.entries
    .filter((entry: AuditEntry): entry is TimeWarningEntry => entry.action === "time-warning")
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

const status = (roomSid: string, participantSid: string) => h.emulator.participant(roomSid, participantSid)?.status;

async function sweepAt(at: number): Promise<void> {
  clock.set(at);
  await h.pipeline.sweep();
  await h.settle();
}

describe("time-limit warnings", () => {
  it("are recorded at each point before the deadline, once, by the sweep, and none after the kick", async () => {
    const start = T0;
    clock.set(start);
    const ruleId = await h.addRule({
      kind: "max-duration",
      limitSeconds: 60,
      warnBeforeSeconds: [30, 10],
      roomPattern: "warned-*",
    });
    const roomSid = await h.room("warned-1");
    const wendy = await h.emulator.join(roomSid, "warned-wendy");
    await h.settle();

    const seen: Record<number, number[]> = {};
    for (const t of [0, 10_000, 29_999, 30_000, 35_000, 49_999, 50_000, 55_000, 59_999, 60_000, 65_000, 70_000]) {
      await sweepAt(start + t);
      seen[t] = (await warningsOf("warned-wendy")).map((w) => w.point);
    }
    expect(seen).toEqual({
      0: [],
      10000: [],
      29999: [],
      30000: [30],
      35000: [30],
      49999: [30],
      50000: [30, 10],
      55000: [30, 10],
      59999: [30, 10],
      60000: [30, 10],
      65000: [30, 10],
      70000: [30, 10],
    });
    expect(status(roomSid, wendy.sid)).toBe("disconnected");
    const [first, second] = await warningsOf("warned-wendy");
    expect(first).toMatchObject({
      id: auditEntryIds.timeWarning(wendy.sid, ruleId, 1, 30),
      createdAt: new Date(start + 30_000).toISOString(),
      room: { sid: roomSid, name: "warned-1" },
      participant: { sid: wendy.sid, identity: "warned-wendy" },
      rule: { id: ruleId, kind: "max-duration", version: 1, mode: "enforce" },
      trigger: { type: "sweep" },
      deadlineAt: new Date(start + 60_000).toISOString(),
      point: 30,
      secondsLeft: 30,
    });
    expect(second).toMatchObject({ point: 10, secondsLeft: 10 });
    // The kick came after both, by the limit.
    const kick = await h.audit.get(auditEntryIds.kick(wendy.sid));
    expect(kick).toMatchObject({ outcome: "disconnected", rule: { id: ruleId } });
    expect(Date.parse(kick?.createdAt ?? "")).toBeGreaterThanOrEqual(start + 60_000);
  });

  it("move with the rule: a longer limit warns at its new points, not at the old ones", async () => {
    const start = T0 + 1_000_000;
    clock.set(start);
    const ruleId = await h.addRule({
      kind: "max-duration",
      limitSeconds: 60,
      warnBeforeSeconds: [30],
      roomPattern: "moved-*",
    });
    const roomSid = await h.room("moved-1");
    const milo = await h.emulator.join(roomSid, "moved-milo");
    await h.settle();
    await sweepAt(start + 20_000);

    // An operator extends the limit to 120 s (version 2): the sweep's rule-change pass re-times the session.
    const before = await h.rules.get(ruleId);
    const stamp = new Date(start + 20_000).toISOString();
    await h.rules.replace(
      ruleSchema.parse({
        ...ruleSpecSchema.parse({
          kind: "max-duration",
          limitSeconds: 120,
          warnBeforeSeconds: [30],
          roomPattern: "moved-*",
        }),
        id: ruleId,
        version: 2,
        createdAt: before?.createdAt,
        createdBy: "test",
        updatedAt: stamp,
        updatedBy: "test",
      }),
      1,
    );
    await sweepAt(start + 21_000);
    await sweepAt(start + 30_000);
    await sweepAt(start + 60_000);
    expect(await warningsOf("moved-milo")).toEqual([]);
    expect(status(roomSid, milo.sid)).toBe("connected");

    await sweepAt(start + 90_000);
    expect(await warningsOf("moved-milo")).toEqual([
      expect.objectContaining({
        id: auditEntryIds.timeWarning(milo.sid, ruleId, 2, 30),
        rule: expect.objectContaining({ version: 2 }),
        deadlineAt: new Date(start + 120_000).toISOString(),
        secondsLeft: 30,
      }),
    ]);
    await sweepAt(start + 120_000);
    expect(status(roomSid, milo.sid)).toBe("disconnected");
  });

  it("reach a late joiner at once: the nearest point passed, on its connect", async () => {
    const start = T0 + 2_000_000;
    clock.set(start);
    const ruleId = await h.addRule({
      kind: "max-duration",
      limitSeconds: 60,
      warnBeforeSeconds: [30, 10],
      roomPattern: "rejoin-*",
    });
    const roomSid = await h.room("rejoin-1");
    const first = await h.emulator.join(roomSid, "rejoin-rosa");
    await h.settle();
    clock.set(start + 25_000);
    await h.emulator.leave(roomSid, first.sid);
    await h.settle();
    // Back with 5 s left of her 60 (a rejoin does not reset the clock): past both points.
    clock.set(start + 55_000);
    const again = await h.emulator.join(roomSid, "rejoin-rosa");
    await h.settle();
    expect(await warningsOf("rejoin-rosa")).toEqual([
      expect.objectContaining({
        id: auditEntryIds.timeWarning(again.sid, ruleId, 1, 10),
        trigger: expect.objectContaining({ type: "callback", event: "participant-connected" }),
        secondsLeft: 5,
        deadlineAt: new Date(start + 60_000).toISOString(),
      }),
    ]);
    await sweepAt(start + 60_000);
    expect(status(roomSid, again.sid)).toBe("disconnected");
    expect(await warningsOf("rejoin-rosa")).toHaveLength(1);
  });

  it("show in the rooms view as the limit's end, not the next warning point", async () => {
    const start = T0 + 3_000_000;
    clock.set(start);
    const ruleId = await h.addRule({
      kind: "max-duration",
      limitSeconds: 600,
      warnBeforeSeconds: [300],
      roomPattern: "viewed-*",
    });
    const roomSid = await h.room("viewed-1");
    const vic = await h.emulator.join(roomSid, "viewed-vic");
    await h.settle();
    const due = await h.sessions.dueDeadlines(start + 600_000, 1000);
    expect(due.find((d) => d.participantSid === vic.sid)?.deadlineAt).toBe(start + 300_000);
    const tracked = (await h.sessions.roomSessions(roomSid)).find((s) => s.participantSid === vic.sid);
    expect(tracked?.deadline).toEqual({ at: start + 300_000, ruleId, endsAt: start + 600_000 });
  });
});
