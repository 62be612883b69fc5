import { describe, expect, it } from "vitest";
import {
  type Ban,
  banMatches,
  type DuplicateIdentity,
  duplicateScopeIncludes,
  isExactBan,
  isInForce,
  type MaxDuration,
  maxDurationApplies,
  type Rule,
  type RuleSpec,
  ruleRef,
  ruleSchema,
  ruleSpecSchema,
} from "../core/rules/rules.ts";
import { parse } from "../core/validation.ts";
import { namedFields, validationErrorOf } from "./support/validation.ts";

const NOW = Date.parse("2026-11-21T10:00:00.000Z");

const META = {
  id: "rule-1",
  version: 3,
  createdAt: "2026-11-01T09:00:00.000Z",
  createdBy: "arn:aws:iam::123456789012:user/ops",
  updatedAt: "2026-11-02T09:00:00.000Z",
  updatedBy: "arn:aws:iam::123456789012:user/ops",
};

const storedRule = (fields: Record<string, unknown>): Rule => parse(ruleSchema, { ...META, ...fields }, "stored rule");

function storedBan(fields: Record<string, unknown>): Ban {
  const rule = storedRule({ kind: "ban", reason: "abuse", ...fields });
  if (rule.kind !== "ban") throw new Error("expected a ban");
  return rule;
}

function storedMaxDuration(fields: Record<string, unknown>): MaxDuration {
  const rule = storedRule({ kind: "max-duration", limitSeconds: 3600, ...fields });
  if (rule.kind !== "max-duration") throw new Error("expected a max-duration rule");
  return rule;
}

function storedDuplicateIdentity(fields: Record<string, unknown>): DuplicateIdentity {
  const rule = storedRule({ kind: "duplicate-identity", ...fields });
  if (rule.kind !== "duplicate-identity") throw new Error("expected a duplicate-identity rule");
  return rule;
}

describe("ruleSpecSchema: valid specs", () => {
  it.each<{ name: string; input: Record<string, unknown>; expected: RuleSpec }>([
    {
      name: "an exact ban, enabled and enforced by default",
      input: { kind: "ban", identity: "mallory", reason: "harassment" },
      expected: { kind: "ban", enabled: true, mode: "enforce", identity: "mallory", reason: "harassment" },
    },
    {
      name: "a pattern ban scoped to rooms, temporary, dry-run and disabled as written",
      input: {
        kind: "ban",
        identityPattern: "guest*",
        roomPattern: "clinic_*",
        expiresAt: "2026-12-01T00:00:00.000Z",
        reason: "no guests in clinics",
        description: "trial",
        mode: "dry-run",
        enabled: false,
      },
      expected: {
        kind: "ban",
        enabled: false,
        mode: "dry-run",
        description: "trial",
        identityPattern: "guest*",
        roomPattern: "clinic_*",
        expiresAt: "2026-12-01T00:00:00.000Z",
        reason: "no guests in clinics",
      },
    },
    {
      name: "a ban expiring at a time with an offset",
      input: { kind: "ban", identity: "mallory", reason: "cool-off", expiresAt: "2026-12-01T02:00:00+02:00" },
      expected: {
        kind: "ban",
        enabled: true,
        mode: "enforce",
        identity: "mallory",
        reason: "cool-off",
        expiresAt: "2026-12-01T02:00:00+02:00",
      },
    },
    {
      name: "a max-duration rule, enabled and enforced by default",
      input: { kind: "max-duration", limitSeconds: 1800 },
      expected: { kind: "max-duration", enabled: true, mode: "enforce", limitSeconds: 1800 },
    },
    {
      name: "a max-duration rule scoped by room and identity",
      input: { kind: "max-duration", limitSeconds: 1, roomPattern: "paid*", identityPattern: "student?" },
      expected: {
        kind: "max-duration",
        enabled: true,
        mode: "enforce",
        limitSeconds: 1,
        roomPattern: "paid*",
        identityPattern: "student?",
      },
    },
    {
      name: "a max-duration rule of exactly 7 days",
      input: { kind: "max-duration", limitSeconds: 604800 },
      expected: { kind: "max-duration", enabled: true, mode: "enforce", limitSeconds: 604800 },
    },
    {
      name: "a duplicate-identity rule keeping one oldest session by default",
      input: { kind: "duplicate-identity" },
      expected: { kind: "duplicate-identity", enabled: true, mode: "enforce", maxSessions: 1, keep: "oldest" },
    },
    {
      name: "a duplicate-identity rule keeping the newest 3 sessions in some rooms",
      input: { kind: "duplicate-identity", maxSessions: 3, keep: "newest", roomPattern: "exam*" },
      expected: {
        kind: "duplicate-identity",
        enabled: true,
        mode: "enforce",
        maxSessions: 3,
        keep: "newest",
        roomPattern: "exam*",
      },
    },
  ])("accepts $name", ({ input, expected }) => {
    expect(parse(ruleSpecSchema, input, "rule")).toStrictEqual(expected);
  });
});

