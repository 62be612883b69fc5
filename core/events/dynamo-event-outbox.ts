import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { entryKey, OUTBOX_SHARD, readEntry } from "../audit/dynamo-audit-log.ts";
import { storeError } from "../dynamo/client.ts";
import { INDEX_SHARDS, type QueryOptions, queryMerged, shardsOf } from "../dynamo/query.ts";
import type { auditTable } from "../tables.ts";
import type { EventOutbox } from "./ports.ts";

/**
 * The outbox on the Audit table: an entry whose state is still to publish carries `outboxShard`/`outboxAt` (written
 * with the state itself), so the sparse `byOutbox` index lists exactly those, oldest first. Publishing clears the
 * mark; failing counts on it, and after too many the mark moves to `outboxDeadAt` (the dead letters).
 */
export function dynamoEventOutbox(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: QueryOptions = {},
): EventOutbox {
  const shards = options.shards ?? INDEX_SHARDS;
  /** An update of the mark `markedAt`, if it is still the entry's; false when a newer mark (or none) is there. */
  const onMark = async (
    id: string,
    markedAt: number,
    update: string,
    values: Record<string, unknown>,
    condition = "outboxAt = :markedAt",
  ) => {
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: entryKey(id),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: { ":markedAt": markedAt, ...values },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storeError("update the event outbox", error);
    }
  };

  return {
    async unpublished(limit) {
      const { items } = await queryMerged(
        client,
        "list unpublished events",
        shardsOf(OUTBOX_SHARD, shards).map((shard) => ({
          TableName: tableName,
          IndexName: "byOutbox" satisfies keyof typeof auditTable.globalIndexes,
          KeyConditionExpression: "outboxShard = :shard",
          ExpressionAttributeValues: { ":shard": shard },
        })),
        (a, b) => Number(a.outboxAt) - Number(b.outboxAt),
        limit,
        options,
      );
      return items.flatMap((item) => {
        const entry = readEntry(item);
        if (entry === undefined) return [];
        const attempts = typeof item.outboxAttempts === "number" ? item.outboxAttempts : 0;
        return [{ entry, markedAt: Number(item.outboxAt), attempts }];
      });
    },

    async published(id, markedAt) {
      await onMark(id, markedAt, "REMOVE outboxShard, outboxAt, outboxAttempts", {});
    },

    async failed(id, markedAt, deadAfter) {
      const counted = await onMark(
        id,
        markedAt,
        "ADD outboxAttempts :one",
        { ":one": 1, ":last": deadAfter - 1 },
        "outboxAt = :markedAt AND (attribute_not_exists(outboxAttempts) OR outboxAttempts < :last)",
      );
      if (counted) return false;
      // The last attempt failed too (or the mark is gone): to the dead letters, if the mark is still this one.
      return onMark(id, markedAt, "SET outboxDeadAt = :markedAt REMOVE outboxShard, outboxAt, outboxAttempts", {});
    },
  };
}
