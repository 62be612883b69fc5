import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { joinDecision } from "../core/admin/admin.ts";
import { isParticipantEvent, type ParticipantEvent, parseStatusCallback } from "../core/callbacks/events.ts";
import { decide } from "../core/rules/decide.ts";
import { type Rule, ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { applyChange, type Presence, presenceChange } from "../core/sessions/presence.ts";
import { participantCallback, sid } from "./fixtures/callbacks.ts";

/**
 * The join decision (GET /admin/decisions) against the enforcer: for any rules, presence and time, "may X join room
 * Y now?" says denied exactly when the enforcer would kick the connect of X joining Y at that moment.
 */

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const IDENTITY = "ada";
const ROOMS = [
  { sid: sid("RM", 1), name: "exam-1" },
  { sid: sid("RM", 2), name: "exam-2" },
  { sid: sid("RM", 3), name: "lobby" },
  /** A room the identity has never been in. */
  { sid: sid("RM", 4), name: "exam-9" },
] as const;

function participantEvent(type: ParticipantEvent["type"], participantSid: string, room: number, at: number) {
  const target = ROOMS[room] as (typeof ROOMS)[number];
  const event = parseStatusCallback(
    participantCallback(type, {
      ParticipantIdentity: IDENTITY,
      ParticipantSid: participantSid,
      RoomSid: target.sid,
      RoomName: target.name,
      Timestamp: new Date(at).toISOString(),
    }),
  );
  if (!isParticipantEvent(event)) throw new Error("not a participant event");
  return event;
}

let ruleCount = 0;
function rule(spec: Record<string, unknown>): Rule {
  ruleCount += 1;
  const now = new Date(T0).toISOString();
  const meta = { id: `rule-${ruleCount}`, version: 1, createdAt: now, createdBy: "t", updatedAt: now, updatedBy: "t" };
  return ruleSchema.parse({ ...ruleSpecSchema.parse(spec), ...meta });
}

const mode = fc.constantFrom("enforce", "dry-run");
const roomPattern = fc.option(fc.constantFrom("exam-*", "lobby", "exam-1"), { nil: undefined });
const ruleArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    kind: fc.constant("ban"),
    target: fc.constantFrom({ identity: IDENTITY }, { identityPattern: "a*" }, { identityPattern: "b*" }),
    roomPattern,
    expired: fc.boolean(),
    mode,
    enabled: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("max-duration"),
    limitSeconds: fc.integer({ min: 1, max: 900 }),
    roomPattern,
    mode,
    enabled: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("duplicate-identity"),
    maxSessions: fc.integer({ min: 1, max: 2 }),
    keep: fc.constantFrom("oldest", "newest"),
    roomPattern,
    mode,
    enabled: fc.boolean(),
  }),
);

/** The spec as an operator writes it (optional fields left out). */
function specOf(generated: Record<string, unknown>): Record<string, unknown> {
  const { target, expired, roomPattern: scope, ...rest } = generated;
  return {
    ...rest,
    ...(target as object | undefined),
    ...(scope === undefined ? {} : { roomPattern: scope }),
    ...(generated.kind === "ban"
      ? { reason: "r", ...(expired === true ? { expiresAt: new Date(T0 - 1000).toISOString() } : {}) }
      : {}),
  };
}

/** Sessions of the identity: a room, when it connected, and when (if) it left, in seconds after T0. */
const historyArb = fc.array(
  fc.record({
    room: fc.integer({ min: 0, max: 2 }),
    connectAt: fc.integer({ min: 0, max: 600 }),
    stay: fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
  }),
  { maxLength: 4 },
);

/** Presence after the history's callbacks, applied in time order as the store applies them. */
function presenceOf(history: readonly { room: number; connectAt: number; stay: number | undefined }[]) {
  const events = history.flatMap(({ room, connectAt, stay }, i) => [
    participantEvent("participant-connected", sid("PA", i + 1), room, T0 + connectAt * 1000),
    ...(stay === undefined
      ? []
      : [participantEvent("participant-disconnected", sid("PA", i + 1), room, T0 + (connectAt + stay) * 1000)]),
  ]);
  let presence: Presence | undefined;
  for (const event of events.sort((a, b) => a.timestamp - b.timestamp)) {
    presence = applyChange(presence, presenceChange(event)).presence;
  }
  return presence;
}

describe("the join decision", () => {
  it("says denied exactly when the enforcer would kick that connect, for any rules, presence and time", () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 4 }),
        historyArb,
        fc.integer({ min: 0, max: 1800 }),
        fc.integer({ min: 0, max: 3 }),
        (specs, history, nowSeconds, room) => {
          const rules = specs.map((spec) => rule(specOf(spec)));
          const presence = presenceOf(history);
          const now = T0 + nowSeconds * 1000;
          const target = ROOMS[room] as (typeof ROOMS)[number];

          const join = joinDecision(IDENTITY, target.name, presence, rules, now);

          const connect = participantEvent("participant-connected", sid("PA", 99), room, now);
          const actions = decide(connect, applyChange(presence, presenceChange(connect)), rules, now);
          const kicked = actions.some((a) => a.type === "kick" && a.session.participantSid === connect.participant.sid);
          expect(join.allowed).toBe(!kicked);
          // And every rule it says denies is one the enforcer's kick names.
          const kickRules = actions.flatMap((a) =>
            a.type === "kick" && a.session.participantSid === connect.participant.sid
              ? [a.rule.id, ...a.otherMatches.map((m) => m.id)]
              : [],
          );
          for (const said of join.rules.filter((r) => r.effect === "deny")) expect(kickRules).toContain(said.id);
        },
      ),
      { numRuns: process.env.RELIABILITY_FULL === "1" ? 5000 : 500 },
    );
  });

  it("denies a rejoin whose time limit in that room is used up (a rejoin does not reset the clock)", () => {
    const limit = rule({ kind: "max-duration", limitSeconds: 600, roomPattern: "exam-*" });
    const presence = presenceOf([{ room: 0, connectAt: 0, stay: 300 }]);
    expect(joinDecision(IDENTITY, "exam-1", presence, [limit], T0 + 599_000)).toMatchObject({ allowed: true });
    expect(joinDecision(IDENTITY, "exam-1", presence, [limit], T0 + 600_000)).toMatchObject({
      allowed: false,
      rules: [{ id: limit.id, effect: "deny" }],
    });
    // Another room's clock has not started: allowed, with the limit to come.
    expect(joinDecision(IDENTITY, "exam-2", presence, [limit], T0 + 600_000)).toMatchObject({
      allowed: true,
      rules: [{ id: limit.id, effect: "limit" }],
    });
  });

  it("a reload in the room the identity is in is not a duplicate; a second room is", () => {
    const duplicates = rule({ kind: "duplicate-identity", maxSessions: 1, keep: "oldest" });
    const presence = presenceOf([{ room: 0, connectAt: 0, stay: undefined }]);
    expect(joinDecision(IDENTITY, "exam-1", presence, [duplicates], T0 + 60_000)).toMatchObject({ allowed: true });
    expect(joinDecision(IDENTITY, "exam-2", presence, [duplicates], T0 + 60_000)).toMatchObject({
      allowed: false,
      rules: [{ id: duplicates.id, effect: "deny", detail: "already connected in 1 room(s)" }],
    });
    const newest = rule({ kind: "duplicate-identity", maxSessions: 1, keep: "newest" });
    expect(joinDecision(IDENTITY, "exam-2", presence, [newest], T0 + 60_000)).toMatchObject({
      allowed: true,
      rules: [{ id: newest.id, effect: "disconnects-others" }],
    });
  });
});
