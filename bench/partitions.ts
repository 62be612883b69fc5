/**
 * The capacity model: at a given callback rate, the highest write rate on any one DynamoDB partition key, against
 * DynamoDB's 1,000 write units/s per partition, and each queue action's rate against its quota. Built from the
 * write units per callback and per kind of key that bench/capacity.ts measures, and from how evenly the shard keys
 * (core/dynamo/query.ts) spread a sample of real-looking keys.
 */
import { randomBytes } from "node:crypto";
import { INDEX_SHARDS, shardOf } from "../core/dynamo/query.ts";
import type { EventCost } from "./capacity.ts";
import { round } from "./stats.ts";

/** DynamoDB's per-partition write limit (write units per second), whatever the table's mode. */
export const PARTITION_WRITE_LIMIT = 1000;
/**
 * SQS FIFO quotas with high throughput on (AWS's SQS quotas page): per API action, in us-east-1, us-west-2 and
 * eu-west-1, 70,000 transactions/s without batching; other regions are lower (see the page). Per message group: 300/s.
 */
export const FIFO_HIGH_THROUGHPUT_TPS = 70_000;
const FIFO_PER_GROUP_TPS = 300;

/** What a rate is made of: the share of each measured event among the callbacks. */
export interface Scenario {
  readonly name: string;
  readonly mix: Readonly<Record<string, number>>;
}

/** Assumptions on keys that are not spread by a hash: how fast one identity, one room and one rule are written. */
export const KEY_ASSUMPTIONS = {
  /** One identity's callbacks per second at most: a connect and a disconnect, a reconnect, twice over. */
  identityCallbacksPerSecond: 4,
  /** A room's participants all joining within one second: a full Twilio group room (50). */
  roomCallbacksPerSecond: 50,
} as const;

interface KeyLoad {
  readonly key: string;
  /** Write units per second on the hottest single key of this kind. */
  readonly hottestPerSecond: number;
  readonly shareOfPartitionLimit: number;
  readonly how: string;
}

export interface CapacityModel {
  readonly scenario: string;
  readonly callbacksPerSecond: number;
  readonly shards: number;
  /** The busiest shard's share of a sample of keys, times the number of shards: 1 is perfectly even. */
  readonly shardSkew: number;
  readonly keys: KeyLoad[];
  readonly queue: { action: string; perSecond: number; quota: number; share: number }[];
}

/** The busiest shard's load relative to an even spread, over `samples` random participant keys. */
export function measureShardSkew(samples = 100_000, shards = INDEX_SHARDS): number {
  const counts = new Map<string, number>();
  for (let i = 0; i < samples; i++) {
    const key = shardOf("due", `RM${randomBytes(16).toString("hex")}#PA${randomBytes(16).toString("hex")}`, shards);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return round((Math.max(...counts.values()) / samples) * shards, 3);
}

/** Index keys spread over shards by a hash of the item's key. */
const SHARDED = new Set(["Sessions byDeadline", "Sessions byActiveRoom", "Audit byRetry", "Audit byMonth"]);

export function capacityModel(
  events: readonly EventCost[],
  scenario: Scenario,
  callbacksPerSecond: number,
  shardSkew: number,
  enforcerBatch = 10,
): CapacityModel {
  const perCallback: Record<string, number> = {};
  let kicksPerCallback = 0;
  let queuedPerCallback = 0;
  for (const [event, share] of Object.entries(scenario.mix)) {
    const cost = events.find((e) => e.event === event);
    if (cost === undefined) throw new Error(`the capacity run measured no event "${event}"`);
    if (cost.roundTripsBeforeKick !== undefined) kicksPerCallback += share;
    if (cost.recordedByWebhook !== true) queuedPerCallback += share;
    for (const [key, units] of Object.entries(cost.writesByKey))
      perCallback[key] = (perCallback[key] ?? 0) + share * units;
  }
  const keys = Object.entries(perCallback).map(([key, units]): KeyLoad => {
    const total = units * callbacksPerSecond;
    let hottest: number;
    let how: string;
    if (SHARDED.has(key)) {
      hottest = (total / INDEX_SHARDS) * shardSkew;
      how = `${round(total)} WRU/s over ${INDEX_SHARDS} shards, busiest ×${shardSkew}`;
    } else if (key.endsWith("identity#") || key === "Audit byIdentity") {
      hottest = units * KEY_ASSUMPTIONS.identityCallbacksPerSecond;
      how = `one identity: ${KEY_ASSUMPTIONS.identityCallbacksPerSecond} callbacks/s`;
    } else if (key.endsWith("room#") || key === "Audit byRoom") {
      hottest = units * KEY_ASSUMPTIONS.roomCallbacksPerSecond;
      how = `one room: ${KEY_ASSUMPTIONS.roomCallbacksPerSecond} callbacks/s`;
    } else if (key === "Audit byRule") {
      // Each measured kick is under its identity's own exact ban; a pattern ban would put them all on one key.
      hottest = (units / Math.max(kicksPerCallback, 1e-9)) * KEY_ASSUMPTIONS.identityCallbacksPerSecond;
      how = `one exact ban's kicks (${KEY_ASSUMPTIONS.identityCallbacksPerSecond}/s); one pattern ban for all: ${round(total)}/s`;
    } else if (key === "Audit entry#") {
      // One item per decision: a key is written twice (write-ahead, finalise), not per second.
      hottest = units / Math.max(kicksPerCallback, 1e-9);
      how = "one entry per kick, written twice";
    } else {
      hottest = total;
      how = "one key for all";
    }
    return {
      key,
      hottestPerSecond: round(hottest, 1),
      shareOfPartitionLimit: round(hottest / PARTITION_WRITE_LIMIT, 3),
      how,
    };
  });
  // The webhook sends one message per queued callback (disconnects it records itself); Lambda's pollers receive and
  // delete in batches.
  const queued = callbacksPerSecond * queuedPerCallback;
  const queue = [
    { action: "SendMessage", perSecond: queued },
    { action: "ReceiveMessage", perSecond: queued / enforcerBatch },
    { action: "DeleteMessageBatch", perSecond: queued / enforcerBatch },
    { action: "one message group (identity)", perSecond: KEY_ASSUMPTIONS.identityCallbacksPerSecond },
  ].map((row) => {
    const quota = row.action.startsWith("one") ? FIFO_PER_GROUP_TPS : FIFO_HIGH_THROUGHPUT_TPS;
    return { ...row, perSecond: round(row.perSecond, 1), quota, share: round(row.perSecond / quota, 3) };
  });
  return {
    scenario: scenario.name,
    callbacksPerSecond,
    shards: INDEX_SHARDS,
    shardSkew,
    keys: keys.sort((a, b) => b.hottestPerSecond - a.hottestPerSecond),
    queue,
  };
}
