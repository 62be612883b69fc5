import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEntryIds } from "../core/audit/audit.ts";
import { INDEX_SHARDS, shardOf } from "../core/dynamo/query.ts";
import type { RuleSpecInput } from "../core/rules/rules.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import { SWEEP_CONCURRENCY, sweep } from "../core/sweep/sweep.ts";
import { RECONCILE_EVERY_MS, SWEEP_TICK_MS } from "../core/sweep/sweep-schedule.ts";
import { observability } from "../functions/observability.ts";
import { createSweepRun } from "../functions/sweep.ts";
import { manualClock } from "./support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";
import { createTestTables } from "./support/tables.ts";

/** The sweep on a clock the test moves: deadlines, lost callbacks, rules that arrive while people are connected. */

const T0 = Date.parse("2026-11-21T12:00:00.000Z");
const clock = manualClock(T0);
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipelineHarness({ clock });
});
afterAll(async () => {
  await h.stop();
});

const addRule = (spec: RuleSpecInput) => h.addRule(spec);

const status = (roomSid: string, participantSid: string) => h.emulator.participant(roomSid, participantSid)?.status;
const kicks = (roomSid: string, participantSid: string) =>
  h.emulator.requests.filter(
    (r) => r.method === "POST" && r.path === `/v1/Rooms/${roomSid}/Participants/${participantSid}`,
  );

describe("max-duration deadlines", () => {
  it("a 30 s limit kicks after 30 s and before 40 s, never before, and a reconnect does not reset the clock", async () => {
    clock.set(T0);
    const ruleId = await addRule({ kind: "max-duration", limitSeconds: 30, roomPattern: "paid-*" });
    const roomSid = await h.room("paid-1");
    const payer = await h.emulator.join(roomSid, "payer");
    await h.settle();

    let kickedAt: number | undefined;
    // The sweep ticks every 5 s; one extra tick a millisecond before the deadline.
    for (const t of [0, 5_000, 10_000, 15_000, 20_000, 25_000, 29_999, 30_000, 35_000, 40_000, 45_000]) {
      clock.set(T0 + t);
      if (t === 20_000) {
        await h.emulator.reconnect(roomSid, payer.sid);
        await h.settle();
      }
      await h.pipeline.sweep();
      await h.settle();
      if (status(roomSid, payer.sid) === "disconnected") {
        kickedAt = t;
        break;
      }
    }
    expect(kickedAt).toBeGreaterThanOrEqual(30_000);
    expect(kickedAt).toBeLessThan(40_000);
    expect(await h.audit.get(auditEntryIds.kick(payer.sid))).toMatchObject({
      outcome: "disconnected",
      rule: { id: ruleId, kind: "max-duration" },
      trigger: { type: "sweep" },
    });
  });
});

describe("reconciliation", () => {
  it("finds a participant whose connect callback was lost and, being banned, disconnects it", async () => {
    clock.set(T0 + 100_000);
    await addRule({ kind: "ban", identity: "ghost-gina", reason: "x" });
    await h.pipeline.sweep(); // the ban reaches nobody yet
    const roomSid = await h.room("recon-room");
    h.emulator.dropCallbacks(1);
    const gina = await h.emulator.join(roomSid, "ghost-gina");
    await h.settle();
    expect(status(roomSid, gina.sid)).toBe("connected"); // the enforcer never heard of her

    const report = await h.pipeline.sweep();
    await h.settle();
    expect(report.sessionsAdopted).toBeGreaterThanOrEqual(1);
    expect(status(roomSid, gina.sid)).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(gina.sid))).toMatchObject({ trigger: { type: "sweep" } });
  });

  it("closes a session whose disconnect callback was lost", async () => {
    clock.set(T0 + 200_000);
    const roomSid = await h.room("lost-leave-room");
    const leo = await h.emulator.join(roomSid, "leaving-leo");
    await h.settle();
    h.emulator.dropCallbacks(1);
    await h.emulator.leave(roomSid, leo.sid);
    expect((await h.sessions.presence("leaving-leo"))?.sessions[0]?.status).toBe("connected");

    await h.pipeline.sweep();
    expect((await h.sessions.presence("leaving-leo"))?.sessions[0]?.status).toBe("disconnected");
  });
});

