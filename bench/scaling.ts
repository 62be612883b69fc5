/**
 * Scaling. Per-event DynamoDB units and enforce latency with 10 vs 100,000 exact bans and 10 vs 100,000 connected
 * sessions: three sets of tables (baseline, bans, sessions), loaded directly in the stores' layouts with BatchWrite,
 * and the enforcer core run on each through one instrumented document client, in interleaved rounds so that the
 * machine's drift hits every set alike. Then the cost of one sweep with 10,000 sessions connected in 500 rooms (every
 * participant also connected in the emulator, some max-duration deadlines due), run as functions/sweep.ts runs it.
 */

import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  type BatchWriteCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
} from "@aws-sdk/lib-dynamodb";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { type EnforcerDependencies, enforceCallback } from "../core/callbacks/enforcer.ts";
import { systemClock } from "../core/clock.ts";
import type { TwilioConfig } from "../core/composition/config.ts";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { cachedRuleSource } from "../core/rules/rule-source.ts";
import { type Rule, ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import type { SweepDependencies, SweepReport } from "../core/sweep/sweep.ts";
import type { TableNames } from "../core/tables.ts";
import { twilioVideo } from "../core/video/twilio/video.ts";
import type { EmulatorRoom, TwilioEmulator } from "../emulator/index.ts";
import { createSweepRun } from "../functions/sweep.ts";
import { createTables } from "../local/dynamodb.ts";
import { type ParticipantCallbackEvent, participantForm } from "./callbacks.ts";
import { type CommandRecord, instrument } from "./capacity.ts";
import { processMemory } from "./memory.ts";
import { ruleItems } from "./rule-items.ts";
import { type ConnectedSession, checkSessionLayout, roomItem, sessionItems } from "./session-items.ts";
import { round, type Summary, sid, summarize } from "./stats.ts";
import { quietObservability } from "./throughput.ts";

type Item = Record<string, NativeAttributeValue>;

/** Bans and sessions every set of tables has: the baseline's whole content. */
const SEED = 10;
/** Connected sessions per room when loading many. */
const PER_ROOM = 20;
const BATCH_WRITE_ITEMS = 25;
const BATCH_WRITES_IN_FLIGHT = 8;
/** The enforcer's rule cache, as deployed. */
const RULE_CACHE_MS = 10_000;
/** The max-duration rule of the sweep's tables. */
const LIMIT_SECONDS = 3600;

const SCALED_EVENTS = [
  "participant-connected, no rule",
  "participant-connected, exact ban (kick)",
  "participant-disconnected",
] as const;
type ScaledEventName = (typeof SCALED_EVENTS)[number];

interface ScaledEvent {
  readonly event: ScaledEventName;
  readonly samples: number;
  /** Means per callback. */
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly commands: number;
  /** enforceCallback's wall time (ms), the kick request included. */
  readonly enforce: Summary;
}

interface ScalingSet {
  readonly key: "baseline" | "bans" | "sessions";
  readonly exactBans: number;
  readonly connectedSessions: number;
  readonly itemsLoaded: number;
  readonly loadSeconds: number;
  readonly events: ScaledEvent[];
}

interface Flatness {
  readonly set: "bans" | "sessions";
  readonly event: ScaledEventName;
  /** RRU and WRU each within 10% of the baseline's. */
  readonly unitsFlat: boolean;
  /** (scaled − baseline) / baseline, in %. */
  readonly p50ChangePercent: number;
  readonly p99ChangePercent: number;
  readonly p50Flat: boolean;
}

export interface SweepRun {
  readonly label: string;
  /** Whether the run reconciled with Twilio's lists (once a minute in AWS; the other ticks do not). */
  readonly reconciled: boolean;
  readonly connectedSessions: number;
  readonly activeRooms: number;
  readonly report: Omit<SweepReport, "kicks"> & { readonly kicks: number };
  readonly durationMs: number;
  readonly commands: number;
  readonly commandCounts: Readonly<Record<string, number>>;
  readonly readUnits: number;
  readonly writeUnits: number;
  readonly twilioRequests: number;
  readonly twilioByKind: Readonly<Record<string, number>>;
}

export interface ScalingResult {
  readonly seedBansAndSessions: number;
  readonly bulk: number;
  readonly samplesPerEvent: number;
  readonly rounds: number;
  readonly ruleCacheMs: number;
  readonly sets: ScalingSet[];
  readonly flatness: Flatness[];
  readonly sweep: {
    readonly sessions: number;
    readonly rooms: number;
    readonly dueDeadlines: number;
    readonly limitSeconds: number;
    readonly loadSeconds: number;
    readonly runs: SweepRun[];
  };
  /** DynamoDB Local's lifetime peak RSS (bytes) after every load, when known. */
  readonly jvmPeakRss?: number;
}

export interface ScalingOptions {
  readonly endpoint: string;
  readonly twilio: TwilioConfig;
  readonly emulator: TwilioEmulator;
  /** How many bans or sessions the large sets add (100,000). */
  readonly bulk: number;
  /** Measured callbacks per event type and set, spread over `rounds`. */
  readonly samples: number;
  readonly rounds: number;
  readonly sweep: { readonly sessions: number; readonly rooms: number; readonly due: number };
  readonly jvmPid: number | undefined;
  readonly log: (message: string) => void;
}

interface LiveSet {
  readonly key: ScalingSet["key"];
  readonly names: TableNames;
  readonly deps: EnforcerDependencies;
  readonly room: EmulatorRoom;
  readonly salt: number;
  readonly exactBans: number;
  readonly connectedSessions: number;
  readonly itemsLoaded: number;
  readonly loadSeconds: number;
  nextFree: number;
  nextKick: number;
  readonly toDisconnect: { sid: string; identity: string }[];
  readonly samples: Record<ScaledEventName, { read: number; write: number; commands: number; ms: number }[]>;
}

export async function measureScaling(options: ScalingOptions): Promise<ScalingResult> {
  const { endpoint, twilio, emulator, bulk, samples, rounds, log } = options;
  const loader = createDocumentClient({ endpoint, maxAttempts: 10 });
  const client = createDocumentClient({ endpoint });
  const records: CommandRecord[] = [];
  instrument(client, records);
  const video = twilioVideo(twilio.video);
  const now = Date.now();
  const created: TableNames[] = [];

  try {
    const sets: LiveSet[] = [];
    const plans = [
      { key: "baseline", bans: 0, sessions: 0 },
      { key: "bans", bans: bulk, sessions: 0 },
      { key: "sessions", bans: 0, sessions: bulk },
    ] as const;
    for (const [index, plan] of plans.entries()) {
      const { client: setup, names } = await createTables(endpoint, `bench-scale-${plan.key}-`);
      setup.destroy();
      created.push(names);
      const started = performance.now();
      const salt = 0x5ca1e000 + index * 16;
      let items = 0;
      items += await load(
        loader,
        names.Rules,
        SEED + plan.bans,
        (i) => banItems(i < SEED ? `ban-${i}` : `bulk-${i}`, now),
        {
          what: `${(SEED + plan.bans).toLocaleString("en")} exact bans (${plan.key})`,
          log,
        },
      );
      const sessionCount = SEED + plan.sessions;
      const connected = (i: number): ConnectedSession => ({
        identity: `connected-${plan.key}-${i}`,
        participantSid: sid("PA", i, salt),
        roomSid: sid("RM", Math.floor(i / PER_ROOM), salt),
        roomName: `scale-${plan.key}-${Math.floor(i / PER_ROOM)}`,
        connectedAt: now - 600_000,
      });
      items += await load(loader, names.Sessions, sessionCount, (i) => sessionItems(connected(i)), {
        what: `${sessionCount.toLocaleString("en")} connected sessions (${plan.key})`,
        log,
      });
      const roomCount = Math.ceil(sessionCount / PER_ROOM);
      items += await load(
        loader,
        names.Sessions,
        roomCount,
        (r) => [roomItem({ sid: sid("RM", r, salt), name: `scale-${plan.key}-${r}` }, now - 600_000)],
        { what: `${roomCount.toLocaleString("en")} rooms (${plan.key})`, log },
      );
      await checkSessionLayout(
        dynamoSessionStore(loader, names.Sessions),
        connected(0),
        { activeRooms: roomCount, roomSessions: Math.min(PER_ROOM, sessionCount) },
        now,
      );
      const ruleStore = dynamoRuleStore(client, names.Rules);
      const room = await emulator.createRoom({ uniqueName: `scale-${plan.key}` });
      sets.push({
        key: plan.key,
        names,
        deps: {
          sessions: dynamoSessionStore(client, names.Sessions),
          rules: cachedRuleSource(ruleStore, systemClock, RULE_CACHE_MS),
          audit: dynamoAuditLog(client, names.Audit, { retentionDays: 365, now: () => systemClock.now() }),
          video,
          clock: systemClock,
        },
        room,
        salt: salt + 1,
        exactBans: SEED + plan.bans,
        connectedSessions: sessionCount,
        itemsLoaded: items,
        loadSeconds: round((performance.now() - started) / 1000, 1),
        nextFree: 0,
        nextKick: 0,
        toDisconnect: [],
        samples: {
          "participant-connected, no rule": [],
          "participant-connected, exact ban (kick)": [],
          "participant-disconnected": [],
        },
      });
    }

    const perRound = Math.ceil(samples / rounds);
    const warmUp = Math.min(5, perRound);
    for (const set of sets) await measureRound(set, warmUp, false);
    for (let round = 1; round <= rounds; round++) {
      log(`  round ${round}/${rounds}: ${perRound} callbacks of each type on each set of tables`);
      for (const set of sets) await measureRound(set, perRound, true);
    }

    const finished: ScalingSet[] = sets.map((set) => ({
      key: set.key,
      exactBans: set.exactBans,
      connectedSessions: set.connectedSessions,
      itemsLoaded: set.itemsLoaded,
      loadSeconds: set.loadSeconds,
      events: SCALED_EVENTS.map((event) => summarizeEvent(event, set.samples[event])),
    }));
    const baseline = finished[0] as ScalingSet;
    const flatness: Flatness[] = finished.slice(1).flatMap((set) =>
      set.events.map((scaled, i) => {
        const base = baseline.events[i] as ScaledEvent;
        const change = (a: number, b: number) => round(((b - a) / a) * 100, 1);
        return {
          set: set.key as "bans" | "sessions",
          event: scaled.event,
          unitsFlat: within10(base.readUnits, scaled.readUnits) && within10(base.writeUnits, scaled.writeUnits),
          p50ChangePercent: change(base.enforce.p50, scaled.enforce.p50),
          p99ChangePercent: change(base.enforce.p99, scaled.enforce.p99),
          p50Flat: within10(base.enforce.p50, scaled.enforce.p50),
        };
      }),
    );

    for (const set of sets) await dropTables(loader, set.names);
    created.length = 0;

    const sweep = await measureSweep(options, loader, client, records, now);
    const jvm = options.jvmPid === undefined ? undefined : processMemory(options.jvmPid);
    return {
      seedBansAndSessions: SEED,
      bulk,
      samplesPerEvent: perRound * rounds,
      rounds,
      ruleCacheMs: RULE_CACHE_MS,
      sets: finished,
      flatness,
      sweep,
      ...(jvm === undefined ? {} : { jvmPeakRss: jvm.peakRss }),
    };
  } finally {
    for (const names of created) await dropTables(loader, names).catch(() => undefined);
    loader.destroy();
    client.destroy();
  }

  /** `count` callbacks of each type on one set: connects without a rule, banned connects (kicked), disconnects. */
  async function measureRound(set: LiveSet, count: number, measured: boolean): Promise<void> {
    const form = (event: ParticipantCallbackEvent, participant: { sid: string; identity: string }) =>
      participantForm({
        accountSid: twilio.accountSid,
        room: { sid: set.room.sid, name: set.room.uniqueName },
        participant,
        event,
        sequence: 1,
      });
    const enforce = async (event: ScaledEventName, callback: Record<string, string>) => {
      records.length = 0;
      const started = performance.now();
      await enforceCallback({ form: callback, receivedAt: Date.now() }, set.deps);
      const ms = performance.now() - started;
      if (!measured) return;
      set.samples[event].push({
        read: records.reduce((sum, record) => sum + record.read, 0),
        write: records.reduce((sum, record) => sum + record.write, 0),
        commands: records.length,
        ms,
      });
    };

    for (let i = 0; i < count; i++) {
      const participant = { sid: sid("PA", set.nextFree, set.salt), identity: `free-${set.key}-${set.nextFree}` };
      set.nextFree += 1;
      set.toDisconnect.push(participant);
      await enforce("participant-connected, no rule", form("participant-connected", participant));
    }
    for (let i = 0; i < count; i++) {
      // The same few banned identities join again and again; each starts from no presence, as a first attempt does.
      const identity = `ban-${set.nextKick++ % SEED}`;
      const participant = await emulator.join(set.room.uniqueName, identity);
      await enforce("participant-connected, exact ban (kick)", form("participant-connected", participant));
      await loader.send(
        new DeleteCommand({ TableName: set.names.Sessions, Key: { pk: `identity#${identity}`, sk: "presence" } }),
      );
    }
    for (let i = 0; i < count; i++) {
      const participant = set.toDisconnect.shift();
      if (participant === undefined) break;
      await enforce("participant-disconnected", form("participant-disconnected", participant));
    }
  }
}

/** One sweep as functions/sweep.ts runs it, on an idle table, then on 10,000 connected sessions. */
async function measureSweep(
  options: ScalingOptions,
  loader: DynamoDBDocumentClient,
  client: DynamoDBDocumentClient,
  records: CommandRecord[],
  now: number,
): Promise<ScalingResult["sweep"]> {
  const { endpoint, twilio, emulator, log } = options;
  const { sessions: sessionCount, rooms: roomCount, due } = options.sweep;
  const { client: setup, names } = await createTables(endpoint, "bench-sweep-");
  setup.destroy();
  try {
    const ruleStore = dynamoRuleStore(client, names.Rules);
    const deps: SweepDependencies = {
      sessions: dynamoSessionStore(client, names.Sessions),
      // As core/composition/runtime.ts builds the sweep's: no rule cache.
      rules: cachedRuleSource(ruleStore, systemClock, 0),
      ruleStore,
      audit: dynamoAuditLog(client, names.Audit, { retentionDays: 365, now: () => systemClock.now() }),
      video: twilioVideo(twilio.video),
      clock: systemClock,
    };
    const run = createSweepRun(deps, quietObservability("sweep"));
    const limit = rule(
      { kind: "max-duration", limitSeconds: LIMIT_SECONDS, roomPattern: "sweep-*", description: "bench" },
      "bench-limit",
      now,
    );
    await dynamoRuleStore(loader, names.Rules).create(limit);

    const runs: SweepRun[] = [];
    const measure = async (label: string, sessions: number, rooms: number, reconcile: boolean) => {
      records.length = 0;
      const requestsBefore = emulator.requests.length;
      const started = performance.now();
      const report = await run({ reconcile });
      const durationMs = performance.now() - started;
      if (!report.ran) throw new Error("the benchmark's sweep did not get its lease");
      const commandCounts: Record<string, number> = {};
      for (const record of records) commandCounts[record.command] = (commandCounts[record.command] ?? 0) + 1;
      const requests = emulator.requests.slice(requestsBefore);
      const twilioByKind: Record<string, number> = {};
      for (const request of requests) {
        const kind =
          request.method === "POST" && request.form.Status === "disconnected"
            ? "kick (POST participant)"
            : request.method === "GET" && request.path.endsWith("/Participants")
              ? "list participants (GET)"
              : request.method === "GET" && /\/Rooms\/[^/]+$/.test(request.path)
                ? "fetch room (GET)"
                : `${request.method} other`;
        twilioByKind[kind] = (twilioByKind[kind] ?? 0) + 1;
      }
      runs.push({
        label,
        reconciled: reconcile,
        connectedSessions: sessions,
        activeRooms: rooms,
        report: { ...report, kicks: report.kicks.length },
        durationMs: round(durationMs, 1),
        commands: records.length,
        commandCounts,
        readUnits: round(
          records.reduce((sum, record) => sum + record.read, 0),
          2,
        ),
        writeUnits: round(
          records.reduce((sum, record) => sum + record.write, 0),
          2,
        ),
        twilioRequests: requests.length,
        twilioByKind,
      });
      log(
        `    ${label}: ${round(durationMs, 0)} ms, ${records.length} DynamoDB commands, ${requests.length} Twilio requests`,
      );
    };

    // The first run applies the new rule (the change log) to nobody; the next is the idle sweep.
    await run();
    log("  sweep with nothing connected");
    await measure("nothing connected", 0, 0, true);

    log(`  sweep: ${sessionCount.toLocaleString("en")} participants joining ${roomCount} emulator rooms`);
    const started = performance.now();
    const perRoom = Math.ceil(sessionCount / roomCount);
    const joined: { participant: { sid: string; identity: string }; room: EmulatorRoom }[] = [];
    for (let r = 0; r < roomCount; r += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, roomCount - r) }, async (_, j) => {
          const room = await emulator.createRoom({ uniqueName: `sweep-${r + j}` });
          const people: (typeof joined)[number][] = [];
          for (let p = 0; p < perRoom && (r + j) * perRoom + p < sessionCount; p++) {
            const participant = await emulator.join(room.uniqueName, `sweep-user-${r + j}-${p}`);
            people.push({ participant, room });
          }
          return people;
        }),
      );
      joined.push(...batch.flat());
    }
    const every = Math.max(1, Math.floor(sessionCount / Math.max(1, due)));
    const dueCount = due === 0 ? 0 : Math.ceil(joined.length / every);
    const session = (i: number): ConnectedSession => {
      const { participant, room } = joined[i] as (typeof joined)[number];
      const isDue = due > 0 && i % every === 0;
      const connectedAt = isDue ? now - (LIMIT_SECONDS + 60) * 1000 : now - 600_000;
      return {
        identity: participant.identity,
        participantSid: participant.sid,
        roomSid: room.sid,
        roomName: room.uniqueName,
        connectedAt,
        deadline: { at: connectedAt + LIMIT_SECONDS * 1000, ruleId: limit.id },
      };
    };
    await load(loader, names.Sessions, joined.length, (i) => sessionItems(session(i)), {
      what: `${joined.length.toLocaleString("en")} connected sessions (sweep)`,
      log,
    });
    const rooms = [...new Map(joined.map(({ room }) => [room.sid, room])).values()];
    await load(loader, names.Sessions, rooms.length, (r) => {
      const room = rooms[r] as EmulatorRoom;
      return [roomItem({ sid: room.sid, name: room.uniqueName }, now - 600_000)];
    });
    await checkSessionLayout(
      dynamoSessionStore(loader, names.Sessions),
      session(1),
      { activeRooms: rooms.length, roomSessions: perRoom, dueDeadlines: dueCount },
      Date.now(),
    );
    const loadSeconds = round((performance.now() - started) / 1000, 1);

    log(`  sweep with ${joined.length.toLocaleString("en")} sessions connected, ${dueCount} deadlines due`);
    await measure(`${dueCount} deadlines due, reconciling`, joined.length, rooms.length, true);
    log("  the next sweeps (nothing due): one reconciling, one of the ticks between");
    await measure("nothing due, reconciling (once a minute)", joined.length - dueCount, rooms.length, true);
    await measure("nothing due, a tick between reconciliations", joined.length - dueCount, rooms.length, false);
    return {
      sessions: joined.length,
      rooms: rooms.length,
      dueDeadlines: dueCount,
      limitSeconds: LIMIT_SECONDS,
      loadSeconds,
      runs,
    };
  } finally {
    await dropTables(loader, names).catch(() => undefined);
  }
}

