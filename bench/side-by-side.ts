/**
 * room-warden against the plain synchronous function (plain-webhook.ts), in the same run, on the same DynamoDB
 * Local, emulator and bans: bursts of 10 banned connects sent at once by 10 concurrent senders, at 10, 1,000 and
 * 10,000 ban rules. Kick latency: a callback's send (wall clock) → the emulator's receipt of its kick request.
 * Ack: send → the webhook's answer (room-warden answers once the callback is queued, the plain function once it
 * has kicked).
 */

import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ruleSchema, ruleSpecSchema } from "../core/rules/rules.ts";
import type { TwilioEmulator } from "../emulator/index.ts";
import type { Burst, BurstResult } from "./burst-sender.ts";
import { participantForm, signedPost } from "./callbacks.ts";
import { ruleItems } from "./rule-items.ts";
import { type Summary, summarize, waitFor } from "./stats.ts";

export interface SideBySideTarget {
  readonly name: "room-warden" | "plain function";
  readonly url: string;
  /** Resolves when everything the target was sent has been handled (its queue drained). */
  readonly idle: () => Promise<void>;
}

export interface SideBySideRow {
  readonly rules: number;
  readonly target: SideBySideTarget["name"];
  readonly kick: Summary;
  readonly ack: Summary;
  readonly non2xx: number;
}

/** Bursts sent before the measured ones, for each system and rule count. */
const WARM_UP_BURSTS = 3;
/** Concurrent senders of a burst. */
const BURST = 10;

/** Writes exact bans (and their lookup copies) until the Rules table holds `total` ban rules. */
async function growBans(client: DynamoDBDocumentClient, table: string, from: number, total: number): Promise<void> {
  const now = new Date().toISOString();
  const items = [];
  for (let i = from; i < total; i++) {
    const spec = ruleSpecSchema.parse({ kind: "ban", identity: `sbs-filler-${i}`, reason: "bench" });
    const meta = { id: `sbs-filler-${i}`, version: 1, createdAt: now, createdBy: "bench" };
    items.push(...ruleItems(ruleSchema.parse({ ...spec, ...meta, updatedAt: now, updatedBy: "bench" })));
  }
  for (let i = 0; i < items.length; i += 25) {
    await client.send(
      new BatchWriteCommand({
        RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) },
      }),
    );
  }
}

export async function measureSideBySide(options: {
  emulator: TwilioEmulator;
  client: DynamoDBDocumentClient;
  rulesTable: string;
  accountSid: string;
  authToken: string;
  targets: readonly SideBySideTarget[];
  ruleCounts: readonly number[];
  bursts: number;
  /** Callbacks per burst, sent at once; BURST by default. */
  readonly burstSize?: number;
  /** Writes the bans the bursts' identities are kicked by; returns how many rules that made. */
  banBurstIdentities: (identities: readonly string[]) => Promise<number>;
}): Promise<SideBySideRow[]> {
  const { emulator, targets, bursts } = options;
  const size = options.burstSize ?? BURST;
  const identities = Array.from({ length: size }, (_, i) => `sbs-banned-${i}`);
  let rules = await options.banBurstIdentities(identities);
  // A group room holds 50 participants at most, as Twilio's do.
  const rooms = await Promise.all(
    Array.from({ length: Math.ceil(size / 50) }, (_, r) =>
      emulator.createRoom({ uniqueName: `side-by-side-${size}-${r}` }),
    ),
  );
  const roomOf = (i: number) => rooms[Math.floor(i / 50)] as (typeof rooms)[number];
  const sender = new Worker(new URL("./burst-sender.ts", import.meta.url));
  let burstId = 0;
  const sendBurst = (requests: Burst["requests"]) =>
    new Promise<BurstResult>((resolve) => {
      const id = ++burstId;
      const onMessage = (result: BurstResult) => {
        if (result.id !== id) return;
        sender.off("message", onMessage);
        resolve(result);
      };
      sender.on("message", onMessage);
      sender.postMessage({ id, requests } satisfies Burst);
    });
  const rows: SideBySideRow[] = [];
  try {
    for (const count of options.ruleCounts) {
      if (count > rules) {
        await growBans(options.client, options.rulesTable, rules, count);
        rules = count;
      }
      for (const target of targets) {
        const kicks: number[] = [];
        const acks: number[] = [];
        let non2xx = 0;
        // Unmeasured bursts first: connections, caches and the JIT warm, as a warm Lambda's are.
        for (let b = -WARM_UP_BURSTS; b < bursts; b++) {
          const participants = await Promise.all(
            identities.map((identity, i) => emulator.join(roomOf(i).sid, identity)),
          );
          const requestsBefore = emulator.requests.length;
          const requests = participants.map((participant, i) => ({
            url: target.url,
            init: signedPost(
              target.url,
              options.authToken,
              participantForm({
                accountSid: options.accountSid,
                room: { sid: roomOf(i).sid, name: roomOf(i).uniqueName },
                participant: { sid: participant.sid, identity: identities[i] as string },
                event: "participant-connected",
                sequence: 1,
              }),
            ),
          }));
          const result = await sendBurst(requests);
          const sids = new Set(participants.map((p) => p.sid));
          const kicked = () =>
            emulator.requests
              .slice(requestsBefore)
              .filter((r) => r.method === "POST" && sids.has(r.path.split("/").at(-1) ?? ""));
          await waitFor(`${target.name}: ${size} kicks`, () => kicked().length >= size, 60_000);
          await target.idle();
          if (b < 0) continue;
          const kickAt = new Map(kicked().map((r) => [r.path.split("/").at(-1) ?? "", r.at]));
          result.sent.forEach((sent, i) => {
            acks.push(sent.ackMs);
            if (sent.status < 200 || sent.status > 299) non2xx += 1;
            const at = kickAt.get(participants[i]?.sid ?? "");
            if (at !== undefined) kicks.push(at - sent.sentAt);
          });
        }
        rows.push({ rules: count, target: target.name, kick: summarize(kicks), ack: summarize(acks), non2xx });
      }
    }
    return rows;
  } finally {
    await sender.terminate();
  }
}