describe("reconciliation and what Twilio lists", () => {
  it("a participant reconnecting during a reconciliation stays tracked, and its limit still ends it on time", async () => {
    const start = T0 + 300_000;
    clock.set(start);
    const ruleId = await addRule({ kind: "max-duration", limitSeconds: 60, roomPattern: "blip-*" });
    const roomSid = await h.room("blip-room");
    const rita = await h.emulator.join(roomSid, "blipping-rita");
    await h.settle();
    clock.set(start + 10_000);
    await h.emulator.dropConnection(roomSid, rita.sid);
    await h.settle();

    clock.set(start + 20_000);
    const during = await h.pipeline.sweep();
    expect(during.sessionsClosed).toBe(0);
    expect((await h.sessions.presence("blipping-rita"))?.sessions[0]?.status).toBe("reconnecting");

    // She recovers, and that callback is lost: Twilio lists her as connected again.
    clock.set(start + 30_000);
    h.emulator.dropCallbacks(1);
    await h.emulator.recover(roomSid, rita.sid);
    clock.set(start + 59_999);
    await h.pipeline.sweep();
    await h.settle();
    expect(status(roomSid, rita.sid)).toBe("connected");
    clock.set(start + 60_000);
    await h.pipeline.sweep();
    await h.settle();
    expect(status(roomSid, rita.sid)).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(rita.sid))).toMatchObject({ rule: { id: ruleId } });
  });

  it("a banned participant connected again, its connect and reconnected callbacks lost, is kicked at reconciliation", async () => {
    clock.set(T0 + 210_000);
    await addRule({ kind: "ban", identity: "remy-reconnects", reason: "banned before" });
    const roomSid = await h.room("lost-reconnected");
    // Only its reconnecting callback arrives: that event decides nothing (there is no media to moderate).
    h.emulator.dropCallbacks(1);
    const remy = await h.emulator.join(roomSid, "remy-reconnects");
    await h.emulator.dropConnection(roomSid, remy.sid);
    h.emulator.dropCallbacks(1);
    await h.emulator.recover(roomSid, remy.sid);
    await h.settle();
    expect(status(roomSid, remy.sid)).toBe("connected");
    const report = await sweep(h.sweepDeps, { owner: "t", leaseMs: 30_000, batch: 100, reconcile: true });
    await h.settle();
    expect(report.kicks.map((kick) => kick.participantSid)).toContain(remy.sid);
    expect(status(roomSid, remy.sid)).toBe("disconnected");
  });

  it("a room Twilio does not know with these credentials is reported and left as it is, its sessions kept", async () => {
    clock.set(T0 + 400_000);
    const unknownRoom = { sid: `RM${"d".repeat(32)}`, name: "other-account-room" };
    await h.sessions.trackRoom(unknownRoom, true, clock.now());
    const update = await h.sessions.record({
      identity: "elsewhere-eve",
      participantSid: `PA${"d".repeat(32)}`,
      roomSid: unknownRoom.sid,
      roomName: unknownRoom.name,
      status: "connected",
      timestamp: clock.now(),
    });
    const session = update.presence.sessions[0];
    if (session === undefined) throw new Error("no session recorded");
    await h.sessions.trackSession(session, session.lastEventAt);

    const report = await h.pipeline.sweep();
    expect(report.unknownRooms).toContain(unknownRoom.sid);
    expect((await h.sessions.presence("elsewhere-eve"))?.sessions[0]?.status).toBe("connected");
    expect((await h.sessions.activeRooms()).map((room) => room.sid)).toContain(unknownRoom.sid);
    expect((await h.sessions.roomSessions(unknownRoom.sid))[0]?.status).toBe("connected");
  });
});

describe("reconciliation of many rooms", () => {
  it("asks Twilio about several rooms at once, never more than SWEEP_CONCURRENCY, and reconciles every one", async () => {
    clock.set(T0 + 220_000);
    const rooms = await Promise.all(Array.from({ length: 20 }, (_, i) => h.room(`busy-room-${i}`)));
    const joined = await Promise.all(rooms.map((roomSid, i) => h.emulator.join(roomSid, `busy-user-${i}`)));
    await h.settle();
    h.emulator.dropCallbacks(rooms.length);
    await Promise.all(rooms.map((roomSid, i) => h.emulator.leave(roomSid, joined[i]?.sid ?? "")));

    let inFlight = 0;
    let mostInFlight = 0;
    const counted =
      <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await call(...args);
        } finally {
          inFlight -= 1;
        }
      };
    const video = { ...h.sweepDeps.video, fetchRoom: counted(h.sweepDeps.video.fetchRoom) };
    const report = await sweep({ ...h.sweepDeps, video }, { owner: "many-rooms", leaseMs: 60_000, batch: 100 });

    expect(report.roomsReconciled).toBeGreaterThanOrEqual(rooms.length);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(mostInFlight).toBeLessThanOrEqual(SWEEP_CONCURRENCY);
    for (let i = 0; i < rooms.length; i++) {
      expect((await h.sessions.presence(`busy-user-${i}`))?.sessions[0]?.status).toBe("disconnected");
    }
  });
});

