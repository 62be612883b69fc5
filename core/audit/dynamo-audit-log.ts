import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type NativeAttributeValue,
  PutCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { storeError } from "../dynamo/client.ts";
import {
  INDEX_SHARDS,
  type QueryOptions,
  queryMerged,
  queryPage,
  queryShardsInOrder,
  shardOf,
  shardsOf,
} from "../dynamo/query.ts";
import { AuditEntryExistsError, AuditEntryFinalizedError, ValidationError } from "../errors.ts";
import type { auditTable } from "../tables.ts";
import { parse } from "../validation.ts";
import { type AuditEntry, type AuditQuery, auditEntrySchema } from "./audit.ts";
import type { AuditLog } from "./ports.ts";

type Item = Record<string, NativeAttributeValue>;
type IndexName = keyof typeof auditTable.globalIndexes;

export const entryKey = (id: string) => ({ pk: `entry#${id}` });
/** The prefix of the `byRetry` shard keys (`open#<n>`); `byMonth` keys are `<yyyy-mm>#<n>`. */
const RETRY_SHARD = "open";
/** The prefix of the `byOutbox` shard keys (`outbox#<n>`): entries whose event is still to publish. */
export const OUTBOX_SHARD = "outbox";

export const readEntry = (item: Item | undefined): AuditEntry | undefined =>
  item?.entry === undefined ? undefined : parse(auditEntrySchema, item.entry, "stored audit entry");

/** `<ISO time>#<id>`: unique, and in time order as a string, whatever offset the entry's time was written with. */
const sortKey = (entry: AuditEntry) => `${new Date(entry.createdAt).toISOString()}#${entry.id}`;
const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

function previousMonth(month: string): string {
  const [year, number] = month.split("-").map(Number) as [number, number];
  return number === 1 ? `${year - 1}-12` : `${year}-${String(number - 1).padStart(2, "0")}`;
}

/** The attributes the query indexes read, taken from the entry. */
function indexed(entry: AuditEntry): Item {
  if (entry.action === "rule-change") return { ruleId: entry.ruleId };
  if (entry.action === "endpoint-disabled") return {};
  return {
    roomName: entry.room.name,
    identity: entry.participant.identity,
    ...(entry.rule === undefined ? {} : { ruleId: entry.rule.id }),
  };
}

const cursorSchema = z.strictObject({
  month: z
    .string()
    .regex(/^\d{4}-\d{2}$/)
    .optional(),
  key: z.object({ pk: z.string().startsWith("entry#"), at: z.string().min(1) }).catchall(z.string()),
});

export interface AuditLogOptions extends QueryOptions {
  /** Entries are deleted by DynamoDB's TTL this many days after they were written. */
  readonly retentionDays: number;
  /** Bounds a query without `from`: entries older than the retention are gone anyway. */
  readonly now: () => number;
  /** A pending kick not finalised within this time is taken to be stalled (its writer crashed); default 60 s. */
  readonly pendingGraceMs?: number;
}

