import type { SessionStore } from "./ports.ts";

/** Rooms remembered as marked in progress; a warm container moderates far fewer rooms at once than this. */
const REMEMBERED_ROOMS = 10_000;

/**
 * The session store, marking a room in progress once per container rather than at every connect: a class of thirty
 * joining writes the room's item once, not thirty times (a write unit a connect). Skipping a repeat is safe because
 * the mark only ever goes from in progress to ended: a room this container marked stays marked until the room-ended
 * callback or the sweep ends it, and once ended no connect can make it active again. A failed mark is not
 * remembered, so the next connect tries again.
 */
export function markingRoomsOnce(store: SessionStore, capacity = REMEMBERED_ROOMS): SessionStore {
  const marked = new Set<string>();
  return {
    ...store,
    async trackRoom(room, active, eventAt) {
      if (active && marked.has(room.sid)) return;
      await store.trackRoom(room, active, eventAt);
      if (!active) {
        marked.delete(room.sid);
        return;
      }
      marked.add(room.sid);
      // Oldest first: a Set iterates in insertion order.
      if (marked.size > capacity) marked.delete(marked.values().next().value as string);
    },
  };
}
