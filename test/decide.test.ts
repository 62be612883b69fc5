import { describe, expect, it } from "vitest";
import type { ParticipantEventType } from "../core/callbacks/events.ts";
import { type Action, decide } from "../core/rules/decide.ts";
import { STAY_GAP_MS } from "../core/rules/duplicate-identity.ts";
import type { Rule } from "../core/rules/rules.ts";
import type { Session } from "../core/sessions/presence.ts";
import { participantEvent, presence, rule, seconds, session, sid, T0 } from "./fixtures/domain.ts";

/** A compact view of actions: what happens to which participant, decided by which rule. */
function summary(actions: Action[]): string[] {
  return actions.map((action) => {
    switch (action.type) {
      case "kick":
      case "would-kick":
        return `${action.type} ${action.session.participantSid} by ${action.rule.id}${
          action.otherMatches.length ? ` (+${action.otherMatches.map((ref) => ref.id).join(",")})` : ""
        }`;
      case "set-deadline":
        return `deadline ${action.session.participantSid} +${(action.deadlineAt - T0) / 1000}s by ${action.rule.id}`;
      case "warn":
        return `warn ${action.session.participantSid} ${action.point}s before +${(action.deadlineAt - T0) / 1000}s by ${action.rule.id}`;
      default:
        return `clear ${action.session.participantSid}`;
    }
  });
}

const A = sid("PA", 0xa);
const B = sid("PA", 0xb);
const C = sid("PA", 0xc);
const ROOM1 = sid("RM", 1);
const ROOM2 = sid("RM", 2);
const ROOM3 = sid("RM", 3);

interface Case {
  name: string;
  sessions: Session[];
  /** The participant whose event is decided. */
  subject: string;
  event?: ParticipantEventType;
  rules: Rule[];
  now?: number;
  applied?: boolean;
  firstConnectedAt?: Record<string, number>;
  expected: string[];
}

const alice = session({ participantSid: A, roomSid: ROOM1, roomName: "room-1" });
/** The room of sessions that replace one another in a reload. */
const reloaded = { roomSid: ROOM1, roomName: "room-1" } as const;

