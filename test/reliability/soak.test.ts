import { randomInt } from "node:crypto";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { type AuditEntry, auditEntryIds, auditEntrySchema, isParticipantEntry } from "../../core/audit/audit.ts";
import { STAY_GAP_MS } from "../../core/rules/duplicate-identity.ts";
import { isLive } from "../../core/sessions/presence.ts";
import { sweep } from "../../core/sweep/sweep.ts";
import { type DeliveredCallback, ParticipantStateError } from "../../emulator/index.ts";
import { manualClock } from "../support/clock.ts";
import { type PipelineHarness, startPipelineHarness } from "../support/pipeline.ts";
import {
  type CrashKind,
  crashingConsumer,
  crashKinds,
  type DynamoCommand,
  type DynamoFaultKind,
  type DynamoTarget,
  dynamoCommands,
  dynamoFaultKinds,
  FaultPlan,
  faultyDependencies,
  faultyEnforcer,
  faultyWebhook,
} from "./faults.ts";
import { FULL, reportFigures, size } from "./figures.ts";

/**
 * Reliability under faults: every step of enforcement may crash or meet a failing dependency, and what was
 * acknowledged must still be enforced, once, and audited once.
 *
 * First each crash point and fault kind alone, showing its recovery path; then a randomized soak that mixes them
 * over a generated workload and checks invariants against a ground truth computed from the workload and the rules.
 */

const T0 = Date.parse("2026-12-01T09:00:00.000Z");
const GRACE_MS = 60_000;

/** The queue reports every failed delivery on stderr, the metrics library every empty flush: expected here. */
function quietConsole(): void {
  vi.spyOn(console, "error").mockImplementation(() => {});
  vi.spyOn(console, "warn").mockImplementation(() => {});
}

/** Waits until every callback the emulator has sent (kicks cause more) has been handled or dead-lettered. */
async function drain(h: PipelineHarness): Promise<void> {
  let seen = -1;
  while (seen !== h.emulator.callbacks.length) {
    seen = h.emulator.callbacks.length;
    await h.emulator.callbacksSettled();
    await h.settle();
  }
}

const kickRequests = (h: PipelineHarness, participantSid: string) =>
  h.emulator.requests.filter(
    (r) =>
      r.method === "POST" && r.path.endsWith(`/Participants/${participantSid}`) && r.form.Status === "disconnected",
  );

