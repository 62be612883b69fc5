import { readFileSync } from "node:fs";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuditEntry, auditEntryIds, type KickEntry } from "../core/audit/audit.ts";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import type { AuditLog } from "../core/audit/ports.ts";
import { dynamoEventOutbox } from "../core/events/dynamo-event-outbox.ts";
import { eventBridgeSink } from "../core/events/eventbridge-sink.ts";
import { EVENT_VERSION, eventOf, eventSchema, type RoomWardenEvent } from "../core/events/events.ts";
import type { EventOutbox, EventSink } from "../core/events/ports.ts";
import { MAX_PUBLISH_ATTEMPTS, publishEvents } from "../core/events/publish.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { ruleRef } from "../core/rules/rules.ts";
import { sweep } from "../core/sweep/sweep.ts";
import type { TableNames } from "../core/tables.ts";
import { EVENT_SCHEMA_FILE, renderEventSchema } from "../local/write-openapi.ts";
import { rule, sid, T0 } from "./fixtures/domain.ts";
import { type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";
import { createTestTables } from "./support/tables.ts";

/**
 * The event stream: one event per audit entry state, marked in the entry's own write (the outbox), published at
 * least once with a stable id, to EventBridge in AWS.
 */

const ban = rule("ban-1", { kind: "ban", identity: "mallory", reason: "abuse" });
const limit = rule("limit-1", { kind: "max-duration", limitSeconds: 60, warnBeforeSeconds: [30] });
const at = (ms: number) => new Date(T0 + ms).toISOString();

function kickEntry(n: number, ms = 0): KickEntry {
  const participantSid = sid("PA", n);
  return {
    id: auditEntryIds.kick(participantSid),
    action: "kick",
    createdAt: at(ms),
    room: { sid: sid("RM", 1), name: "room-1" },
    participant: { sid: participantSid, identity: "mallory" },
    rule: { ...ruleRef(ban), snapshot: ban },
    otherMatches: [],
    trigger: { type: "callback", event: "participant-connected", timestamp: at(ms), receivedAt: at(ms + 5) },
    outcome: "pending",
    attempts: 0,
  };
}

function wouldKick(n: number, ms = 0): AuditEntry {
  const participantSid = sid("PA", n);
  return {
    id: auditEntryIds.wouldKick(participantSid, ban.id),
    action: "would-kick",
    outcome: "dry-run",
    createdAt: at(ms),
    room: { sid: sid("RM", 1), name: "room-1" },
    participant: { sid: participantSid, identity: "dave" },
    rule: { ...ruleRef(ban), snapshot: ban },
    otherMatches: [],
    trigger: { type: "sweep", at: at(ms) },
  };
}

function warning(n: number, ms = 0): AuditEntry {
  const participantSid = sid("PA", n);
  return {
    id: auditEntryIds.timeWarning(participantSid, limit.id, 1, 30),
    action: "time-warning",
    createdAt: at(ms),
    room: { sid: sid("RM", 1), name: "room-1" },
    participant: { sid: participantSid, identity: "carol" },
    rule: { ...ruleRef(limit), snapshot: limit },
    trigger: { type: "sweep", at: at(ms) },
    deadlineAt: at(ms + 30_000),
    point: 30,
    secondsLeft: 30,
  };
}

describe("eventOf: one event per audit entry state", () => {
  it("types each entry, with a stable id, the entry as data, and nothing for a kick still pending", () => {
    const pending = kickEntry(1);
    expect(eventOf(pending)).toBeUndefined();
    const kicked: KickEntry = { ...pending, outcome: "disconnected", attempts: 1, finalizedAt: at(40), latencyMs: 40 };
    const failed: KickEntry = {
      ...pending,
      outcome: "failed",
      attempts: 3,
      finalizedAt: at(900),
      error: { message: "503" },
    };
    const change: AuditEntry = {
      id: auditEntryIds.ruleChange(ban.id, 1, "created", at(0)),
      action: "rule-change",
      change: "created",
      createdAt: at(0),
      actor: "ops",
      ruleId: ban.id,
      after: ban,
    };
    const events = [kicked, failed, wouldKick(2), warning(3), change].map(eventOf);
    expect(events.map((e) => [e?.type, e?.id, e?.time])).toEqual([
      ["participant.kicked", `${pending.id}:disconnected:1`, at(40)],
      ["participant.kick-failed", `${pending.id}:failed:3`, at(900)],
      ["participant.would-kick", auditEntryIds.wouldKick(sid("PA", 2), ban.id), at(0)],
      ["participant.time-warning", auditEntryIds.timeWarning(sid("PA", 3), limit.id, 1, 30), at(0)],
      ["rule.changed", change.id, at(0)],
    ]);
    for (const [index, event] of events.entries()) {
      expect(eventSchema.parse(event)).toEqual(event);
      expect(event).toMatchObject({ version: EVENT_VERSION, source: "room-warden" });
      expect(event?.data).toEqual([kicked, failed, wouldKick(2), warning(3), change][index]);
    }
  });

  it("is published as a JSON Schema in docs/ (run `npm run openapi` after changing it)", () => {
    expect(readFileSync(EVENT_SCHEMA_FILE, "utf8")).toBe(renderEventSchema());
    const schema = JSON.parse(renderEventSchema());
    expect(schema.properties.type.enum).toEqual([
      "participant.kicked",
      "participant.kick-failed",
      "participant.would-kick",
      "participant.time-warning",
      "rule.changed",
      "endpoint.disabled",
    ]);
    expect(schema.required).toEqual(["id", "type", "version", "source", "time", "data"]);
  });
});

describe("the outbox on the Audit table (DynamoDB Local)", () => {
  let client: DynamoDBDocumentClient;
  let names: TableNames;
  let audit: AuditLog;
  let outbox: EventOutbox;
  const taken: RoomWardenEvent[] = [];
  const sink: EventSink = {
    async publish(events) {
      taken.push(...events);
      return { failed: [] };
    },
  };

  beforeEach(async () => {
    ({ client, names } = await createTestTables());
    audit = dynamoAuditLog(client, names.Audit, { retentionDays: 30, now: () => T0 });
    outbox = dynamoEventOutbox(client, names.Audit);
    taken.length = 0;
  });

  it("marks every entry state in its own write: decisions and warnings as written, a kick on its outcome, a rule change in its transaction", async () => {
    await audit.begin(wouldKick(1, 1));
    await audit.begin(warning(2, 2));
    const kick = kickEntry(3, 3);
    await audit.begin(kick);
    const rules = dynamoRuleStore(client, names.Rules, { tableName: names.Audit, retentionDays: 30 });
    await rules.create(ban, {
      id: auditEntryIds.ruleChange(ban.id, 1, "created", at(4)),
      action: "rule-change",
      change: "created",
      createdAt: at(4),
      actor: "ops",
      ruleId: ban.id,
      after: ban,
    });
    // The pending kick is not in the outbox until its outcome is.
    expect((await outbox.unpublished(100)).map((i) => i.entry.action)).toEqual([
      "would-kick",
      "time-warning",
      "rule-change",
    ]);
    await audit.finalize(kick.id, { outcome: "disconnected", attempts: 1, latencyMs: 12, finalizedAt: at(10) });

    expect(await publishEvents({ outbox, sink })).toEqual({ published: 4, failed: 0, deadLettered: 0 });
    expect(taken.map((e) => e.type)).toEqual([
      "participant.would-kick",
      "participant.time-warning",
      "rule.changed",
      "participant.kicked",
    ]);
    expect(await outbox.unpublished(100)).toEqual([]);
    expect(await publishEvents({ outbox, sink })).toEqual({ published: 0, failed: 0, deadLettered: 0 });
    expect(taken).toHaveLength(4);
  });

  it("publishes, after a crash between the audit write and the publish, exactly that event, once", async () => {
    await audit.begin(wouldKick(1));
    // The process dies inside the publish: the sink never answers.
    const crashing: EventSink = {
      publish: async () => {
        throw new Error("process killed");
      },
    };
    await expect(publishEvents({ outbox, sink: crashing })).resolves.toMatchObject({ published: 0, failed: 1 });
    // A crash after the sink took it and before the mark was cleared: the sink saw it, the mark stays.
    const [item] = await outbox.unpublished(10);
    expect(item?.entry.id).toBe(auditEntryIds.wouldKick(sid("PA", 1), ban.id));

    expect(await publishEvents({ outbox, sink })).toMatchObject({ published: 1 });
    expect(taken.map((e) => e.id)).toEqual([auditEntryIds.wouldKick(sid("PA", 1), ban.id)]);
    expect(await publishEvents({ outbox, sink })).toMatchObject({ published: 0 });
    expect(taken).toHaveLength(1);
  });

  it("keeps a newer state's mark when an older one is cleared: a failed kick retried and kicked publishes both outcomes", async () => {
    const kick = kickEntry(5);
    await audit.begin(kick);
    await audit.finalize(kick.id, {
      outcome: "failed",
      attempts: 3,
      finalizedAt: at(1000),
      error: { message: "503" },
      retryAt: T0 + 60_000,
    });
    const [failedMark] = await outbox.unpublished(10);
    await audit.reopen(kick.id, T0 + 60_000);
    await audit.finalize(kick.id, { outcome: "disconnected", attempts: 1, finalizedAt: at(61_000) });
    // The publisher read the failed state's mark before the retry: clearing it leaves the new outcome's mark.
    await outbox.published(kick.id, failedMark?.markedAt ?? 0);
    expect(await publishEvents({ outbox, sink })).toMatchObject({ published: 1 });
    expect(taken.map((e) => e.id)).toEqual([`${kick.id}:disconnected:4`]);
  });

  it("retries what the sink refuses, alone, and gives a mark up to the dead letters after the last attempt", async () => {
    await audit.begin(wouldKick(1, 1));
    await audit.begin(wouldKick(2, 2));
    const refused = auditEntryIds.wouldKick(sid("PA", 2), ban.id);
    const refusing: EventSink = {
      publish: async (events) => ({ failed: events.filter((e) => e.id === refused).map((e) => e.id) }),
    };
    expect(await publishEvents({ outbox, sink: refusing })).toEqual({ published: 1, failed: 1, deadLettered: 0 });
    const [left] = await outbox.unpublished(10);
    expect(left).toMatchObject({ attempts: 1, entry: { participant: { sid: sid("PA", 2) } } });

    // Up to the last attempt, counted on the mark; then out of the outbox, kept on the entry.
    for (let attempt = 2; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      expect(await outbox.failed(left?.entry.id ?? "", left?.markedAt ?? 0, MAX_PUBLISH_ATTEMPTS)).toBe(false);
    }
    expect(await outbox.failed(left?.entry.id ?? "", left?.markedAt ?? 0, MAX_PUBLISH_ATTEMPTS)).toBe(true);
    expect(await outbox.unpublished(10)).toEqual([]);
  }, 60_000);
});

describe("no event lost, none invented (a property, over crashes and refusals)", () => {
  it("for any interleaving of writes, outcomes, crashing and refusing publishes, the events delivered are exactly the trail's", async () => {
    const { client, names } = await createTestTables();
    const audit = dynamoAuditLog(client, names.Audit, { retentionDays: 30, now: () => T0 });
    const outbox = dynamoEventOutbox(client, names.Audit);
    let run = 0;
    const step = fc.oneof(
      fc.constant({ op: "would-kick" as const }),
      fc.constant({ op: "kick" as const }),
      fc.constant({ op: "finalize" as const }),
      fc.constant({ op: "publish" as const }),
      fc.constant({ op: "crash-before-sink" as const }),
      fc.constant({ op: "crash-after-sink" as const }),
      fc.constant({ op: "refuse-half" as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        run += 1;
        const delivered = new Map<string, number>();
        const took: EventSink = {
          async publish(events) {
            for (const e of events) delivered.set(e.id, (delivered.get(e.id) ?? 0) + 1);
            return { failed: [] };
          },
        };
        const pendingKicks: string[] = [];
        const ids: string[] = [];
        let n = 0;
        for (const { op } of steps) {
          n += 1;
          const num = run * 1000 + n;
          if (op === "would-kick") {
            const entry = wouldKick(num, n);
            await audit.begin(entry);
            ids.push(entry.id);
          } else if (op === "kick") {
            const entry = kickEntry(num, n);
            await audit.begin(entry);
            pendingKicks.push(entry.id);
            ids.push(entry.id);
          } else if (op === "finalize") {
            const id = pendingKicks.shift();
            if (id !== undefined)
              await audit.finalize(id, { outcome: "disconnected", attempts: 1, finalizedAt: at(n) });
          } else if (op === "publish") {
            await publishEvents({ outbox, sink: took });
          } else if (op === "crash-before-sink") {
            await publishEvents({ outbox, sink: { publish: () => Promise.reject(new Error("killed")) } });
          } else if (op === "crash-after-sink") {
            // The sink took them, then the process died before any mark was cleared.
            await publishEvents({
              outbox,
              sink: {
                async publish(events) {
                  await took.publish(events);
                  throw new Error("killed after the sink");
                },
              },
            });
          } else {
            await publishEvents({
              outbox,
              sink: {
                async publish(events) {
                  const kept = events.filter((_, i) => i % 2 === 0);
                  await took.publish(kept);
                  return { failed: events.filter((_, i) => i % 2 === 1).map((e) => e.id) };
                },
              },
            });
          }
        }
        // Then the process runs on, healthy, until the outbox is empty.
        for (let drain = 0; drain < 10 && (await outbox.unpublished(1)).length > 0; drain++) {
          await publishEvents({ outbox, sink: took });
        }
        // Expected: the event of every entry's current state (a kick still pending has none yet).
        const expected = new Set<string>();
        for (const id of ids) {
          const entry = await audit.get(id);
          const event = entry === undefined ? undefined : eventOf(entry);
          if (event !== undefined) expected.add(event.id);
        }
        expect([...delivered.keys()].sort()).toEqual([...expected].sort());
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe("to EventBridge (aws-sdk-client-mock: no local EventBridge exists)", () => {
  const mock = mockClient(EventBridgeClient);
  beforeEach(() => mock.reset());
  const events = Array.from({ length: 23 }, (_, n) => eventOf(wouldKick(n + 1)) as RoomWardenEvent);

  it("puts each event on the bus, source room-warden and detail-type its type, ten a request", async () => {
    mock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => ({
      FailedEntryCount: 0,
      Entries: input.Entries.map((_, i) => ({ EventId: `e-${i}` })),
    }));
    const result = await eventBridgeSink("room-warden-events", new EventBridgeClient({ region: "us-east-1" })).publish(
      events,
    );
    expect(result).toEqual({ failed: [] });
    const calls = mock.commandCalls(PutEventsCommand);
    expect(calls.map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    const first = calls[0]?.args[0].input.Entries?.[0];
    expect(first).toMatchObject({
      EventBusName: "room-warden-events",
      Source: "room-warden",
      DetailType: "participant.would-kick",
    });
    expect(JSON.parse(first?.Detail ?? "")).toEqual(events[0]);
  });

  it("reports the entries EventBridge refused, and a whole batch when the request fails", async () => {
    mock
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [
          { EventId: "a" },
          { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" },
          ...Array.from({ length: 8 }, (_, i) => ({ EventId: `b${i}` })),
        ],
      })
      .rejectsOnce(new Error("network"))
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: "c" }, { EventId: "d" }, { EventId: "e" }] });
    const result = await eventBridgeSink("bus", new EventBridgeClient({ region: "us-east-1" })).publish(events);
    expect(result.failed).toEqual([events[1]?.id, ...events.slice(10, 20).map((e) => e.id)]);
  });
});

describe("published by the sweep, end to end (emulator, handlers, DynamoDB Local)", () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipelineHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it("each run publishes what the enforcer, the sweep and the operators wrote since, as the audit trail has it", async () => {
    const taken: RoomWardenEvent[] = [];
    const events = {
      outbox: dynamoEventOutbox(h.client, h.names.Audit),
      sink: {
        async publish(batch: readonly RoomWardenEvent[]) {
          taken.push(...batch);
          return { failed: [] };
        },
      },
    };
    const run = () =>
      sweep({ ...h.sweepDeps, events }, { owner: "events", leaseMs: 30_000, batch: 100, reconcile: false });
    await h.addRule({ kind: "ban", identity: "evented-eve", reason: "abuse" });
    const roomSid = await h.room("evented-1");
    const eve = await h.emulator.join(roomSid, "evented-eve");
    await h.settle();

    const report = await run();
    expect(report.events).toEqual({ published: 1, failed: 0, deadLettered: 0 });
    const entry = await h.audit.get(auditEntryIds.kick(eve.sid));
    expect(taken).toEqual([
      {
        id: `${auditEntryIds.kick(eve.sid)}:disconnected:1`,
        type: "participant.kicked",
        version: 1,
        source: "room-warden",
        time: (entry as KickEntry).finalizedAt,
        data: entry,
      },
    ]);
    expect((await run()).events).toEqual({ published: 0, failed: 0, deadLettered: 0 });
  });
});