describe("ruleSpecSchema: invalid specs name the field", () => {
  const exactBan = { kind: "ban", identity: "mallory", reason: "harassment" };
  const maxDuration = { kind: "max-duration", limitSeconds: 3600 };
  const duplicateIdentity = { kind: "duplicate-identity" };

  it.each<{ name: string; input: Record<string, unknown>; field: string }>([
    { name: "an unknown field on a ban", input: { ...exactBan, room: "lobby" }, field: "room" },
    {
      name: "a misspelt scope on a max-duration rule",
      input: { ...maxDuration, roomPatern: "paid*" },
      field: "roomPatern",
    },
    {
      name: "a ban with both identity and identityPattern",
      input: { ...exactBan, identityPattern: "mal*" },
      field: "identity",
    },
    {
      name: "a ban with neither identity nor identityPattern",
      input: { kind: "ban", reason: "harassment" },
      field: "identity",
    },
    { name: "a ban with an empty identity", input: { ...exactBan, identity: "" }, field: "identity" },
    {
      name: "a ban with an identity longer than 256 characters",
      input: { ...exactBan, identity: "x".repeat(257) },
      field: "identity",
    },
    {
      name: "a ban with an empty identityPattern",
      input: { kind: "ban", identityPattern: "", reason: "x" },
      field: "identityPattern",
    },
    { name: "a ban with an empty roomPattern", input: { ...exactBan, roomPattern: "" }, field: "roomPattern" },
    {
      name: "a warning point as long as the limit",
      input: { ...maxDuration, warnBeforeSeconds: [300, 3600] },
      field: "warnBeforeSeconds.1",
    },
    {
      name: "a warning point given twice",
      input: { ...maxDuration, warnBeforeSeconds: [60, 60] },
      field: "warnBeforeSeconds.1",
    },
    { name: "a warning point of 0 s", input: { ...maxDuration, warnBeforeSeconds: [0] }, field: "warnBeforeSeconds.0" },
    {
      name: "an empty list of warning points",
      input: { ...maxDuration, warnBeforeSeconds: [] },
      field: "warnBeforeSeconds",
    },
    {
      name: "eleven warning points",
      input: { ...maxDuration, warnBeforeSeconds: Array.from({ length: 11 }, (_, i) => i + 1) },
      field: "warnBeforeSeconds",
    },
    { name: "a ban with an empty reason", input: { ...exactBan, reason: "" }, field: "reason" },
    { name: "a ban without a reason", input: { kind: "ban", identity: "mallory" }, field: "reason" },
    { name: "a ban expiring at a time in words", input: { ...exactBan, expiresAt: "next week" }, field: "expiresAt" },
    {
      name: "a ban expiring on a date without a time",
      input: { ...exactBan, expiresAt: "2026-12-01" },
      field: "expiresAt",
    },
    {
      name: "a ban expiring at a time without a zone",
      input: { ...exactBan, expiresAt: "2026-12-01T00:00:00" },
      field: "expiresAt",
    },
    {
      name: "a ban expiring at epoch milliseconds",
      input: { ...exactBan, expiresAt: 1795255200000 },
      field: "expiresAt",
    },
    { name: "limitSeconds 0", input: { ...maxDuration, limitSeconds: 0 }, field: "limitSeconds" },
    { name: "negative limitSeconds", input: { ...maxDuration, limitSeconds: -60 }, field: "limitSeconds" },
    { name: "limitSeconds 1.5", input: { ...maxDuration, limitSeconds: 1.5 }, field: "limitSeconds" },
    { name: 'limitSeconds "60" as a string', input: { ...maxDuration, limitSeconds: "60" }, field: "limitSeconds" },
    { name: "limitSeconds over 7 days", input: { ...maxDuration, limitSeconds: 604801 }, field: "limitSeconds" },
    { name: "a max-duration rule without limitSeconds", input: { kind: "max-duration" }, field: "limitSeconds" },
    { name: "maxSessions 0", input: { ...duplicateIdentity, maxSessions: 0 }, field: "maxSessions" },
    { name: "maxSessions 2.5", input: { ...duplicateIdentity, maxSessions: 2.5 }, field: "maxSessions" },
    { name: "maxSessions over 100", input: { ...duplicateIdentity, maxSessions: 101 }, field: "maxSessions" },
    { name: 'keep "middle"', input: { ...duplicateIdentity, keep: "middle" }, field: "keep" },
    { name: 'mode "maybe"', input: { ...exactBan, mode: "maybe" }, field: "mode" },
    { name: 'enabled "true" as a string', input: { ...maxDuration, enabled: "true" }, field: "enabled" },
    {
      name: "a description over 1000 characters",
      input: { ...duplicateIdentity, description: "d".repeat(1001) },
      field: "description",
    },
    { name: 'an unknown kind "mute"', input: { kind: "mute", identity: "mallory" }, field: "kind" },
    { name: "a spec without a kind", input: { identity: "mallory", reason: "harassment" }, field: "kind" },
  ])("rejects $name, naming $field", ({ input, field }) => {
    const error = validationErrorOf(() => parse(ruleSpecSchema, input, "rule"));
    expect(namedFields(error)).toEqual([field]);
  });
});