/** The audit trail in DynamoDB: conditional puts make decisions idempotent; finalising is a conditional update. */
export function dynamoAuditLog(client: DynamoDBDocumentClient, tableName: string, settings: AuditLogOptions): AuditLog {
  const options = { pendingGraceMs: 60_000, shards: INDEX_SHARDS, ...settings };
  /** A conditional change of an entry's outcome; a failed condition reports the entry as it is. */
  const transition = async (
    id: string,
    operation: string,
    update: Pick<
      UpdateCommandInput,
      "UpdateExpression" | "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"
    >,
  ): Promise<AuditEntry> => {
    try {
      const { Attributes } = await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: entryKey(id),
          ...update,
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return readEntry(Attributes) as AuditEntry;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new AuditEntryFinalizedError(
          id,
          readEntry(error.Item === undefined ? undefined : unmarshall(error.Item)),
        );
      }
      throw storeError(operation, error);
    }
  };

  return {
    async begin(entry) {
      const valid = parse(auditEntrySchema, entry, "audit entry");
      try {
        await client.send(
          new PutCommand({
            ...auditEntryPut(tableName, valid, options),
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) {
          const existing = readEntry(error.Item === undefined ? undefined : unmarshall(error.Item));
          throw new AuditEntryExistsError(valid.id, existing);
        }
        throw storeError("write audit entry", error);
      }
    },

    async finalize(id, result) {
      const names: Record<string, string> = {
        "#entry": "entry",
        "#outcome": "outcome",
        "#attempts": "attempts",
        "#finalizedAt": "finalizedAt",
        "#action": "action",
      };
      const values: Record<string, NativeAttributeValue> = {
        ":outcome": result.outcome,
        ":attempts": result.attempts,
        ":finalizedAt": result.finalizedAt,
        ":pending": "pending",
        ":kick": "kick",
        ":outbox": shardOf(OUTBOX_SHARD, id, options.shards),
        ":outboxAt": Date.parse(result.finalizedAt),
        ":zero": 0,
      };
      const sets = [
        "#entry.#outcome = :outcome",
        "#entry.#attempts = #entry.#attempts + :attempts",
        "#entry.#finalizedAt = :finalizedAt",
        // The outcome's event, in the same write.
        "outboxShard = :outbox",
        "outboxAt = :outboxAt",
        "outboxAttempts = :zero",
      ];
      if (result.latencyMs !== undefined) {
        names["#latency"] = "latencyMs";
        values[":latency"] = result.latencyMs;
        sets.push("#entry.#latency = :latency");
      }
      if (result.error !== undefined) {
        names["#error"] = "error";
        values[":error"] = result.error;
        sets.push("#entry.#error = :error");
      }
      const removals: string[] = [];
      if (result.outcome === "failed" && result.retryAt !== undefined) {
        values[":retryAt"] = result.retryAt;
        sets.push("retryAt = :retryAt");
      } else {
        removals.push("retryShard", "retryAt");
      }
      // Exactly once: only a kick still pending moves to an outcome.
      return transition(id, "finalise audit entry", {
        UpdateExpression: `SET ${sets.join(", ")}${removals.length === 0 ? "" : ` REMOVE ${removals.join(", ")}`}`,
        ConditionExpression: "#entry.#action = :kick AND #entry.#outcome = :pending",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      });
    },

    async reopen(id, now) {
      // Only a failed kick goes back to pending, and only for one caller: the one whose update lands first. It is
      // due again after the grace period, in case this caller crashes too.
      return transition(id, "reopen audit entry", {
        UpdateExpression:
          "SET #entry.#outcome = :pending, retryShard = :shard, retryAt = :retryAt REMOVE #entry.#finalizedAt",
        ConditionExpression: "#entry.#action = :kick AND #entry.#outcome = :failed",
        ExpressionAttributeNames: {
          "#entry": "entry",
          "#outcome": "outcome",
          "#action": "action",
          "#finalizedAt": "finalizedAt",
        },
        ExpressionAttributeValues: {
          ":pending": "pending",
          ":failed": "failed",
          ":kick": "kick",
          ":shard": shardOf(RETRY_SHARD, id, options.shards),
          ":retryAt": now + options.pendingGraceMs,
        },
      });
    },

    async claimPending(id, seenRetryAt, now) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: entryKey(id),
            UpdateExpression: "SET retryAt = :next",
            // Of two sweeps that saw the same stalled kick, only one moves its due time, and only that one retries it.
            ConditionExpression: "#entry.#outcome = :pending AND retryAt = :seen",
            ExpressionAttributeNames: { "#entry": "entry", "#outcome": "outcome" },
            ExpressionAttributeValues: {
              ":pending": "pending",
              ":seen": seenRetryAt,
              ":next": now + options.pendingGraceMs,
            },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw storeError("claim pending audit entry", error);
      }
    },

    async openKicks(now, limit) {
      const items = await queryShardsInOrder(
        client,
        "list open kicks",
        {
          tableName,
          indexName: "byRetry" satisfies IndexName,
          prefix: RETRY_SHARD,
          hashKey: "retryShard",
          rangeKey: "retryAt",
        },
        now,
        limit,
        options,
      );
      return items.flatMap((item) => {
        const entry = readEntry(item);
        return entry?.action === "kick" ? [{ entry, retryAt: Number(item.retryAt) }] : [];
      });
    },

    async get(id) {
      try {
        const { Item } = await client.send(
          new GetCommand({ TableName: tableName, Key: entryKey(id), ConsistentRead: true }),
        );
        return readEntry(Item);
      } catch (error) {
        throw storeError("read audit entry", error);
      }
    },

    async query(query, page) {
      const plan = planQuery(query, options);
      const start = page.cursor === undefined ? undefined : decodeCursor(page.cursor, cursorSchema);
      // A cursor is only good for the query that issued it: it must carry this index's key.
      if (
        start !== undefined &&
        (start.key[plan.hashAttribute] === undefined || (plan.index === "byMonth") !== (start.month !== undefined))
      ) {
        throw new ValidationError("cursor", [
          { field: "cursor", message: "not a cursor of this query: start again without it" },
        ]);
      }
      return plan.index === "byMonth" ? byMonth(plan, start, page.limit) : byKey(plan, start?.key, page.limit);
    },
  };

  /** One index key (an identity, a room, a rule), newest first, following DynamoDB's pages. */
  async function byKey(plan: QueryPlan, startKey: Item | undefined, limit: number) {
    const entries: AuditEntry[] = [];
    let next = startKey;
    do {
      const { items, next: after } = await queryPage(
        client,
        "query audit trail",
        {
          TableName: tableName,
          IndexName: plan.index,
          KeyConditionExpression: "#hash = :hash AND #at BETWEEN :from AND :to",
          ...(plan.filters.length === 0 ? {} : { FilterExpression: plan.filters.join(" AND ") }),
          ExpressionAttributeNames: { ...plan.names, "#at": "at" },
          ExpressionAttributeValues: { ...plan.values, ":from": plan.fromKey, ":to": plan.toKey },
          ScanIndexForward: false,
        },
        next,
        Math.min(limit - entries.length, options.pageSize ?? limit),
      );
      for (const [position, item] of items.entries()) {
        entries.push(readEntry(item) as AuditEntry);
        if (entries.length === limit) {
          if (position === items.length - 1 && after === undefined) return { entries };
          const key = { pk: item.pk, at: item.at, [plan.hashAttribute]: item[plan.hashAttribute] };
          return { entries, cursor: encodeCursor({ key }) };
        }
      }
      next = after;
    } while (next !== undefined);
    return { entries };
  }

  /**
   * Every entry, newest first: the month's shards merged, month after month back to `from`. The cursor holds the
   * month and the last entry's `at`, below which the next page starts (`at` is unique).
   */
  async function byMonth(plan: QueryPlan, start: z.output<typeof cursorSchema> | undefined, limit: number) {
    const entries: AuditEntry[] = [];
    let month = start?.month ?? monthOf(plan.to);
    let below = start?.key.at;
    for (;;) {
      const need = limit - entries.length;
      const { items, more } = await queryMerged(
        client,
        "query audit trail",
        shardsOf(month, options.shards).map((shard) => ({
          TableName: tableName,
          IndexName: "byMonth" satisfies IndexName,
          KeyConditionExpression: "#hash = :hash AND #at BETWEEN :from AND :to",
          ExpressionAttributeNames: { "#hash": "month", "#at": "at" },
          ExpressionAttributeValues: { ":hash": shard, ":from": plan.fromKey, ":to": below ?? plan.toKey },
          ScanIndexForward: false,
        })),
        (a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0),
        // The bound is inclusive: the entry at it, already returned, comes first and is dropped.
        below === undefined ? need : need + 1,
        options,
      );
      const fresh = items.filter((item) => item.at !== below);
      entries.push(...fresh.slice(0, need).map((item) => readEntry(item) as AuditEntry));
      if (entries.length === limit) {
        const last = fresh[need - 1] as Item;
        if (!more && fresh.length <= need && month <= monthOf(plan.from)) return { entries };
        return { entries, cursor: encodeCursor({ month, key: { pk: last.pk, at: last.at, month } }) };
      }
      if (month <= monthOf(plan.from)) return { entries };
      month = previousMonth(month);
      below = undefined;
    }
  }
}