/** Every audit entry, read straight from the table. */
async function auditEntries(h: PipelineHarness): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await h.client.send(new ScanCommand({ TableName: h.names.Audit, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) entries.push(auditEntrySchema.parse(item.entry));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return entries;
}

describe("each crash point and fault kind alone, and its recovery path", () => {
  const clock = manualClock(T0);
  const plan = new FaultPlan();
  let h: PipelineHarness;
  let case_ = 0;

  beforeAll(async () => {
    h = await startPipelineHarness({
      clock,
      twilioTimeoutMs: 1000,
      enforcerDependencies: faultyEnforcer(plan, inject("dynamoEndpoint"), clock),
      consumer: (enforcer) => crashingConsumer(enforcer, plan),
    });
    quietConsole();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await h?.stop();
  });

  /** A banned identity, its room, and time moved on well past any earlier case's grace periods and backoffs. */
  async function bannedCase() {
    case_ += 1;
    clock.advance(3_600_000);
    plan.disarm();
    h.emulator.clearFaults();
    const identity = `banned-${case_}`;
    const ruleId = await h.addRule({ kind: "ban", identity, reason: "reliability" });
    await h.pipeline.sweep(); // the new ban reaches nobody yet: the identity is not connected
    const roomSid = await h.room(`fault-room-${case_}`);
    await drain(h);
    return { identity, ruleId, roomSid, deadBefore: h.pipeline.queue.deadLetters.length };
  }

  async function join(roomSid: string, identity: string) {
    const participant = await h.emulator.join(roomSid, identity);
    await drain(h);
    return participant;
  }

  const status = (roomSid: string, participantSid: string) => h.emulator.participant(roomSid, participantSid)?.status;
  const entry = (participantSid: string) => h.audit.get(auditEntryIds.kick(participantSid));

  /** Past the grace period of a pending entry (or a backoff), a sweep, and the callbacks its kicks cause. */
  async function sweepAfter(ms: number) {
    clock.advance(ms);
    const report = await h.pipeline.sweep();
    await drain(h);
    return report;
  }

  it("crash after enqueue: the queue delivers the callback again, and the participant is kicked once", async () => {
    const { identity, roomSid } = await bannedCase();
    const before = plan.deliveries.redeliveries;
    plan.arm("crash-after-enqueue");
    const p = await join(roomSid, identity);

    expect(plan.fired("crash-after-enqueue")).toBe(1);
    expect(plan.deliveries.redeliveries - before).toBeGreaterThanOrEqual(1);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 1, trigger: { type: "callback" } });
    expect(kickRequests(h, p.sid)).toHaveLength(1);
  });

  it("crash after enqueue on every delivery: dead-lettered, then the sweep finds the participant and kicks once", async () => {
    const { identity, roomSid, deadBefore } = await bannedCase();
    plan.arm("crash-after-enqueue", 3);
    const p = await join(roomSid, identity);
    expect(h.pipeline.queue.deadLetters.slice(deadBefore).map((d) => JSON.parse(d.body).form.ParticipantSid)).toEqual([
      p.sid,
    ]);
    expect(status(roomSid, p.sid)).toBe("connected");
    expect(await entry(p.sid)).toBeUndefined();

    await sweepAfter(5_000);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", trigger: { type: "sweep" } });
    expect(kickRequests(h, p.sid)).toHaveLength(1);
  });

  it("crash after the write-ahead: pending, left alone within the grace period, then taken over by the sweep: one entry, one kick", async () => {
    const { identity, roomSid, deadBefore } = await bannedCase();
    plan.arm("crash-after-write-ahead");
    const p = await join(roomSid, identity);
    // The redelivery finds the pending entry: someone may be kicking right now, so it leaves it to the sweep.
    expect(await entry(p.sid)).toMatchObject({ outcome: "pending", attempts: 0 });
    expect(status(roomSid, p.sid)).toBe("connected");
    expect(h.pipeline.queue.deadLetters.length).toBe(deadBefore);

    await sweepAfter(GRACE_MS / 2);
    expect(status(roomSid, p.sid)).toBe("connected");
    await sweepAfter(GRACE_MS / 2 + 1_000);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 1 });
    expect(kickRequests(h, p.sid).map((r) => r.status)).toEqual([202]);
  });

  it("crash after the kick, before finalising: pending; after the grace period the sweep finds the participant gone", async () => {
    const { identity, roomSid } = await bannedCase();
    plan.arm("crash-after-kick");
    const p = await join(roomSid, identity);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "pending" });

    await sweepAfter(GRACE_MS + 1_000);
    expect(await entry(p.sid)).toMatchObject({ outcome: "already-gone", attempts: 1 });
    // Twilio accepted the kick once; the takeover's request found nobody to kick.
    expect(kickRequests(h, p.sid).map((r) => r.status)).toEqual([202, 404]);
  });

  it("Twilio 429 through a whole delivery: the entry fails, the queue's redelivery reopens it and kicks", async () => {
    const { identity, roomSid } = await bannedCase();
    h.emulator.injectFault({
      match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` },
      status: 429,
      times: 4,
    });
    const p = await join(roomSid, identity);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 5 });
    expect(kickRequests(h, p.sid).map((r) => r.status)).toEqual([429, 429, 429, 429, 202]);
  });

  it("Twilio 5xx through every delivery: failed and dead-lettered, retried by the sweep after its backoff", async () => {
    const { identity, roomSid, deadBefore } = await bannedCase();
    h.emulator.injectFault({
      match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` },
      status: 503,
      times: 9,
    });
    const p = await join(roomSid, identity);
    expect(h.pipeline.queue.deadLetters.length).toBe(deadBefore + 1);
    expect(await entry(p.sid)).toMatchObject({ outcome: "failed", attempts: 9, error: { status: 503 } });

    await sweepAfter(GRACE_MS + 1_000); // the backoff after 9 attempts is 2 minutes
    expect(status(roomSid, p.sid)).toBe("connected");
    await sweepAfter(GRACE_MS);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 10, trigger: { type: "callback" } });
    expect(kickRequests(h, p.sid).filter((r) => r.status === 202)).toHaveLength(1);
  });

  it("Twilio times out: the retry kicks; the late first request then finds nobody", async () => {
    const { identity, roomSid } = await bannedCase();
    h.emulator.injectFault({
      match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` },
      delayMs: 2_500,
      times: 1,
    });
    const p = await join(roomSid, identity);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 2 });
    await vi.waitFor(() => expect(kickRequests(h, p.sid)).toHaveLength(2), { timeout: 3_000 });
    expect(kickRequests(h, p.sid).map((r) => r.status)).toEqual([202, 404]);
  });

  it("Twilio resets the connection: the retry kicks", async () => {
    const { identity, roomSid } = await bannedCase();
    h.emulator.injectFault({
      match: { method: "POST", path: `/v1/Rooms/${roomSid}/Participants/` },
      reset: true,
      times: 2,
    });
    const p = await join(roomSid, identity);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", attempts: 3 });
    expect(kickRequests(h, p.sid).map((r) => r.status)).toEqual([0, 0, 202]);
  });

  const audit = () => h.names.Audit;
  const sessions = () => h.names.Sessions;
  const rules = () => h.names.Rules;
  const dynamoCases: {
    name: string;
    fault: "dynamo-throttled" | "dynamo-timeout" | "dynamo-lost-response";
    times: number;
    target: () => DynamoTarget;
    /** The kick waits for the sweep's takeover of a pending entry. */
    pending?: boolean;
    deadLetter?: boolean;
  }[] = [
    {
      name: "throttled presence write (ProvisionedThroughputExceededException): redelivered, kicked once",
      fault: "dynamo-throttled",
      times: 1,
      target: () => ({ command: "UpdateItemCommand", table: sessions() }),
    },
    {
      name: "throttled rule reads twice (ThrottlingException, then the other): redelivered twice, kicked once",
      fault: "dynamo-throttled",
      times: 2,
      target: () => ({ table: rules() }),
    },
    {
      name: "write-ahead timed out before reaching the table: redelivered, written and kicked at once",
      fault: "dynamo-timeout",
      times: 1,
      target: () => ({ command: "PutItemCommand", table: audit() }),
    },
    {
      name: "write-ahead written but its response lost: pending, taken over by the sweep after the grace period",
      fault: "dynamo-lost-response",
      times: 1,
      target: () => ({ command: "PutItemCommand", table: audit() }),
      pending: true,
    },
    {
      name: "finalise written but its response lost: the redelivery finds the entry final and does nothing more",
      fault: "dynamo-lost-response",
      times: 1,
      target: () => ({ command: "UpdateItemCommand", table: audit() }),
    },
    {
      name: "finalise timed out: pending, taken over by the sweep, which finds the participant gone",
      fault: "dynamo-timeout",
      times: 1,
      target: () => ({ command: "UpdateItemCommand", table: audit() }),
      pending: true,
    },
    {
      name: "write-ahead throttled on every delivery: dead-lettered, then decided again by the sweep",
      fault: "dynamo-throttled",
      times: 3,
      target: () => ({ command: "PutItemCommand", table: audit() }),
      deadLetter: true,
    },
  ];

  it.each(dynamoCases)("DynamoDB: $name", async ({ fault, times, target, pending, deadLetter }) => {
    const { identity, roomSid, deadBefore } = await bannedCase();
    const firedBefore = plan.fired(fault);
    plan.arm(fault, times, target());
    const p = await join(roomSid, identity);
    expect(plan.fired(fault) - firedBefore).toBe(times);
    expect(h.pipeline.queue.deadLetters.length).toBe(deadBefore + (deadLetter ? 1 : 0));
    if (pending || deadLetter) {
      await sweepAfter(GRACE_MS + 1_000);
    }
    expect(status(roomSid, p.sid)).toBe("disconnected");
    const final = await entry(p.sid);
    expect(final?.action === "kick" && final.outcome).toMatch(/^(disconnected|already-gone)$/);
    expect(kickRequests(h, p.sid).filter((r) => r.status === 202)).toHaveLength(1);
    const all = (await auditEntries(h)).filter((e) => isParticipantEntry(e) && e.participant.identity === identity);
    expect(all.map((e) => e.id)).toEqual([auditEntryIds.kick(p.sid)]);
  });

  /** A room for a limit case of its own, at a whole second plus `ms`, well past earlier cases' grace periods. */
  async function limitCase(ms: number) {
    case_ += 1;
    clock.set(Math.ceil((clock.now() + 3_600_000) / 1000) * 1000 + ms);
    plan.disarm();
    h.emulator.clearFaults();
    const roomName = `limited-${case_}`;
    const limitId = await h.addRule({ kind: "max-duration", limitSeconds: 60, roomPattern: roomName });
    await h.pipeline.sweep();
    const roomSid = await h.room(roomName);
    await drain(h);
    return { roomName, roomSid, limitId, identity: `limited-${case_}` };
  }

  it("a stricter limit trialled in dry-run: would-kick at its deadline, and the limit in force still kicks at its own", async () => {
    const { roomName, roomSid, limitId, identity } = await limitCase(0);
    const trialId = await h.addRule({ kind: "max-duration", limitSeconds: 30, roomPattern: roomName, mode: "dry-run" });
    await h.pipeline.sweep();
    const joinedAt = clock.now();
    const p = await join(roomSid, identity);

    await sweepAfter(31_000);
    expect(await h.audit.get(auditEntryIds.wouldKick(p.sid, trialId))).toMatchObject({ outcome: "dry-run" });
    expect(status(roomSid, p.sid)).toBe("connected");
    clock.set(joinedAt + 59_999);
    await sweepAfter(0);
    expect(status(roomSid, p.sid)).toBe("connected");
    await sweepAfter(1);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({
      outcome: "disconnected",
      rule: { id: limitId, mode: "enforce" },
      otherMatches: [{ id: trialId, mode: "dry-run" }],
    });
  });

  it("a participant the sweep adopts after its connect was dead-lettered is not kicked before its limit", async () => {
    // Twilio's participant resource gives the start time to the second; the callback had it to the millisecond.
    const { roomSid, limitId, identity } = await limitCase(900);
    const joinedAt = clock.now();
    plan.arm("crash-after-enqueue", 3);
    const p = await join(roomSid, identity);
    expect(await entry(p.sid)).toBeUndefined();
    await sweepAfter(5_000);
    expect((await h.sessions.presence(identity))?.sessions.map((s) => s.status)).toEqual(["connected"]);

    clock.set(joinedAt + 59_500);
    await sweepAfter(0);
    expect(status(roomSid, p.sid), "kicked before the limit").toBe("connected");
    // Timed from the end of the second Twilio gave: under a second late, never early.
    clock.set(joinedAt + 61_000);
    await sweepAfter(0);
    expect(status(roomSid, p.sid)).toBe("disconnected");
    expect(await entry(p.sid)).toMatchObject({ outcome: "disconnected", rule: { id: limitId } });
  });
});

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function soakSeed(): number {
  const given = process.env.RELIABILITY_SEED;
  if (given === undefined || given === "") return randomInt(2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`RELIABILITY_SEED must be a whole number, not ${given}`);
  return seed;
}

type RoomKind = "shared" | "timed" | "open";

interface SoakRoom {
  readonly sid: string;
  readonly name: string;
  readonly kind: RoomKind;
  inProgress: boolean;
}

/** One participant session the workload created, as Twilio started it. */
interface SoakSession {
  readonly sid: string;
  readonly roomSid: string;
  readonly kind: RoomKind;
  readonly identity: string;
  readonly connectedAt: number;
}

interface SoakIdentity {
  readonly name: string;
  readonly trial: boolean;
  /** When its exact ban was created; never banned when absent. */
  bannedAt?: number;
}

type Op =
  | { readonly type: "join"; readonly identity: string; readonly room: SoakRoom; readonly unheard?: true }
  | { readonly type: "leave" | "reconnect" | "drop-connection" | "recover"; readonly session: SoakSession }
  | { readonly type: "replay"; readonly identity: string; readonly callback: DeliveredCallback }
  | { readonly type: "complete"; readonly room: SoakRoom };

const twilioFaultKinds = ["twilio-429", "twilio-5xx", "twilio-timeout", "twilio-slow", "twilio-reset"] as const;
type TwilioFaultKind = (typeof twilioFaultKinds)[number];

const SOAK = {
  ops: size(170, 800),
  /** At least this many events (callbacks and replays) in a run; more operations are made until there are. */
  minEvents: size(0, 1000),
  users: size(14, 34),
  bannedAtStart: size(2, 4),
  lateBans: size(1, 3),
  trials: size(4, 8),
  rooms: { shared: size(3, 4), timed: size(2, 3), open: size(2, 3) } satisfies Record<RoomKind, number>,
  limitSeconds: size(40, 90),
  /** Share of steps (a batch of operations, or a sweep) that get a fault injected. */
  faultRate: 0.3,
  sweepEveryMs: 5_000,
  twilioTimeoutMs: 400,
  /** The enforcer invocation's time: a few slow kicks use it up, and the rest of the batch is handed back. */
  functionTimeoutMs: 6_000,
  /** Share of joins whose connect callback is held back until after the next sweep has adopted the participant. */
  unheardJoins: 0.15,
};

describe("randomized soak", () => {
  it(`${SOAK.ops} workload operations with ${SOAK.faultRate * 100}% of steps faulted: every invariant holds`, {
    timeout: size(120_000, 900_000),
  }, async () => {
    const started = Date.now();
    const seed = soakSeed();
    console.log(`[reliability] soak seed ${seed} (set RELIABILITY_SEED=${seed} to run it again)`);
    const random = seededRandom(seed);
    const below = (n: number) => Math.floor(random() * n);
    const pick = <T>(items: readonly T[]): T | undefined => items[below(items.length)];

    const clock = manualClock(T0);
    const plan = new FaultPlan();
    const endpoint = inject("dynamoEndpoint");
    const h = await startPipelineHarness({
      clock,
      twilioTimeoutMs: SOAK.twilioTimeoutMs,
      // Replays must reach the enforcer: its own idempotency is under test, not the queue's deduplication.
      queue: { deduplicationWindowMs: 1, functionTimeoutMs: SOAK.functionTimeoutMs },
      enforcerDependencies: faultyEnforcer(plan, endpoint, clock),
      // The webhook records disconnects itself: its writes meet the same DynamoDB faults.
      webhookDependencies: faultyWebhook(plan, endpoint),
      consumer: (enforcer) => crashingConsumer(enforcer, plan),
    });
    quietConsole();
    try {
      const sweepDeps = faultyDependencies({ plan, endpoint, names: h.names, video: h.sweepDeps.video, clock });

      // Identities: plain users (a few banned from the start, a few more later), and trial users whom a dry-run
      // ban matches. Rules: the bans, a duplicate-identity rule on shared rooms, a limit on timed rooms and a
      // stricter one trialled in dry-run beside it.
      const identities = new Map<string, SoakIdentity>();
      for (let i = 0; i < SOAK.users; i++) identities.set(`user-${i}`, { name: `user-${i}`, trial: false });
      for (let i = 0; i < SOAK.trials; i++) identities.set(`trial-${i}`, { name: `trial-${i}`, trial: true });
      const users = [...identities.values()].filter((identity) => !identity.trial);
      for (const identity of users.slice(0, SOAK.bannedAtStart)) {
        await h.addRule({ kind: "ban", identity: identity.name, reason: "soak" });
        identity.bannedAt = clock.now();
      }
      const dryRunId = await h.addRule({
        kind: "ban",
        identityPattern: "trial-*",
        reason: "trialled",
        mode: "dry-run",
      });
      await h.addRule({ kind: "duplicate-identity", keep: "oldest", roomPattern: "shared-*" });
      const limitId = await h.addRule({
        kind: "max-duration",
        limitSeconds: SOAK.limitSeconds,
        roomPattern: "timed-*",
      });
      const limitMs = SOAK.limitSeconds * 1000;
      const dryLimitSeconds = Math.round(SOAK.limitSeconds / 2);
      const dryLimitId = await h.addRule({
        kind: "max-duration",
        limitSeconds: dryLimitSeconds,
        roomPattern: "timed-*",
        mode: "dry-run",
      });
      const dryLimitMs = dryLimitSeconds * 1000;

      const rooms: SoakRoom[] = [];
      const roomCount: Record<RoomKind, number> = { shared: 0, timed: 0, open: 0 };
      const openRoom = async (kind: RoomKind) => {
        const name = `${kind}-${roomCount[kind]++}`;
        rooms.push({ sid: await h.room(name), name, kind, inProgress: true });
      };
      for (const kind of ["shared", "timed", "open"] as const) {
        for (let i = 0; i < SOAK.rooms[kind]; i++) await openRoom(kind);
      }

      const sessions: SoakSession[] = [];
      const snapshot = (session: SoakSession) => h.emulator.participant(session.roomSid, session.sid);
      const isPresent = (session: SoakSession) => {
        const status = snapshot(session)?.status;
        return status === "connected" || status === "reconnecting";
      };
      const firstConnect = new Map<string, number>();
      /** The identity's first join of the session's room: the limits' clock, and the rank of duplicate rooms. */
      const firstJoin = (session: SoakSession) =>
        firstConnect.get(`${session.identity} ${session.roomSid}`) ?? session.connectedAt;
      const deadlineOf = (session: SoakSession) => firstJoin(session) + limitMs;
      const dryDeadlineOf = (session: SoakSession) => firstJoin(session) + dryLimitMs;
      /** Past a limit's deadline (the dry-run one comes first): such a session's end is the limits' to decide. */
      const isDue = (session: SoakSession) => session.kind === "timed" && dryDeadlineOf(session) <= clock.now();
      const isBanned = (identity: string) => identities.get(identity)?.bannedAt !== undefined;

      // An identity whose callback was dead-lettered is left alone until a sweep has completed since: what it
      // did meanwhile could not be judged against the rules without knowing what the system knew.
      let sweepsCompleted = 0;
      const frozen = new Map<string, number>();
      const isFrozen = (identity: string) => {
        const mark = frozen.get(identity);
        if (mark !== undefined && sweepsCompleted > mark) frozen.delete(identity);
        return frozen.has(identity);
      };
      let deadSeen = 0;
      const noteDeadLetters = () => {
        for (const dead of h.pipeline.queue.deadLetters.slice(deadSeen)) {
          const identity = (JSON.parse(dead.body) as { form: Record<string, string> }).form.ParticipantIdentity;
          if (identity !== undefined) frozen.set(identity, sweepsCompleted);
        }
        deadSeen = h.pipeline.queue.deadLetters.length;
      };

      // Faults: each step (a batch of operations, or a sweep) gets one with probability `faultRate`.
      const twilioArmed: Record<TwilioFaultKind, number> = {
        "twilio-429": 0,
        "twilio-5xx": 0,
        "twilio-timeout": 0,
        "twilio-slow": 0,
        "twilio-reset": 0,
      };
      let steps = 0;
      let faultedSteps = 0;
      const tables = [h.names.Sessions, h.names.Audit, h.names.Rules];
      const injectStepFault = (step: "operations" | "sweep") => {
        steps += 1;
        if (random() >= SOAK.faultRate) return;
        faultedSteps += 1;
        const kinds = [
          ...(step === "operations" ? crashKinds : crashKinds.filter((kind) => kind !== "crash-after-enqueue")),
          ...dynamoFaultKinds,
          ...twilioFaultKinds,
        ];
        const kind = pick(kinds) ?? "dynamo-throttled";
        const times = 1 + below(3);
        if (kind.startsWith("twilio-")) {
          h.emulator.clearFaults();
          // Kicks during operations; every REST request (participant lists, room fetches) during a sweep.
          const match = step === "operations" ? { match: { method: "POST" } } : {};
          const fault =
            kind === "twilio-429"
              ? { status: 429, times: 1 + below(4) }
              : kind === "twilio-5xx"
                ? { status: pick([500, 502, 503]) ?? 503, times: 1 + below(9) }
                : kind === "twilio-timeout"
                  ? { delayMs: SOAK.twilioTimeoutMs + 300, times: 1 + below(2) }
                  : kind === "twilio-slow"
                    ? // Answered, just before the timeout: slow kicks that use up the invocation's time.
                      { delayMs: SOAK.twilioTimeoutMs - 80, times: 2 + below(6) }
                    : { reset: true, times: 1 + below(3) };
          h.emulator.injectFault({ ...match, ...fault });
          twilioArmed[kind as TwilioFaultKind] += fault.times;
        } else if (kind.startsWith("dynamo-")) {
          // A third are bursts on one table (a hot partition, a table briefly unavailable): long enough to outlast
          // the queue's deliveries of a callback, which is then dead-lettered at whatever step that table serves.
          const burst = random() < 1 / 3;
          const command: DynamoCommand | undefined = random() < 0.5 ? pick(dynamoCommands) : undefined;
          const table = burst || random() < 0.5 ? pick(tables) : undefined;
          plan.arm(kind as DynamoFaultKind, burst ? 3 + below(6) : times, {
            ...(command === undefined ? {} : { command }),
            ...(table === undefined ? {} : { table }),
          });
        } else {
          plan.arm(kind as CrashKind, kind === "crash-after-enqueue" ? times : 1);
        }
      };

      let sweepsFailed = 0;
      const heldBack: DeliveredCallback[] = [];
      const heldIdentities = new Set<string>();
      let lateConnects = 0;
      const runSweep = async () => {
        try {
          const report = await sweep(sweepDeps, { owner: "soak", leaseMs: 30_000, batch: 100 });
          if (report.ran) sweepsCompleted += 1;
        } catch {
          sweepsFailed += 1;
        }
        await drain(h);
        noteDeadLetters();
        // Connect callbacks held back past this reconciliation land now, with their exact Timestamps.
        heldIdentities.clear();
        for (const callback of heldBack.splice(0)) {
          const response = await fetch(callback.url, {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": callback.signature },
            body: new URLSearchParams(callback.params).toString(),
          });
          expect(response.status).toBe(204);
          lateConnects += 1;
        }
        await drain(h);
        noteDeadLetters();
      };

      // The workload: batches of operations on distinct identities, each batch drained before the next; the
      // clock moves between batches, and the sweep runs every 5 s of it, as in AWS.
      let replays = 0;
      let skipped = 0;
      let connectionsDropped = 0;
      let joinsChosen = 0;
      let heldEver = 0;
      const chooseOp = (busy: ReadonlySet<string>): Op | undefined => {
        // An identity whose connect callback is held back waits for it: what it did meanwhile would overtake it.
        const free = (identity: string) => !busy.has(identity) && !isFrozen(identity) && !heldIdentities.has(identity);
        const present = sessions.filter((session) => free(session.identity) && isPresent(session));
        const roll = random();
        if (roll < 0.45) {
          const candidates = [...identities.values()].filter(
            (identity) => free(identity.name) && (identity.bannedAt === undefined || random() < 0.3),
          );
          const identity = pick(candidates)?.name;
          const room = pick(rooms.filter((r) => r.inProgress));
          if (identity === undefined || room === undefined) return undefined;
          // Joining again where the identity is present replaces that session (Twilio's rule): not for a banned
          // one, nor for one past its deadline, which must be the limit's to end.
          const replaced = present.find((s) => s.identity === identity && s.roomSid === room.sid);
          if (replaced !== undefined && (isBanned(identity) || isDue(replaced))) return undefined;
          joinsChosen += 1;
          // Random, and at least one per run whatever the seed: the fourth join at the latest goes unheard.
          const unheard = random() < SOAK.unheardJoins || (joinsChosen >= 4 && heldEver === 0);
          return unheard ? { type: "join", identity, room, unheard: true } : { type: "join", identity, room };
        }
        if (roll < 0.65) {
          const session = pick(present.filter((s) => !isBanned(s.identity) && !isDue(s)));
          return session === undefined ? undefined : { type: "leave", session };
        }
        if (roll < 0.72) {
          const session = pick(present.filter((s) => snapshot(s)?.status === "connected"));
          return session === undefined ? undefined : { type: "reconnect", session };
        }
        if (roll < 0.8) {
          // A connection that drops and stays down across steps, sweeps and reconciliations, then recovers.
          const down = pick(present.filter((s) => snapshot(s)?.status === "reconnecting"));
          if (down !== undefined && random() < 0.5) return { type: "recover", session: down };
          const session = pick(present.filter((s) => snapshot(s)?.status === "connected"));
          return session === undefined ? undefined : { type: "drop-connection", session };
        }
        if (roll < 0.95) {
          const callback = pick(
            h.emulator.callbacks.filter(
              (c) => c.params.ParticipantIdentity !== undefined && free(c.params.ParticipantIdentity),
            ),
          );
          const identity = callback?.params.ParticipantIdentity;
          return callback === undefined || identity === undefined ? undefined : { type: "replay", identity, callback };
        }
        const room = pick(rooms.filter((r) => r.inProgress));
        if (room === undefined) return undefined;
        const inRoom = sessions.filter((s) => s.roomSid === room.sid && isPresent(s));
        // Ending a room ends its sessions: not while one is frozen, banned or past its deadline.
        if (inRoom.some((s) => !free(s.identity) || isBanned(s.identity) || isDue(s))) return undefined;
        return { type: "complete", room };
      };

      const run = async (op: Op) => {
        try {
          switch (op.type) {
            case "join": {
              const before = h.emulator.callbacks.length;
              if (op.unheard) h.emulator.dropCallbacks(1);
              const participant = await h.emulator.join(op.room.sid, op.identity);
              if (op.unheard) {
                const dropped = h.emulator.callbacks.slice(before).find((c) => c.dropped);
                if (dropped !== undefined) {
                  heldBack.push(dropped);
                  heldIdentities.add(op.identity);
                  heldEver += 1;
                }
              }
              const key = `${op.identity} ${op.room.sid}`;
              if (!firstConnect.has(key)) firstConnect.set(key, participant.connectedAt);
              sessions.push({
                sid: participant.sid,
                roomSid: op.room.sid,
                kind: op.room.kind,
                identity: op.identity,
                connectedAt: participant.connectedAt,
              });
              return;
            }
            case "leave":
              await h.emulator.leave(op.session.roomSid, op.session.sid);
              return;
            case "reconnect":
              await h.emulator.reconnect(op.session.roomSid, op.session.sid);
              return;
            case "drop-connection":
              connectionsDropped += 1;
              await h.emulator.dropConnection(op.session.roomSid, op.session.sid);
              return;
            case "recover":
              await h.emulator.recover(op.session.roomSid, op.session.sid);
              return;
            case "replay": {
              replays += 1;
              const response = await fetch(op.callback.url, {
                method: "POST",
                headers: {
                  "Content-Type": "application/x-www-form-urlencoded",
                  "X-Twilio-Signature": op.callback.signature,
                },
                body: new URLSearchParams(op.callback.params).toString(),
              });
              expect(response.status).toBe(204);
              return;
            }
            case "complete":
              await h.emulator.completeRoom(op.room.sid);
              op.room.inProgress = false;
              await openRoom(op.room.kind);
              return;
          }
        } catch (error) {
          // The participant was kicked meanwhile (a kick that was late, by design or by a fault): nothing to do.
          if (!(error instanceof ParticipantStateError)) throw error;
          skipped += 1;
        }
      };

      let operations = 0;
      let nextSweepAt = clock.now() + SOAK.sweepEveryMs;
      const lateBanAt = Array.from({ length: SOAK.lateBans }, (_, i) =>
        Math.floor((SOAK.ops * (i + 1)) / (SOAK.lateBans + 1)),
      );
      // At full size the run goes on past its operations until it has made at least SOAK.minEvents events (callbacks
      // and replays): how many an operation makes depends on the seed (kicks cause disconnects, replays repeat).
      while (operations < SOAK.ops || h.emulator.callbacks.length + replays < SOAK.minEvents) {
        if (clock.now() >= nextSweepAt) {
          nextSweepAt += SOAK.sweepEveryMs;
          injectStepFault("sweep");
          await runSweep();
          continue;
        }
        if (lateBanAt[0] !== undefined && operations >= lateBanAt[0]) {
          lateBanAt.shift();
          const identity = pick(users.filter((u) => u.bannedAt === undefined && !isFrozen(u.name)));
          if (identity !== undefined) {
            // Stamped before the last sweep, as an admin write that committed after the sweep read the change log.
            await h.addRule(
              { kind: "ban", identity: identity.name, reason: "soak, later" },
              { stampedAt: nextSweepAt - SOAK.sweepEveryMs - 1000 },
            );
            identity.bannedAt = clock.now();
          }
        }
        const busy = new Set<string>();
        const batch: Op[] = [];
        const wanted = 1 + below(4);
        for (let attempt = 0; attempt < 12 && batch.length < wanted; attempt++) {
          const op = chooseOp(busy);
          if (op === undefined) continue;
          if (op.type === "complete" || (op.type === "join" && op.unheard)) {
            // Alone in its batch: it touches every identity in the room, or it holds back the next callback sent.
            if (batch.length > 0 || (op.type === "complete" && random() > 0.3)) continue;
            batch.push(op);
            break;
          }
          batch.push(op);
          busy.add(op.type === "join" || op.type === "replay" ? op.identity : op.session.identity);
        }
        if (batch.length > 0) {
          injectStepFault("operations");
          await Promise.all(batch.map(run));
          operations += batch.length;
          await drain(h);
          noteDeadLetters();
        }
        clock.advance(300 + below(2_200));
      }
      const workloadEnd = clock.now();
      const firedDuringWorkload = plan.totalFired;

      // Faults stop. Late answers land, the queue drains, and sweeps run with the clock moved past grace periods,
      // backoffs and every deadline, until no kick is open.
      plan.disarm();
      h.emulator.clearFaults();
      await new Promise((resolve) => setTimeout(resolve, SOAK.twilioTimeoutMs + 600));
      await drain(h);
      noteDeadLetters();
      let finalSweeps = 0;
      for (let quiet = 0; quiet < 2; finalSweeps++) {
        expect(finalSweeps, "the sweeps should have closed every open kick by now").toBeLessThan(80);
        const open = await openKicks(h);
        const earliest = Math.min(...open.map((kick) => kick.retryAt));
        clock.set(Math.max(clock.now() + 15_000, Number.isFinite(earliest) ? earliest : 0));
        await runSweep();
        const done = open.length === 0 && clock.now() > workloadEnd + limitMs + 20_000;
        quiet = done ? quiet + 1 : 0;
      }

      // The ground truth, from the workload and the rules.
      const final = new Map(sessions.map((session) => [session.sid, snapshot(session)]));
      const endOf = (session: SoakSession) => final.get(session.sid)?.disconnectedAt;
      const bySid = new Map(sessions.map((session) => [session.sid, session]));
      const bannedSince = (session: SoakSession) => identities.get(session.identity)?.bannedAt;
      const older = (a: SoakSession, b: SoakSession) =>
        a.connectedAt < b.connectedAt || (a.connectedAt === b.connectedAt && a.sid < b.sid);
      /** Live at `at`; a session kicked at that very instant was live until the kick. */
      const liveAt = (session: SoakSession, at: number) => {
        const end = endOf(session);
        return (
          session.connectedAt <= at &&
          (end === undefined ||
            end > at ||
            (end === at && final.get(session.sid)?.endReason === "disconnected_via_api"))
        );
      };
      /**
       * Rooms rank by when the identity's continuous stay in them began (the README's duplicate-identity rule): a
       * session starting while an earlier one in the same room was live, or within STAY_GAP_MS of its end, continues
       * that stay.
       */
      const stayStart = (session: SoakSession) => {
        let start = session.connectedAt;
        const earlier = sessions
          .filter((other) => other.identity === session.identity && other.roomSid === session.roomSid)
          .sort((x, y) => y.connectedAt - x.connectedAt);
        for (const other of earlier) {
          if (other.connectedAt < start && (endOf(other) ?? Number.POSITIVE_INFINITY) + STAY_GAP_MS >= start) {
            start = other.connectedAt;
          }
        }
        return start;
      };
      const ranksBefore = (a: SoakSession, b: SoakSession) =>
        stayStart(a) < stayStart(b) || (stayStart(a) === stayStart(b) && older(a, b));
      /**
       * When the session first was over the duplicate-identity limit: live at the later of its connect and another
       * session's of its identity, in a shared room ranked before its own. Decisions are taken at connects.
       */
      const duplicateSince = (session: SoakSession): number | undefined => {
        if (session.kind !== "shared") return undefined;
        let since: number | undefined;
        for (const other of sessions) {
          if (other.identity !== session.identity || other.kind !== "shared" || other.roomSid === session.roomSid) {
            continue;
          }
          const at = Math.max(session.connectedAt, other.connectedAt);
          if (ranksBefore(other, session) && liveAt(other, at) && liveAt(session, at)) {
            since = Math.min(since ?? at, at);
          }
        }
        return since;
      };
      const duplicate = (session: SoakSession) => duplicateSince(session) !== undefined;
      /** Still connected when its ban was created (the workload never ends a banned session itself). */
      const banned = (session: SoakSession) => {
        const since = bannedSince(session);
        return since !== undefined && (endOf(session) ?? Number.POSITIVE_INFINITY) >= since;
      };
      /** Still connected at its deadline (the workload never ends such a session itself). */
      const overLimit = (session: SoakSession) =>
        session.kind === "timed" && (endOf(session) ?? Number.POSITIVE_INFINITY) >= deadlineOf(session);
      const mustKick = (session: SoakSession) => banned(session) || duplicate(session) || overLimit(session);
      /** Whether a rule of this kind allowed kicking the session at `at`. */
      const allowed = (session: SoakSession, kind: string, at: number) => {
        const since = bannedSince(session);
        if (kind === "ban") return since !== undefined && at >= since;
        if (kind === "duplicate-identity") return at >= (duplicateSince(session) ?? Number.POSITIVE_INFINITY);
        if (kind === "max-duration") return session.kind === "timed" && at >= deadlineOf(session);
        return false;
      };
      const allowedByAny = (session: SoakSession, at: number) =>
        ["ban", "duplicate-identity", "max-duration"].some((kind) => allowed(session, kind, at));

      const entries = await auditEntries(h);
      const kickEntries = new Map<string, Extract<AuditEntry, { action: "kick" }>>();
      const wouldKicks = new Map<string, Extract<AuditEntry, { action: "would-kick" }>>();
      const restKicks = h.emulator.requests.filter(
        (r) =>
          r.method === "POST" && /\/Participants\/PA[0-9a-f]{32}$/.test(r.path) && r.form.Status === "disconnected",
      );
      /** Sessions whose connect was dead-lettered: their first decision was the sweep's. */
      const deadConnects = new Set(
        h.pipeline.queue.deadLetters
          .map((dead) => (JSON.parse(dead.body) as { form: Record<string, string> }).form)
          .filter((form) => form.StatusCallbackEvent === "participant-connected")
          .map((form) => form.ParticipantSid),
      );
      const violations: string[] = [];
      let checked = 0;
      const check = (ok: boolean, violation: () => string) => {
        checked += 1;
        if (!ok) violations.push(violation());
      };

      // 2. Exactly one entry per decision, none left open.
      for (const entry of entries) {
        if (entry.action !== "kick" && entry.action !== "would-kick") continue;
        const key = entry.action === "kick" ? entry.participant.sid : `${entry.participant.sid}:${entry.rule?.id}`;
        const seen = entry.action === "kick" ? kickEntries : wouldKicks;
        check(!seen.has(key), () => `two ${entry.action} entries for ${key}`);
        if (entry.action === "kick") {
          kickEntries.set(key, entry);
          check(entry.id === auditEntryIds.kick(entry.participant.sid), () => `kick entry ${entry.id} misfiled`);
          check(
            entry.outcome === "disconnected" || entry.outcome === "already-gone",
            () => `kick entry ${entry.id} left ${entry.outcome} (attempts ${entry.attempts})`,
          );
        } else if (entry.action === "would-kick") {
          wouldKicks.set(key, entry);
          check(
            entry.id === auditEntryIds.wouldKick(entry.participant.sid, entry.rule?.id),
            () => `would-kick entry ${entry.id} misfiled`,
          );
        }
      }

      let mustKicks = 0;
      for (const session of sessions) {
        const state = final.get(session.sid);
        const entry = kickEntries.get(session.sid);
        if (mustKick(session)) {
          // 1. Every participant a rule removes is disconnected, with its one final entry.
          mustKicks += 1;
          check(state?.status === "disconnected", () => `${describeSession(session)} should be disconnected`);
          check(entry !== undefined, () => `${describeSession(session)} was to be kicked but has no kick entry`);
          if (entry?.outcome === "disconnected") {
            check(
              state?.endReason === "disconnected_via_api",
              () => `${describeSession(session)}: entry says disconnected, Twilio says ${state?.endReason}`,
            );
          }
        } else {
          // 3. Nobody removed that no rule matched.
          check(
            state?.endReason !== "disconnected_via_api",
            () => `${describeSession(session)} was kicked though no rule matched`,
          );
          check(entry === undefined, () => `${describeSession(session)} has a kick entry though no rule matched`);
        }
        // Dry run: a trial session's first decision records what the dry-run rule would do, unless an enforcing rule
        // decided that same evaluation (the kick entry then lists the dry-run rule); a duplicate may be kicked from
        // its older session's evaluation, which the dry-run rule (matching the subject only) is not part of.
        if (identities.get(session.identity)?.trial === true && !duplicate(session)) {
          const supersededAtFirstDecision =
            entry?.otherMatches.some((rule) => rule.id === dryRunId) === true &&
            (allowedByAny(session, session.connectedAt) || deadConnects.has(session.sid));
          check(
            wouldKicks.has(`${session.sid}:${dryRunId}`) || supersededAtFirstDecision,
            () => `${describeSession(session)}: no would-kick entry for the dry-run rule`,
          );
        }
        // Dry-run limit: a session still connected at its deadline has the would-kick entry, unless an enforcing
        // rule decided the evaluation that found it past (the kick entry then lists the dry-run limit), or had
        // decided its kick before (it was still connected because that kick was being retried). A trial session's
        // dry-run decisions are filed under the dry-run ban, which ranks first.
        if (
          session.kind === "timed" &&
          identities.get(session.identity)?.trial !== true &&
          (endOf(session) ?? Number.POSITIVE_INFINITY) >= dryDeadlineOf(session) &&
          !(entry !== undefined && Date.parse(entry.createdAt) < dryDeadlineOf(session))
        ) {
          check(
            wouldKicks.has(`${session.sid}:${dryLimitId}`) ||
              entry?.otherMatches.some((rule) => rule.id === dryLimitId) === true,
            () => `${describeSession(session)}: no would-kick entry for the dry-run limit`,
          );
        }
      }

      // 3. Each kick entry names an enforcing rule that allowed the kick when it was decided; each would-kick the
      // dry-run rule; every REST kick had its entry written ahead and was allowed when it was made.
      for (const entry of kickEntries.values()) {
        const session = bySid.get(entry.participant.sid);
        check(session !== undefined, () => `kick entry ${entry.id} for a participant the workload never made`);
        if (session === undefined) continue;
        const rule = entry.rule;
        check(rule !== undefined, () => `kick entry ${entry.id} names no rule, and the workload kicks nobody by hand`);
        if (rule === undefined) continue;
        check(rule.mode === "enforce", () => `kick entry ${entry.id} decided by dry-run rule ${rule.id}`);
        check(
          allowed(session, rule.kind, Date.parse(entry.createdAt)),
          () =>
            `kick entry ${entry.id}: ${rule.kind} did not allow kicking ${describeSession(session)} at ${entry.createdAt}`,
        );
      }
      for (const entry of wouldKicks.values()) {
        const session = bySid.get(entry.participant.sid);
        check(
          entry.rule?.id === dryRunId
            ? identities.get(entry.participant.identity)?.trial === true
            : entry.rule?.id === dryLimitId &&
                session?.kind === "timed" &&
                Date.parse(entry.createdAt) >= dryDeadlineOf(session),
          () =>
            `would-kick entry ${entry.id} by ${entry.rule?.id} for ${entry.participant.identity} at ${entry.createdAt}`,
        );
      }
      const restKicksPer = new Map<string, number>();
      for (const request of restKicks) {
        const participantSid = request.path.slice(request.path.lastIndexOf("/") + 1);
        restKicksPer.set(participantSid, (restKicksPer.get(participantSid) ?? 0) + 1);
        const session = bySid.get(participantSid);
        const entry = kickEntries.get(participantSid);
        check(
          session !== undefined && allowedByAny(session, request.at),
          () => `REST kick of ${participantSid} at ${new Date(request.at).toISOString()} allowed by no rule`,
        );
        check(
          entry !== undefined && Date.parse(entry.createdAt) <= request.at,
          () => `REST kick of ${participantSid} without an entry written ahead`,
        );
      }

      // 4. Everything dead-lettered is visible in the audit trail, completed.
      let deadImplyingKicks = 0;
      let deadCompletedLater = 0;
      for (const dead of h.pipeline.queue.deadLetters) {
        const form = (JSON.parse(dead.body) as { form: Record<string, string> }).form;
        const session = form.ParticipantSid === undefined ? undefined : bySid.get(form.ParticipantSid);
        if (session === undefined) continue;
        if (mustKick(session)) {
          deadImplyingKicks += 1;
          const entry = kickEntries.get(session.sid);
          check(
            entry !== undefined && entry.outcome !== "pending" && entry.outcome !== "failed",
            () => `dead-lettered ${form.StatusCallbackEvent} of ${describeSession(session)}: kick not completed`,
          );
          // Decided by the sweep, or finalised after the dead-lettered deliveries (by the sweep's retry or takeover).
          if (
            entry?.trigger.type === "sweep" ||
            Date.parse(entry?.finalizedAt ?? "") > Date.parse(entry?.createdAt ?? "")
          ) {
            deadCompletedLater += 1;
          }
        }
      }

      // 5. What the system believes agrees with Twilio: every live session in presence is present in Twilio, and
      // the other way round; every room believed in progress is.
      for (const identity of identities.keys()) {
        const presence = await h.sessions.presence(identity);
        const live = new Set((presence?.sessions ?? []).filter(isLive).map((s) => s.participantSid));
        for (const session of sessions.filter((s) => s.identity === identity)) {
          const present = isPresent(session);
          check(
            live.has(session.sid) === present,
            () =>
              `${describeSession(session)}: presence says ${live.has(session.sid) ? "live" : "gone"}, Twilio says ${final.get(session.sid)?.status}`,
          );
        }
      }
      const believedActive = await h.sessions.activeRooms();
      for (const room of believedActive) {
        check(h.emulator.room(room.sid)?.status === "in-progress", () => `room ${room.name} believed in progress`);
      }

      // How late limits were enforced while faults were on: from the deadline, or from the connect of a session
      // that rejoined a room after its identity's deadline there (kicked on arrival).
      const durationLateness = [...kickEntries.values()]
        .filter((entry) => entry.rule?.id === limitId && Date.parse(entry.createdAt) <= workloadEnd)
        .map((entry) => {
          const session = bySid.get(entry.participant.sid);
          if (session === undefined) return 0;
          return Date.parse(entry.createdAt) - Math.max(deadlineOf(session), session.connectedAt);
        });
      reportFigures("soak", {
        seed,
        mode: size("quick", "full"),
        operations,
        events: h.emulator.callbacks.length + replays,
        callbacks: h.emulator.callbacks.length,
        replays,
        connectionsDropped,
        lateConnects,
        lateCommittedBans: SOAK.lateBans,
        operationsSkipped: skipped,
        steps,
        faultedSteps,
        faultedShare: Number((faultedSteps / steps).toFixed(3)),
        faultsFired: firedDuringWorkload,
        ...Object.fromEntries([...crashKinds, ...dynamoFaultKinds].map((kind) => [kind, plan.fired(kind)])),
        ...Object.fromEntries(twilioFaultKinds.map((kind) => [`${kind}-armed`, twilioArmed[kind]])),
        twilioErrorAnswers: h.emulator.requests.filter((r) => r.status === 0 || r.status >= 429).length,
        deliveries: plan.deliveries.total,
        redeliveries: plan.deliveries.redeliveries,
        deadLetters: h.pipeline.queue.deadLetters.length,
        deadLettersImplyingKicks: deadImplyingKicks,
        deadLettersKickCompletedLater: deadCompletedLater,
        sweepsCompleted,
        sweepsFailed,
        finalSweeps,
        sessions: sessions.length,
        mustKick: mustKicks,
        kicked: [...final.values()].filter((p) => p?.endReason === "disconnected_via_api").length,
        restKickRequests: restKicks.length,
        maxRestKicksPerParticipant: Math.max(0, ...restKicksPer.values()),
        auditEntries: entries.length,
        kickEntries: kickEntries.size,
        wouldKickEntries: wouldKicks.size,
        alreadyGone: [...kickEntries.values()].filter((e) => e.outcome === "already-gone").length,
        maxDeadlineLatenessMs: Math.max(0, ...durationLateness),
        invariantsChecked: checked,
        violations: violations.length,
        seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
      });
      expect(steps).toBeGreaterThan(0);
      expect(faultedSteps / steps).toBeGreaterThanOrEqual(0.1);
      expect(connectionsDropped, "the workload should have dropped connections").toBeGreaterThan(0);
      expect(lateConnects, "the workload should have held connect callbacks back").toBeGreaterThan(0);
      expect(violations, `seed ${seed}`).toEqual([]);
      if (FULL) expect(h.emulator.callbacks.length + replays).toBeGreaterThanOrEqual(1000);
    } finally {
      vi.restoreAllMocks();
      await h.stop();
    }
  });
});

function describeSession(session: SoakSession): string {
  return `${session.identity} ${session.sid} in ${session.kind} room ${session.roomSid}`;
}

/** Kicks the sweep must still try: stalled `pending` ones and `failed` ones due for a retry. */
async function openKicks(h: PipelineHarness): Promise<{ id: string; retryAt: number }[]> {
  const open: { id: string; retryAt: number }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await h.client.send(
      new ScanCommand({
        TableName: h.names.Audit,
        FilterExpression: "attribute_exists(retryShard)",
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) open.push({ id: String(item.pk), retryAt: Number(item.retryAt) });
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return open;
}