describe("ruleSchema: stored rules", () => {
  it.each([
    { kind: "ban", identity: "mallory", reason: "harassment" },
    { kind: "max-duration", limitSeconds: 60 },
    { kind: "duplicate-identity", keep: "newest" },
  ])("accepts a stored $kind rule with its id, version and history", (spec) => {
    const rule = parse(ruleSchema, { ...META, ...spec }, "stored rule");
    expect(rule).toMatchObject({ ...META, ...spec, enabled: true, mode: "enforce" });
  });

  it.each(["r", "A1", "ban_42", "rule-1", "x".repeat(64), "0abc"])("accepts the rule id %j", (id) => {
    expect(storedBan({ id, identity: "mallory" }).id).toBe(id);
  });

  it.each<{ name: string; fields: Record<string, unknown>; field: string }>([
    { name: "an id with a space", fields: { id: "bad id" }, field: "id" },
    { name: "an id with a slash", fields: { id: "a/b" }, field: "id" },
    { name: "an id with a dot", fields: { id: "a.b" }, field: "id" },
    { name: "an id starting with a dash", fields: { id: "-rule" }, field: "id" },
    { name: "an id with a non-ASCII letter", fields: { id: "règle" }, field: "id" },
    { name: "an empty id", fields: { id: "" }, field: "id" },
    { name: "an id of 65 characters", fields: { id: "x".repeat(65) }, field: "id" },
    { name: "version 0", fields: { version: 0 }, field: "version" },
    { name: "version 1.5", fields: { version: 1.5 }, field: "version" },
    { name: 'version "1" as a string', fields: { version: "1" }, field: "version" },
    { name: "a createdAt in words", fields: { createdAt: "today" }, field: "createdAt" },
    { name: "an empty createdBy", fields: { createdBy: "" }, field: "createdBy" },
    { name: "no updatedBy", fields: { updatedBy: undefined }, field: "updatedBy" },
    {
      name: "a stored ban with both identity and identityPattern",
      fields: { identityPattern: "mal*" },
      field: "identity",
    },
    { name: "an unknown field on a stored rule", fields: { ttl: 123 }, field: "ttl" },
  ])("rejects $name, naming $field", ({ fields, field }) => {
    const input = { ...META, kind: "ban", identity: "mallory", reason: "harassment", ...fields };
    const error = validationErrorOf(() => parse(ruleSchema, input, "stored rule"));
    expect(namedFields(error)).toEqual([field]);
  });
});

