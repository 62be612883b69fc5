import { beforeAll, expect, it } from "vitest";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import type { SessionStore } from "../core/sessions/ports.ts";
import { markingRoomsOnce } from "../core/sessions/room-marks.ts";
import { sid, T0 } from "./fixtures/domain.ts";
import { createTestTables } from "./support/tables.ts";

/** A room is marked in progress once per container, and the marks stay what the store says they are. */

let store: SessionStore;
beforeAll(async () => {
  const { client, names } = await createTestTables();
  store = dynamoSessionStore(client, names.Sessions);
});

/** The store, counting the room marks that reach DynamoDB. */
function counting(inner: SessionStore) {
  const writes: boolean[] = [];
  const counted: SessionStore = {
    ...inner,
    async trackRoom(room, active, eventAt) {
      writes.push(active);
      await inner.trackRoom(room, active, eventAt);
    },
  };
  return { counted, writes };
}

const activeSids = async () => (await store.activeRooms()).map((room) => room.sid);

it("writes a room's in-progress mark once for thirty connects, and its end every time", async () => {
  const { counted, writes } = counting(store);
  const marks = markingRoomsOnce(counted);
  const room = { sid: sid("RM", 901), name: "class-901" };
  for (let i = 0; i < 30; i++) await marks.trackRoom(room, true, T0 + i);
  expect(writes).toEqual([true]);
  expect(await activeSids()).toContain(room.sid);

  await marks.trackRoom(room, false, T0 + 60_000);
  expect(await activeSids()).not.toContain(room.sid);
  // Ended stays ended: a late connect is written (and refused by the store), not taken from memory.
  await marks.trackRoom(room, true, T0 + 30);
  expect(writes).toEqual([true, false, true]);
  expect(await activeSids()).not.toContain(room.sid);
});

it("remembers nothing it failed to write, and forgets the oldest room beyond its capacity", async () => {
  let failing = true;
  const writes: string[] = [];
  const flaky: SessionStore = {
    ...store,
    async trackRoom(room, active, eventAt) {
      writes.push(room.sid);
      if (failing) throw new Error("DynamoDB unavailable");
      await store.trackRoom(room, active, eventAt);
    },
  };
  const marks = markingRoomsOnce(flaky, 2);
  const [a, b, c] = [902, 903, 904].map((n) => ({ sid: sid("RM", n), name: `room-${n}` })) as [
    { sid: string; name: string },
    { sid: string; name: string },
    { sid: string; name: string },
  ];
  await expect(marks.trackRoom(a, true, T0)).rejects.toThrow("DynamoDB unavailable");
  failing = false;
  await marks.trackRoom(a, true, T0);
  await marks.trackRoom(a, true, T0 + 1);
  expect(writes).toEqual([a.sid, a.sid]);
  await marks.trackRoom(b, true, T0);
  await marks.trackRoom(c, true, T0);
  // Capacity 2: a, the oldest, was forgotten and is written again; c is still remembered.
  await marks.trackRoom(a, true, T0 + 2);
  await marks.trackRoom(c, true, T0 + 2);
  expect(writes).toEqual([a.sid, a.sid, b.sid, c.sid, a.sid]);
});