function rule(spec: Record<string, unknown>, id: string, now: number): Rule {
  const at = new Date(now).toISOString();
  return ruleSchema.parse({
    ...ruleSpecSchema.parse(spec),
    id,
    version: 1,
    createdAt: at,
    createdBy: "bench",
    updatedAt: at,
    updatedBy: "bench",
  });
}

function banItems(identity: string, now: number): Item[] {
  return ruleItems(rule({ kind: "ban", identity, reason: "bench" }, `ban-rule-${identity}`, now));
}

/**
 * Writes the items of `count` entities with BatchWrite, 25 items a request and 8 requests in flight, retrying what
 * comes back unprocessed; prints progress every 10% for large loads. Returns the number of items written.
 */
async function load(
  client: DynamoDBDocumentClient,
  table: string,
  count: number,
  itemsOf: (i: number) => Item[],
  progress?: { what: string; log: (message: string) => void },
): Promise<number> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  let buffer: Item[] = [];
  let written = 0;
  let reported = 0;
  const write = async (items: Item[]) => {
    let request: BatchWriteCommandInput["RequestItems"] = {
      [table]: items.map((Item) => ({ PutRequest: { Item } })),
    };
    for (let attempt = 1; ; attempt++) {
      const { UnprocessedItems }: BatchWriteCommandOutput = await client.send(
        new BatchWriteCommand({ RequestItems: request }),
      );
      if ((UnprocessedItems?.[table]?.length ?? 0) === 0) return;
      if (attempt >= 20) throw new Error(`BatchWrite left items unprocessed ${attempt} times`);
      request = UnprocessedItems;
      await sleep(Math.min(1000, 20 * 2 ** attempt));
    }
  };
  const flush = async (items: Item[]) => {
    const pending = write(items).then(() => {
      inFlight.delete(pending);
      written += items.length;
    });
    inFlight.add(pending);
    if (inFlight.size >= BATCH_WRITES_IN_FLIGHT) await Promise.race(inFlight);
  };
  if (progress !== undefined && count >= 10_000) progress.log(`  loading ${progress.what}`);
  for (let i = 0; i < count; i++) {
    buffer.push(...itemsOf(i));
    while (buffer.length >= BATCH_WRITE_ITEMS) await flush(buffer.splice(0, BATCH_WRITE_ITEMS));
    const done = Math.floor(((i + 1) * 10) / count);
    if (progress !== undefined && count >= 10_000 && done > reported) {
      reported = done;
      const seconds = (performance.now() - started) / 1000;
      progress.log(`    ${done * 10}%: ${written.toLocaleString("en")} items written in ${seconds.toFixed(1)} s`);
    }
  }
  if (buffer.length > 0) await flush(buffer);
  buffer = [];
  await Promise.all(inFlight);
  return written;
}

async function dropTables(client: DynamoDBDocumentClient, names: TableNames): Promise<void> {
  for (const table of Object.values(names)) await client.send(new DeleteTableCommand({ TableName: table }));
}

function summarizeEvent(
  event: ScaledEventName,
  samples: readonly { read: number; write: number; commands: number; ms: number }[],
): ScaledEvent {
  const mean = (pick: (sample: (typeof samples)[number]) => number) =>
    samples.reduce((sum, sample) => sum + pick(sample), 0) / Math.max(1, samples.length);
  return {
    event,
    samples: samples.length,
    readUnits: round(
      mean((s) => s.read),
      3,
    ),
    writeUnits: round(
      mean((s) => s.write),
      3,
    ),
    commands: round(
      mean((s) => s.commands),
      2,
    ),
    enforce: summarize(samples.map((s) => s.ms)),
  };
}

/** Within 10% of each other (both zero counts as equal). */
const within10 = (a: number, b: number) => Math.abs(a - b) <= 0.1 * Math.max(Math.abs(a), Math.abs(b));
