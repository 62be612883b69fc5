import type { DeadlineStore, PresenceStore } from "../sessions/ports.ts";
import { type PresenceUpdate, presenceChange, type Session } from "../sessions/presence.ts";
import type { ParticipantEvent } from "./events.ts";

/**
 * A disconnect never leads to a kick: it ends the session's max-duration clock and its place in duplicate counting,
 * and nothing more. It needs no rules and no queue, so the webhook records it itself before it answers, and half of
 * all callbacks cost neither a queue message nor an enforcer's time (README: Deploying to AWS, cost).
 *
 * Order is kept by the store, not by a queue: each write applies only if no newer event of the participant was
 * applied before it (the presence entry's Timestamp, the session item's `eventAt`), whichever lands first. So a
 * disconnect that overtakes its own connect, still queued, leaves the session ended, and the late connect finds
 * itself older and decides nothing: the participant is gone, there is nobody to kick. A repeated disconnect
 * re-applies harmlessly.
 */
export type DisconnectStore = Pick<PresenceStore, "record"> & Pick<DeadlineStore, "clearDeadline">;

/**
 * Input: a participant-disconnected event. Output: the identity's presence after it.
 * Steps, side by side (one round trip): the presence entry marked disconnected; the session item marked so, its
 * deadline dropped.
 */
export async function recordDisconnect(event: ParticipantEvent, sessions: DisconnectStore): Promise<PresenceUpdate> {
  const ended: Session = {
    participantSid: event.participant.sid,
    identity: event.participant.identity,
    roomSid: event.room.sid,
    roomName: event.room.name,
    status: "disconnected",
    lastEventAt: event.timestamp,
  };
  const [update] = await Promise.all([
    sessions.record(presenceChange(event)),
    sessions.clearDeadline(ended, event.timestamp),
  ]);
  return update;
}
