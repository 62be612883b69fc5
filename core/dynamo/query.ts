import { createHash } from "node:crypto";
import {
  type DynamoDBDocumentClient,
  type NativeAttributeValue,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { storeError } from "./client.ts";

type Item = Record<string, NativeAttributeValue>;

/**
 * How the stores read: `pageSize` caps every Query page (DynamoDB's own cap is 1 MB), so tests can force the
 * continuation to be followed; `shards` is how many keys each hot index key is spread over.
 */
export interface QueryOptions {
  readonly pageSize?: number;
  readonly shards?: number;
}

/**
 * Index keys every write of a kind would otherwise share (all deadlines, all active rooms, all open kicks, a month
 * of audit entries) are spread over this many keys, so that no partition takes more than its 1,000 writes/s: at
 * 5,000 callbacks/s, about 310 a second each (`npm run bench` prints the capacity model). Readers query all of them
 * in parallel.
 */
export const INDEX_SHARDS = 16;

/** The shard key of an item: `<prefix>#<n>`, `n` a stable hash of the item's own key. */
export function shardOf(prefix: string, itemKey: string, shards: number = INDEX_SHARDS): string {
  const n = createHash("sha256").update(itemKey).digest().readUInt32BE(0) % shards;
  return `${prefix}#${n}`;
}

/** Every shard key of a prefix. */
export const shardsOf = (prefix: string, shards: number = INDEX_SHARDS): string[] =>
  Array.from({ length: shards }, (_, n) => `${prefix}#${n}`);

/** One page of a Query: its items and, when there may be more, the key to go on from. */
export async function queryPage(
  client: DynamoDBDocumentClient,
  operation: string,
  input: QueryCommandInput,
  startKey: Item | undefined,
  limit: number | undefined,
): Promise<{ items: Item[]; next: Item | undefined }> {
  try {
    const page = await client.send(
      new QueryCommand({
        ...input,
        ...(limit === undefined ? {} : { Limit: limit }),
        ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
      }),
    );
    return { items: page.Items ?? [], next: page.LastEvaluatedKey };
  } catch (error) {
    throw storeError(operation, error);
  }
}

/** Every item a Query matches, following `LastEvaluatedKey` page after page. */
export async function queryAll(
  client: DynamoDBDocumentClient,
  operation: string,
  input: QueryCommandInput,
  options: QueryOptions = {},
): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await queryPage(client, operation, input, startKey, options.pageSize);
    items.push(...page.items);
    startKey = page.next;
  } while (startKey !== undefined);
  return items;
}

/**
 * The first `limit` items, in the index's order, of one Query run on each of several keys (the shards of one index
 * key): a k-way merge that reads each shard lazily, a page at a time, so it reads about `limit` items in all rather
 * than `limit` from every shard. `more` says whether any shard still has items beyond those returned.
 */
export async function queryMerged(
  client: DynamoDBDocumentClient,
  operation: string,
  inputs: readonly QueryCommandInput[],
  order: (a: Item, b: Item) => number,
  limit: number,
  options: QueryOptions = {},
): Promise<{ items: Item[]; more: boolean }> {
  const streams = inputs.map((input) => ({
    input,
    buffer: [] as Item[],
    next: undefined as Item | undefined,
    done: false,
  }));
  const fill = async (stream: (typeof streams)[number], want: number) => {
    const page = await queryPage(
      client,
      operation,
      stream.input,
      stream.next,
      Math.min(want, options.pageSize ?? want),
    );
    stream.buffer.push(...page.items);
    stream.next = page.next;
    stream.done = page.next === undefined;
  };
  const first = Math.max(1, Math.min(limit, Math.ceil((2 * limit) / Math.max(1, inputs.length)) + 1));
  await Promise.all(streams.map((stream) => fill(stream, first)));
  const items: Item[] = [];
  while (items.length < limit) {
    // A shard whose buffer ran dry may hold the next item: read on before choosing.
    const dry = streams.filter((stream) => stream.buffer.length === 0 && !stream.done);
    if (dry.length > 0) {
      await Promise.all(dry.map((stream) => fill(stream, limit - items.length)));
      continue;
    }
    let best: (typeof streams)[number] | undefined;
    for (const stream of streams) {
      const head = stream.buffer[0];
      if (head !== undefined && (best === undefined || order(head, best.buffer[0] as Item) < 0)) best = stream;
    }
    if (best === undefined) break;
    items.push(best.buffer.shift() as Item);
  }
  // A shard that stopped at its page's limit may have nothing after it: look, so that `more` means more.
  for (;;) {
    const unknown = streams.filter((stream) => stream.buffer.length === 0 && !stream.done);
    if (unknown.length === 0 || streams.some((stream) => stream.buffer.length > 0)) break;
    await Promise.all(unknown.map((stream) => fill(stream, 1)));
  }
  return { items, more: streams.some((stream) => stream.buffer.length > 0 || !stream.done) };
}

/** A sharded index whose range key is a number (a due time, a mark time): `<hashKey> = <prefix>#<n>`. */
export interface ShardedIndex {
  readonly tableName: string;
  readonly indexName: string;
  readonly prefix: string;
  readonly hashKey: string;
  readonly rangeKey: string;
}

/**
 * The first `limit` items of a sharded index across its shards, in its range key's order, those at or before
 * `upTo` when it is given: what is due, oldest first.
 */
export async function queryShardsInOrder(
  client: DynamoDBDocumentClient,
  operation: string,
  index: ShardedIndex,
  upTo: number | undefined,
  limit: number,
  options: QueryOptions = {},
): Promise<Item[]> {
  const { items } = await queryMerged(
    client,
    operation,
    shardsOf(index.prefix, options.shards).map((shard) => ({
      TableName: index.tableName,
      IndexName: index.indexName,
      KeyConditionExpression: upTo === undefined ? "#hash = :shard" : "#hash = :shard AND #range <= :upTo",
      ExpressionAttributeNames: { "#hash": index.hashKey, ...(upTo === undefined ? {} : { "#range": index.rangeKey }) },
      ExpressionAttributeValues: { ":shard": shard, ...(upTo === undefined ? {} : { ":upTo": upTo }) },
    })),
    (a, b) => Number(a[index.rangeKey]) - Number(b[index.rangeKey]),
    limit,
    options,
  );
  return items;
}
