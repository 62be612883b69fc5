import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  type NativeAttributeValue,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { conditionalWrite, storeCall } from "../dynamo/client.ts";
import { INDEX_SHARDS, type QueryOptions, queryAll, queryPage, queryShardsInOrder, shardOf } from "../dynamo/query.ts";
import { ValidationError } from "../errors.ts";
import type { webhooksTable } from "../tables.ts";
import { parse } from "../validation.ts";
import type { WebhookStore } from "./ports.ts";
import { type Delivery, deliveryStatuses, endpointSchema, MAX_ENDPOINTS } from "./webhooks.ts";

type Item = Record<string, NativeAttributeValue>;

const ENDPOINTS = "endpoints";
const DUE_SHARD = "due";
/** Deliveries and their log are kept this long. */
const DELIVERY_TTL_SECONDS = 30 * 86_400;

const endpointKey = (id: string) => ({ pk: ENDPOINTS, sk: id });
const deliveriesOf = (endpointId: string) => `deliveries#${endpointId}`;

const secretsSchema = z.array(z.object({ secret: z.string(), until: z.number().optional() }));
const attemptSchema = z.object({
  at: z.string(),
  status: z.number().optional(),
  latencyMs: z.number(),
  error: z.string().optional(),
});
const deliveryItemSchema = z.object({
  pk: z.string(),
  sk: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  createdAt: z.string(),
  status: z.enum(deliveryStatuses),
  attempts: z.array(attemptSchema),
  dueAt: z.number().optional(),
  body: z.string(),
});

const cursorSchema = z.strictObject({ pk: z.string(), sk: z.string() });