const cases: Case[] = [
  // Bans
  { name: "no rules: nothing", sessions: [alice], subject: A, rules: [], expected: [] },
  {
    name: "exact ban on the identity kicks",
    sessions: [alice],
    subject: A,
    rules: [rule("ban-alice", { kind: "ban", identity: "alice", reason: "abuse" })],
    expected: [`kick ${A} by ban-alice`],
  },
  {
    name: "exact ban on another identity does nothing",
    sessions: [alice],
    subject: A,
    rules: [rule("ban-bob", { kind: "ban", identity: "bob", reason: "abuse" })],
    expected: [],
  },
  {
    name: "pattern ban matching the identity kicks",
    sessions: [session({ participantSid: A, identity: "guest-42" })],
    subject: A,
    rules: [rule("no-guests", { kind: "ban", identityPattern: "guest-*", reason: "members only" })],
    expected: [`kick ${A} by no-guests`],
  },
  {
    name: "pattern ban not matching does nothing",
    sessions: [session({ participantSid: A, identity: "host-1" })],
    subject: A,
    rules: [rule("no-guests", { kind: "ban", identityPattern: "guest-*", reason: "members only" })],
    expected: [],
  },
  {
    name: "room-scoped ban kicks inside its rooms",
    sessions: [session({ participantSid: A, roomName: "exam-7" })],
    subject: A,
    rules: [rule("exam-ban", { kind: "ban", identity: "alice", roomPattern: "exam-*", reason: "cheating" })],
    expected: [`kick ${A} by exam-ban`],
  },
  {
    name: "room-scoped ban ignores other rooms",
    sessions: [session({ participantSid: A, roomName: "lobby" })],
    subject: A,
    rules: [rule("exam-ban", { kind: "ban", identity: "alice", roomPattern: "exam-*", reason: "cheating" })],
    expected: [],
  },
  {
    name: "expired temporary ban does nothing",
    sessions: [alice],
    subject: A,
    now: T0,
    rules: [
      rule("temp", { kind: "ban", identity: "alice", reason: "cool-off", expiresAt: new Date(T0).toISOString() }),
    ],
    expected: [],
  },
  {
    name: "temporary ban before its expiry kicks",
    sessions: [alice],
    subject: A,
    now: T0,
    rules: [
      rule("temp", { kind: "ban", identity: "alice", reason: "cool-off", expiresAt: new Date(T0 + 1).toISOString() }),
    ],
    expected: [`kick ${A} by temp`],
  },
  {
    name: "disabled ban does nothing",
    sessions: [alice],
    subject: A,
    rules: [rule("off", { kind: "ban", identity: "alice", reason: "x", enabled: false })],
    expected: [],
  },
  {
    name: "dry-run ban only would kick",
    sessions: [alice],
    subject: A,
    rules: [rule("trial", { kind: "ban", identity: "alice", reason: "x", mode: "dry-run" })],
    expected: [`would-kick ${A} by trial`],
  },
  {
    name: "an enforcing rule decides over a dry-run one, which is listed",
    sessions: [alice],
    subject: A,
    rules: [
      rule("a-trial", { kind: "ban", identityPattern: "*", reason: "x", mode: "dry-run" }),
      rule("z-real", { kind: "ban", identity: "alice", reason: "x" }),
    ],
    expected: [`kick ${A} by z-real (+a-trial)`],
  },
  // Max duration
  {
    name: "max duration sets the deadline from the connect Timestamp",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(1),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600 })],
    expected: [`deadline ${A} +3600s by hour`],
  },
  {
    name: "smallest applicable limit wins",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(1),
    rules: [
      rule("hour", { kind: "max-duration", limitSeconds: 3600 }),
      rule("half", { kind: "max-duration", limitSeconds: 1800, roomPattern: "room-*" }),
      rule("tiny-elsewhere", { kind: "max-duration", limitSeconds: 60, roomPattern: "other-*" }),
      rule("tiny-for-bob", { kind: "max-duration", limitSeconds: 60, identityPattern: "bob" }),
    ],
    expected: [`deadline ${A} +1800s by half`],
  },
  {
    name: "past the deadline the participant is kicked by the limit",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(60),
    rules: [rule("minute", { kind: "max-duration", limitSeconds: 60 })],
    expected: [`kick ${A} by minute`],
  },
  {
    name: "one millisecond before the deadline is not a kick",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(60) - 1,
    rules: [rule("minute", { kind: "max-duration", limitSeconds: 60 })],
    expected: [`deadline ${A} +60s by minute`],
  },
  {
    name: "a reconnect (same participant) keeps the original clock",
    sessions: [session({ participantSid: A, connectedAt: T0, lastEventAt: T0 + seconds(50) })],
    subject: A,
    event: "participant-reconnected",
    now: T0 + seconds(50),
    rules: [rule("minute", { kind: "max-duration", limitSeconds: 60 })],
    expected: [`deadline ${A} +60s by minute`],
  },
  {
    name: "rejoining the same room (new participant) keeps the identity's first clock",
    sessions: [
      session({ participantSid: A, status: "disconnected", connectedAt: T0, lastEventAt: T0 + seconds(30) }),
      session({ participantSid: B, connectedAt: T0 + seconds(40), lastEventAt: T0 + seconds(40) }),
    ],
    subject: B,
    now: T0 + seconds(40),
    rules: [rule("minute", { kind: "max-duration", limitSeconds: 60 })],
    expected: [`deadline ${B} +60s by minute`],
  },
  {
    name: "a banned participant gets no deadline, only the kick",
    sessions: [alice],
    subject: A,
    rules: [
      rule("ban", { kind: "ban", identity: "alice", reason: "x" }),
      rule("hour", { kind: "max-duration", limitSeconds: 3600 }),
    ],
    expected: [`kick ${A} by ban`],
  },
  {
    name: "a dry-run ban still leaves the deadline to be set",
    sessions: [alice],
    subject: A,
    rules: [
      rule("trial", { kind: "ban", identity: "alice", reason: "x", mode: "dry-run" }),
      rule("hour", { kind: "max-duration", limitSeconds: 3600 }),
    ],
    expected: [`would-kick ${A} by trial`, `deadline ${A} +3600s by hour`],
  },
  // Duplicate identity
  {
    name: "keep oldest: the newer session is kicked",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: B,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${B} by one`],
  },
  {
    name: "keep oldest, decided from the older session's event: still the newer one",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: A,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${B} by one`],
  },
  {
    name: "keep newest: the older session is kicked",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: B,
    rules: [rule("newest", { kind: "duplicate-identity", keep: "newest" })],
    expected: [`kick ${A} by newest`],
  },
  {
    name: "keep oldest: a reload in the kept room, before the kicked session's disconnect, kicks that one again",
    sessions: [
      session({ ...reloaded, participantSid: A, status: "disconnected", connectedAt: T0, lastEventAt: T0 + 20 }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 10 }),
      session({ ...reloaded, participantSid: C, connectedAt: T0 + 20 }),
    ],
    subject: C,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${B} by one`],
  },
  {
    name: "keep oldest: a reload before the old session's disconnect arrives continues the stay too",
    sessions: [
      session({ ...reloaded, participantSid: A, connectedAt: T0 }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 10 }),
      session({ ...reloaded, participantSid: C, connectedAt: T0 + 20 }),
    ],
    subject: C,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${B} by one`],
  },
  {
    name: "keep newest: a reload in an older room does not make its stay the newest",
    sessions: [
      session({ ...reloaded, participantSid: A, status: "disconnected", connectedAt: T0, lastEventAt: T0 + 20 }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 10 }),
      session({ ...reloaded, participantSid: C, connectedAt: T0 + 20 }),
    ],
    subject: C,
    rules: [rule("newest", { kind: "duplicate-identity", keep: "newest" })],
    expected: [`kick ${C} by newest`],
  },
  {
    name: "keep oldest: coming back to a room left a while ago is a new stay, kicked in favour of the other room",
    sessions: [
      session({ ...reloaded, participantSid: A, status: "disconnected", connectedAt: T0, lastEventAt: T0 + 5_000 }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 10_000 }),
      session({ ...reloaded, participantSid: C, connectedAt: T0 + 5_000 + STAY_GAP_MS + 1 }),
    ],
    firstConnectedAt: { [ROOM1]: T0, [ROOM2]: T0 + 10_000 },
    subject: C,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${C} by one`],
  },
  {
    name: "maxSessions 2 keeps the two oldest of three",
    sessions: [
      alice,
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 }),
      session({ participantSid: C, roomSid: ROOM3, roomName: "room-3", connectedAt: T0 + 9 }),
    ],
    subject: C,
    rules: [rule("two", { kind: "duplicate-identity", maxSessions: 2 })],
    expected: [`kick ${C} by two`],
  },
  {
    name: "equal connect times are ordered by participant SID",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 })],
    subject: A,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [`kick ${B} by one`],
  },
  {
    name: "room scope: a session outside the scope does not count",
    sessions: [
      session({ participantSid: A, roomName: "class-1" }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "lobby", connectedAt: T0 + 5 }),
    ],
    subject: B,
    rules: [rule("classes", { kind: "duplicate-identity", roomPattern: "class-*" })],
    expected: [],
  },
  {
    name: "room scope: two sessions inside the scope are a duplicate",
    sessions: [
      session({ participantSid: A, roomName: "class-1" }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "class-2", connectedAt: T0 + 5 }),
    ],
    subject: B,
    rules: [rule("classes", { kind: "duplicate-identity", roomPattern: "class-*" })],
    expected: [`kick ${B} by classes`],
  },
  {
    name: "two sessions in the same room are Twilio's to resolve, not a cross-room duplicate",
    sessions: [alice, session({ participantSid: B, connectedAt: T0 + 5 })],
    subject: B,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [],
  },
  {
    name: "an ended session does not count",
    sessions: [
      session({ participantSid: A, status: "disconnected" }),
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 }),
    ],
    subject: B,
    rules: [rule("one", { kind: "duplicate-identity" })],
    expected: [],
  },
  {
    name: "dry-run duplicate rule only would kick",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: B,
    rules: [rule("one", { kind: "duplicate-identity", mode: "dry-run" })],
    expected: [`would-kick ${B} by one`],
  },
  // Precedence
  {
    name: "ban decides over duplicate identity; the duplicate rule is listed",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: B,
    rules: [rule("one", { kind: "duplicate-identity" }), rule("ban", { kind: "ban", identity: "alice", reason: "x" })],
    expected: [`kick ${B} by ban (+one)`],
  },
  {
    name: "ban decides over an expired limit",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(120),
    rules: [
      rule("minute", { kind: "max-duration", limitSeconds: 60 }),
      rule("ban", { kind: "ban", identity: "alice", reason: "x" }),
    ],
    expected: [`kick ${A} by ban (+minute)`],
  },
  {
    name: "the subject's kick comes first, then its sibling's",
    sessions: [alice, session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 })],
    subject: A,
    rules: [
      rule("ban-in-room-1", { kind: "ban", identity: "alice", roomPattern: "room-1", reason: "x" }),
      rule("one", { kind: "duplicate-identity" }),
    ],
    expected: [`kick ${A} by ban-in-room-1`, `kick ${B} by one`],
  },
  // Order and state
  {
    name: "a stale event (not applied) decides nothing",
    sessions: [alice],
    subject: A,
    applied: false,
    rules: [rule("ban", { kind: "ban", identity: "alice", reason: "x" })],
    expected: [],
  },
  {
    name: "a connect that lost to an earlier-arrived disconnect decides nothing",
    sessions: [session({ participantSid: A, status: "disconnected", lastEventAt: T0 + 10 })],
    subject: A,
    applied: false,
    rules: [rule("ban", { kind: "ban", identity: "alice", reason: "x" })],
    expected: [],
  },
  {
    name: "a disconnect clears the deadline",
    sessions: [session({ participantSid: A, status: "disconnected" })],
    subject: A,
    event: "participant-disconnected",
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600 })],
    expected: [`clear ${A}`],
  },
  // Time warnings
  {
    name: "a limit with warning points is checked first at the earliest point",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(1),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [60, 300] })],
    expected: [`deadline ${A} +3300s by hour`],
  },
  {
    name: "at a warning point: warned, and checked again at the next point",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(3300),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [300, 60] })],
    expected: [`warn ${A} 300s before +3600s by hour`, `deadline ${A} +3540s by hour`],
  },
  {
    name: "after the last point: warned with it, and checked again at the limit",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(3541),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [300, 60] })],
    expected: [`warn ${A} 60s before +3600s by hour`, `deadline ${A} +3600s by hour`],
  },
  {
    name: "a late joiner within both points gets the nearest one only, at once",
    sessions: [alice],
    subject: A,
    now: T0 + 1,
    firstConnectedAt: { [ROOM1]: T0 - seconds(3560) },
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [300, 60] })],
    expected: [`warn ${A} 60s before +40s by hour`, `deadline ${A} +40s by hour`],
  },
  {
    name: "at the deadline: kicked, never warned",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(3600),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [300, 60] })],
    expected: [`kick ${A} by hour`],
  },
  {
    name: "a dry-run limit warns nobody",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(3300),
    rules: [rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [300], mode: "dry-run" })],
    expected: [`deadline ${A} +3600s by hour`],
  },
  {
    name: "the warnings are the deciding limit's: the smallest enforcing one",
    sessions: [alice],
    subject: A,
    now: T0 + seconds(1650),
    rules: [
      rule("hour", { kind: "max-duration", limitSeconds: 3600, warnBeforeSeconds: [2000] }),
      rule("half", { kind: "max-duration", limitSeconds: 1800, warnBeforeSeconds: [120] }),
    ],
    expected: [`deadline ${A} +1680s by half`],
  },
  {
    name: "while reconnecting nothing is decided",
    sessions: [session({ participantSid: A, status: "reconnecting" })],
    subject: A,
    event: "participant-reconnecting",
    rules: [rule("ban", { kind: "ban", identity: "alice", reason: "x" })],
    expected: [],
  },
];

describe("decide", () => {
  it.each(cases)("$name", (c) => {
    const state = presence(c.sessions, c.firstConnectedAt);
    const subject = c.sessions.find((s) => s.participantSid === c.subject) as Session;
    const event = participantEvent(c.event ?? "participant-connected", subject);
    const actions = decide(event, { applied: c.applied ?? true, presence: state }, c.rules, c.now ?? T0 + 1);
    expect(summary(actions)).toEqual(c.expected);
  });

  it("hands the audit trail the deciding rule's full snapshot and the other matches' versions", () => {
    const ban = rule("ban", { kind: "ban", identity: "alice", reason: "abuse" }, 3);
    const trial = rule("trial", { kind: "ban", identityPattern: "a*", reason: "x", mode: "dry-run" }, 2);
    const [action] = decide(
      participantEvent("participant-connected", alice),
      { applied: true, presence: presence([alice]) },
      [trial, ban],
      T0,
    );
    expect(action).toMatchObject({
      type: "kick",
      rule: ban,
      otherMatches: [{ id: "trial", version: 2, mode: "dry-run" }],
    });
  });

  it("is pure: the same input gives the same actions, and the input is not changed", () => {
    const rules = [
      rule("one", { kind: "duplicate-identity" }),
      rule("hour", { kind: "max-duration", limitSeconds: 60 }),
    ];
    const state = presence([
      alice,
      session({ participantSid: B, roomSid: ROOM2, roomName: "room-2", connectedAt: T0 + 5 }),
    ]);
    const frozen = structuredClone(state);
    const event = participantEvent("participant-connected", alice);
    const first = decide(event, { applied: true, presence: state }, rules, T0 + 1);
    const second = decide(event, { applied: true, presence: state }, rules, T0 + 1);
    expect(second).toEqual(first);
    expect(state).toEqual(frozen);
  });
});
