import type { AuditEntry, AuditPage, AuditQuery, KickResult, OpenKick, RuleChangeEntry } from "./audit/audit.ts";
import type { Ban, Rule } from "./rules/rules.ts";
import type { Presence, PresenceChange, PresenceUpdate, Session } from "./sessions/presence.ts";

/** Rules, as stored. Every method validates what it reads. */
/**
 * The audit entry of a rule change, written in the same transaction as the change: a rule never changes without
 * the entry that says who changed it. A store built without an audit table refuses one.
 */
export type RuleChangeRecord = RuleChangeEntry;

export interface RuleStore {
  /** Throws RuleExistsError when the id is taken. */
  create(rule: Rule, record?: RuleChangeRecord): Promise<void>;
  get(id: string): Promise<Rule | undefined>;
  /** Replaces a rule whose stored version is `expectedVersion`; throws RuleVersionConflictError or RuleNotFoundError. */
  replace(rule: Rule, expectedVersion: number, record?: RuleChangeRecord): Promise<void>;
  /** Deletes a rule (at `expectedVersion` when given) and returns what was deleted; `record` is made from it. */
  delete(id: string, expectedVersion?: number, record?: (deleted: Rule) => RuleChangeRecord): Promise<Rule>;
  /** Exact-identity bans on this identity: one key lookup, whatever the size of the ban list. */
  exactBans(identity: string): Promise<Ban[]>;
  /** All rules, a page at a time (a scan: for operators, not for the enforcement path). */
  list(page: { readonly limit: number; readonly cursor?: string }): Promise<{ rules: Rule[]; cursor?: string }>;
  /** Every rule that is not an exact-identity ban: few, meant to be cached. */
  listCached(): Promise<Rule[]>;
  /** Up to `limit` changes logged after `cursor` (kept a day), oldest first; `rule` is absent for a deletion. */
  changesSince(cursor: string, limit: number): Promise<RuleChange[]>;
}

export interface RuleChange {
  /** Pass back to read the changes after this one. */
  readonly cursor: string;
  readonly ruleId: string;
  readonly rule: Rule | undefined;
}

/** A session with a max-duration deadline due for the sweep. */
export interface DueDeadline {
  readonly roomSid: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  readonly deadlineAt: number;
  readonly ruleId: string;
}

/** Session state: the per-identity presence item and the per-session deadline. */
export interface SessionStore {
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
  /** Sets the deadline unless an event newer than `eventAt` already set or cleared it. */
  setDeadline(session: Session, deadlineAt: number, ruleId: string, eventAt: number): Promise<void>;
  /** Clears the deadline unless an event newer than `eventAt` already set it. */
  clearDeadline(session: Session, eventAt: number): Promise<void>;
  /** Deadlines due at or before `now`, earliest first: reads proportional to the due sessions only. */
  dueDeadlines(now: number, limit: number): Promise<DueDeadline[]>;
  /** Records a session's latest status (unless an event newer than `eventAt` did already). */
  trackSession(session: Session, eventAt: number): Promise<void>;
  /** Every session recorded in a room, as last seen. */
  roomSessions(roomSid: string): Promise<TrackedSession[]>;
  /** Marks a room in progress (until it ends; an ended room stays ended) or ended. */
  trackRoom(room: { readonly sid: string; readonly name: string }, active: boolean, eventAt: number): Promise<void>;
  /** The rooms believed in progress. */
  activeRooms(): Promise<{ sid: string; name: string }[]>;
  /** Takes the sweep's lease, or undefined when another sweep holds it; returns the sweep's saved state. */
  claimSweep(owner: string, now: number, leaseMs: number): Promise<SweepState | undefined>;
  /** Saves the sweep's state and gives the lease back. */
  releaseSweep(owner: string, state: SweepState): Promise<void>;
}

export interface TrackedSession {
  readonly roomSid: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  readonly status: "connected" | "reconnecting" | "disconnected";
  readonly lastEventAt: number;
}

export interface SweepState {
  /** The newest rule change applied (its cursor). */
  readonly ruleCursor: string | undefined;
  /** The changes applied within the overlap window before `ruleCursor`, so that a re-read applies none twice. */
  readonly appliedChanges: readonly string[];
}

/** The audit trail. Entries are never deleted by the application; retention is a TTL. */
export interface AuditLog {
  /** Writes a new entry; throws AuditEntryExistsError carrying the existing entry when its id was used before. */
  begin(entry: AuditEntry): Promise<void>;
  /** Moves a pending kick entry to its outcome, once; throws AuditEntryFinalizedError otherwise. */
  finalize(id: string, result: KickResult): Promise<AuditEntry>;
  /** Moves a failed kick back to pending for another try; throws AuditEntryFinalizedError if it is not failed. */
  reopen(id: string, now: number): Promise<AuditEntry>;
  /** Takes over a stalled pending kick last seen due at `seenRetryAt`; false if another caller did first. */
  claimPending(id: string, seenRetryAt: number, now: number): Promise<boolean>;
  /** Kicks due for another try at `now`: stalled pending ones and failed ones whose backoff has passed. */
  openKicks(now: number, limit: number): Promise<OpenKick[]>;
  get(id: string): Promise<AuditEntry | undefined>;
  query(query: AuditQuery, page: { readonly limit: number; readonly cursor?: string }): Promise<AuditPage>;
}

/** One message for the durable queue between the webhook and the enforcer. */
export interface QueueMessage {
  /** The serialized callback envelope. */
  readonly body: string;
  /** Messages of one group are handled in order, one at a time (SQS FIFO's MessageGroupId). */
  readonly groupId: string;
  /** A second message with the same id within the queue's window is dropped (SQS FIFO's deduplication). */
  readonly deduplicationId: string;
}

/** The durable queue: once `send` resolves, the message survives any crash until it is handled or dead-lettered. */
export interface CallbackQueue {
  send(message: QueueMessage): Promise<void>;
}
