import type { ParticipantEvent } from "../callbacks/events.ts";
import {
  compareSessions,
  findSession,
  type Presence,
  type PresenceUpdate,
  type Session,
} from "../sessions/presence.ts";
import {
  type Deadline,
  deadlinesOf,
  isInForce,
  judge,
  kindPrecedence,
  type Rule,
  type RuleRef,
  ruleRef,
  type Wait,
  warningsOf,
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
      readonly rule: Rule;
      /** When `rule` ends the session, if the deadline is an earlier check on the way (a warning point). */
      readonly endsAt?: number;
    }
  /** The session ended: it has no deadline any more. */
  | { readonly type: "clear-deadline"; readonly session: Session }
  /**
   * Warn the session that `rule` ends it at `deadlineAt`: its warning point `point` seconds before has passed
   * (recorded once per point, session and rule version).
   */
  | {
      readonly type: "warn";
      readonly session: Session;
      readonly rule: Rule;
      readonly point: number;
      readonly deadlineAt: number;
    };

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

  // Every kind's say: matches now, deadlines (a passed one is a match), and matches held back until a time.
  const judged = judge(inForce, subject, presence, now);
  for (const { session, rule } of judged.matches) match(session, rule);
  const deadlines = (session: Session) => deadlinesOf(inForce, session, presence);
  for (const { deadlineAt, rule } of deadlines(subject)) if (deadlineAt <= now) match(subject, rule);
  const settling = new Map<string, Wait<Rule>>();
  for (const wait of judged.waits) {
    const waiting = settling.get(wait.session.participantSid);
    if (waiting === undefined || wait.until < waiting.until) settling.set(wait.session.participantSid, wait);
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
  // Warnings: of the points passed before the end, the latest (a late joiner gets the one it is within, not all).
  const points = subjectKicked ? [] : warningsOf(inForce, subject, presence);
  const due = points
    .filter(({ at, deadlineAt }) => at <= now && now < deadlineAt)
    .sort((a, b) => b.at - a.at || a.point - b.point)[0];
  if (due !== undefined) {
    actions.push({ type: "warn", session: subject, rule: due.rule, point: due.point, deadlineAt: due.deadlineAt });
  }
  /** The next time a session must be decided again: its next limit's deadline, or the end of a settle wait. */
  const nextCheck = (session: Session, passed: boolean) => {
    const wait = settling.get(session.participantSid);
    const candidates: Deadline<Rule>[] = [
      ...deadlines(session).filter(({ deadlineAt }) => passed || deadlineAt > now),
      ...(session === subject
        ? points.filter(({ at }) => at > now).map(({ at, rule }) => ({ deadlineAt: at, rule }))
        : []),
      ...(wait === undefined ? [] : [{ deadlineAt: wait.until, rule: wait.rule }]),
    ];
    return candidates.sort((a, b) => a.deadlineAt - b.deadlineAt)[0];
  };
  const next = nextCheck(subject, false);
  if (next !== undefined && !subjectKicked) {
    const ends = points.find((point) => point.at === next.deadlineAt && point.rule === next.rule)?.deadlineAt;
    actions.push({
      type: "set-deadline",
      session: subject,
      deadlineAt: next.deadlineAt,
      rule: next.rule,
      ...(ends === undefined ? {} : { endsAt: ends }),
    });
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

const rank = (session: Session, subject: Session) => (session === subject ? 0 : 1);

/** Enforcing rules decide before dry-run ones; then bans, limits, duplicates; then rule id. */
function byPrecedence(a: Rule, b: Rule): number {
  const mode = (rule: Rule) => (rule.mode === "enforce" ? 0 : 1);
  return (
    mode(a) - mode(b) || kindPrecedence(a.kind) - kindPrecedence(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}
