import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type NativeAttributeValue,
  ScanCommand,
  type ScanCommandOutput,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { auditEntryPut } from "../audit/dynamo-audit-log.ts";
import { type Clock, systemClock } from "../clock.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { storeError } from "../dynamo/client.ts";
import { type QueryOptions, queryAll, queryPage } from "../dynamo/query.ts";
import { RuleExistsError, RuleNotFoundError, RuleVersionConflictError } from "../errors.ts";
import { parse } from "../validation.ts";
import type { RuleChangeRecord, RuleStore } from "./ports.ts";
import { type Ban, isExactBan, type Rule, ruleSchema } from "./rules.ts";

type Item = Record<string, NativeAttributeValue>;

const canonicalKey = (id: string) => ({ pk: `rule#${id}`, sk: "rule" });
const CACHED = "cached";

/** Where a rule's lookup copy lives: under its identity for an exact ban, in the cached partition otherwise. */
const lookupKey = (rule: Rule) => ({
  pk: isExactBan(rule) ? `identity#${rule.identity}` : CACHED,
  sk: `rule#${rule.id}`,
});

/** The condition that the stored rule is still at `version`. */
const atVersion = (version: number) => ({
  ConditionExpression: "#rule.#version = :expected",
  ExpressionAttributeNames: { "#rule": "rule", "#version": "version" },
  ExpressionAttributeValues: { ":expected": version },
});

const CHANGES = "changes";
const CHANGE_TTL_SECONDS = 24 * 3600;

/** The change-log item: the rule as it is after the change, or none when it was deleted. */
const change = (id: string, version: number, at: string, rule: Rule | undefined): Item => ({
  pk: CHANGES,
  sk: `${new Date(at).toISOString()}#${id}#${version}`,
  ruleId: id,
  ...(rule === undefined ? { deleted: true } : { rule }),
  expiresAt: Math.ceil(Date.parse(at) / 1000) + CHANGE_TTL_SECONDS,
});

const keySchema = z.strictObject({ pk: z.string().startsWith("rule#"), sk: z.literal("rule") });

const readRule = (item: Item | undefined): Rule | undefined =>
  item === undefined ? undefined : parse(ruleSchema, item.rule, "stored rule");

/**
 * Rules in DynamoDB. Each rule is a canonical item (read and versioned by id) and a lookup copy (found by identity
 * or listed with the cached rules), always written together in one transaction, so the two never disagree.
 */
/** Where the rule store writes the audit entries of rule changes, in the changes' transactions. */
export interface RuleAuditTable {
  readonly tableName: string;
  readonly retentionDays: number;
  /** The audit table's index shards: as the audit log's. */
  readonly shards?: number;
}

