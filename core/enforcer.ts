import { z } from "zod";
import { type AuditEntry, auditEntryIds, type KickEntry, type KickOutcome, type Trigger } from "./audit.ts";
import type { Clock } from "./clock.ts";
import { type Action, decide } from "./decide.ts";
import { recordDisconnect } from "./disconnects.ts";
import { AuditEntryExistsError, AuditEntryFinalizedError } from "./errors.ts";
import { isParticipantEvent, type ParticipantEvent, parseStatusCallback, type StatusEvent } from "./events.ts";
import type { AuditLog, SessionStore } from "./ports.ts";
import {
  findSession,
  forgettable,
  isLive,
  type Presence,
  type PresenceUpdate,
  presenceChange,
  type Session,
} from "./presence.ts";
import type { RuleSource } from "./rule-source.ts";
import { type Rule, ruleRef } from "./rules.ts";
import type { CallBudget, VideoProvider } from "./video.ts";

/**
 * A status callback as the webhook hands it to the queue: Twilio's verified form parameters and when they arrived.
 * The enforcer parses the form again with the same schema, so nothing crosses the queue unvalidated.
 */
export const callbackEnvelopeSchema = z.strictObject({
  form: z.record(z.string(), z.string()),
  /** Epoch ms: the start of the kick latency. */
  receivedAt: z.number().int().min(0),
});
export type CallbackEnvelope = z.output<typeof callbackEnvelopeSchema>;

export interface EnforcerDependencies {
  readonly sessions: SessionStore;
  readonly rules: RuleSource;
  readonly audit: AuditLog;
  readonly video: VideoProvider;
  readonly clock: Clock;
}

/** What happened to one participant the rules matched. */
export interface KickReport {
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  readonly ruleId: string;
  readonly ruleKind: string;
  /** `skipped`: an earlier delivery of the same decision already finished it. */
  readonly outcome: Exclude<KickOutcome, "pending"> | "dry-run" | "skipped";
  readonly latencyMs?: number;
  readonly attempts?: number;
}

export interface EnforcementReport {
  readonly event: StatusEvent["type"];
  /** False for a callback older than what was already applied. */
  readonly applied: boolean;
  readonly kicks: readonly KickReport[];
}

/** One or more kicks failed: the callback must be retried (by the queue), and stays `failed` in the audit trail. */
export class KickFailedError extends Error {
  override readonly name = "KickFailedError";
  readonly failures: readonly KickReport[];

  constructor(failures: readonly KickReport[]) {
    super(`${failures.length} kick(s) failed: ${failures.map((f) => `${f.participantSid} by ${f.ruleId}`).join(", ")}`);
    this.failures = failures;
  }
}

/** Ended sessions are forgotten from presence a day after their last event: far beyond any callback reordering. */
const FORGET_AFTER_MS = 24 * 3600 * 1000;

/**
 * Enforces the rules on one status callback.
 *
 * Input: the callback envelope. Output: a report of the kicks, for logs and metrics.
 * Steps:
 * 1. apply the event to the identity's presence, load the rules that may apply and, on a connect, mark the room in
 *    progress (one round trip, in parallel);
 * 2. decide, purely;
 * 3. for each kick: write the audit entry ahead (or find it from an earlier delivery), call the provider, finalise;
 *    record dry-run decisions;
 * 4. then set or clear deadlines and track the session;
 * 5. tidy presence.
 * A disconnect decides nothing and is recorded as the webhook records it (core/disconnects.ts); it reaches the queue
 * only when the webhook could not store it.
 * A failed kick is finalised `failed` and the whole callback throws KickFailedError, so that the queue delivers it
 * again; the next delivery reopens the entry and tries once more. Every step is idempotent: a replay re-decides the
 * same actions and finds their audit entries, so nobody is kicked twice and no entry is written twice.
 *
 * The order of 3 and 4 matters when every delivery fails and the callback is dead-lettered: a session is tracked
 * only once every decision its event implied is written down, so a session the sweep finds untracked may have
 * decisions missing, and its reconciliation adopts it and decides again. The room is marked first, so that the
 * sweep reconciles it whatever failed after.
 */
