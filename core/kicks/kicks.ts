import { type AuditEntry, auditEntryIds, type KickEntry, type KickOutcome, type Trigger } from "../audit/audit.ts";
import type { AuditLog } from "../audit/ports.ts";
import type { Clock } from "../clock.ts";
import { AuditEntryExistsError, AuditEntryFinalizedError } from "../errors.ts";
import type { Action } from "../rules/decide.ts";
import { type Rule, ruleRef } from "../rules/rules.ts";
import type { SessionStore } from "../sessions/ports.ts";
import type { Session } from "../sessions/presence.ts";
import type { CallBudget, VideoProvider } from "../video/video.ts";

/**
 * Kicks, whoever decides them (the enforcer on a callback, the sweep on a deadline, a rule change or a retry): the
 * audit entry is written ahead of the provider's request, whatever happens next, and finalised with its outcome.
 * Entries are keyed by participant, so two deciders racing on one participant make one kick.
 */

export interface KickDependencies {
  readonly audit: AuditLog;
  readonly video: VideoProvider;
  readonly clock: Clock;
}

/** What happened to one participant the rules matched. */
export interface KickReport {
  readonly participantSid: string;
  readonly identity: string;
  readonly roomName: string;
  /** Absent for an operator's manual kick made without a rule. */
  readonly ruleId?: string;
  readonly ruleKind?: string;
  /** `skipped`: an earlier delivery of the same decision already finished it. */
  readonly outcome: Exclude<KickOutcome, "pending"> | "dry-run" | "skipped";
  readonly latencyMs?: number;
  readonly attempts?: number;
}

/** Carries out one decided action; `eventAt` orders the session writes against other events for the session. */
export async function apply(
  action: Action,
  eventAt: number,
  trigger: Trigger,
  startedAt: number,
  deps: KickDependencies & { readonly sessions: SessionStore },
  budget: CallBudget = {},
): Promise<KickReport | undefined> {
  switch (action.type) {
    case "set-deadline":
      await deps.sessions.setDeadline(action.session, action.deadlineAt, action.rule.id, eventAt, action.endsAt);
      return undefined;
    case "clear-deadline":
      await deps.sessions.clearDeadline(action.session, eventAt);
      return undefined;
    case "warn":
      await warn(action, trigger, deps);
      return undefined;
    case "would-kick":
    case "kick":
      return kick(action, trigger, startedAt, deps, budget);
  }
}

/** Records a time warning once (per point, session and rule version); a repeated decision finds it written. */
export async function warn(
  action: Extract<Action, { type: "warn" }>,
  trigger: Trigger,
  deps: Pick<KickDependencies, "audit" | "clock">,
): Promise<void> {
  const { session, rule, point, deadlineAt } = action;
  const now = deps.clock.now();
  await beginOrFind(
    {
      id: auditEntryIds.timeWarning(session.participantSid, rule.id, rule.version, point),
      createdAt: new Date(now).toISOString(),
      action: "time-warning",
      room: { sid: session.roomSid, name: session.roomName },
      participant: { sid: session.participantSid, identity: session.identity },
      rule: { ...ruleRef(rule), snapshot: rule },
      trigger,
      deadlineAt: new Date(deadlineAt).toISOString(),
      point,
      secondsLeft: Math.max(0, Math.ceil((deadlineAt - now) / 1000)),
    },
    deps,
  );
}

/** Write-ahead, kick, finalise: the audit entry exists before Twilio is called, whatever happens next. */
export async function kick(
  action: Extract<Action, { type: "kick" | "would-kick" }>,
  trigger: Trigger,
  startedAt: number,
  deps: KickDependencies,
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

/**
 * An operator's kick: the same decision key, write-ahead entry and finalise as a rule's, the trigger naming who asked
 * and why, and the rule when the operator added one with it. Returns the entry as it stands, and whether an earlier
 * kick of the participant (an operator's or a rule's) had it already: then nothing new is written or sent.
 */
export async function manualKick(
  target: { readonly room: KickEntry["room"]; readonly participant: KickEntry["participant"] },
  trigger: Extract<Trigger, { type: "admin" }>,
  rule: Rule | undefined,
  deps: KickDependencies,
  budget: CallBudget = {},
): Promise<{ readonly entry: AuditEntry; readonly existing: boolean }> {
  const startedAt = deps.clock.now();
  const entry: KickEntry = {
    id: auditEntryIds.kick(target.participant.sid),
    createdAt: new Date(startedAt).toISOString(),
    room: target.room,
    participant: target.participant,
    ...(rule === undefined ? {} : { rule: { ...ruleRef(rule), snapshot: rule } }),
    otherMatches: [],
    trigger,
    action: "kick",
    outcome: "pending",
    attempts: 0,
  };
  const existing = await beginOrFind(entry, deps);
  if (existing !== undefined) return { entry: existing, existing: true };
  await disconnect(entry, startedAt, deps, budget);
  return { entry: (await deps.audit.get(entry.id)) ?? entry, existing: false };
}

/** Retries of a failed kick: after 30 s, doubling to at most an hour, given up after this many provider requests. */
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 3_600_000;
const RETRY_GIVE_UP_ATTEMPTS = 24;

/** When a kick that has failed after `attempts` requests in all should be tried again; undefined: give up. */
function nextRetryAt(attempts: number, now: number): number | undefined {
  if (attempts >= RETRY_GIVE_UP_ATTEMPTS) return undefined;
  return now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, Math.floor(attempts / 3) - 1));
}

/** Calls the provider for a pending kick entry and finalises it with the outcome. */
export async function disconnect(
  entry: KickEntry,
  startedAt: number,
  deps: KickDependencies,
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
    ...(entry.rule === undefined ? {} : { ruleId: entry.rule.id, ruleKind: entry.rule.kind }),
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
async function beginOrFind(entry: AuditEntry, deps: Pick<KickDependencies, "audit">): Promise<AuditEntry | undefined> {
  try {
    await deps.audit.begin(entry);
    return undefined;
  } catch (error) {
    if (error instanceof AuditEntryExistsError) return error.existing as AuditEntry;
    throw error;
  }
}