interface QueryPlan {
  readonly index: IndexName;
  readonly hashAttribute: string;
  readonly names: Record<string, string>;
  readonly values: Item;
  readonly filters: string[];
  readonly from: number;
  readonly to: number;
  readonly fromKey: string;
  readonly toKey: string;
}

/** The most selective index for the filters given; the remaining filters run on the items that index returns. */
function planQuery(query: AuditQuery, options: AuditLogOptions): QueryPlan {
  const to = query.to ?? options.now();
  const from = query.from ?? to - options.retentionDays * 86_400_000;
  const keyed: [IndexName, string, string | undefined][] = [
    ["byIdentity", "identity", query.identity],
    ["byRoom", "roomName", query.roomName],
    ["byRule", "ruleId", query.ruleId],
  ];
  const chosen = keyed.find(([, , value]) => value !== undefined);
  const names: Record<string, string> = {};
  const values: Item = {};
  const filters: string[] = [];
  for (const [index, attribute, value] of keyed) {
    if (value === undefined) continue;
    if (index === chosen?.[0]) {
      names["#hash"] = attribute;
      values[":hash"] = value;
    } else {
      names[`#${attribute}`] = attribute;
      values[`:${attribute}`] = value;
      filters.push(`#${attribute} = :${attribute}`);
    }
  }
  const [index, hashAttribute] = chosen === undefined ? (["byMonth", "month"] as const) : [chosen[0], chosen[1]];
  if (chosen === undefined) names["#hash"] = "month";
  return {
    index,
    hashAttribute,
    names,
    values,
    filters,
    from,
    to,
    fromKey: new Date(from).toISOString(),
    // `~` sorts after `#`, so every entry of the last millisecond is inside the bound.
    toKey: `${new Date(to).toISOString()}~`,
  };
}

