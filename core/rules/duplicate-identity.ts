import { z } from "zod";
import { compareSessions, connectTime, isLive, type Presence, type Session } from "../sessions/presence.ts";
import { inScope, pattern, ruleMeta, specCommon } from "./fields.ts";
import type { KindJudgement, Match, Wait } from "./judgement.ts";

/**
 * Duplicate identity: one identity live in more rooms in scope than `maxSessions`; the rooms not kept (the older or
 * the newer stays) are disconnected.
 */

export const duplicateIdentitySpec = z.strictObject({
  kind: z.literal("duplicate-identity"),
  ...specCommon,
  maxSessions: z
    .number({ error: "expected a number of sessions" })
    .int("expected a whole number")
    .min(1, "expected at least 1")
    .max(100, "expected at most 100")
    .default(1),
  keep: z.enum(["oldest", "newest"]).default("oldest"),
  roomPattern: pattern.optional(),
});

/** A stored duplicate-identity rule. */
export const duplicateIdentityRule = duplicateIdentitySpec.safeExtend(ruleMeta);
export type DuplicateIdentity = z.output<typeof duplicateIdentityRule>;

export function duplicateScopeIncludes(rule: DuplicateIdentity, roomName: string): boolean {
  return inScope(rule.roomPattern, roomName);
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

/**
 * Each rule whose scope holds the subject's room matches the sessions over its limit; one whose order an adopted
 * session's exact start could still reverse waits for it, until then. It sets no deadline of its own.
 */
export const duplicateIdentityJudgement: KindJudgement<DuplicateIdentity> = {
  judge: (rules, subject, presence, now) => {
    const matches: Match<DuplicateIdentity>[] = [];
    const waits: Wait<DuplicateIdentity>[] = [];
    for (const rule of rules) {
      if (!duplicateScopeIncludes(rule, subject.roomName)) continue;
      const { over, settlesAt } = sessionsOverLimit(presence, rule, now);
      for (const session of over) {
        const until = settlesAt.get(session.participantSid);
        if (until === undefined) matches.push({ session, rule });
        else waits.push({ session, until, rule });
      }
    }
    return { matches, waits };
  },
  deadlines: () => [],
  denial: (rule, subject, presence) => {
    const elsewhere = new Set(
      presence.sessions
        .filter((s) => s !== subject && isLive(s) && s.roomSid !== subject.roomSid)
        .filter((s) => duplicateScopeIncludes(rule, s.roomName))
        .map((s) => s.roomSid),
    );
    return `already connected in ${elsewhere.size} room(s)`;
  },
};