export async function enforceCallback(
  envelope: CallbackEnvelope,
  deps: EnforcerDependencies,
  budget: CallBudget = {},
): Promise<EnforcementReport> {
  const event = parseStatusCallback(envelope.form);
  if (event.type === "room-created" || event.type === "room-ended") {
    await deps.sessions.trackRoom(event.room, event.type === "room-created", event.timestamp);
    return { event: event.type, applied: true, kicks: [] };
  }
  if (!isParticipantEvent(event)) return { event: event.type, applied: false, kicks: [] };
  if (event.type === "participant-disconnected") {
    // Queued only when the webhook could not record it itself: the same writes, and no rules to read.
    const update = await recordDisconnect(event, deps.sessions);
    await tidy(update.presence, deps);
    return { event: event.type, applied: update.applied, kicks: [] };
  }

  const [recorded, rules] = await Promise.all([
    deps.sessions.record(presenceChange(event)),
    deps.rules.forIdentity(event.participant.identity),
    event.type === "participant-connected" ? deps.sessions.trackRoom(event.room, true, event.timestamp) : undefined,
  ]);
  const update = await withExactStart(event, recorded, deps);
  const actions = decide(event, update, rules, deps.clock.now());
  const trigger: Trigger = {
    type: "callback",
    event: event.type,
    timestamp: new Date(event.timestamp).toISOString(),
    receivedAt: new Date(envelope.receivedAt).toISOString(),
  };
  const decisions = actions.filter(
    (action): action is Extract<Action, { type: "kick" | "would-kick" }> =>
      action.type === "kick" || action.type === "would-kick",
  );
  const kicks = await Promise.all(decisions.map((action) => kick(action, trigger, envelope.receivedAt, deps, budget)));
  await Promise.all([
    ...actions
      .filter((action) => action.type === "set-deadline" || action.type === "clear-deadline")
      .map((action) =>
        // Another session's write is ordered by that session's own newest event, not by this callback's.
        apply(
          action,
          action.session.participantSid === event.participant.sid ? event.timestamp : action.session.lastEventAt,
          trigger,
          envelope.receivedAt,
          deps,
        ),
      ),
    track(event, update, actions, deps),
  ]);

  await tidy(update.presence, deps);

  const failures = kicks.filter((kick) => kick.outcome === "failed");
  if (failures.length > 0) throw new KickFailedError(failures);
  return { event: event.type, applied: update.applied, kicks };
}

/** Drops the sessions that ended long ago from presence, when there are any. */
async function tidy(presence: Presence, deps: EnforcerDependencies): Promise<void> {
  const stale = forgettable(presence, deps.clock.now() - FORGET_AFTER_MS);
  if (stale.sessions.length > 0 || stale.roomSids.length > 0) {
    await deps.sessions.forget(presence, deps.clock.now() - FORGET_AFTER_MS);
  }
}

/**
 * A connect callback gives the exact start of a session that reconciliation adopted knowing it only to the second:
 * the start is corrected, and the identity's sessions decided again in the corrected order, even when the callback
 * itself arrives after a newer event for the participant.
 */
async function withExactStart(
  event: ParticipantEvent,
  update: PresenceUpdate,
  deps: EnforcerDependencies,
): Promise<PresenceUpdate> {
  if (event.type !== "participant-connected") return update;
  if (findSession(update.presence, event.participant.sid)?.startAdoptedAt === undefined) return update;
  const presence = await deps.sessions.correctStart(event.participant.identity, event.participant.sid, event.timestamp);
  if (presence === undefined) return update;
  const session = findSession(presence, event.participant.sid);
  return { applied: session !== undefined && isLive(session), presence };
}

/**
 * Keeps the per-session record the sweep reconciles: the session's status, unless a deadline write, which records it
 * too, is under way.
 */
async function track(
  event: ParticipantEvent,
  update: PresenceUpdate,
  actions: readonly Action[],
  deps: EnforcerDependencies,
): Promise<undefined> {
  const session = findSession(update.presence, event.participant.sid);
  if (!update.applied || session === undefined) return undefined;
  const deadlineWrite = actions.some(
    (action) =>
      (action.type === "set-deadline" || action.type === "clear-deadline") &&
      action.session.participantSid === session.participantSid,
  );
  if (!deadlineWrite) await deps.sessions.trackSession(session, event.timestamp);
  return undefined;
}

/** Carries out one decided action; `eventAt` orders the session writes against other events for the session. */
export async function apply(
  action: Action,
  eventAt: number,
  trigger: Trigger,
  startedAt: number,
  deps: EnforcerDependencies,
  budget: CallBudget = {},
): Promise<KickReport | undefined> {
  switch (action.type) {
    case "set-deadline":
      await deps.sessions.setDeadline(action.session, action.deadlineAt, action.rule.id, eventAt);
      return undefined;
    case "clear-deadline":
      await deps.sessions.clearDeadline(action.session, eventAt);
      return undefined;
    case "would-kick":
    case "kick":
      return kick(action, trigger, startedAt, deps, budget);
  }
}

