import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { entryKey, OUTBOX_SHARD, readEntry } from "../audit/dynamo-audit-log.ts";
import { conditionalWrite } from "../dynamo/client.ts";
import { type QueryOptions, queryShardsInOrder } from "../dynamo/query.ts";
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
  /** An update of the mark `markedAt`, if it is still the entry's; false when a newer mark (or none) is there. */
  const onMark = (
    id: string,
    markedAt: number,
    update: string,
    values: Record<string, unknown>,
    condition = "outboxAt = :markedAt",
  ) =>
    conditionalWrite("update the event outbox", () =>
      client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: entryKey(id),
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: { ":markedAt": markedAt, ...values },
        }),
      ),
    );

  return {
    async unpublished(limit) {
      const items = await queryShardsInOrder(
        client,
        "list unpublished events",
        {
          tableName,
          indexName: "byOutbox" satisfies keyof typeof auditTable.globalIndexes,
          prefix: OUTBOX_SHARD,
          hashKey: "outboxShard",
          rangeKey: "outboxAt",
        },
        undefined,
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