describe("isInForce", () => {
  const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();

  it.each<{ name: string; rule: Rule; expected: boolean }>([
    { name: "an enabled permanent ban", rule: storedBan({ identity: "mallory" }), expected: true },
    { name: "a disabled permanent ban", rule: storedBan({ identity: "mallory", enabled: false }), expected: false },
    { name: "an enabled dry-run ban", rule: storedBan({ identity: "mallory", mode: "dry-run" }), expected: true },
    {
      name: "a temporary ban 1 ms before it expires",
      rule: storedBan({ identity: "m", expiresAt: at(1) }),
      expected: true,
    },
    {
      name: "a temporary ban a day before it expires",
      rule: storedBan({ identity: "m", expiresAt: at(86_400_000) }),
      expected: true,
    },
    {
      name: "a temporary ban at the instant it expires",
      rule: storedBan({ identity: "m", expiresAt: at(0) }),
      expected: false,
    },
    {
      name: "a temporary ban 1 ms after it expired",
      rule: storedBan({ identity: "m", expiresAt: at(-1) }),
      expected: false,
    },
    {
      name: "a temporary ban expiring now, written with an offset",
      rule: storedBan({ identity: "m", expiresAt: "2026-11-21T12:00:00+02:00" }),
      expected: false,
    },
    {
      name: "a temporary ban expiring in a second, written with an offset",
      rule: storedBan({ identity: "m", expiresAt: "2026-11-21T05:00:01-05:00" }),
      expected: true,
    },
    {
      name: "a disabled temporary ban before it expires",
      rule: storedBan({ identity: "m", expiresAt: at(60_000), enabled: false }),
      expected: false,
    },
    { name: "an enabled max-duration rule", rule: storedMaxDuration({}), expected: true },
    { name: "a disabled max-duration rule", rule: storedMaxDuration({ enabled: false }), expected: false },
    { name: "an enabled duplicate-identity rule", rule: storedDuplicateIdentity({}), expected: true },
    { name: "a disabled duplicate-identity rule", rule: storedDuplicateIdentity({ enabled: false }), expected: false },
  ])("says $expected for $name", ({ rule, expected }) => {
    expect(isInForce(rule, NOW)).toBe(expected);
  });
});

describe("banMatches", () => {
  const exact = storedBan({ identity: "mallory" });
  const exactWithWildcards = storedBan({ identity: "guest*" });
  const pattern = storedBan({ identityPattern: "guest*" });
  const oneCharacter = storedBan({ identityPattern: "bot?" });
  const scopedExact = storedBan({ identity: "mallory", roomPattern: "clinic_*" });
  const scopedPattern = storedBan({ identityPattern: "guest*", roomPattern: "clinic_*" });

  it.each<{ name: string; ban: Ban; identity: string; room: string; expected: boolean }>([
    {
      name: "an exact ban matches its identity in any room",
      ban: exact,
      identity: "mallory",
      room: "lobby",
      expected: true,
    },
    { name: "an exact ban ignores another case", ban: exact, identity: "Mallory", room: "lobby", expected: false },
    {
      name: "an exact ban ignores a longer identity",
      ban: exact,
      identity: "mallory2",
      room: "lobby",
      expected: false,
    },
    { name: "an exact ban ignores a prefix", ban: exact, identity: "mall", room: "lobby", expected: false },
    {
      name: "an exact ban treats * literally",
      ban: exactWithWildcards,
      identity: "guest42",
      room: "lobby",
      expected: false,
    },
    {
      name: "an exact ban with * matches that very identity",
      ban: exactWithWildcards,
      identity: "guest*",
      room: "lobby",
      expected: true,
    },
    { name: "a pattern ban matches by glob", ban: pattern, identity: "guest42", room: "lobby", expected: true },
    { name: "a pattern ban matches the bare prefix", ban: pattern, identity: "guest", room: "lobby", expected: true },
    { name: "a pattern ban is case-sensitive", ban: pattern, identity: "Guest42", room: "lobby", expected: false },
    { name: "a pattern ban is anchored", ban: pattern, identity: "myguest", room: "lobby", expected: false },
    { name: "a ? pattern matches one character", ban: oneCharacter, identity: "bot7", room: "lobby", expected: true },
    {
      name: "a ? pattern rejects two characters",
      ban: oneCharacter,
      identity: "bot77",
      room: "lobby",
      expected: false,
    },
    {
      name: "a room-scoped exact ban matches in scope",
      ban: scopedExact,
      identity: "mallory",
      room: "clinic_east",
      expected: true,
    },
    {
      name: "a room-scoped exact ban ignores other rooms",
      ban: scopedExact,
      identity: "mallory",
      room: "lobby",
      expected: false,
    },
    {
      name: "a room-scoped exact ban ignores others in scope",
      ban: scopedExact,
      identity: "alice",
      room: "clinic_east",
      expected: false,
    },
    {
      name: "a room-scoped pattern ban matches in scope",
      ban: scopedPattern,
      identity: "guest1",
      room: "clinic_1",
      expected: true,
    },
    {
      name: "a room-scoped pattern ban ignores other rooms",
      ban: scopedPattern,
      identity: "guest1",
      room: "Clinic_1",
      expected: false,
    },
  ])("$name", ({ ban, identity, room, expected }) => {
    expect(banMatches(ban, identity, room)).toBe(expected);
  });
});

