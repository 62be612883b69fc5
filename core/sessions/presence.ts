import type { ParticipantEvent } from "../callbacks/events.ts";

/**
 * Presence: every session of one identity, kept in one item and changed atomically, so that the state returned by
 * a write is the whole truth about that identity at that instant (the basis of duplicate-identity decisions).
 */

export type SessionStatus = "connected" | "reconnecting" | "disconnected";

export interface Session {
  readonly participantSid: string;
  readonly identity: string;
  readonly roomSid: string;
  readonly roomName: string;
  readonly status: SessionStatus;
  /** Timestamp of the first connect seen for this participant; absent when only a disconnect has arrived. */
  readonly connectedAt?: number;
  /** Timestamp of the newest event applied: older events for this participant are ignored. */
  readonly lastEventAt: number;
  /**
   * Present when the connect time is known only to the second (reconciliation adopted the session at this time, its
   * connect callback not yet seen): `connectedAt` is then the start of that second, until the callback's exact
   * Timestamp replaces it.
   */
  readonly startAdoptedAt?: number;
}

export interface Presence {
  readonly identity: string;
  /** Live sessions and recently ended ones (kept so that a late, older event cannot revive them). */
  readonly sessions: readonly Session[];
  /** First connect recorded per room SID: the start of the max-duration clock, which a rejoin does not reset. */
  readonly firstConnectedAt: Readonly<Record<string, number>>;
  /** Counts the writes to this presence: a cleanup applies only if nothing changed since it was planned. */
  readonly revision: number;
}

/** One event's effect on presence. */
export interface PresenceChange {
  readonly identity: string;
  readonly participantSid: string;
  readonly roomSid: string;
  readonly roomName: string;
  readonly status: SessionStatus;
  readonly timestamp: number;
  /**
   * For a live change, the connect time kept if the participant has none yet (and the start of the max-duration
   * clock, if it is the identity's first connect in the room): `timestamp` when absent. Later than `timestamp` when
   * the connect is known only to the second, so that no limit runs out before its time.
   */
  readonly connectedAt?: number;
  /**
   * Set when the connect time is known only to the second (reconciliation adopting a participant, at this time):
   * the session's order among the identity's sessions is then taken from the start of `timestamp`'s second, and
   * marked as approximate until the connect callback corrects it.
   */
  readonly adoptedAt?: number;
}

export interface PresenceUpdate {
  /**
   * False when the change was older than the newest event applied to the participant: it changed nothing.
   * A repeated event (same Timestamp, same status) is applied again, so that a retry re-decides what a crash lost.
   */
  readonly applied: boolean;
  readonly presence: Presence;
}

const statusAfter: Readonly<Record<ParticipantEvent["type"], SessionStatus>> = {
  "participant-connected": "connected",
  "participant-reconnected": "connected",
  "participant-reconnecting": "reconnecting",
  "participant-disconnected": "disconnected",
};

export function presenceChange(event: ParticipantEvent): PresenceChange {
  return {
    identity: event.participant.identity,
    participantSid: event.participant.sid,
    roomSid: event.room.sid,
    roomName: event.room.name,
    status: statusAfter[event.type],
    timestamp: event.timestamp,
  };
}

export const isLive = (session: Session): boolean => session.status !== "disconnected";

export function findSession(presence: Presence, participantSid: string): Session | undefined {
  return presence.sessions.find((session) => session.participantSid === participantSid);
}

/** When a session began, as far as is known: its first connect, or its newest event when only a disconnect arrived. */
export const connectTime = (session: Session) => session.connectedAt ?? session.lastEventAt;

/** A total order of sessions: connect time, then participant SID, so that every decision picks the same ones. */
export function compareSessions(a: Session, b: Session): number {
  return (
    connectTime(a) - connectTime(b) ||
    (a.participantSid < b.participantSid ? -1 : a.participantSid > b.participantSid ? 1 : 0)
  );
}

/** When a session's max-duration clock started: the identity's first connect in that room. */
export function clockStart(presence: Presence, session: Session): number {
  return presence.firstConnectedAt[session.roomSid] ?? session.connectedAt ?? session.lastEventAt;
}

/**
 * Ended sessions older than `olderThan`, and the rooms left with no session: what can be forgotten without letting
 * a late event revive a session. Out-of-order callbacks arrive seconds apart, so a day is a wide margin.
 */
export function forgettable(presence: Presence, olderThan: number): { sessions: Session[]; roomSids: string[] } {
  const sessions = presence.sessions.filter((session) => !isLive(session) && session.lastEventAt < olderThan);
  const remaining = new Set(
    presence.sessions.filter((session) => !sessions.includes(session)).map((session) => session.roomSid),
  );
  const roomSids = Object.keys(presence.firstConnectedAt).filter((roomSid) => !remaining.has(roomSid));
  return { sessions, roomSids };
}

/**
 * What `SessionStore.record` does to presence, as a pure function (its DynamoDB condition written out; the two are
 * held equal against DynamoDB Local in test/reliability/decide-properties.test.ts): a change applies if its
 * participant has no entry yet, if it is newer than the newest change applied, or if it ties with it and is a
 * disconnect or repeats the same status. Connect times are set by the first live change applied and never changed
 * afterwards. Adoption (`adoptedAt`) is the store's alone: a change carrying it is not modelled here.
 */
export function applyChange(current: Presence | undefined, change: PresenceChange): PresenceUpdate {
  const presence = current ?? { identity: change.identity, sessions: [], firstConnectedAt: {}, revision: 0 };
  const entry = findSession(presence, change.participantSid);
  const live = change.status !== "disconnected";
  const applies =
    entry === undefined ||
    entry.lastEventAt < change.timestamp ||
    (entry.lastEventAt === change.timestamp && (!live || entry.status === change.status));
  if (!applies) return { applied: false, presence };
  const connectedAt = entry?.connectedAt ?? (live ? (change.connectedAt ?? change.timestamp) : undefined);
  const session: Session = {
    participantSid: change.participantSid,
    identity: change.identity,
    roomSid: change.roomSid,
    roomName: change.roomName,
    status: change.status,
    lastEventAt: change.timestamp,
    ...(connectedAt === undefined ? {} : { connectedAt }),
  };
  const firstConnectedAt =
    live && presence.firstConnectedAt[change.roomSid] === undefined
      ? { ...presence.firstConnectedAt, [change.roomSid]: change.connectedAt ?? change.timestamp }
      : presence.firstConnectedAt;
  return {
    applied: true,
    presence: {
      identity: change.identity,
      sessions: [...presence.sessions.filter((s) => s !== entry), session],
      firstConnectedAt,
      revision: presence.revision + 1,
    },
  };
}