describe("reconciliation's pace", () => {
  it("the scheduled runs reconcile once a minute, and handle deadlines at every tick", async () => {
    clock.set(T0 + 240_000);
    const run = createSweepRun(h.sweepDeps, observability("sweep"));
    const reconciledRooms: boolean[] = [];
    for (const at of [
      0,
      SWEEP_TICK_MS,
      RECONCILE_EVERY_MS - 1,
      RECONCILE_EVERY_MS,
      RECONCILE_EVERY_MS + SWEEP_TICK_MS,
    ]) {
      clock.set(T0 + 240_000 + at);
      const report = await run();
      expect(report.ran).toBe(true);
      reconciledRooms.push(report.roomsReconciled > 0);
    }
    expect(reconciledRooms).toEqual([true, false, false, true, false]);
    expect((await run({ reconcile: true })).roomsReconciled).toBeGreaterThan(0);
  });
});

describe("reconciliation of ended rooms", () => {
  it("marks a room Twilio completed as ended, and closes its sessions, when the callbacks were lost", async () => {
    clock.set(T0 + 250_000);
    const roomSid = await h.room("ended-quietly");
    await h.emulator.join(roomSid, "quiet-quinn");
    await h.settle();
    expect((await h.sessions.activeRooms()).map((room) => room.sid)).toContain(roomSid);
    h.emulator.dropCallbacks(2); // the participant's disconnect and room-ended never arrive
    await h.emulator.completeRoom(roomSid);
    expect(h.emulator.callbacks.filter((c) => c.params.RoomSid === roomSid && c.dropped)).toHaveLength(2);

    await h.pipeline.sweep();
    expect((await h.sessions.activeRooms()).map((room) => room.sid)).not.toContain(roomSid);
    expect((await h.sessions.presence("quiet-quinn"))?.sessions[0]?.status).toBe("disconnected");
  });
});

describe("rule changes", () => {
  it("a ban added while the identity is connected in two rooms disconnects both", async () => {
    clock.set(T0 + 300_000);
    const roomA = await h.room("two-a");
    const roomB = await h.room("two-b");
    const inA = await h.emulator.join(roomA, "double-dan");
    const inB = await h.emulator.join(roomB, "double-dan");
    await h.settle();
    await addRule({ kind: "ban", identity: "double-dan", reason: "chargeback" });
    await h.pipeline.sweep();
    await h.settle();
    expect([status(roomA, inA.sid), status(roomB, inB.sid)]).toEqual(["disconnected", "disconnected"]);
  });

  it("a new limit re-times the deadlines of connected sessions in its scope", async () => {
    clock.set(T0 + 400_000);
    const roomSid = await h.room("retimed-1");
    const rex = await h.emulator.join(roomSid, "retimed-rex");
    await h.settle();
    await addRule({ kind: "max-duration", limitSeconds: 60, roomPattern: "retimed-*" });
    await h.pipeline.sweep();
    const due = await h.sessions.dueDeadlines(T0 + 400_000 + 60_000, 1000);
    expect(due.find((d) => d.participantSid === rex.sid)?.deadlineAt).toBe(T0 + 400_000 + 60_000);
    expect(status(roomSid, rex.sid)).toBe("connected");
  });
});

