/**
 * DynamoDB cost and round trips of one callback, per event type: the enforcer core run directly on dependencies
 * built here around one instrumented document client (ReturnConsumedCapacity TOTAL on every command, a timestamp
 * before and after each), and a Twilio client that notes when the kick request starts.
 */

import { performance } from "node:perf_hooks";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { recordDisconnect } from "../core/callbacks/disconnects.ts";
import { type EnforcerDependencies, enforceCallback } from "../core/callbacks/enforcer.ts";
import { isParticipantEvent, parseStatusCallback } from "../core/callbacks/events.ts";
import { systemClock } from "../core/clock.ts";
import type { TwilioConfig } from "../core/composition/config.ts";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { cachedRuleSource } from "../core/rules/rule-source.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import { markingRoomsOnce } from "../core/sessions/room-marks.ts";
import type { TableNames } from "../core/tables.ts";
import { twilioVideo } from "../core/video/twilio/video.ts";
import type { TwilioEmulator } from "../emulator/index.ts";
import { type ParticipantCallbackEvent, participantForm } from "./callbacks.ts";
import { round } from "./stats.ts";

export interface CommandRecord {
  readonly command: string;
  readonly start: number;
  readonly end: number;
  readonly read: number;
  readonly write: number;
  /**
   * Write units by the kind of partition key they landed on: `<table> <pk prefix>#` for the table's own items
   * (`Sessions identity#`), `<table> <index>` for a global index (`Sessions byDeadline`).
   */
  readonly writesByKey: Readonly<Record<string, number>>;
}

interface CapacityShape {
  TableName?: string;
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  Table?: { CapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

/** The partition keys a write command's input names, by table: `pk` of its Key or Item, every item of a transaction. */
function keysWritten(input: Record<string, unknown>): { table: string; pk: string }[] {
  const one = (request: Record<string, unknown> | undefined) => {
    if (request === undefined) return [];
    const key = (request.Key ?? request.Item) as { pk?: unknown } | undefined;
    return typeof request.TableName === "string" && typeof key?.pk === "string"
      ? [{ table: request.TableName, pk: key.pk }]
      : [];
  };
  const items = (input.TransactItems as Record<string, Record<string, unknown>>[] | undefined) ?? [];
  return [
    ...one(input),
    ...items.flatMap((item) => one(item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck)),
  ];
}

/** `Sessions` from `bench-Sessions`: the logical table name, the physical one ending with it. */
const logical = (tableName: string) => tableName.replace(/^.*-(?=[A-Z])/, "");

const READS = new Set(["GetCommand", "QueryCommand", "ScanCommand", "BatchGetCommand", "TransactGetCommand"]);

/** Adds the counting middleware; every command sent through `client` is appended to `log`. */
export function instrument(client: DynamoDBDocumentClient, log: CommandRecord[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ReturnConsumedCapacity?: string } & Record<string, unknown>;
      input.ReturnConsumedCapacity = "INDEXES";
      const command = String(context.commandName ?? "unknown");
      const start = performance.now();
      let units = 0;
      const writesByKey: Record<string, number> = {};
      const add = (key: string, n: number) => {
        writesByKey[key] = (writesByKey[key] ?? 0) + n;
      };
      let refused = false;
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: CapacityShape | CapacityShape[] }).ConsumedCapacity;
        for (const entry of Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]) {
          units += entry.CapacityUnits ?? (entry.ReadCapacityUnits ?? 0) + (entry.WriteCapacityUnits ?? 0);
          if (READS.has(command) || entry.TableName === undefined) continue;
          const table = logical(entry.TableName);
          for (const [index, used] of Object.entries(entry.GlobalSecondaryIndexes ?? {}))
            add(`${table} ${index}`, used.CapacityUnits ?? 0);
          // The table's own units, shared among the keys the command wrote in it.
          const keys = keysWritten(input).filter((key) => key.table === entry.TableName);
          for (const key of keys)
            add(`${table} ${key.pk.split("#")[0]}#`, (entry.Table?.CapacityUnits ?? 0) / keys.length);
        }
        return result;
      } catch (error) {
        refused = (error as Error).name === "ConditionalCheckFailedException";
        throw error;
      } finally {
        const end = performance.now();
        // DynamoDB charges a read that finds nothing its minimum, which DynamoDB Local reports as 0; a refused
        // conditional write consumes a write unit (more for a large item), but the error carries no ConsumedCapacity.
        const read = READS.has(command) ? Math.max(units, input.ConsistentRead === true ? 1 : 0.5) : 0;
        const write = READS.has(command) ? 0 : refused ? Math.max(units, 1) : units;
        log.push({ command, start, end, read, write, writesByKey });
      }
    },
    { step: "initialize", name: "benchCapacity" },
  );
}

