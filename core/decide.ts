import type { ParticipantEvent } from "./events.ts";
import { clockStart, findSession, isLive, type Presence, type PresenceUpdate, type Session } from "./presence.ts";
import {
  banMatches,
  type DuplicateIdentity,
  duplicateScopeIncludes,
  isInForce,
  type MaxDuration,
  maxDurationApplies,
  type Rule,
  type RuleRef,
  ruleModes,
  ruleRef,
} from "./rules.ts";

/**
 * The policy decision, pure: given what happened, the rules that may apply and the state after the event, say what
 * must be done. No I/O and no hidden clock, so every case is a row in a table test.
 */

export type Action =
  /** Disconnect the session: `rule` decided it (its snapshot goes to the audit trail), `otherMatches` also matched. */
  | { readonly type: "kick"; readonly session: Session; readonly rule: Rule; readonly otherMatches: readonly RuleRef[] }
  /** Only dry-run rules matched: audit what would have happened, call nothing. */
  | {
      readonly type: "would-kick";
      readonly session: Session;
      readonly rule: Rule;
      readonly otherMatches: readonly RuleRef[];
    }
  /**
   * The session must be decided again at `deadlineAt` (epoch ms) unless it leaves first: a max-duration limit ends
   * it then, or a duplicate-identity kick waits for an adopted session's order to settle.
   */
  | {
      readonly type: "set-deadline";
      readonly session: Session;
      readonly deadlineAt: number;
      readonly rule: MaxDuration | DuplicateIdentity;
    }
  /** The session ended: it has no deadline any more. */
  | { readonly type: "clear-deadline"; readonly session: Session };

/**
 * Decides what a participant event requires, from the presence state the event's write returned.
 * Stale events (not applied) require nothing: a newer event for the same participant was decided already.
 */
export function decide(event: ParticipantEvent, update: PresenceUpdate, rules: readonly Rule[], now: number): Action[] {
  const session = findSession(update.presence, event.participant.sid);
  if (!update.applied || session === undefined) return [];
  if (session.status === "disconnected") return [{ type: "clear-deadline", session }];
  if (session.status === "reconnecting") return [];
  return evaluate(session, update.presence, rules, now);
}

/**
 * Checks one live session (and, for duplicate identity, its siblings) against the rules at `now`.
 * Used for events and, with the same semantics, for sweeps and rule changes.
 */
export function evaluate(subject: Session, presence: Presence, rules: readonly Rule[], now: number): Action[] {
  const inForce = rules.filter((rule) => isInForce(rule, now));
  const matches = new Map<string, { session: Session; rules: Rule[] }>();
  const match = (session: Session, rule: Rule) => {
    const entry = matches.get(session.participantSid) ?? { session, rules: [] };
    entry.rules.push(rule);
    matches.set(session.participantSid, entry);
  };

  for (const rule of inForce) {
    if (rule.kind === "ban" && banMatches(rule, subject.identity, subject.roomName)) match(subject, rule);
  }

  // The smallest limit of each mode, each at its own deadline: a dry-run limit stricter than the one in force is
  // audited when it passes, and never stands in for the enforcing limit, whose deadline comes next.
  const limitsOf = (session: Session) => {
    const start = clockStart(presence, session);
    return ruleModes.flatMap((mode) => {
      const limit = smallestLimit(
        inForce.filter((rule) => rule.mode === mode),
        session,
      );
      return limit === undefined ? [] : [{ limit, deadlineAt: start + limit.limitSeconds * 1000 }];
    });
  };
  const limits = limitsOf(subject);
  for (const { limit, deadlineAt } of limits) if (deadlineAt <= now) match(subject, limit);

  // Duplicate kicks whose order an adopted session's exact start could still reverse wait for it, until then.
  const settling = new Map<string, { session: Session; until: number; rule: DuplicateIdentity }>();
  for (const rule of inForce) {
    if (rule.kind !== "duplicate-identity" || !duplicateScopeIncludes(rule, subject.roomName)) continue;
    const { over, settlesAt } = sessionsOverLimit(presence, rule, now);
    for (const session of over) {
      const until = settlesAt.get(session.participantSid);
      if (until === undefined) match(session, rule);
      else {
        const waiting = settling.get(session.participantSid);
        if (waiting === undefined || until < waiting.until)
          settling.set(session.participantSid, { session, until, rule });
      }
    }
  }

  const actions: Action[] = [...matches.values()]
    .sort((a, b) => rank(a.session, subject) - rank(b.session, subject) || compareSessions(a.session, b.session))
    .map(({ session, rules: matched }) => {
      const [deciding, ...others] = matched.sort(byPrecedence);
      return {
        type: deciding?.mode === "enforce" ? "kick" : "would-kick",
        session,
        rule: deciding as Rule,
        otherMatches: others.map(ruleRef),
      } as const;
    });

  const subjectKicked = actions.some((action) => action.type === "kick" && action.session === subject);
  /** The next time a session must be decided again: its next limit's deadline, or the end of a settle wait. */
  const nextCheck = (session: Session, passed: boolean) => {
    const wait = settling.get(session.participantSid);
    const candidates: { deadlineAt: number; rule: MaxDuration | DuplicateIdentity }[] = [
      ...limitsOf(session)
        .filter(({ deadlineAt }) => passed || deadlineAt > now)
        .map(({ limit, deadlineAt }) => ({ deadlineAt, rule: limit })),
      ...(wait === undefined ? [] : [{ deadlineAt: wait.until, rule: wait.rule }]),
    ];
    return candidates.sort((a, b) => a.deadlineAt - b.deadlineAt)[0];
  };
  const next = nextCheck(subject, false);
  if (next !== undefined && !subjectKicked) {
    actions.push({ type: "set-deadline", session: subject, deadlineAt: next.deadlineAt, rule: next.rule });
  }
  for (const { session } of settling.values()) {
    if (session === subject || matches.has(session.participantSid)) continue;
    // Another session's wait: its own limit, even one already passed, keeps its place if it comes first.
    const check = nextCheck(session, true);
    if (check !== undefined)
      actions.push({ type: "set-deadline", session, deadlineAt: check.deadlineAt, rule: check.rule });
  }
  return actions;
}