export function dynamoRuleStore(
  client: DynamoDBDocumentClient,
  tableName: string,
  audit?: RuleAuditTable,
  options: QueryOptions & { readonly clock?: Clock } = {},
): RuleStore {
  const clock = options.clock ?? systemClock;
  /** The audit entry's write, last in the transaction (the rule store's own items keep their places). */
  const recorded = (record: RuleChangeRecord | undefined) => {
    if (record === undefined) return [];
    if (audit === undefined) throw new Error("this rule store has no audit table: rule changes cannot be recorded");
    return [
      {
        Put: auditEntryPut(audit.tableName, record, {
          retentionDays: audit.retentionDays,
          pendingGraceMs: 0,
          ...(audit.shards === undefined ? {} : { shards: audit.shards }),
        }),
      },
    ];
  };

  const canonical = (rule: Rule): Item => ({ ...canonicalKey(rule.id), rule, lookup: lookupKey(rule) });
  const lookup = (rule: Rule): Item => ({ ...lookupKey(rule), rule });

  const getCanonical = async (id: string): Promise<Item | undefined> => {
    try {
      const { Item } = await client.send(
        new GetCommand({ TableName: tableName, Key: canonicalKey(id), ConsistentRead: true }),
      );
      return Item;
    } catch (error) {
      throw storeError("read rule", error);
    }
  };

  const cancelledByCondition = (error: unknown) =>
    error instanceof ConditionalCheckFailedException ||
    (error instanceof TransactionCanceledException &&
      (error.CancellationReasons ?? []).some((reason) => reason.Code === "ConditionalCheckFailed"));

  return {
    async create(input, record) {
      const rule = parse(ruleSchema, input, "rule");
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: tableName, Item: canonical(rule), ConditionExpression: "attribute_not_exists(pk)" } },
              { Put: { TableName: tableName, Item: lookup(rule) } },
              { Put: { TableName: tableName, Item: change(rule.id, rule.version, rule.updatedAt, rule) } },
              ...recorded(record),
            ],
          }),
        );
      } catch (error) {
        if (cancelledByCondition(error)) throw new RuleExistsError(rule.id);
        throw storeError("create rule", error);
      }
    },

    async get(id) {
      return readRule(await getCanonical(id));
    },

    async replace(input, expectedVersion, record) {
      const rule = parse(ruleSchema, input, "rule");
      const stored = await getCanonical(rule.id);
      const current = readRule(stored);
      if (current === undefined) throw new RuleNotFoundError(rule.id);
      if (current.version !== expectedVersion) throw new RuleVersionConflictError(rule.id, expectedVersion);
      const oldLookup = lookupKey(current);
      const newLookup = lookupKey(rule);
      const moved = oldLookup.pk !== newLookup.pk;
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              // The version condition covers the window between the read above and this write.
              {
                Put: {
                  TableName: tableName,
                  Item: canonical(rule),
                  ...atVersion(expectedVersion),
                },
              },
              ...(moved ? [{ Delete: { TableName: tableName, Key: oldLookup } }] : []),
              { Put: { TableName: tableName, Item: lookup(rule) } },
              { Put: { TableName: tableName, Item: change(rule.id, rule.version, rule.updatedAt, rule) } },
              ...recorded(record),
            ],
          }),
        );
      } catch (error) {
        if (cancelledByCondition(error)) throw new RuleVersionConflictError(rule.id, expectedVersion);
        throw storeError("update rule", error);
      }
    },

    async delete(id, expectedVersion, record) {
      const current = readRule(await getCanonical(id));
      if (current === undefined) throw new RuleNotFoundError(id);
      const version = expectedVersion ?? current.version;
      if (current.version !== version) throw new RuleVersionConflictError(id, version);
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Delete: {
                  TableName: tableName,
                  Key: canonicalKey(id),
                  ...atVersion(version),
                },
              },
              { Delete: { TableName: tableName, Key: lookupKey(current) } },
              {
                Put: {
                  TableName: tableName,
                  Item: change(id, version + 1, new Date(clock.now()).toISOString(), undefined),
                },
              },
              ...recorded(record?.(current)),
            ],
          }),
        );
      } catch (error) {
        if (cancelledByCondition(error)) throw new RuleVersionConflictError(id, version);
        throw storeError("delete rule", error);
      }
      return current;
    },

    async exactBans(identity) {
      const rules = await queryPartition(client, tableName, `identity#${identity}`, "look up bans", options);
      return rules.filter((rule): rule is Ban => rule.kind === "ban");
    },

    async changesSince(after, limit) {
      const items: Item[] = [];
      let next: Item | undefined;
      do {
        const page = await queryPage(
          client,
          "list rule changes",
          {
            TableName: tableName,
            KeyConditionExpression: "pk = :pk AND sk > :after",
            ExpressionAttributeValues: { ":pk": CHANGES, ":after": after },
            ConsistentRead: true,
          },
          next,
          Math.min(limit - items.length, options.pageSize ?? limit),
        );
        items.push(...page.items);
        next = page.next;
      } while (next !== undefined && items.length < limit);
      return items.map((item) => ({
        cursor: String(item.sk),
        ruleId: String(item.ruleId),
        rule: item.rule === undefined ? undefined : parse(ruleSchema, item.rule, "stored rule"),
      }));
    },

    async list(page) {
      // Decoded outside the try: a forged cursor is the caller's ValidationError, not a store failure.
      const start = page.cursor === undefined ? {} : { ExclusiveStartKey: decodeCursor(page.cursor, keySchema) };
      let result: ScanCommandOutput;
      try {
        result = await client.send(
          new ScanCommand({
            TableName: tableName,
            // Canonical items only: the lookup copies and the change log repeat them.
            FilterExpression: "sk = :canonical",
            ExpressionAttributeValues: { ":canonical": "rule" },
            Limit: page.limit,
            ...start,
          }),
        );
      } catch (error) {
        throw storeError("list rules", error);
      }
      const rules = (result.Items ?? []).map((item) => parse(ruleSchema, item.rule, "stored rule"));
      return result.LastEvaluatedKey === undefined
        ? { rules }
        : { rules, cursor: encodeCursor(result.LastEvaluatedKey) };
    },

    async listCached() {
      return queryPartition(client, tableName, CACHED, "list rules", options);
    },
  };
}

async function queryPartition(
  client: DynamoDBDocumentClient,
  tableName: string,
  pk: string,
  operation: string,
  options: QueryOptions,
): Promise<Rule[]> {
  const items = await queryAll(
    client,
    operation,
    {
      TableName: tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": pk },
      ConsistentRead: true,
    },
    options,
  );
  return items.map((item) => parse(ruleSchema, item.rule, "stored rule"));
}