/**
 * The floor for room-warden's kick at `concurrency` rooms at once: what its ban path costs at the least on this
 * machine, with nothing of room-warden's own. Each of `concurrency` chains, all started together, makes the same
 * DynamoDB requests in the same shape as the enforcer before its kick (one round trip of three requests side by side:
 * two updates and a query, then one put) and then the kick request to the emulator. Returns each chain's time.
 */
export async function measureFloor(options: {
  emulator: TwilioEmulator;
  client: DynamoDBDocumentClient;
  tables: { readonly Sessions: string; readonly Rules: string; readonly Audit: string };
  concurrency: number;
  rounds: number;
  tag: string;
}): Promise<Summary> {
  const { emulator, client, tables, concurrency } = options;
  const rooms = await Promise.all(
    Array.from({ length: Math.ceil(concurrency / 50) }, (_, r) =>
      emulator.createRoom({ uniqueName: `floor-${options.tag}-${concurrency}-${r}` }),
    ),
  );
  const roomOf = (i: number) => rooms[Math.floor(i / 50)] as (typeof rooms)[number];
  const { accountSid, authToken } = emulator.credentials;
  const auth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
  const times: number[] = [];
  for (let round = -1; round < options.rounds; round++) {
    const participants = await Promise.all(
      Array.from({ length: concurrency }, (_, i) => emulator.join(roomOf(i).sid, `floor-${options.tag}-${round}-${i}`)),
    );
    const chains = participants.map(async (participant, i) => {
      const room = roomOf(i);
      const started = performance.now();
      const identity = `floor-${options.tag}-${round}-${i}`;
      await Promise.all([
        client.send(
          new UpdateCommand({
            TableName: tables.Sessions,
            Key: { pk: `identity#${identity}`, sk: "presence" },
            UpdateExpression: "SET #s = :s ADD revision :one",
            ExpressionAttributeNames: { "#s": `s_${participant.sid}` },
            ExpressionAttributeValues: { ":s": { roomSid: room.sid, status: "connected", at: Date.now() }, ":one": 1 },
            ReturnValues: "ALL_NEW",
          }),
        ),
        client.send(
          new QueryCommand({
            TableName: tables.Rules,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": `identity#${identity}` },
            ConsistentRead: true,
          }),
        ),
        client.send(
          new UpdateCommand({
            TableName: tables.Sessions,
            Key: { pk: `room#${room.sid}`, sk: "room" },
            UpdateExpression: "SET eventAt = :at",
            ExpressionAttributeValues: { ":at": Date.now() },
          }),
        ),
      ]);
      await client.send(
        new PutCommand({
          TableName: tables.Audit,
          Item: { pk: `entry#floor-${participant.sid}`, floorOutcome: "pending", floorWrittenAt: Date.now() },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      const response = await fetch(`${emulator.url}/v1/Rooms/${room.sid}/Participants/${participant.sid}`, {
        method: "POST",
        headers: { Authorization: auth, "Content-Type": "application/x-www-form-urlencoded" },
        body: "Status=disconnected",
      });
      await response.arrayBuffer();
      return performance.now() - started;
    });
    const round_ = await Promise.all(chains);
    if (round >= 0) times.push(...round_);
  }
  return summarize(times);
}
