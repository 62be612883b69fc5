import type { Presence, Session } from "../sessions/presence.ts";

/**
 * What one rule kind says about a live session, in the shape the one evaluation (decide.ts) combines for every
 * kind: sessions it matches now, times at which it must be checked again, and matches held back until a time.
 */

/** A session the rule matches now: it is to be disconnected (or, in dry-run, audited as such). */
export interface Match<R> {
  readonly session: Session;
  readonly rule: R;
}

/** The session must be decided again at `deadlineAt`; a deadline already passed is a match. */
export interface Deadline<R> {
  readonly deadlineAt: number;
  readonly rule: R;
}

/** A match held back until `until` (e.g. while a session's order could still change), then decided again. */
export interface Wait<R> {
  readonly session: Session;
  readonly until: number;
  readonly rule: R;
}

/** A warning point: `point` seconds before the rule ends the session at `deadlineAt`, i.e. at `at`. */
export interface WarningPoint<R> {
  readonly rule: R;
  readonly point: number;
  readonly at: number;
  readonly deadlineAt: number;
}

export interface KindJudgement<R> {
  /** Matches and waits for `subject` (and, for rules about an identity's sessions together, its siblings). */
  judge(
    rules: readonly R[],
    subject: Session,
    presence: Presence,
    now: number,
  ): { matches: Match<R>[]; waits: Wait<R>[] };
  /** When a session's rules of this kind end it, whether passed or not. */
  deadlines(rules: readonly R[], session: Session, presence: Presence): Deadline<R>[];
  /** Why the rule would disconnect `subject`, in words for an operator (the join decision's answer). */
  denial(rule: R, subject: Session, presence: Presence): string;
  /** The points, passed or not, at which the session is to be warned of the end the rule will put to it. */
  warnings?(rules: readonly R[], session: Session, presence: Presence): WarningPoint<R>[];
}