/** Write-ahead, kick, finalise: the audit entry exists before Twilio is called, whatever happens next. */
export async function kick(
  action: Extract<Action, { type: "kick" | "would-kick" }>,
  trigger: Trigger,
  startedAt: number,
  deps: Pick<EnforcerDependencies, "audit" | "video" | "clock">,
  budget: CallBudget = {},
): Promise<KickReport> {
  const { session, rule } = action;
  const report = reportOf(session, rule);
  const decision = {
    createdAt: new Date(deps.clock.now()).toISOString(),
    room: { sid: session.roomSid, name: session.roomName },
    participant: { sid: session.participantSid, identity: session.identity },
    rule: { ...ruleRef(rule), snapshot: rule },
    otherMatches: [...action.otherMatches],
    trigger,
  };

  if (action.type === "would-kick") {
    const entry: AuditEntry = {
      ...decision,
      id: auditEntryIds.wouldKick(session.participantSid, rule.id),
      action: "would-kick",
      outcome: "dry-run",
    };
    await beginOrFind(entry, deps);
    return { ...report, outcome: "dry-run" };
  }

  const id = auditEntryIds.kick(session.participantSid);
  const existing = await beginOrFind({ ...decision, id, action: "kick", outcome: "pending", attempts: 0 }, deps);
  if (existing !== undefined && existing.action === "kick") {
    if (existing.outcome === "failed") {
      try {
        await deps.audit.reopen(id, deps.clock.now());
      } catch (error) {
        if (error instanceof AuditEntryFinalizedError) return { ...report, outcome: "skipped" }; // another try won
        throw error;
      }
      return disconnect(existing, startedAt, deps, budget);
    }
    // Final already, or pending: another worker is kicking right now, or stopped between write-ahead and finalise.
    // One owner at a time: a stalled entry is taken over by the sweep once its grace period has passed.
    return { ...report, outcome: "skipped" };
  }
  if (existing !== undefined) return { ...report, outcome: "skipped" };
  return disconnect({ ...decision, id, action: "kick", outcome: "pending", attempts: 0 }, startedAt, deps, budget);
}

/** Retries of a failed kick: after 30 s, doubling to at most an hour, given up after this many provider requests. */
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 3_600_000;
export const RETRY_GIVE_UP_ATTEMPTS = 24;

/** When a kick that has failed after `attempts` requests in all should be tried again; undefined: give up. */
export function nextRetryAt(attempts: number, now: number): number | undefined {
  if (attempts >= RETRY_GIVE_UP_ATTEMPTS) return undefined;
  return now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, Math.floor(attempts / 3) - 1));
}

/** Calls the provider for a pending kick entry and finalises it with the outcome. */
export async function disconnect(
  entry: KickEntry,
  startedAt: number,
  deps: Pick<EnforcerDependencies, "audit" | "video" | "clock">,
  budget: CallBudget = {},
): Promise<KickReport> {
  const result = await deps.video.disconnectParticipant(entry.room.sid, entry.participant.sid, budget);
  const now = deps.clock.now();
  const latencyMs = Math.max(0, now - startedAt);
  const retryAt = result.outcome === "failed" ? nextRetryAt(entry.attempts + result.attempts, now) : undefined;
  try {
    await deps.audit.finalize(entry.id, {
      outcome: result.outcome,
      attempts: result.attempts,
      latencyMs,
      finalizedAt: new Date(now).toISOString(),
      ...(result.outcome === "failed" ? { error: result.error } : {}),
      ...(retryAt === undefined ? {} : { retryAt }),
    });
  } catch (error) {
    // A concurrent delivery of the same decision finalised first: its outcome stands, and the kick was idempotent.
    if (!(error instanceof AuditEntryFinalizedError)) throw error;
  }
  return {
    participantSid: entry.participant.sid,
    identity: entry.participant.identity,
    roomName: entry.room.name,
    ruleId: entry.rule.id,
    ruleKind: entry.rule.kind,
    outcome: result.outcome,
    latencyMs,
    attempts: result.attempts,
  };
}

const reportOf = (session: Session, rule: Rule) => ({
  participantSid: session.participantSid,
  identity: session.identity,
  roomName: session.roomName,
  ruleId: rule.id,
  ruleKind: rule.kind,
});

/** Writes the entry, or returns the one an earlier delivery of the same decision wrote. */
async function beginOrFind(
  entry: AuditEntry,
  deps: Pick<EnforcerDependencies, "audit">,
): Promise<AuditEntry | undefined> {
  try {
    await deps.audit.begin(entry);
    return undefined;
  } catch (error) {
    if (error instanceof AuditEntryExistsError) return error.existing as AuditEntry;
    throw error;
  }
}