describe("rule changes committed out of time order", () => {
  it("a change stamped before one the sweep already applied is still applied, once", async () => {
    clock.set(T0 + 500_000);
    const roomSid = await h.room("late-commit");
    const lara = await h.emulator.join(roomSid, "late-lara");
    await h.settle();
    await h.pipeline.sweep();
    // Two admin writes: A is stamped first but commits after B, and after a sweep has read B.
    const rule = (id: string, identity: string, at: number) => {
      const stamp = new Date(at).toISOString();
      return ruleSchema.parse({
        ...ruleSpecSchema.parse({ kind: "ban", identity, reason: "out of order" }),
        id,
        version: 1,
        createdAt: stamp,
        createdBy: "test",
        updatedAt: stamp,
        updatedBy: "test",
      });
    };
    await h.rules.create(rule("late-b", "someone-else", T0 + 500_002));
    const first = await sweep(h.sweepDeps, { owner: "t", leaseMs: 30_000, batch: 100, reconcile: false });
    expect(first.ruleChanges).toBe(1);
    await h.rules.create(rule("late-a", "late-lara", T0 + 500_001));
    const second = await sweep(h.sweepDeps, { owner: "t", leaseMs: 30_000, batch: 100, reconcile: false });
    await h.settle();
    expect(second.ruleChanges).toBe(1);
    expect(status(roomSid, lara.sid)).toBe("disconnected");
    // Within the overlap window both are read again, and neither is applied again.
    const third = await sweep(h.sweepDeps, { owner: "t", leaseMs: 30_000, batch: 100, reconcile: false });
    expect(third.ruleChanges).toBe(0);
  });
});

describe("retries", () => {
  it("a kick that failed through an outage is retried after its backoff and succeeds", async () => {
    clock.set(T0 + 600_000);
    await addRule({ kind: "ban", identity: "outage-olga", reason: "x" });
    await h.pipeline.sweep(); // the new ban reaches nobody: olga is not connected yet
    const roomSid = await h.room("outage-retry-room");
    h.emulator.injectFault({ match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` }, status: 503 });
    const olga = await h.emulator.join(roomSid, "outage-olga");
    await h.settle();
    h.emulator.clearFaults();
    expect(await h.audit.get(auditEntryIds.kick(olga.sid))).toMatchObject({ outcome: "failed" });

    await h.pipeline.sweep(); // not due yet: the backoff has not passed
    expect(status(roomSid, olga.sid)).toBe("connected");

    clock.set(T0 + 600_000 + 3_600_000);
    await h.pipeline.sweep();
    expect(status(roomSid, olga.sid)).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(olga.sid))).toMatchObject({ outcome: "disconnected", attempts: 10 });
  });

  it("a kick left pending by a crash after the write-ahead entry is taken over once its grace period passes", async () => {
    clock.set(T0 + 5_000_000);
    const roomSid = await h.room("crash-room");
    const carl = await h.emulator.join(roomSid, "crashed-carl");
    await h.settle();
    const ban = ruleSchema.parse({
      ...ruleSpecSchema.parse({ kind: "ban", identity: "crashed-carl", reason: "x" }),
      id: "crash-ban",
      version: 1,
      createdAt: new Date(clock.now()).toISOString(),
      createdBy: "test",
      updatedAt: new Date(clock.now()).toISOString(),
      updatedBy: "test",
    });
    await h.audit.begin({
      id: auditEntryIds.kick(carl.sid),
      action: "kick",
      createdAt: new Date(clock.now()).toISOString(),
      room: { sid: roomSid, name: "crash-room" },
      participant: { sid: carl.sid, identity: "crashed-carl" },
      rule: { id: ban.id, kind: ban.kind, version: 1, mode: "enforce", snapshot: ban },
      otherMatches: [],
      trigger: { type: "sweep", at: new Date(clock.now()).toISOString() },
      outcome: "pending",
      attempts: 0,
    });
    await h.pipeline.sweep();
    expect(status(roomSid, carl.sid)).toBe("connected"); // within the grace period: maybe still in flight

    clock.set(T0 + 5_000_000 + 61_000);
    await h.pipeline.sweep();
    expect(status(roomSid, carl.sid)).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(carl.sid))).toMatchObject({ outcome: "disconnected" });
  });
});

describe("overlapping sweeps", () => {
  it("two sweeps at once kick each participant once: with the lease, and even when the lease is bypassed", async () => {
    clock.set(T0 + 9_000_000);
    const roomSid = await h.room("race-room");
    const racers = [await h.emulator.join(roomSid, "racer-1"), await h.emulator.join(roomSid, "racer-2")];
    await h.settle();
    await addRule({ kind: "ban", identityPattern: "racer-*", reason: "x" });

    // leaseMs 0: each run may take the lease, so both run in full; the audit's conditional write still decides once.
    const options = (owner: string) => ({ owner, leaseMs: 0, batch: 100 });
    const reports = await Promise.all([sweep(h.sweepDeps, options("a")), sweep(h.sweepDeps, options("b"))]);
    await h.settle();
    for (const racer of racers) {
      expect(status(roomSid, racer.sid)).toBe("disconnected");
      expect(kicks(roomSid, racer.sid)).toHaveLength(1);
    }
    expect(reports.every((report) => report.ran)).toBe(true);

    const held = await Promise.all([
      sweep(h.sweepDeps, { owner: "c", leaseMs: 60_000, batch: 100 }),
      sweep(h.sweepDeps, { owner: "d", leaseMs: 60_000, batch: 100 }),
    ]);
    expect(held.filter((report) => report.ran)).toHaveLength(1);
  });
});

describe("cost of finding due deadlines", () => {
  it("10,000 connected sessions with 5 due: the reads are of the order of the shards and the 5, not 10,000", async () => {
    const { client, names } = await createTestTables();
    let consumed = 0;
    client.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity = "TOTAL";
        const result = await next(args);
        const output = result.output as { ConsumedCapacity?: { CapacityUnits?: number } };
        consumed += output.ConsumedCapacity?.CapacityUnits ?? 0;
        return result;
      },
      { step: "initialize", name: "countCapacity" },
    );
    const now = T0;
    const item = (i: number, deadlineAt: number) => ({
      PutRequest: {
        Item: {
          pk: `room#RM${i.toString(16).padStart(32, "0")}`,
          sk: `participant#PA${i.toString(16).padStart(32, "0")}`,
          identity: `user-${i}`,
          roomName: `room-${i}`,
          status: "connected",
          eventAt: now - 60_000,
          deadlineShard: shardOf("due", `RM${i.toString(16).padStart(32, "0")}#PA${i.toString(16).padStart(32, "0")}`),
          deadlineAt,
          ruleId: "limit",
        },
      },
    });
    const items = Array.from({ length: 10_005 }, (_, i) => item(i, i < 5 ? now - 1000 + i : now + 3_600_000 + i));
    for (let i = 0; i < items.length; i += 25 * 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) => items.slice(i + j * 25, i + (j + 1) * 25))
          .filter((b) => b.length > 0)
          .map((batch) => client.send(new BatchWriteCommand({ RequestItems: { [names.Sessions]: batch } }))),
      );
    }
    const store = dynamoSessionStore(client, names.Sessions);
    consumed = 0;
    const due = await store.dueDeadlines(now, 100);
    console.log(`due deadlines: ${due.length} found among 10,005 sessions with deadlines for ${consumed} read units`);
    expect(due).toHaveLength(5);
    expect(consumed).toBeGreaterThan(0);
    // Each shard's query costs at least half a read unit, whatever it finds; the due sessions add theirs.
    expect(consumed).toBeLessThanOrEqual(INDEX_SHARDS * 0.5 + 5);
  });
});

