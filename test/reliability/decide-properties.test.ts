import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isParticipantEvent,
  type ParticipantEvent,
  type ParticipantEventType,
  parseStatusCallback,
} from "../../core/callbacks/events.ts";
import { type Action, decide } from "../../core/rules/decide.ts";
import { STAY_GAP_MS } from "../../core/rules/duplicate-identity.ts";
import {
  type DuplicateIdentity,
  duplicateScopeIncludes,
  isInForce,
  maxDurationApplies,
  type Rule,
  type RuleMode,
  type RuleSpecInput,
} from "../../core/rules/rules.ts";
import { dynamoSessionStore } from "../../core/sessions/dynamo-session-store.ts";
import type { SessionStore } from "../../core/sessions/ports.ts";
import {
  applyChange,
  findSession,
  type Presence,
  type PresenceChange,
  type PresenceUpdate,
  presenceChange,
  type SessionStatus,
} from "../../core/sessions/presence.ts";
import { participantCallback, sid } from "../fixtures/callbacks.ts";
import { rule, T0 } from "../fixtures/domain.ts";
import { createTestTables } from "../support/tables.ts";
import { reportFigures, size } from "./figures.ts";

/**
 * Properties of the decision core (`decide` over the presence `SessionStore.record` returns) under the deliveries
 * Twilio and the queue can produce: callbacks out of order, repeated, interleaved across identities. Each run
 * generates a history of callbacks as Twilio would send them (in Timestamp order), rules, and the instant they are
 * processed at; it delivers the history in another order and compares the decisions with the ordered history's, or
 * with what the history itself says.
 *
 * What is checked:
 * - in any order, with repeats: the final presence is the history's (no ghost session); no order adds a ban or
 *   limit decision, a session still connected at the end is judged by the bans as in order, and a deadline is never
 *   earlier than in order; a repeat changes no state and adds no ban or limit decision; duplicate identity kicks
 *   only identities that used more rooms than allowed;
 * - each identity's callbacks in order (SQS FIFO grouped by identity), identities interleaved, callbacks repeated:
 *   exactly the decisions of the ordered history;
 * - in order: deadlines and duplicate-identity kicks are those the history gives at each callback's instant.
 * Connect times (a session's, and the identity's first in a room: the max-duration clock) come from the first live
 * callback applied, and a connect that arrives after a later callback of its participant is stale and ignored. So
 * in an arbitrary order the clock can start late (deadlines late, never early) and `keep: "oldest"` can take a
 * session for newer than it is; the properties assert exactness where it holds: when the first callback of the
 * participant, or of the identity in the room, is delivered first.
 *
 * The presence store is modelled by `applyChange` (core/sessions/presence.ts), a pure copy of the DynamoDB condition in
 * `core/sessions/dynamo-session-store.ts`; the first property checks the model against the real store on DynamoDB Local, so
 * the others, which run the model thousands of times, speak about the real store.
 *
 * Replay a failure with RELIABILITY_SEED=<seed> (fast-check prints the seed and the shrunk counterexample).
 */

const seedSetting = Number.parseInt(process.env.RELIABILITY_SEED ?? "", 10);
const seed = Number.isSafeInteger(seedSetting) ? seedSetting : Math.floor(Math.random() * 0x7fffffff);

const RUNS = size(150, 3000);
const STORE_RUNS = size(10, 100);
const MAX_STEPS = size(14, 40);
const HOUR = 3600 * 1000;
/** Full runs take minutes, more on a busy machine. */
const TIMEOUT = size(20_000, 900_000);

const figures = {
  properties: 0,
  runs: 0,
  callbacksGenerated: 0,
  deliveriesDecided: 0,
  actionsDecided: 0,
  storeWrites: 0,
  /** Sessions connected at the end whose decisions had to match the ordered history's exactly. */
  sessionsComparedExactly: 0,
};

/** Runs one property with the run's seed, counting its runs. */
async function check<Ts>(property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, numRuns = RUNS): Promise<void> {
  figures.properties += 1;
  await fc.assert(property, { seed, numRuns });
  figures.runs += numRuns;
}

// ---------------------------------------------------------------------------------------------------------------
// Histories: what Twilio sends, in Timestamp order

const IDENTITIES = ["alice", "bob", "guest-7"] as const;
const ROOMS = [
  { sid: sid("RM", 1), name: "exam-1" },
  { sid: sid("RM", 2), name: "exam-2" },
  { sid: sid("RM", 3), name: "lobby" },
  { sid: sid("RM", 4), name: "class-9" },
] as const;

type Room = (typeof ROOMS)[number];

interface Step {
  readonly action: "connect" | "reconnecting" | "reconnected" | "disconnect";
  readonly identity: number;
  readonly room: number;
  /** Which of the participants the action can apply to. */
  readonly pick: number;
  /** Milliseconds since the previous step: 0 makes two callbacks share a Timestamp. */
  readonly gap: number;
  /** When a participant joins a room its identity is already in, how long after Twilio disconnects the other. */
  readonly takeoverDelay: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  action: fc.constantFrom("connect", "connect", "connect", "reconnecting", "reconnected", "disconnect", "disconnect"),
  identity: fc.constantFrom(0, 0, 1, 1, 2),
  room: fc.nat({ max: ROOMS.length - 1 }),
  pick: fc.nat({ max: 1000 }),
  gap: fc.constantFrom(0, 0, 1, 7, 1000, 30_000, 300_000),
  takeoverDelay: fc.constantFrom(0, 1),
});

