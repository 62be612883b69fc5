/**
 * What the operators' live room read costs: `showRoom` and `listRooms` (core/rooms/rooms.ts) on a room of N
 * participants, on dependencies built around one instrumented document client (every command and its read units
 * counted) and a Twilio client pointed at the emulator, whose request log shows that the read makes no request.
 */

import { performance } from "node:perf_hooks";
import { dynamoAuditLog } from "../core/audit/dynamo-audit-log.ts";
import { systemClock } from "../core/clock.ts";
import type { TwilioConfig } from "../core/composition/config.ts";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { listRooms, type RoomDependencies, showRoom } from "../core/rooms/rooms.ts";
import { dynamoRuleStore } from "../core/rules/dynamo-rule-store.ts";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import { dynamoSessionStore } from "../core/sessions/dynamo-session-store.ts";
import type { TableNames } from "../core/tables.ts";
import { twilioVideo } from "../core/video/twilio/video.ts";
import type { TwilioEmulator } from "../emulator/index.ts";
import { type CommandRecord, instrument } from "./capacity.ts";
import { round, type Summary, summarize } from "./stats.ts";

export interface RoomReadCost {
  readonly participants: number;
  /** What one read sent to DynamoDB, by command, and its read units. */
  readonly show: {
    readonly commands: Readonly<Record<string, number>>;
    readonly readUnits: number;
    readonly ms: Summary;
  };
  readonly list: {
    readonly commands: Readonly<Record<string, number>>;
    readonly readUnits: number;
    readonly ms: Summary;
  };
  /** Requests the emulator received during all the reads: none is the design. */
  readonly twilioRequests: number;
}

const hex = (n: number, width = 32) => n.toString(16).padStart(width, "0");

export async function measureRoomReads(options: {
  readonly endpoint: string;
  readonly names: TableNames;
  readonly emulator: TwilioEmulator;
  readonly twilio: TwilioConfig;
  readonly sizes: readonly number[];
  readonly samples: number;
}): Promise<RoomReadCost[]> {
  const client = createDocumentClient({ endpoint: options.endpoint });
  const log: CommandRecord[] = [];
  instrument(client, log);
  const sessions = dynamoSessionStore(client, options.names.Sessions);
  const ruleStore = dynamoRuleStore(client, options.names.Rules);
  const deps: RoomDependencies = {
    sessions,
    ruleStore,
    audit: dynamoAuditLog(client, options.names.Audit, { retentionDays: 30, now: () => Date.now() }),
    video: twilioVideo(options.twilio.video),
    clock: systemClock,
  };
  const now = Date.now();
  const stamp = new Date(now).toISOString();
  const meta = { version: 1, createdAt: stamp, createdBy: "bench", updatedAt: stamp, updatedBy: "bench" };
  await ruleStore.create(
    ruleSchema.parse({
      ...ruleSpecSchema.parse({ kind: "max-duration", limitSeconds: 3600 }),
      id: "bench-rooms-limit",
      ...meta,
    }),
  );
  const results: RoomReadCost[] = [];
  for (const [r, size] of options.sizes.entries()) {
    const room = { sid: `RM${hex(r + 1)}`, name: `bench-rooms-${size}` };
    await sessions.trackRoom(room, true, now);
    for (let i = 0; i < size; i++) {
      const session = {
        participantSid: `PA${hex(r * 100_000 + i + 1)}`,
        identity: `bench-rooms-${size}-${i}`,
        roomSid: room.sid,
        roomName: room.name,
        status: "connected" as const,
        lastEventAt: now,
        connectedAt: now - i * 1000,
      };
      await sessions.setDeadline(session, now + 3_600_000 - i * 1000, "bench-rooms-limit", now);
      // Every tenth participant has an exact (dry-run) ban, read per identity.
      if (i % 10 === 0) {
        await ruleStore.create(
          ruleSchema.parse({
            ...ruleSpecSchema.parse({ kind: "ban", identity: session.identity, reason: "bench", mode: "dry-run" }),
            id: `bench-rooms-ban-${size}-${i}`,
            ...meta,
          }),
        );
      }
    }
    const twilioBefore = options.emulator.requests.length;
    const measure = async (read: () => Promise<unknown>) => {
      const times: number[] = [];
      let commands: Record<string, number> = {};
      let readUnits = 0;
      for (let s = 0; s < options.samples; s++) {
        const from = log.length;
        const started = performance.now();
        await read();
        times.push(performance.now() - started);
        const sent = log.slice(from);
        commands = {};
        for (const record of sent) commands[record.command] = (commands[record.command] ?? 0) + 1;
        readUnits = sent.reduce((sum, record) => sum + record.read, 0);
      }
      return { commands, readUnits: round(readUnits, 1), ms: summarize(times) };
    };
    const show = await measure(() => showRoom(deps, room.sid));
    const list = await measure(() => listRooms(deps, { limit: "50" }));
    results.push({
      participants: size,
      show,
      list,
      twilioRequests: options.emulator.requests.length - twilioBefore,
    });
  }
  client.destroy();
  return results;
}
