import type { Presence, PresenceChange, PresenceUpdate, Session } from "./presence.ts";

/** A session with a max-duration deadline due for the sweep. */
export interface DueDeadline {
  readonly roomSid: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  readonly deadlineAt: number;
  readonly ruleId: string;
}

/** Presence: every session of one identity in one item, changed atomically (duplicates and ordering). */
export interface PresenceStore {
  /**
   * Applies one event to the identity's presence atomically and returns the state after it.
   * An event older than the newest one applied to the same participant changes nothing (`applied: false`).
   */
  record(change: PresenceChange): Promise<PresenceUpdate>;
  presence(identity: string): Promise<Presence | undefined>;
  /**
   * Replaces an adopted session's approximate connect time (the start of its second) with the exact one a connect
   * callback gives; returns the presence after it, or undefined when there was nothing to correct.
   */
  correctStart(identity: string, participantSid: string, connectedAt: number): Promise<Presence | undefined>;
  /**
   * Drops sessions that ended before `olderThan`, and rooms left empty, from the presence item, provided nothing
   * was recorded since `presence` was read (otherwise a later cleanup does it).
   */
  forget(presence: Presence, olderThan: number): Promise<void>;
}

/** Session deadlines: max-duration limits and duplicate re-checks, due for the sweep. */
export interface DeadlineStore {
  /**
   * Sets the deadline unless an event newer than `eventAt` already set or cleared it. `endsAt`: when a limit ends the
   * session, when the deadline is an earlier check (a warning point), for the operators' room view.
   */
  setDeadline(session: Session, deadlineAt: number, ruleId: string, eventAt: number, endsAt?: number): Promise<void>;
  /** Clears the deadline unless an event newer than `eventAt` already set it. */
  clearDeadline(session: Session, eventAt: number): Promise<void>;
  /** Deadlines due at or before `now`, earliest first: reads proportional to the due sessions only. */
  dueDeadlines(now: number, limit: number): Promise<DueDeadline[]>;
}

/** The per-session records the sweep reconciles rooms from. */
export interface SessionRecords {
  /** Records a session's latest status (unless an event newer than `eventAt` did already). */
  trackSession(session: Session, eventAt: number): Promise<void>;
  /** Every session recorded in a room, as last seen. */
  roomSessions(roomSid: string): Promise<TrackedSession[]>;
}

/** The rooms believed in progress. */
export interface RoomStore {
  /** Marks a room in progress (until it ends; an ended room stays ended) or ended. */
  trackRoom(room: { readonly sid: string; readonly name: string }, active: boolean, eventAt: number): Promise<void>;
  /** The rooms believed in progress. */
  activeRooms(): Promise<{ sid: string; name: string }[]>;
  /** One room as last recorded, or undefined when room-warden never saw it (or forgot it, a week after its last event). */
  room(roomSid: string): Promise<RoomRecord | undefined>;
}

/** The sweep's lease and the state it keeps between runs. */
export interface SweepLease {
  /** Takes the sweep's lease, or undefined when another sweep holds it; returns the sweep's saved state. */
  claimSweep(owner: string, now: number, leaseMs: number): Promise<SweepState | undefined>;
  /** Saves the sweep's state and gives the lease back. */
  releaseSweep(owner: string, state: SweepState): Promise<void>;
}

/** Everything the Sessions table holds; one adapter (dynamo-session-store.ts) implements it all. */
export interface SessionStore extends PresenceStore, DeadlineStore, SessionRecords, RoomStore, SweepLease {}

export interface RoomRecord {
  readonly sid: string;
  readonly name: string;
  readonly inProgress: boolean;
  /** The room-ended callback's Timestamp (epoch ms). */
  readonly endedAt?: number;
}

export interface TrackedSession {
  readonly roomSid: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  readonly status: "connected" | "reconnecting" | "disconnected";
  readonly lastEventAt: number;
  /** The session's first connect (epoch ms), once recorded. */
  readonly connectedAt?: number;
  /** The time limit or re-check due for this session, and the rule behind it. */
  readonly deadline?: { readonly at: number; readonly ruleId: string; readonly endsAt?: number };
}

export interface SweepState {
  /** The newest rule change applied (its cursor). */
  readonly ruleCursor: string | undefined;
  /** The changes applied within the overlap window before `ruleCursor`, so that a re-read applies none twice. */
  readonly appliedChanges: readonly string[];
}