interface Participant {
  readonly sid: string;
  readonly identity: string;
  readonly room: Room;
  status: SessionStatus;
  /** The newest Timestamp given to this participant: its next callback comes after it (a disconnect may tie). */
  lastAt: number;
}

const statusAfter: Readonly<Record<ParticipantEventType, SessionStatus>> = {
  "participant-connected": "connected",
  "participant-reconnected": "connected",
  "participant-reconnecting": "reconnecting",
  "participant-disconnected": "disconnected",
};

/** A callback as the enforcer sees it: Twilio's form, parsed by the production schema. */
function callbackEvent(type: ParticipantEventType, participant: Participant, at: number): ParticipantEvent {
  const event = parseStatusCallback(
    participantCallback(type, {
      RoomSid: participant.room.sid,
      RoomName: participant.room.name,
      ParticipantSid: participant.sid,
      ParticipantIdentity: participant.identity,
      Timestamp: new Date(at).toISOString(),
    }),
  );
  if (!isParticipantEvent(event)) throw new Error(`${type} did not parse as a participant event`);
  return event;
}

/**
 * Plays the steps as Twilio would: a participant connects, may go through reconnecting and reconnected, and may
 * disconnect; each participant's callbacks have increasing Timestamps, except that a disconnect may share its
 * Timestamp with the callback before it. An identity joining a room where it already is replaces the participant
 * there, which Twilio disconnects (at the same instant or a millisecond later). Returns the callbacks in Timestamp
 * order (ties in the order they happened).
 */
function simulate(steps: readonly Step[]): ParticipantEvent[] {
  const participants: Participant[] = [];
  const sent: { event: ParticipantEvent; order: number }[] = [];
  const send = (type: ParticipantEventType, participant: Participant, at: number) => {
    sent.push({ event: callbackEvent(type, participant, at), order: sent.length });
    participant.status = statusAfter[type];
    participant.lastAt = Math.max(participant.lastAt, at);
  };
  let clock = T0;
  for (const step of steps) {
    clock += step.gap;
    const candidates = participants.filter((p) =>
      step.action === "reconnecting"
        ? p.status === "connected"
        : step.action === "reconnected"
          ? p.status === "reconnecting"
          : step.action === "disconnect" && p.status !== "disconnected",
    );
    const chosen = candidates[step.pick % Math.max(candidates.length, 1)];
    if (step.action === "connect" || chosen === undefined) {
      const identity = IDENTITIES[step.identity] ?? "alice";
      const room = ROOMS[step.room] ?? ROOMS[0];
      const joining: Participant = {
        sid: sid("PA", participants.length + 1),
        identity,
        room,
        status: "connected",
        lastAt: clock,
      };
      const replaced = participants.filter(
        (p) => p.identity === identity && p.room === room && p.status !== "disconnected",
      );
      participants.push(joining);
      send("participant-connected", joining, clock);
      for (const previous of replaced) {
        const at = Math.max(clock + step.takeoverDelay, previous.lastAt);
        send("participant-disconnected", previous, at);
        // The newcomer's own callbacks come after the disconnect of the participant it replaced.
        joining.lastAt = Math.max(joining.lastAt, at);
      }
    } else if (step.action === "disconnect") {
      send("participant-disconnected", chosen, Math.max(clock, chosen.lastAt));
    } else {
      send(`participant-${step.action}`, chosen, Math.max(clock, chosen.lastAt + 1));
    }
  }
  return sent.sort((a, b) => a.event.timestamp - b.event.timestamp || a.order - b.order).map(({ event }) => event);
}

// ---------------------------------------------------------------------------------------------------------------
// Rules and scenarios

type RuleKind = Rule["kind"];