/** The longest chain of commands each starting after the previous ended: the sequential round trips. */
function sequentialRoundTrips(records: readonly CommandRecord[]): number {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  const chain: number[] = [];
  let longest = 0;
  sorted.forEach((record, i) => {
    let best = 0;
    for (let j = 0; j < i; j++) {
      const before = sorted[j] as CommandRecord;
      if (before.end <= record.start) best = Math.max(best, chain[j] ?? 0);
    }
    chain[i] = best + 1;
    longest = Math.max(longest, best + 1);
  });
  return longest;
}

export interface EventCost {
  readonly event: string;
  readonly samples: number;
  /** Mean per callback. */
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly commands: number;
  /** The most sequential DynamoDB round trips seen in one callback (before the kick request, for kicks). */
  readonly sequentialRoundTrips: number;
  readonly roundTripsBeforeKick?: number;
  readonly commandNames: string;
  /**
   * Mean wall time (ms) of enforceCallback, kick request included; for a disconnect, of its recording by the webhook
   * (core/callbacks/disconnects.ts), which the webhook's invocation waits for.
   */
  readonly enforceMs: number;
  /** Recorded by the webhook itself, never queued (disconnects): no queue message, no enforcer invocation. */
  readonly recordedByWebhook?: boolean;
  /** Mean write units per callback by kind of partition key (see CommandRecord.writesByKey). */
  readonly writesByKey: Readonly<Record<string, number>>;
  /**
   * Mean wall time (ms) of a batch of 10 such callbacks of 10 identities enforced side by side, as the enforcer
   * handler runs a full FIFO batch's message groups: what one invocation is billed for them.
   */
  readonly batchOf10Ms?: number;
}

export interface CapacityRun {
  readonly events: EventCost[];
  readonly ruleCacheMs: number;
}

const DEPLOYED_RULE_CACHE_MS = 10_000;
/** The events measured in a room under a time limit: not in the cost table's typical mix, which has no rules. */
export const LIMITED_CONNECT = "participant-connected, time limit (deadline set)";
export const LIMITED_DISCONNECT = "participant-disconnected, time limit (deadline cleared)";