/** Webhooks in DynamoDB: endpoints in one partition, each endpoint's deliveries (its log) in its own. */
export function dynamoWebhookStore(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: QueryOptions = {},
): WebhookStore {
  const shards = options.shards ?? INDEX_SHARDS;
  const readDelivery = (item: Item): Delivery => {
    const stored = parse(deliveryItemSchema, item, "stored delivery");
    return {
      endpointId: stored.pk.slice("deliveries#".length),
      eventId: stored.eventId,
      eventType: stored.eventType,
      createdAt: stored.createdAt,
      status: stored.status,
      attempts: stored.attempts,
      ...(stored.dueAt === undefined ? {} : { dueAt: stored.dueAt }),
    };
  };

  return {
    async createEndpoint(endpoint, secret) {
      const valid = parse(endpointSchema, endpoint, "endpoint");
      if ((await this.listEndpoints()).length >= MAX_ENDPOINTS) {
        throw new ValidationError("endpoint", [{ field: "", message: `at most ${MAX_ENDPOINTS} endpoints` }]);
      }
      await storeCall("create endpoint", () =>
        client.send(
          new PutCommand({
            TableName: tableName,
            Item: { ...endpointKey(valid.id), endpoint: valid, secrets: [{ secret }] },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
      );
    },

    async endpoint(id, now) {
      const { Item } = await storeCall("read endpoint", () =>
        client.send(new GetCommand({ TableName: tableName, Key: endpointKey(id), ConsistentRead: true })),
      );
      if (Item === undefined) return undefined;
      const secrets = parse(secretsSchema, Item.secrets, "stored endpoint secrets");
      return {
        endpoint: parse(endpointSchema, Item.endpoint, "stored endpoint"),
        secrets: secrets.filter((s) => s.until === undefined || s.until > now).map((s) => s.secret),
      };
    },

    async listEndpoints() {
      const items = await queryAll(
        client,
        "list endpoints",
        {
          TableName: tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": ENDPOINTS },
          ProjectionExpression: "endpoint",
          ConsistentRead: true,
        },
        options,
      );
      return items.map((item) => parse(endpointSchema, item.endpoint, "stored endpoint"));
    },

    async saveEndpoint(endpoint) {
      const valid = parse(endpointSchema, endpoint, "endpoint");
      return conditionalWrite("update endpoint", () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: endpointKey(valid.id),
            UpdateExpression: "SET endpoint = :endpoint",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":endpoint": valid },
          }),
        ),
      );
    },

    async deleteEndpoint(id) {
      return conditionalWrite("delete endpoint", () =>
        client.send(
          new DeleteCommand({
            TableName: tableName,
            Key: endpointKey(id),
            ConditionExpression: "attribute_exists(pk)",
          }),
        ),
      );
    },

    async rotateSecret(id, secret, previousUntil) {
      const current = await this.endpoint(id, 0);
      if (current === undefined) return false;
      // The current secret keeps signing through the overlap; older ones are dropped.
      const [active] = current.secrets;
      const secrets = [{ secret }, ...(active === undefined ? [] : [{ secret: active, until: previousUntil }])];
      return conditionalWrite("rotate endpoint secret", () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: endpointKey(id),
            UpdateExpression: "SET secrets = :secrets",
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeValues: { ":secrets": secrets },
          }),
        ),
      );
    },

    async enqueue(event, endpointIds, now) {
      const body = JSON.stringify(event);
      const createdAt = new Date(now).toISOString();
      await Promise.all(
        endpointIds.map((endpointId) =>
          conditionalWrite("queue delivery", () =>
            client.send(
              new PutCommand({
                TableName: tableName,
                // Keyed by event: published again (at least once), it finds its delivery and leaves it.
                Item: {
                  pk: deliveriesOf(endpointId),
                  sk: `${event.time}#${event.id}`,
                  eventId: event.id,
                  eventType: event.type,
                  createdAt,
                  status: "pending",
                  attempts: [],
                  body,
                  dueShard: shardOf(DUE_SHARD, `${endpointId}#${event.id}`, shards),
                  dueAt: now,
                  expiresAt: Math.ceil(now / 1000) + DELIVERY_TTL_SECONDS,
                },
                ConditionExpression: "attribute_not_exists(pk)",
              }),
            ),
          ),
        ),
      );
    },

    async dueDeliveries(now, limit) {
      const items = await queryShardsInOrder(
        client,
        "list due deliveries",
        {
          tableName,
          indexName: "byDue" satisfies keyof typeof webhooksTable.globalIndexes,
          prefix: DUE_SHARD,
          hashKey: "dueShard",
          rangeKey: "dueAt",
        },
        now,
        limit,
        options,
      );
      return items.map((item) => {
        const stored = parse(deliveryItemSchema, item, "stored delivery");
        return {
          endpointId: stored.pk.slice("deliveries#".length),
          sk: stored.sk,
          eventId: stored.eventId,
          body: stored.body,
          dueAt: stored.dueAt ?? now,
          failedAttempts: stored.attempts.length,
        };
      });
    },

    async claim(key, seenDueAt, until) {
      return conditionalWrite("claim delivery", () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: deliveriesOf(key.endpointId), sk: key.sk },
            UpdateExpression: "SET dueAt = :until",
            ConditionExpression: "dueAt = :seen",
            ExpressionAttributeValues: { ":seen": seenDueAt, ":until": until },
          }),
        ),
      );
    },

    async recordAttempt(key, attempt, next) {
      const pending = "dueAt" in next;
      await storeCall("record delivery attempt", () =>
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: deliveriesOf(key.endpointId), sk: key.sk },
            UpdateExpression: pending
              ? "SET attempts = list_append(attempts, :attempt), dueAt = :due"
              : "SET attempts = list_append(attempts, :attempt), #status = :status REMOVE dueShard, dueAt",
            ConditionExpression: "attribute_exists(pk)",
            ...(pending ? {} : { ExpressionAttributeNames: { "#status": "status" } }),
            ExpressionAttributeValues: {
              ":attempt": [attempt],
              ...(pending ? { ":due": next.dueAt } : { ":status": next.status }),
            },
          }),
        ),
      );
    },

    async deliveries(endpointId, page) {
      const start = page.cursor === undefined ? undefined : logCursor(page.cursor, endpointId);
      const { items, next } = await queryPage(
        client,
        "list deliveries",
        {
          TableName: tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": deliveriesOf(endpointId) },
          ScanIndexForward: false,
        },
        start,
        page.limit,
      );
      return {
        deliveries: items.map(readDelivery),
        ...(next === undefined ? {} : { cursor: encodeCursor(next) }),
      };
    },
  };
}

function logCursor(cursor: string, endpointId: string): Item {
  const key = decodeCursor(cursor, cursorSchema);
  if (key.pk !== deliveriesOf(endpointId))
    throw new ValidationError("query", [{ field: "cursor", message: "expected a cursor of this endpoint's log" }]);
  return key;
}