const modeArb = fc.constantFrom<RuleMode>("enforce", "enforce", "dry-run");
const enabledArb = fc.constantFrom(true, true, true, false);
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const withOptional = <K extends string, T>(key: K, value: T | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, T>>;

/** A rule spec, given the processing instant (temporary bans expire around it). */
type SpecAt = (now: number) => RuleSpecInput;

const banArb: fc.Arbitrary<SpecAt> = fc
  .record({
    target: fc.constantFrom(
      { identity: "alice" },
      { identity: "bob" },
      { identityPattern: "guest-*" },
      { identityPattern: "*" },
    ),
    roomPattern: optional(fc.constantFrom("exam-*", "lobby")),
    expiresIn: optional(fc.oneof(fc.constantFrom(-1, 0, 1), fc.integer({ min: -HOUR, max: HOUR }))),
    mode: modeArb,
    enabled: enabledArb,
  })
  .map(({ target, roomPattern, expiresIn, mode, enabled }) => (now) => ({
    kind: "ban",
    ...target,
    ...withOptional("roomPattern", roomPattern),
    ...withOptional("expiresAt", expiresIn === undefined ? undefined : new Date(now + expiresIn).toISOString()),
    reason: "abuse",
    mode,
    enabled,
  }));

const maxDurationArb: fc.Arbitrary<SpecAt> = fc
  .record({
    limitSeconds: fc.constantFrom(1, 60, 600, 3600),
    roomPattern: optional(fc.constantFrom("exam-*", "class-*")),
    identityPattern: optional(fc.constantFrom("guest-*", "a*")),
    mode: modeArb,
    enabled: enabledArb,
  })
  .map(({ limitSeconds, roomPattern, identityPattern, mode, enabled }) => () => ({
    kind: "max-duration",
    limitSeconds,
    ...withOptional("roomPattern", roomPattern),
    ...withOptional("identityPattern", identityPattern),
    mode,
    enabled,
  }));

const duplicateIdentityArb: fc.Arbitrary<SpecAt> = fc
  .record({
    maxSessions: fc.constantFrom(1, 1, 2),
    keep: fc.constantFrom("oldest", "newest") as fc.Arbitrary<"oldest" | "newest">,
    roomPattern: optional(fc.constantFrom("exam-*", "*-9")),
    mode: modeArb,
    enabled: enabledArb,
  })
  .map(({ maxSessions, keep, roomPattern, mode, enabled }) => () => ({
    kind: "duplicate-identity",
    maxSessions,
    keep,
    ...withOptional("roomPattern", roomPattern),
    mode,
    enabled,
  }));

const ruleArbs: Readonly<Record<RuleKind, fc.Arbitrary<SpecAt>>> = {
  ban: banArb,
  "max-duration": maxDurationArb,
  "duplicate-identity": duplicateIdentityArb,
};

interface Scenario {
  /** Every callback, in Timestamp order. */
  readonly history: readonly ParticipantEvent[];
  readonly rules: readonly Rule[];
  /** When the callbacks are processed (one instant for the whole delivery, so that orders compare). */
  readonly now: number;
}

/** A history, rules of the given kinds (with one enabled rule of kind `including`, if given) and an instant. */
function scenarioArb(kinds: readonly RuleKind[] = ["ban", "max-duration", "duplicate-identity"], including?: RuleKind) {
  const someRules = fc.array(fc.oneof(...kinds.map((kind) => ruleArbs[kind])), { maxLength: 4 });
  return fc
    .record({
      steps: fc.array(stepArb, { minLength: 1, maxLength: MAX_STEPS, size: "max" }),
      rules:
        including === undefined
          ? someRules
          : fc
              .tuple(ruleArbs[including], someRules)
              .map(([first, others]): SpecAt[] => [(now) => ({ ...first(now), enabled: true }), ...others]),
      instant: fc.oneof(
        fc.record({ offset: fc.integer({ min: 0, max: 3 * HOUR }) }),
        // A millisecond either side of a possible deadline: a callback's Timestamp plus a limit.
        fc.record({
          callback: fc.nat(),
          limitSeconds: fc.constantFrom(1, 60, 600, 3600),
          delta: fc.integer({ min: -1, max: 1 }),
        }),
      ),
    })
    .map(({ steps, rules, instant }): Scenario => {
      const history = simulate(steps);
      const now =
        "offset" in instant
          ? T0 + instant.offset
          : at(history, instant.callback % history.length).timestamp + instant.limitSeconds * 1000 + instant.delta;
      figures.callbacksGenerated += history.length;
      return { history, rules: rules.map((spec, i) => rule(`r${i + 1}`, spec(now))), now };
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries: the orders in which the enforcer may see the history (as indexes into it)

/** Sorts keyed history indexes into a delivery order; equal keys keep the history's order. */
const byKey = (keyed: { key: number; index: number }[]) =>
  keyed.sort((a, b) => a.key - b.key || a.index - b.index).map(({ index }) => index);

/** Every callback delivered one to three times, in any order. */
const shuffledArb = (count: number): fc.Arbitrary<number[]> =>
  fc
    .array(fc.array(fc.nat({ max: 10_000 }), { minLength: 1, maxLength: 3 }), { minLength: count, maxLength: count })
    .map((keys) => byKey(keys.flatMap((copies, index) => copies.map((key) => ({ key, index })))));

/** A scenario and a shuffled, repeating delivery of its history. */
const shuffledScenarioArb = (...args: Parameters<typeof scenarioArb>) =>
  scenarioArb(...args).chain((scenario) => fc.tuple(fc.constant(scenario), shuffledArb(scenario.history.length)));

/**
 * What an SQS FIFO queue grouped by identity delivers: each identity's callbacks in Timestamp order, the identities
 * interleaved in any way, and any callback delivered again any time after its first delivery.
 */
const perIdentityArb = (history: readonly ParticipantEvent[]): fc.Arbitrary<number[]> =>
  fc
    .array(fc.record({ key: fc.nat({ max: 10_000 }), repeats: fc.array(fc.nat({ max: 10_000 }), { maxLength: 2 }) }), {
      minLength: history.length,
      maxLength: history.length,
    })
    .map((draws) => {
      // Each identity takes its keys sorted, in the order of its callbacks: a random merge that keeps that order.
      const keys = new Array<number>(history.length);
      for (const identity of new Set(history.map((event) => event.participant.identity))) {
        const indexes = history.flatMap((event, index) => (event.participant.identity === identity ? [index] : []));
        const sorted = indexes.map((index) => draws[index]?.key ?? 0).sort((a, b) => a - b);
        indexes.forEach((index, i) => {
          keys[index] = sorted[i] ?? 0;
        });
      }
      return byKey(
        draws.flatMap(({ repeats }, index) => {
          const key = keys[index] ?? 0;
          return [{ key, index }, ...repeats.map((offset) => ({ key: key + 1 + offset, index }))];
        }),
      );
    });

const inOrder = (history: readonly ParticipantEvent[]) => history.map((_, index) => index);

/** The delivery without its repeats: each callback at its first delivery. */
const firstDeliveries = (order: readonly number[]) => [...new Set(order)];

// ---------------------------------------------------------------------------------------------------------------
// The presence store, as a pure function

const emptyPresence = (identity: string): Presence => ({ identity, sessions: [], firstConnectedAt: {}, revision: 0 });

/** Presence as a comparable value: sessions in SID order, connect times; not the write counter. */
const stateOf = (presence: Presence | undefined) => ({
  sessions: [...(presence?.sessions ?? [])].sort((a, b) => compareText(a.participantSid, b.participantSid)),
  firstConnectedAt: presence?.firstConnectedAt ?? {},
});

const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

// ---------------------------------------------------------------------------------------------------------------
// Running a delivery, and what it decided

interface Delivered {
  /** Index of the callback in the history. */
  readonly index: number;
  /** False for a repeat of a callback delivered before. */
  readonly first: boolean;
  readonly update: PresenceUpdate;
  readonly actions: readonly Action[];
}

interface Run {
  readonly delivered: readonly Delivered[];
  readonly presences: ReadonlyMap<string, Presence>;
}

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new RangeError(`no item at ${index}`);
  return item;
}

/** Records and decides each delivered callback in turn, as the enforcer does, at the scenario's instant. */
function deliver(scenario: Scenario, order: readonly number[]): Run {
  const presences = new Map<string, Presence>();
  const seen = new Set<number>();
  const delivered = order.map((index): Delivered => {
    const event = at(scenario.history, index);
    const update = applyChange(presences.get(event.participant.identity), presenceChange(event));
    presences.set(event.participant.identity, update.presence);
    const first = !seen.has(index);
    seen.add(index);
    const actions = decide(event, update, scenario.rules, scenario.now);
    figures.actionsDecided += actions.length;
    return { index, first, update, actions };
  });
  figures.deliveriesDecided += delivered.length;
  return { delivered, presences };
}

/**
 * What a delivery decided, as the enforcer carries it out: who is kicked (one kick per participant), which rules
 * matched whom (the audit trail's deciding rule, other matches and dry-run entries), which deadlines were set and
 * which sessions' deadlines were cleared.
 */
interface Decisions {
  readonly kicked: Set<string>;
  /** `participantSid ruleId` */
  readonly matches: Set<string>;
  /** participantSid → deadlines set */
  readonly deadlines: Map<string, Set<number>>;
  readonly cleared: Set<string>;
}

function decisionsOf(delivered: readonly Delivered[]): Decisions {
  const decisions: Decisions = { kicked: new Set(), matches: new Set(), deadlines: new Map(), cleared: new Set() };
  for (const { actions } of delivered) {
    for (const action of actions) {
      const participant = action.session.participantSid;
      if (action.type === "kick") decisions.kicked.add(participant);
      if (action.type === "kick" || action.type === "would-kick") {
        for (const ruleId of [action.rule.id, ...action.otherMatches.map((ref) => ref.id)]) {
          decisions.matches.add(`${participant} ${ruleId}`);
        }
      } else if (action.type === "set-deadline") {
        const set = decisions.deadlines.get(participant) ?? new Set();
        set.add(action.deadlineAt);
        decisions.deadlines.set(participant, set);
      } else {
        decisions.cleared.add(participant);
      }
    }
  }
  return decisions;
}

/** The members of `items` missing from `of`: `[]` when `items` is a subset (and a readable failure otherwise). */
const notIn = <T>(items: Iterable<T>, of: { has(item: T): boolean }) => [...items].filter((item) => !of.has(item));

const matchesOf = (decisions: Decisions, participant: string) =>
  [...decisions.matches].filter((match) => match.startsWith(`${participant} `)).sort();

// ---------------------------------------------------------------------------------------------------------------
// The ground truth: what the history itself says

/** Each participant's last callback in the history: its true final status. */
function finalCallbacks(history: readonly ParticipantEvent[]): Map<string, ParticipantEvent> {
  return new Map(history.map((event) => [event.participant.sid, event]));
}

const roomKey = (event: ParticipantEvent) => `${event.participant.identity} ${event.room.sid}`;

/** The first callback (in the history) of each identity in each room, and of each participant: its connect. */
function firstCallbacks(history: readonly ParticipantEvent[], key: (event: ParticipantEvent) => string) {
  const first = new Map<string, number>();
  history.forEach((event, index) => {
    if (!first.has(key(event))) first.set(key(event), index);
  });
  return first;
}

/** Whether, for the group of `event`, the first callback delivered is the group's earliest one. */
function deliveredFirst(
  history: readonly ParticipantEvent[],
  order: readonly number[],
  key: (event: ParticipantEvent) => string,
): (event: ParticipantEvent) => boolean {
  const earliest = firstCallbacks(history, key);
  const delivered = new Map<string, number>();
  for (const index of order) {
    const group = key(at(history, index));
    if (!delivered.has(group)) delivered.set(group, index);
  }
  return (event) => earliest.get(key(event)) === delivered.get(key(event));
}

/**
 * The max-duration limit DESIGN.md gives a participant: the smallest limit in force that applies (the lowest rule id
 * among equals), and its deadline, the identity's first connect in the room plus the limit.
 */
function trueLimit(
  scenario: Scenario,
  participant: ParticipantEvent,
): { ruleId: string; deadlineAt: number } | undefined {
  const limits = scenario.rules
    .flatMap((r) =>
      r.kind === "max-duration" &&
      isInForce(r, scenario.now) &&
      maxDurationApplies(r, participant.participant.identity, participant.room.name)
        ? [r]
        : [],
    )
    .sort((a, b) => a.limitSeconds - b.limitSeconds || compareText(a.id, b.id));
  const smallest = limits[0];
  if (smallest === undefined) return undefined;
  const firstInRoom = scenario.history.find((event) => roomKey(event) === roomKey(participant));
  return {
    ruleId: smallest.id,
    deadlineAt: (firstInRoom?.timestamp ?? participant.timestamp) + smallest.limitSeconds * 1000,
  };
}

const trueDeadline = (scenario: Scenario, participant: ParticipantEvent) =>
  trueLimit(scenario, participant)?.deadlineAt;

/**
 * The deadline a decision at `now` sets: the earliest still ahead among the smallest limit of each mode. A dry-run
 * limit is audited at its own deadline and never stands in for the enforcing one, whose deadline then comes next.
 */
function upcomingDeadline(scenario: Scenario, participant: ParticipantEvent): number | undefined {
  const firstInRoom = scenario.history.find((event) => roomKey(event) === roomKey(participant));
  const start = firstInRoom?.timestamp ?? participant.timestamp;
  const deadlines = (["enforce", "dry-run"] as const).flatMap((mode) => {
    const smallest = scenario.rules
      .flatMap((r) =>
        r.kind === "max-duration" &&
        r.mode === mode &&
        isInForce(r, scenario.now) &&
        maxDurationApplies(r, participant.participant.identity, participant.room.name)
          ? [r]
          : [],
      )
      .sort((a, b) => a.limitSeconds - b.limitSeconds || compareText(a.id, b.id))[0];
    return smallest === undefined ? [] : [start + smallest.limitSeconds * 1000];
  });
  const ahead = deadlines.filter((deadline) => deadline > scenario.now);
  return ahead.length === 0 ? undefined : Math.min(...ahead);
}

/**
 * The sessions a duplicate-identity rule disconnects according to the history up to (and including) callback
 * `upTo`: live sessions in scope, one per room (the newest), beyond `maxSessions` in the order the identity's
 * continuous stays in their rooms began (a session starting within STAY_GAP_MS of the end of the previous one in the
 * same room, or while it was still live, continues that stay).
 */
function trulyOverLimit(history: readonly ParticipantEvent[], upTo: number, identity: string, r: DuplicateIdentity) {
  const prefix = history.slice(0, upTo + 1).filter((event) => event.participant.identity === identity);
  const connectedAt = new Map<string, number>();
  for (const event of prefix) {
    if (!connectedAt.has(event.participant.sid)) connectedAt.set(event.participant.sid, event.timestamp);
  }
  const order = (a: string, b: string) => (connectedAt.get(a) ?? 0) - (connectedAt.get(b) ?? 0) || compareText(a, b);
  const finals = finalCallbacks(prefix);
  const endOf = (participant: string) => {
    const last = finals.get(participant);
    return last?.type === "participant-disconnected" ? last.timestamp : Number.POSITIVE_INFINITY;
  };
  const stayStart = (participant: string, roomSid: string) => {
    let start = connectedAt.get(participant) ?? 0;
    const earlier = [...finals]
      .filter(([other, last]) => other !== participant && last.room.sid === roomSid)
      .map(([other]) => other)
      .sort((a, b) => (connectedAt.get(b) ?? 0) - (connectedAt.get(a) ?? 0));
    for (const other of earlier) {
      const otherStart = connectedAt.get(other) ?? 0;
      if (otherStart < start && endOf(other) + STAY_GAP_MS >= start) start = otherStart;
    }
    return start;
  };
  const newestPerRoom = new Map<string, string>();
  for (const [participant, last] of finals) {
    if (last.type === "participant-disconnected" || !duplicateScopeIncludes(r, last.room.name)) continue;
    const current = newestPerRoom.get(last.room.sid);
    if (current === undefined || order(current, participant) < 0) newestPerRoom.set(last.room.sid, participant);
  }
  const stays = new Map(
    [...newestPerRoom].map(([roomSid, participant]) => [participant, stayStart(participant, roomSid)]),
  );
  const kept = [...newestPerRoom.values()].sort((a, b) => (stays.get(a) ?? 0) - (stays.get(b) ?? 0) || order(a, b));
  if (r.keep === "newest") kept.reverse();
  return kept.slice(r.maxSessions);
}

// ---------------------------------------------------------------------------------------------------------------

describe("decision core: callbacks out of order and repeated", () => {
  let store: SessionStore;
  let started = 0;

  beforeAll(async () => {
    started = Date.now();
    const { client, names } = await createTestTables();
    store = dynamoSessionStore(client, names.Sessions);
  });

  afterAll(() => {
    reportFigures("decide properties", { seed, ...figures, durationMs: Date.now() - started });
  });

  it(
    "the pure presence model agrees with the DynamoDB store on shuffled, repeated and tied changes",
    async () => {
      // Changes drawn from a tiny space, so that ties, repeats, disconnects before connects and stale changes abound.
      const changeArb = fc.record({
        identity: fc.constantFrom("alice", "bob", "carol"),
        participant: fc.nat({ max: 3 }),
        status: fc.constantFrom<SessionStatus>("connected", "reconnecting", "disconnected"),
        at: fc.nat({ max: 4 }),
      });
      let run = 0;
      await check(
        fc.asyncProperty(
          fc.array(changeArb, { minLength: 1, maxLength: size(36, 90), size: "max" }),
          async (changes) => {
            run += 1;
            // Each identity's presence is an item of its own: its changes go in order, the identities side by side.
            const identities = [...new Set(changes.map((drawn) => drawn.identity))];
            await Promise.all(
              identities.map(async (identity) => {
                let model: Presence | undefined;
                for (const drawn of changes.filter((c) => c.identity === identity)) {
                  const room = at(ROOMS, drawn.participant % 2);
                  const change: PresenceChange = {
                    identity: `${identity}-${run}`, // a fresh presence item per run
                    participantSid: sid("PA", drawn.participant + 1),
                    roomSid: room.sid,
                    roomName: room.name,
                    status: drawn.status,
                    timestamp: T0 + drawn.at,
                  };
                  const expected = applyChange(model, change);
                  model = expected.presence;
                  const actual = await store.record(change);
                  figures.storeWrites += 1;
                  expect({
                    applied: actual.applied,
                    ...stateOf(actual.presence),
                    revision: actual.presence.revision,
                  }).toEqual({
                    applied: expected.applied,
                    ...stateOf(expected.presence),
                    revision: expected.presence.revision,
                  });
                }
              }),
            );
          },
        ),
        STORE_RUNS,
      );
    },
    TIMEOUT,
  );

  it(
    "the final presence is the history's, whatever the order and repetition of delivery: no ghost session",
    async () => {
      await check(
        fc.property(shuffledScenarioArb(), ([scenario, order]) => {
          const { presences } = deliver(scenario, order);
          for (const [participant, last] of finalCallbacks(scenario.history)) {
            const session = findSession(presences.get(last.participant.identity) ?? emptyPresence(""), participant);
            expect(session).toMatchObject({
              status: statusAfter[last.type],
              lastEventAt: last.timestamp,
              roomSid: last.room.sid,
              roomName: last.room.name,
            });
          }
          const sessions = [...presences.values()].flatMap((presence) => presence.sessions);
          expect(sessions).toHaveLength(new Set(scenario.history.map((e) => e.participant.sid)).size);
        }),
      );
    },
    TIMEOUT,
  );

  it(
    "connect times are never earlier than the history's, and exact when the first connect is delivered first",
    async () => {
      await check(
        fc.property(shuffledScenarioArb(), ([scenario, order]) => {
          const { presences } = deliver(scenario, order);
          const { history } = scenario;
          const participantKey = (event: ParticipantEvent) => event.participant.sid;
          const roomFirst = deliveredFirst(history, order, roomKey);
          const participantFirst = deliveredFirst(history, order, participantKey);
          const firstInRoom = firstCallbacks(history, roomKey);
          const connects = firstCallbacks(history, participantKey);

          for (const [participant, last] of finalCallbacks(history)) {
            const presence = presences.get(last.participant.identity);
            const connect = at(history, connects.get(participant) ?? -1);
            const session = presence === undefined ? undefined : findSession(presence, participant);
            const roomStart = presence?.firstConnectedAt[last.room.sid];
            const trueRoomStart = at(history, firstInRoom.get(roomKey(last)) ?? -1).timestamp;

            if (participantFirst(last)) expect(session?.connectedAt).toBe(connect.timestamp);
            else if (session?.connectedAt !== undefined) {
              expect(session.connectedAt).toBeGreaterThanOrEqual(connect.timestamp);
            }
            if (last.type !== "participant-disconnected") expect(session?.connectedAt).toBeDefined();

            if (roomFirst(last)) expect(roomStart).toBe(trueRoomStart);
            else if (roomStart !== undefined) expect(roomStart).toBeGreaterThanOrEqual(trueRoomStart);
          }
        }),
      );
    },
    TIMEOUT,
  );
  it(
    "bans and limits: no delivery order adds a kick or a match, a session still connected is judged alike, no deadline is early",
    async () => {
      await check(
        fc.property(shuffledScenarioArb(["ban", "max-duration"]), ([scenario, order]) => {
          const { history, now } = scenario;
          const ordered = decisionsOf(deliver(scenario, inOrder(history)).delivered);
          const shuffled = decisionsOf(deliver(scenario, order).delivered);
          expect(notIn(shuffled.kicked, ordered.kicked)).toEqual([]);
          expect(notIn(shuffled.matches, ordered.matches)).toEqual([]);

          const roomFirst = deliveredFirst(history, order, roomKey);
          const bans = new Set(scenario.rules.filter((r) => r.kind === "ban").map((r) => r.id));
          const banMatches = (decisions: Decisions, participant: string) =>
            matchesOf(decisions, participant).filter((match) => bans.has(match.split(" ")[1] ?? ""));
          for (const [participant, last] of finalCallbacks(history)) {
            const deadline = trueDeadline(scenario, last);
            for (const set of shuffled.deadlines.get(participant) ?? []) {
              expect(set).toBeGreaterThan(now);
              expect(set).toBeGreaterThanOrEqual(deadline ?? Number.NaN);
              if (roomFirst(last)) expect(set).toBe(upcomingDeadline(scenario, last));
            }
            if (statusAfter[last.type] !== "connected") continue;
            // Its last callback is applied and decided in every order: bans judge it as in the ordered history, and
            // so do limits, when the identity's first callback in the room was delivered first.
            expect(banMatches(shuffled, participant)).toEqual(banMatches(ordered, participant));
            if (roomFirst(last)) {
              figures.sessionsComparedExactly += 1;
              expect(matchesOf(shuffled, participant)).toEqual(matchesOf(ordered, participant));
              expect(shuffled.kicked.has(participant)).toBe(ordered.kicked.has(participant));
              expect(shuffled.deadlines.get(participant)).toEqual(ordered.deadlines.get(participant));
            }
          }
        }),
      );
    },
    TIMEOUT,
  );

  it(
    "a repeated callback changes no state, leaves every first delivery's decision as it was, and adds no ban or limit decision",
    async () => {
      await check(
        fc.property(shuffledScenarioArb(), ([scenario, order]) => {
          const { history, rules, now } = scenario;
          const withRepeats = deliver(scenario, order);
          const withoutRepeats = deliver(scenario, firstDeliveries(order));
          const view = ({ index, update, actions }: Delivered) => ({
            index,
            applied: update.applied,
            state: stateOf(update.presence),
            actions,
          });
          expect(withRepeats.delivered.filter((d) => d.first).map(view)).toEqual(withoutRepeats.delivered.map(view));

          const sessionRules = new Set(rules.filter((r) => r.kind !== "duplicate-identity").map((r) => r.id));
          const ofSubject = (d: Delivered) => {
            const subject = at(history, d.index).participant.sid;
            const decisions = decisionsOf([d]);
            return {
              matches: matchesOf(decisions, subject).filter((match) => sessionRules.has(match.split(" ")[1] ?? "")),
              kicked: decisions.kicked.has(subject),
              deadlines: decisions.deadlines.get(subject),
            };
          };
          const originals = new Map(withRepeats.delivered.filter((d) => d.first).map((d) => [d.index, d]));
          for (const repeat of withRepeats.delivered.filter((d) => !d.first)) {
            const original = originals.get(repeat.index);
            if (original === undefined) throw new Error("a repeat before its first delivery");
            if (!original.update.applied) expect(repeat.actions).toEqual([]);
            if (!repeat.update.applied) continue;
            const before = ofSubject(original);
            const again = ofSubject(repeat);
            expect(again.matches).toEqual(before.matches);
            // A deadline is the same whenever set; it is missing only where a duplicate-identity rule kicked instead.
            if (again.deadlines !== undefined && before.deadlines !== undefined) {
              expect(again.deadlines).toEqual(before.deadlines);
            } else if (again.deadlines !== before.deadlines) {
              expect(again.deadlines === undefined ? again.kicked : before.kicked).toBe(true);
            }
          }

          // A callback delivered again at once (a retry) is applied, or ignored, again, and decides the same.
          for (const d of withRepeats.delivered) {
            const event = at(history, d.index);
            const retried = applyChange(d.update.presence, presenceChange(event));
            expect(retried.applied).toBe(d.update.applied);
            expect(stateOf(retried.presence)).toEqual(stateOf(d.update.presence));
            expect(decide(event, retried, rules, now)).toEqual(d.actions);
          }
        }),
      );
    },
    TIMEOUT,
  );

  it(
    "with each identity's callbacks in order, however identities interleave and callbacks repeat, decisions are the ordered history's",
    async () => {
      await check(
        fc.property(
          scenarioArb().chain((scenario) => fc.tuple(fc.constant(scenario), perIdentityArb(scenario.history))),
          ([scenario, order]) => {
            const { history } = scenario;
            const ordered = deliver(scenario, inOrder(history));
            const queued = deliver(scenario, order);

            // Callback by callback, the first delivery decides exactly what the ordered history decides.
            const firsts = new Map(queued.delivered.filter((d) => d.first).map((d) => [d.index, d.actions]));
            for (const d of ordered.delivered) expect(firsts.get(d.index)).toEqual(d.actions);

            // Repeats add no kick, no match, no clear, and no other deadline (one only where the ordered history kicked).
            const inOrderDecisions = decisionsOf(ordered.delivered);
            const queuedDecisions = decisionsOf(queued.delivered);
            expect(notIn(queuedDecisions.kicked, inOrderDecisions.kicked)).toEqual([]);
            expect(notIn(queuedDecisions.matches, inOrderDecisions.matches)).toEqual([]);
            expect(notIn(queuedDecisions.cleared, inOrderDecisions.cleared)).toEqual([]);
            const finals = finalCallbacks(history);
            for (const [participant, deadlines] of queuedDecisions.deadlines) {
              const last = finals.get(participant);
              expect([...deadlines]).toEqual([last === undefined ? undefined : upcomingDeadline(scenario, last)]);
              if (!inOrderDecisions.deadlines.has(participant)) {
                expect(inOrderDecisions.kicked.has(participant)).toBe(true);
              }
            }

            for (const [identity, presence] of ordered.presences) {
              expect(stateOf(queued.presences.get(identity))).toEqual(stateOf(presence));
            }
          },
        ),
      );
    },
    TIMEOUT,
  );

  it(
    "in Timestamp order, limits kick at the first connect plus the limit and duplicates as the history stands then",
    async () => {
      await check(
        fc.property(scenarioArb(undefined, "duplicate-identity"), (scenario) => {
          const { history, rules, now } = scenario;
          const duplicateRules = rules.filter(
            (r): r is DuplicateIdentity => r.kind === "duplicate-identity" && isInForce(r, now),
          );
          const duplicateIds = new Set(duplicateRules.map((r) => r.id));
          const { delivered } = deliver(scenario, inOrder(history));
          for (const d of delivered) {
            const event = at(history, d.index);
            const subject = event.participant.sid;
            expect(d.update.applied).toBe(true);
            const decisions = decisionsOf([d]);
            const decided = statusAfter[event.type] === "connected";

            // Max duration: kicked once the deadline has passed, never before; until then, the deadline is set.
            const limit = trueLimit(scenario, event);
            const limitMatched = limit !== undefined && decisions.matches.has(`${subject} ${limit.ruleId}`);
            expect(limitMatched).toBe(decided && limit !== undefined && limit.deadlineAt <= now);
            const deadlines = decisions.deadlines.get(subject);
            const upcoming = upcomingDeadline(scenario, event);
            if (deadlines !== undefined) expect([...deadlines]).toEqual([upcoming]);
            else if (decided && upcoming !== undefined) expect(decisions.kicked).toContain(subject);
            expect([...decisions.deadlines.keys()].filter((participant) => participant !== subject)).toEqual([]);

            // Duplicate identity: the sessions over the limit in the history up to this callback, no more, no fewer.
            const expected = decided
              ? duplicateRules
                  .filter((r) => duplicateScopeIncludes(r, event.room.name))
                  .flatMap((r) =>
                    trulyOverLimit(history, d.index, event.participant.identity, r).map((p) => `${p} ${r.id}`),
                  )
              : [];
            const actual = [...decisions.matches].filter((match) => duplicateIds.has(match.split(" ")[1] ?? ""));
            expect(actual.sort()).toEqual([...new Set(expected)].sort());
          }
        }),
      );
    },
    TIMEOUT,
  );

  it(
    "in any delivery order, a duplicate-identity rule kicks only identities that used more rooms in its scope than it allows",
    async () => {
      await check(
        fc.property(shuffledScenarioArb(["duplicate-identity", "ban"], "duplicate-identity"), ([scenario, order]) => {
          const { history, rules } = scenario;
          const decisions = decisionsOf(deliver(scenario, order).delivered);
          const finals = finalCallbacks(history);
          for (const r of rules) {
            if (r.kind !== "duplicate-identity") continue;
            for (const match of decisions.matches) {
              const [participant, ruleId] = match.split(" ");
              if (ruleId !== r.id) continue;
              const identity = finals.get(participant ?? "")?.participant.identity;
              const rooms = new Set(
                history
                  .filter((e) => e.participant.identity === identity && duplicateScopeIncludes(r, e.room.name))
                  .map((e) => e.room.sid),
              );
              expect(rooms.size, `${match}: rooms in scope`).toBeGreaterThan(r.maxSessions);
            }
          }
        }),
      );
    },
    TIMEOUT,
  );
});