/**
 * The write of a new audit entry, conditional on its key being free: `begin` sends it alone, and the rule store adds
 * it to a rule change's transaction, so that a rule never changes without its entry.
 */
export function auditEntryPut(
  tableName: string,
  entry: AuditEntry,
  options: { readonly retentionDays: number; readonly pendingGraceMs: number; readonly shards?: number },
) {
  const valid = parse(auditEntrySchema, entry, "audit entry");
  return {
    TableName: tableName,
    Item: {
      ...entryKey(valid.id),
      entry: valid,
      at: sortKey(valid),
      month: shardOf(monthOf(Date.parse(valid.createdAt)), valid.id, options.shards),
      ...indexed(valid),
      // A pending kick is due for the sweep if its writer has not finalised it by then (it crashed).
      ...(valid.action === "kick" && valid.outcome === "pending"
        ? {
            retryShard: shardOf(RETRY_SHARD, valid.id, options.shards),
            retryAt: Date.parse(valid.createdAt) + options.pendingGraceMs,
          }
        : {}),
      // Its event, in the same write: every entry but a pending kick (whose event waits for its outcome).
      ...(valid.action === "kick" && valid.outcome === "pending"
        ? {}
        : { outboxShard: shardOf(OUTBOX_SHARD, valid.id, options.shards), outboxAt: Date.parse(valid.createdAt) }),
      expiresAt: Math.ceil(Date.parse(valid.createdAt) / 1000) + options.retentionDays * 86_400,
    },
    // The decision key is the item key: whoever writes first owns the decision; a replay finds its entry.
    ConditionExpression: "attribute_not_exists(pk)",
  };
}
