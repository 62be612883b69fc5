import type { Trigger } from "../audit/audit.ts";
import type { AuditLog } from "../audit/ports.ts";
import type { Clock } from "../clock.ts";
import { apply, type KickReport, kick } from "../kicks/kicks.ts";
import { type Action, decide } from "../rules/decide.ts";
import type { RuleSource } from "../rules/rule-source.ts";
import type { SessionStore } from "../sessions/ports.ts";
import {
  findSession,
  forgettable,
  isLive,
  type Presence,
  type PresenceUpdate,
  presenceChange,
} from "../sessions/presence.ts";
import type { CallBudget, VideoProvider } from "../video/video.ts";
import type { CallbackEnvelope } from "./callback-envelope.ts";
import { recordDisconnect } from "./disconnects.ts";
import { isParticipantEvent, type ParticipantEvent, parseStatusCallback, type StatusEvent } from "./events.ts";

export interface EnforcerDependencies {
  readonly sessions: SessionStore;
  readonly rules: RuleSource;
  readonly audit: AuditLog;
  readonly video: VideoProvider;
  readonly clock: Clock;
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
 * A disconnect decides nothing and is recorded as the webhook records it (core/callbacks/disconnects.ts); it reaches the queue
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
      .filter((action) => action.type === "set-deadline" || action.type === "clear-deadline" || action.type === "warn")
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
