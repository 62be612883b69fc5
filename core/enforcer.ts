import { z } from "zod";
import { type AuditEntry, auditEntryIds, type KickOutcome, type Trigger } from "./audit.ts";
import type { Clock } from "./clock.ts";
import { type Action, decide } from "./decide.ts";
import { AuditEntryExistsError, AuditEntryFinalizedError } from "./errors.ts";
import { isParticipantEvent, type ParticipantEvent, parseStatusCallback, type StatusEvent } from "./events.ts";
import type { AuditLog, SessionStore } from "./ports.ts";
import { forgettable, presenceChange } from "./presence.ts";
import type { RuleSource } from "./rule-source.ts";
import { ruleRef } from "./rules.ts";
import type { VideoProvider } from "./video.ts";

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
 * 1. apply the event to the identity's presence, and load the rules that may apply (one round trip, in parallel);
 * 2. decide, purely;
 * 3. for each kick: write the audit entry ahead (or find it from an earlier delivery), call the provider, finalise;
 *    record dry-run decisions; set or clear deadlines (in parallel with the audit writes);
 * 4. tidy presence.
 * A failed kick is finalised `failed` and the whole callback throws KickFailedError, so that the queue delivers it
 * again; the next delivery reopens the entry and tries once more. Every step is idempotent: a replay re-decides the
 * same actions and finds their audit entries, so nobody is kicked twice and no entry is written twice.
 */
export async function enforceCallback(
  envelope: CallbackEnvelope,
  deps: EnforcerDependencies,
): Promise<EnforcementReport> {
  const event = parseStatusCallback(envelope.form);
  if (!isParticipantEvent(event)) return { event: event.type, applied: false, kicks: [] };

  const [update, rules] = await Promise.all([
    deps.sessions.record(presenceChange(event)),
    deps.rules.forIdentity(event.participant.identity),
  ]);
  const actions = decide(event, update, rules, deps.clock.now());
  const trigger: Trigger = {
    type: "callback",
    event: event.type,
    timestamp: new Date(event.timestamp).toISOString(),
    receivedAt: new Date(envelope.receivedAt).toISOString(),
  };
  const results = await Promise.all(actions.map((action) => apply(action, event, trigger, envelope.receivedAt, deps)));
  const kicks = results.filter((report): report is KickReport => report !== undefined);

  const stale = forgettable(update.presence, deps.clock.now() - FORGET_AFTER_MS);
  if (stale.sessions.length > 0 || stale.roomSids.length > 0) {
    await deps.sessions.forget(update.presence, deps.clock.now() - FORGET_AFTER_MS);
  }

  const failures = kicks.filter((kick) => kick.outcome === "failed");
  if (failures.length > 0) throw new KickFailedError(failures);
  return { event: event.type, applied: update.applied, kicks };
}

async function apply(
  action: Action,
  event: ParticipantEvent,
  trigger: Trigger,
  startedAt: number,
  deps: EnforcerDependencies,
): Promise<KickReport | undefined> {
  switch (action.type) {
    case "set-deadline":
      await deps.sessions.setDeadline(action.session, action.deadlineAt, action.rule.id, event.timestamp);
      return undefined;
    case "clear-deadline":
      await deps.sessions.clearDeadline(action.session, event.timestamp);
      return undefined;
    case "would-kick":
    case "kick":
      return kick(action, trigger, startedAt, deps);
  }
}

/** Write-ahead, kick, finalise: the audit entry exists before Twilio is called, whatever happens next. */
export async function kick(
  action: Extract<Action, { type: "kick" | "would-kick" }>,
  trigger: Trigger,
  startedAt: number,
  deps: Pick<EnforcerDependencies, "audit" | "video" | "clock">,
): Promise<KickReport> {
  const { session, rule } = action;
  const report = {
    participantSid: session.participantSid,
    identity: session.identity,
    roomName: session.roomName,
    ruleId: rule.id,
    ruleKind: rule.kind,
  };
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
        await deps.audit.reopen(id);
      } catch (error) {
        if (error instanceof AuditEntryFinalizedError) return { ...report, outcome: "skipped" }; // another try won
        throw error;
      }
    } else if (existing.outcome !== "pending") {
      return { ...report, outcome: "skipped" };
    }
    // pending: an earlier delivery stopped between write-ahead and finalise; the disconnect is safe to repeat.
  } else if (existing !== undefined) {
    return { ...report, outcome: "skipped" };
  }

  const result = await deps.video.disconnectParticipant(session.roomSid, session.participantSid);
  const latencyMs = Math.max(0, deps.clock.now() - startedAt);
  try {
    await deps.audit.finalize(id, {
      outcome: result.outcome,
      attempts: result.attempts,
      latencyMs,
      finalizedAt: new Date(deps.clock.now()).toISOString(),
      ...(result.outcome === "failed" ? { error: result.error } : {}),
    });
  } catch (error) {
    // A concurrent delivery of the same decision finalised first: its outcome stands, and the kick was idempotent.
    if (!(error instanceof AuditEntryFinalizedError)) throw error;
  }
  return { ...report, outcome: result.outcome, latencyMs, attempts: result.attempts };
}

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
