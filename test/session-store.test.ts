import { beforeAll, describe, expect, it } from "vitest";
import { decide } from "../core/rules/decide.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import type { SessionStore } from "../core/sessions/ports.ts";
import { forgettable, isLive, type PresenceChange } from "../core/sessions/presence.ts";
import { participantEvent, rule, seconds, sid, T0 } from "./fixtures/domain.ts";
import { createTestTables } from "./support/tables.ts";

let store: SessionStore;

beforeAll(async () => {
  const { client, names } = await createTestTables();
  store = dynamoSessionStore(client, names.Sessions);
});

let identities = 0;
const newIdentity = (name = "user") => `${name}-${++identities}`;

function change(identity: string, overrides: Partial<PresenceChange> = {}): PresenceChange {
  return {
    identity,
    participantSid: sid("PA", 1),
    roomSid: sid("RM", 1),
    roomName: "room-1",
    status: "connected",
    timestamp: T0,
    ...overrides,
  };
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe("presence: duplicate identity from the post-write state", () => {
  const duplicateRule = rule("one-session", { kind: "duplicate-identity", keep: "oldest" });

  /** 50 connects of one identity into 50 rooms, sent all at once in a shuffled order; returns the SIDs chosen for kick. */
  async function raceFiftyConnects(seed: number): Promise<{ kicked: Set<string>; oldest: string; all: string[] }> {
    const identity = newIdentity("bob");
    const connects = Array.from({ length: 50 }, (_, i) =>
      change(identity, {
        participantSid: sid("PA", 0x1000 + i),
        roomSid: sid("RM", 0x1000 + i),
        roomName: `class-${i}`,
        // Distinct Timestamps, so "oldest" is well defined: room 17 connected first.
        timestamp: T0 + ((i + 33) % 50) * 10,
      }),
    );
    const results = await Promise.all(
      shuffled(connects, seed).map(async (connect) => {
        const update = await store.record(connect);
        const event = participantEvent("participant-connected", {
          participantSid: connect.participantSid,
          identity,
          roomSid: connect.roomSid,
          roomName: connect.roomName,
          status: "connected",
          lastEventAt: connect.timestamp,
        });
        return decide(event, update, [duplicateRule], T0 + seconds(1));
      }),
    );
    const kicked = new Set(
      results.flat().flatMap((action) => (action.type === "kick" ? [action.session.participantSid] : [])),
    );
    return { kicked, oldest: sid("PA", 0x1000 + 17), all: connects.map((c) => c.participantSid) };
  }

  it("50 concurrent connects into 50 rooms choose exactly 49 for kick, keeping the oldest, on every run", async () => {
    const runs = [];
    for (const seed of [1, 2, 3]) runs.push(await raceFiftyConnects(seed));
    for (const { kicked, oldest, all } of runs) {
      expect(kicked.size).toBe(49);
      expect(kicked.has(oldest)).toBe(false);
      expect([...kicked].sort()).toEqual(all.filter((s) => s !== oldest).sort());
    }
  });
});

describe("presence: Timestamp order", () => {
  it("returns the whole identity state after the write", async () => {
    const identity = newIdentity();
    await store.record(change(identity, { participantSid: sid("PA", 1), roomSid: sid("RM", 1) }));
    const update = await store.record(
      change(identity, { participantSid: sid("PA", 2), roomSid: sid("RM", 2), roomName: "room-2", timestamp: T0 + 5 }),
    );
    expect(update.applied).toBe(true);
    expect(update.presence.sessions.map((s) => [s.participantSid, s.status, s.connectedAt]).sort()).toEqual([
      [sid("PA", 1), "connected", T0],
      [sid("PA", 2), "connected", T0 + 5],
    ]);
  });

  it("a stale event does not overwrite a newer state", async () => {
    const identity = newIdentity();
    await store.record(change(identity, { status: "connected", timestamp: T0 }));
    await store.record(change(identity, { status: "reconnecting", timestamp: T0 + 20 }));
    const stale = await store.record(change(identity, { status: "connected", timestamp: T0 + 10 }));
    expect(stale.applied).toBe(false);
    expect(stale.presence.sessions[0]).toMatchObject({ status: "reconnecting", lastEventAt: T0 + 20 });
    expect((await store.presence(identity))?.sessions[0]).toMatchObject({
      status: "reconnecting",
      lastEventAt: T0 + 20,
    });
  });

  it("a disconnect that arrives before its connect leaves no ghost session", async () => {
    const identity = newIdentity();
    const disconnect = await store.record(change(identity, { status: "disconnected", timestamp: T0 + 60_000 }));
    expect(disconnect.applied).toBe(true);
    const lateConnect = await store.record(change(identity, { status: "connected", timestamp: T0 }));
    expect(lateConnect.applied).toBe(false);
    expect(lateConnect.presence.sessions.filter(isLive)).toEqual([]);
    const stored = await store.presence(identity);
    expect(stored?.sessions.filter(isLive)).toEqual([]);
  });

  it("a disconnect with the same Timestamp as the connect wins", async () => {
    const identity = newIdentity();
    await store.record(change(identity, { status: "connected", timestamp: T0 }));
    const disconnect = await store.record(change(identity, { status: "disconnected", timestamp: T0 }));
    expect(disconnect.applied).toBe(true);
    expect(disconnect.presence.sessions[0]?.status).toBe("disconnected");
  });

  it("a repeated connect is applied again, so a retry re-decides, and changes nothing", async () => {
    const identity = newIdentity();
    const first = await store.record(change(identity));
    const again = await store.record(change(identity));
    expect(again.applied).toBe(true);
    expect(again.presence.sessions).toEqual(first.presence.sessions);
    expect(again.presence.firstConnectedAt).toEqual(first.presence.firstConnectedAt);
  });

  it("a reconnect keeps the first connect time, and a rejoin keeps the room's first connect", async () => {
    const identity = newIdentity();
    await store.record(change(identity, { participantSid: sid("PA", 1), timestamp: T0 }));
    await store.record(change(identity, { participantSid: sid("PA", 1), status: "reconnecting", timestamp: T0 + 10 }));
    const reconnected = await store.record(change(identity, { participantSid: sid("PA", 1), timestamp: T0 + 20 }));
    expect(reconnected.presence.sessions[0]).toMatchObject({ connectedAt: T0, lastEventAt: T0 + 20 });

    await store.record(change(identity, { participantSid: sid("PA", 1), status: "disconnected", timestamp: T0 + 30 }));
    const rejoined = await store.record(change(identity, { participantSid: sid("PA", 2), timestamp: T0 + 40 }));
    expect(rejoined.presence.firstConnectedAt[sid("RM", 1)]).toBe(T0);
    expect(rejoined.presence.sessions.find((s) => s.participantSid === sid("PA", 2))?.connectedAt).toBe(T0 + 40);
  });

  it("forgets ended sessions and empty rooms, but not if the presence changed since", async () => {
    const identity = newIdentity();
    await store.record(change(identity, { participantSid: sid("PA", 1), roomSid: sid("RM", 1), timestamp: T0 }));
    await store.record(change(identity, { participantSid: sid("PA", 1), status: "disconnected", timestamp: T0 + 5 }));
    const live = await store.record(
      change(identity, { participantSid: sid("PA", 2), roomSid: sid("RM", 2), roomName: "room-2", timestamp: T0 + 6 }),
    );
    const cutoff = T0 + seconds(3600);
    const plan = forgettable(live.presence, cutoff);
    expect(plan.sessions.map((s) => s.participantSid)).toEqual([sid("PA", 1)]);
    expect(plan.roomSids).toEqual([sid("RM", 1)]);

    // A write in between makes the plan stale: nothing is removed.
    await store.record(
      change(identity, { participantSid: sid("PA", 2), roomSid: sid("RM", 2), roomName: "room-2", timestamp: T0 + 7 }),
    );
    await store.forget(live.presence, cutoff);
    expect((await store.presence(identity))?.sessions).toHaveLength(2);

    const fresh = await store.presence(identity);
    if (fresh === undefined) throw new Error("presence vanished");
    await store.forget(fresh, cutoff);
    const after = await store.presence(identity);
    expect(after?.sessions.map((s) => s.participantSid)).toEqual([sid("PA", 2)]);
    expect(Object.keys(after?.firstConnectedAt ?? {})).toEqual([sid("RM", 2)]);
  });
});

describe("deadlines", () => {
  const sessionOf = (roomSid: string, participantSid: string) => ({
    participantSid,
    identity: "carol",
    roomSid,
    roomName: "paid-1",
    status: "connected" as const,
    connectedAt: T0,
    lastEventAt: T0,
  });

  it("lists only due deadlines, earliest first, and cleared ones never", async () => {
    const room = sid("RM", 0xd00);
    const due1 = sessionOf(room, sid("PA", 0xd01));
    const due2 = sessionOf(room, sid("PA", 0xd02));
    const later = sessionOf(room, sid("PA", 0xd03));
    const cleared = sessionOf(room, sid("PA", 0xd04));
    // Far in the future so that other tests' deadlines sort before these and are excluded by the window below.
    const base = T0 + seconds(10 * 86_400);
    await store.setDeadline(due2, base + 20, "limit", T0);
    await store.setDeadline(due1, base + 10, "limit", T0);
    await store.setDeadline(later, base + seconds(60), "limit", T0);
    await store.setDeadline(cleared, base + 5, "limit", T0);
    await store.clearDeadline(cleared, T0 + 1);

    const due = (await store.dueDeadlines(base + 30, 100)).filter((d) => d.roomSid === room);
    expect(due.map((d) => [d.participantSid, d.deadlineAt - base])).toEqual([
      [due1.participantSid, 10],
      [due2.participantSid, 20],
    ]);
    expect(due[0]).toMatchObject({ identity: "carol", roomName: "paid-1", ruleId: "limit" });
  });

  it("a deadline set for an older event does not survive a newer clear", async () => {
    const session = sessionOf(sid("RM", 0xe00), sid("PA", 0xe01));
    const base = T0 + seconds(20 * 86_400);
    await store.clearDeadline(session, T0 + 50); // the disconnect's write lands first
    await store.setDeadline(session, base, "limit", T0); // then the connect's
    const due = await store.dueDeadlines(base + 1, 1000);
    expect(due.some((d) => d.participantSid === session.participantSid)).toBe(false);
  });
});