/** `samples` callbacks of each type; rooms live in the emulator (without a StatusCallback) so the kicks are real. */
export async function measureCapacity(options: {
  endpoint: string;
  names: TableNames;
  twilio: TwilioConfig;
  emulator: TwilioEmulator;
  samples: number;
  /** Distinguishes the identities of repeated runs (the scaling run). */
  tag: string;
}): Promise<CapacityRun> {
  const { names, emulator, samples, tag } = options;
  const client = createDocumentClient({ endpoint: options.endpoint });
  const log: CommandRecord[] = [];
  instrument(client, log);
  let kickStartedAt: number | undefined;
  const video = twilioVideo(options.twilio.video);
  const ruleStore = dynamoRuleStore(client, names.Rules);
  const deps: EnforcerDependencies = {
    // As deployed: a room is marked in progress once per container.
    sessions: markingRoomsOnce(dynamoSessionStore(client, names.Sessions)),
    // As deployed: pattern and limit rules cached 10 s; exact bans are read fresh on every callback.
    rules: cachedRuleSource(ruleStore, systemClock, DEPLOYED_RULE_CACHE_MS),
    audit: dynamoAuditLog(client, names.Audit, { retentionDays: 365, now: () => systemClock.now() }),
    video: {
      ...video,
      disconnectParticipant(room, participant) {
        kickStartedAt = performance.now();
        return video.disconnectParticipant(room, participant);
      },
    },
    clock: systemClock,
  };

  const room = await emulator.createRoom({ uniqueName: `capacity-${tag}` });
  const accountSid = options.twilio.accountSid;
  const form = (event: ParticipantCallbackEvent, participant: { sid: string; identity: string }, sequence: number) =>
    participantForm({ accountSid, room: { sid: room.sid, name: room.uniqueName }, participant, event, sequence });

  const now = new Date().toISOString();
  for (let i = 0; i < samples; i++) {
    const spec = ruleSpecSchema.parse({ kind: "ban", identity: `banned-${tag}-${i}`, reason: "bench" });
    const meta = { id: `bench-ban-${tag}-${i}`, version: 1, createdAt: now, createdBy: "bench" };
    await ruleStore.create(ruleSchema.parse({ ...spec, ...meta, updatedAt: now, updatedBy: "bench" }));
  }
  // A time limit on a room of its own: connects there set a deadline, disconnects clear it.
  const limited = await emulator.createRoom({ uniqueName: `capacity-limited-${tag}` });
  const limitSpec = ruleSpecSchema.parse({ kind: "max-duration", limitSeconds: 3600, roomPattern: limited.uniqueName });
  const limitMeta = { id: `bench-limit-${tag}`, version: 1, createdAt: now, createdBy: "bench" };
  await ruleStore.create(ruleSchema.parse({ ...limitSpec, ...limitMeta, updatedAt: now, updatedBy: "bench" }));
  const limitedForm = (event: ParticipantCallbackEvent, participant: { sid: string; identity: string }, n: number) =>
    participantForm({
      accountSid,
      room: { sid: limited.sid, name: limited.uniqueName },
      participant,
      event,
      sequence: n,
    });
  // Warm the rule cache and the connection, as a warm Lambda would have them.
  await deps.rules.forIdentity("warm-up");

  /** What handles the callback: the enforcer, or for a disconnect the webhook's own recording of it. */
  const handle = (form: Record<string, string>) => {
    const event = parseStatusCallback(form);
    if (isParticipantEvent(event) && event.type === "participant-disconnected") {
      return recordDisconnect(event, deps.sessions);
    }
    return enforceCallback({ form, receivedAt: Date.now() }, deps);
  };

  async function measure(name: string, forms: (i: number) => Promise<Record<string, string>>): Promise<EventCost> {
    let read = 0;
    let write = 0;
    let commands = 0;
    let rounds = 0;
    let beforeKick = 0;
    let elapsed = 0;
    const names = new Set<string>();
    const byKey: Record<string, number> = {};
    let recorded = false;
    for (let i = 0; i < samples; i++) {
      const form = await forms(i);
      recorded = form.StatusCallbackEvent === "participant-disconnected";
      log.length = 0;
      kickStartedAt = undefined;
      const started = performance.now();
      await handle(form);
      elapsed += performance.now() - started;
      for (const record of log) {
        read += record.read;
        write += record.write;
        names.add(record.command);
        for (const [key, units] of Object.entries(record.writesByKey)) byKey[key] = (byKey[key] ?? 0) + units;
      }
      commands += log.length;
      rounds = Math.max(rounds, sequentialRoundTrips(log));
      const kickAt = kickStartedAt;
      if (kickAt !== undefined) {
        beforeKick = Math.max(beforeKick, sequentialRoundTrips(log.filter((record) => record.start < kickAt)));
      }
    }
    return {
      event: name,
      samples,
      readUnits: round(read / samples, 3),
      writeUnits: round(write / samples, 3),
      commands: round(commands / samples, 2),
      sequentialRoundTrips: rounds,
      ...(name.includes("ban") ? { roundTripsBeforeKick: beforeKick } : {}),
      commandNames: [...names].sort().join(" "),
      enforceMs: round(elapsed / samples, 2),
      ...(recorded ? { recordedByWebhook: true } : {}),
      writesByKey: Object.fromEntries(
        Object.entries(byKey)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, units]) => [key, round(units / samples, 3)]),
      ),
    };
  }

  const free: { sid: string; identity: string }[] = [];
  const events: EventCost[] = [];
  events.push(
    await measure("participant-connected, no rule", async (i) => {
      const participant = await emulator.join(room.uniqueName, `free-${tag}-${i}`);
      free.push(participant);
      return form("participant-connected", participant, 2 * i + 1);
    }),
  );
  events.push(
    await measure("participant-connected, exact ban (kick)", async (i) => {
      const participant = await emulator.join(room.uniqueName, `banned-${tag}-${i}`);
      return form("participant-connected", participant, 1);
    }),
  );
  events.push(
    await measure("participant-disconnected", async (i) => {
      const participant = free[i] as { sid: string; identity: string };
      return form("participant-disconnected", participant, 2 * i + 2);
    }),
  );
  const timed: { sid: string; identity: string }[] = [];
  events.push(
    await measure(LIMITED_CONNECT, async (i) => {
      const participant = await emulator.join(limited.uniqueName, `timed-${tag}-${i}`);
      timed.push(participant);
      return limitedForm("participant-connected", participant, 2 * i + 1);
    }),
  );
  events.push(
    await measure(LIMITED_DISCONNECT, async (i) => {
      const participant = timed[i] as { sid: string; identity: string };
      return limitedForm("participant-disconnected", participant, 2 * i + 2);
    }),
  );
  // Full batches of connects, their identities side by side, a few times over (disconnects are not queued).
  const batchMs = { connect: 0 };
  const BATCHES = 3;
  for (let b = 0; b < BATCHES; b++) {
    const joined = await Promise.all(
      Array.from({ length: 10 }, (_, i) => emulator.join(room.uniqueName, `batch-${tag}-${b}-${i}`)),
    );
    const timeBatch = async (forms: Record<string, string>[]) => {
      const started = performance.now();
      await Promise.all(forms.map((f) => enforceCallback({ form: f, receivedAt: Date.now() }, deps)));
      return performance.now() - started;
    };
    batchMs.connect += await timeBatch(joined.map((p) => form("participant-connected", p, 1)));
    await Promise.all(joined.map((p) => handle(form("participant-disconnected", p, 2))));
  }
  const withBatch = (event: EventCost): EventCost =>
    event.event === "participant-connected, no rule"
      ? { ...event, batchOf10Ms: round(batchMs.connect / BATCHES, 2) }
      : event;
  client.destroy();
  return { events: events.map(withBatch), ruleCacheMs: DEPLOYED_RULE_CACHE_MS };
}