describe("maxDurationApplies", () => {
  const everywhere = storedMaxDuration({});
  const paidRooms = storedMaxDuration({ roomPattern: "paid_*" });
  const students = storedMaxDuration({ identityPattern: "student?*" });
  const studentsInPaidRooms = storedMaxDuration({ roomPattern: "paid_*", identityPattern: "student?*" });

  it.each<{ name: string; rule: MaxDuration; identity: string; room: string; expected: boolean }>([
    {
      name: "an unscoped limit applies to anyone anywhere",
      rule: everywhere,
      identity: "alice",
      room: "lobby",
      expected: true,
    },
    {
      name: "a room-scoped limit applies in a matching room",
      rule: paidRooms,
      identity: "alice",
      room: "paid_42",
      expected: true,
    },
    {
      name: "a room-scoped limit skips other rooms",
      rule: paidRooms,
      identity: "alice",
      room: "free_42",
      expected: false,
    },
    { name: "a room-scoped limit is anchored", rule: paidRooms, identity: "alice", room: "unpaid_42", expected: false },
    {
      name: "an identity-scoped limit applies to matching identities",
      rule: students,
      identity: "student7",
      room: "lobby",
      expected: true,
    },
    {
      name: "an identity-scoped limit skips other identities",
      rule: students,
      identity: "teacher7",
      room: "lobby",
      expected: false,
    },
    {
      name: "an identity-scoped limit needs the ? character",
      rule: students,
      identity: "student",
      room: "lobby",
      expected: false,
    },
    {
      name: "a doubly scoped limit applies when both match",
      rule: studentsInPaidRooms,
      identity: "student7",
      room: "paid_1",
      expected: true,
    },
    {
      name: "a doubly scoped limit skips a matching identity elsewhere",
      rule: studentsInPaidRooms,
      identity: "student7",
      room: "free_1",
      expected: false,
    },
    {
      name: "a doubly scoped limit skips others in a matching room",
      rule: studentsInPaidRooms,
      identity: "teacher",
      room: "paid_1",
      expected: false,
    },
  ])("$name", ({ rule, identity, room, expected }) => {
    expect(maxDurationApplies(rule, identity, room)).toBe(expected);
  });
});

describe("duplicateScopeIncludes", () => {
  it.each<{ name: string; rule: DuplicateIdentity; room: string; expected: boolean }>([
    {
      name: "an unscoped rule includes every room",
      rule: storedDuplicateIdentity({}),
      room: "anything",
      expected: true,
    },
    {
      name: "a scoped rule includes a matching room",
      rule: storedDuplicateIdentity({ roomPattern: "exam*" }),
      room: "exam_9",
      expected: true,
    },
    {
      name: "a scoped rule excludes other rooms",
      rule: storedDuplicateIdentity({ roomPattern: "exam*" }),
      room: "lobby",
      expected: false,
    },
  ])("$name", ({ rule, room, expected }) => {
    expect(duplicateScopeIncludes(rule, room)).toBe(expected);
  });
});

describe("isExactBan and ruleRef", () => {
  it.each<{ name: string; rule: Rule; expected: boolean }>([
    { name: "an exact ban", rule: storedBan({ identity: "mallory" }), expected: true },
    { name: "a pattern ban", rule: storedBan({ identityPattern: "mal*" }), expected: false },
    { name: "a max-duration rule", rule: storedMaxDuration({}), expected: false },
    { name: "a duplicate-identity rule", rule: storedDuplicateIdentity({}), expected: false },
  ])("isExactBan says $expected for $name", ({ rule, expected }) => {
    expect(isExactBan(rule)).toBe(expected);
  });

  it("ruleRef keeps the id, kind, version and mode, and nothing else", () => {
    const rule = storedBan({ id: "ban-7", version: 4, identity: "mallory", mode: "dry-run" });
    expect(ruleRef(rule)).toStrictEqual({ id: "ban-7", kind: "ban", version: 4, mode: "dry-run" });
  });
});