describe("deadlines read ahead", () => {
  it("reports the next deadline within the lookahead, and a deadlines-only run at it kicks and does nothing else", async () => {
    clock.set(T0 + 1_000_000);
    await addRule({ kind: "max-duration", limitSeconds: 30, roomPattern: "ahead-*" });
    const roomSid = await h.room("ahead-1");
    const early = await h.emulator.join(roomSid, "early-leaver");
    await h.settle();
    const deadlineAt = early.connectedAt + 30_000;
    const options = { owner: "ahead", leaseMs: 30_000, batch: 100, lookaheadMs: 6_000 };

    clock.set(deadlineAt - 7_000);
    expect((await sweep(h.sweepDeps, options)).nextDeadlineAt).toBeUndefined();
    clock.set(deadlineAt - 4_000);
    const before = await sweep(h.sweepDeps, { ...options, reconcile: false });
    expect(before).toMatchObject({ ran: true, deadlinesDue: 0, nextDeadlineAt: deadlineAt, kicks: [] });
    expect(status(roomSid, early.sid)).toBe("connected");

    clock.set(deadlineAt);
    const at = await sweep(h.sweepDeps, { ...options, deadlinesOnly: true });
    await h.settle();
    expect(at).toMatchObject({ ran: true, deadlinesDue: 1, roomsReconciled: 0, retried: 0, ruleChanges: 0 });
    expect(at.kicks.map((k) => k.participantSid)).toEqual([early.sid]);
    expect(status(roomSid, early.sid)).toBe("disconnected");
  });
});
