import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADOPTION_SETTLE_MS } from "../core/rules/duplicate-identity.ts";
import { sweep } from "../core/sweep/sweep.ts";
import type { DeliveredCallback } from "../emulator/index.ts";
import { manualClock } from "./support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * Duplicate identity when reconciliation adopts a session before its connect callback lands: Twilio gives the
 * adopted start only to the second, so within that second the order waits for the exact Timestamp, or for the
 * settle window to pass.
 */

const T0 = Date.parse("2026-11-22T09:00:00.000Z");
const clock = manualClock(T0);
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipelineHarness({ clock });
});
afterAll(async () => {
  await h.stop();
});

const status = (roomSid: string, participantSid: string) => h.emulator.participant(roomSid, participantSid)?.status;
const reconcile = () => sweep(h.sweepDeps, { owner: "test", leaseMs: 30_000, batch: 100, reconcile: true });
const tick = () => sweep(h.sweepDeps, { owner: "test", leaseMs: 30_000, batch: 100, reconcile: false });

/** Delivers a callback the emulator dropped, late, exactly as it was signed. */
async function deliverLate(callback: DeliveredCallback): Promise<void> {
  const response = await fetch(callback.url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": callback.signature },
    body: new URLSearchParams(callback.params).toString(),
  });
  expect(response.status).toBe(204);
  await h.settle();
}

/** Joins `identity` to a room with its connect callback dropped; returns the participant and the dropped callback. */
async function joinUnheard(roomSid: string, identity: string) {
  const before = h.emulator.callbacks.length;
  h.emulator.dropCallbacks(1);
  const participant = await h.emulator.join(roomSid, identity);
  const dropped = h.emulator.callbacks.slice(before).find((c) => c.dropped);
  if (dropped === undefined) throw new Error("no callback was dropped");
  expect(dropped.params.StatusCallbackEvent).toBe("participant-connected");
  return { participant, dropped };
}

/**
 * A keep-oldest duplicate rule over `<prefix>-*`, and `identity` joining rooms A and B 10 ms apart within one second,
 * A's connect callback dropped; then a reconciliation adopts A.
 */
async function sameSecondPair(prefix: string, identity: string, base: number, order: "A first" | "B first") {
  await h.addRule({ kind: "duplicate-identity", maxSessions: 1, keep: "oldest", roomPattern: `${prefix}-*` });
  const [roomA, roomB] = [await h.room(`${prefix}-a`), await h.room(`${prefix}-b`)];
  const joinB = () => h.emulator.join(roomB, identity);
  clock.set(base + 100);
  const first = order === "A first" ? await joinUnheard(roomA, identity) : await joinB();
  clock.set(base + 110);
  const second = order === "A first" ? await joinB() : await joinUnheard(roomA, identity);
  const [unheard, b] = (order === "A first" ? [first, second] : [second, first]) as [
    Awaited<ReturnType<typeof joinUnheard>>,
    Awaited<ReturnType<typeof joinB>>,
  ];
  await h.settle();
  clock.set(base + 2_000);
  const report = await reconcile();
  await h.settle();
  const statuses = () => [status(roomA, unheard.participant.sid), status(roomB, b.sid)];
  return { report, dropped: unheard.dropped, statuses };
}

describe("duplicate identity with an adopted session, keep oldest", () => {
  it("A 10 ms before B in the same second, A's callback late past a reconciliation: A is kept, B kicked", async () => {
    const base = T0 + 60_000;
    const pair = await sameSecondPair("same-second", "xena", base, "A first");
    // Reconciliation adopted A, known to the second: the order of A and B is open, so nobody is kicked yet.
    expect(pair.report.sessionsAdopted).toBe(1);
    expect(pair.statuses()).toEqual(["connected", "connected"]);
    // A's callback lands with its exact Timestamp: A is the older, B is kicked.
    clock.set(base + 3_000);
    await deliverLate(pair.dropped);
    expect(pair.statuses()).toEqual(["connected", "disconnected"]);
  });

  it("the adopted session turns out the newer: the exact Timestamp kicks it, not the one first guessed", async () => {
    const base = T0 + 120_000;
    const pair = await sameSecondPair("reversed", "yuri", base, "B first");
    // Taken from the start of its second, A would pass for the older and B would be kicked: B waits instead.
    expect(pair.statuses()).toEqual(["connected", "connected"]);
    clock.set(base + 3_000);
    await deliverLate(pair.dropped);
    expect(pair.statuses()).toEqual(["disconnected", "connected"]);
  });

  it("a callback that never lands: once the settle window passes, the adopted session counts as the older", async () => {
    const base = T0 + 180_000;
    const pair = await sameSecondPair("unheard", "zora", base, "A first");
    clock.set(base + 2_000 + ADOPTION_SETTLE_MS - 1);
    await tick();
    await h.settle();
    expect(pair.statuses()).toEqual(["connected", "connected"]);
    clock.set(base + 2_000 + ADOPTION_SETTLE_MS);
    await tick();
    await h.settle();
    expect(pair.statuses()).toEqual(["connected", "disconnected"]);
  });
});

describe("the same 49 every time, with some of the fifty adopted before their callbacks land", () => {
  it("fifty rooms joined within two seconds, ten connect callbacks late: exactly the oldest is kept", async () => {
    await h.addRule({ kind: "duplicate-identity", maxSessions: 1, keep: "oldest", roomPattern: "fifty-*" });
    const base = T0 + 300_000;
    const rooms: string[] = [];
    for (let i = 0; i < 50; i++) rooms.push(await h.room(`fifty-${i}`));
    // Join times 40 ms apart from half a second on; ten, some in the oldest's second, have their callbacks dropped.
    const late = new Set([3, 7, 12, 20, 21, 22, 33, 40, 45, 49]);
    const joined: { roomSid: string; sid: string }[] = [];
    const dropped: DeliveredCallback[] = [];
    for (let i = 0; i < 50; i++) {
      clock.set(base + 500 + i * 40);
      const roomSid = rooms[i] as string;
      if (late.has(i)) {
        const unheard = await joinUnheard(roomSid, "fifty-fay");
        joined.push({ roomSid, sid: unheard.participant.sid });
        dropped.push(unheard.dropped);
      } else {
        joined.push({ roomSid, sid: (await h.emulator.join(roomSid, "fifty-fay")).sid });
      }
    }
    await h.settle();
    clock.set(base + 5_000);
    await reconcile();
    await h.settle();
    clock.set(base + 6_000);
    for (const callback of dropped.reverse()) await deliverLate(callback);
    clock.set(base + 6_000 + ADOPTION_SETTLE_MS);
    await tick();
    await h.settle();
    const connected = joined.filter((p) => status(p.roomSid, p.sid) === "connected");
    expect(connected).toEqual([joined[0]]);
    expect(joined.filter((p) => status(p.roomSid, p.sid) === "disconnected")).toHaveLength(49);
  });
});