/** The smallest max-duration limit that applies to the session; ties go to the lowest rule id, for stable audits. */
function smallestLimit(rules: readonly Rule[], session: Session): MaxDuration | undefined {
  let smallest: MaxDuration | undefined;
  for (const rule of rules) {
    if (rule.kind !== "max-duration" || !maxDurationApplies(rule, session.identity, session.roomName)) continue;
    if (
      smallest === undefined ||
      rule.limitSeconds < smallest.limitSeconds ||
      (rule.limitSeconds === smallest.limitSeconds && rule.id < smallest.id)
    ) {
      smallest = rule;
    }
  }
  return smallest;
}

/**
 * The live sessions in the rule's scope beyond `maxSessions`, keeping the oldest or newest rooms.
 * Twilio itself disconnects the older of two sessions in the same room, so a room counts once, with its newest
 * session, and with the age of the identity's continuous stay in it (`stayStart`): a page reload replaces the
 * session without making the stay newer, so a reload in the kept room is not kicked in place of the session already
 * chosen for a kick (whose disconnect may not have arrived yet), while coming back after leaving is a new stay. The
 * order is total (stay start, then the session's connect time and participant SID), so every decision over the same
 * state picks the same sessions, however many events race to decide.
 */
function sessionsOverLimit(
  presence: Presence,
  rule: DuplicateIdentity,
  now: number,
): { over: Session[]; settlesAt: Map<string, number> } {
  const newestPerRoom = new Map<string, Session>();
  for (const session of presence.sessions) {
    if (!isLive(session) || !duplicateScopeIncludes(rule, session.roomName)) continue;
    const current = newestPerRoom.get(session.roomSid);
    if (current === undefined || compareSessions(current, session) < 0) newestPerRoom.set(session.roomSid, session);
  }
  const byStay = (a: Session, b: Session) => stayStart(presence, a) - stayStart(presence, b) || compareSessions(a, b);
  const ordered = [...newestPerRoom.values()].sort(byStay);
  if (rule.keep === "newest") ordered.reverse();
  const kept = ordered.slice(0, rule.maxSessions);
  const over = ordered.slice(rule.maxSessions);
  // An adopted start is the start of its second: against a session of the same second, the order is a guess until
  // the connect callback gives the exact time, or the settle window passes without it.
  const settlesAt = new Map<string, number>();
  const settleEnd = (session: Session) =>
    session.startAdoptedAt === undefined ? 0 : session.startAdoptedAt + ADOPTION_SETTLE_MS;
  const second = (session: Session) => Math.floor(stayStart(presence, session) / 1000);
  for (const session of over) {
    for (const other of kept) {
      const until = Math.max(settleEnd(session), settleEnd(other));
      if (until > now && second(session) === second(other))
        settlesAt.set(session.participantSid, Math.max(until, settlesAt.get(session.participantSid) ?? 0));
    }
  }
  return { over, settlesAt };
}

/**
 * How long a duplicate-identity kick waits, after reconciliation adopts a session whose start Twilio gives only to
 * the second, when that session and the other are of the same second: the connect callback's exact Timestamp, if it
 * arrives meanwhile, decides the order; otherwise the adopted session counts as the older.
 */
export const ADOPTION_SETTLE_MS = 15_000;

/** A session that starts within this long of the previous one's end, in the same room, continues its stay. */
export const STAY_GAP_MS = 30_000;

/**
 * When the identity's stay in the session's room began: the connect time of the earliest session in an unbroken
 * chain of the identity's sessions in that room, each starting before (or within STAY_GAP_MS after) the end of the
 * one before it. Ended sessions are kept in presence for a day, so a reload's predecessor is there to be found.
 */
function stayStart(presence: Presence, session: Session): number {
  let start = connectTime(session);
  const earlier = presence.sessions
    .filter((other) => other.roomSid === session.roomSid && other !== session)
    .sort((a, b) => connectTime(b) - connectTime(a));
  for (const other of earlier) {
    if (connectTime(other) >= start) continue;
    const end = isLive(other) ? Number.POSITIVE_INFINITY : other.lastEventAt;
    if (end + STAY_GAP_MS >= start) start = connectTime(other);
  }
  return start;
}

const connectTime = (session: Session) => session.connectedAt ?? session.lastEventAt;

function compareSessions(a: Session, b: Session): number {
  return (
    connectTime(a) - connectTime(b) ||
    (a.participantSid < b.participantSid ? -1 : a.participantSid > b.participantSid ? 1 : 0)
  );
}

const rank = (session: Session, subject: Session) => (session === subject ? 0 : 1);

const kindOrder: Readonly<Record<Rule["kind"], number>> = { ban: 0, "max-duration": 1, "duplicate-identity": 2 };

/** Enforcing rules decide before dry-run ones; then bans, limits, duplicates; then rule id. */
function byPrecedence(a: Rule, b: Rule): number {
  const mode = (rule: Rule) => (rule.mode === "enforce" ? 0 : 1);
  return mode(a) - mode(b) || kindOrder[a.kind] - kindOrder[b.kind] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
