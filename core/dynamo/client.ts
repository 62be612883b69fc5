import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  type Projection,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { StoreThrottledError, StoreTimeoutError, StoreUnavailableError } from "../errors.ts";
import type { IndexDefinition, TableDefinition } from "../tables.ts";

export interface DynamoOptions {
  /** DynamoDB Local or another endpoint; AWS's regional endpoint when absent. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Abort a request that has not answered in this time (ms). */
  readonly requestTimeoutMs?: number;
  /** Attempts per request, including the first, with the SDK's jittered backoff between them. */
  readonly maxAttempts?: number;
}

/** The document client every store adapter shares: native JS values in, native JS values out. */
export function createDocumentClient(options: DynamoOptions = {}): DynamoDBDocumentClient {
  const region = options.region ?? (options.endpoint === undefined ? undefined : "local");
  const client = new DynamoDBClient({
    ...(region === undefined ? {} : { region }),
    // DynamoDB Local accepts any credentials; in AWS the function's role signs.
    ...(options.endpoint === undefined
      ? {}
      : { endpoint: options.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } }),
    maxAttempts: options.maxAttempts ?? 3,
    // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout passes, and a hung request
    // would hold its Lambda until the function's own timeout.
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 3000,
      throwOnRequestTimeout: true,
      connectionTimeout: 1000,
    },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const throttled = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "LimitExceededException",
]);
const timedOut = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "AbortError"]);

/**
 * Translates an SDK failure into a named domain error, so that callers decide on retries without knowing the SDK.
 * Errors a store handles itself (conditional checks) must be caught before this.
 */
export function storeError(operation: string, error: unknown): Error {
  const name = error instanceof Error ? error.name : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (throttled.has(name)) return new StoreThrottledError(operation, { cause: error });
  if (timedOut.has(name) || code === "ETIMEDOUT" || code === "ECONNRESET") {
    return new StoreTimeoutError(operation, { cause: error });
  }
  return new StoreUnavailableError(operation, { cause: error });
}

/** The CreateTable request for a shared table definition, with on-demand billing and each index's projection. */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const { primaryIndex, globalIndexes, fields } = definition;
  const keySchema = (index: { hashKey: string; rangeKey?: string }) => [
    { AttributeName: index.hashKey, KeyType: "HASH" as const },
    ...(index.rangeKey === undefined ? [] : [{ AttributeName: index.rangeKey, KeyType: "RANGE" as const }]),
  ];
  const indexes = Object.entries(globalIndexes);
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: Object.entries(fields).map(([name, type]) => ({
      AttributeName: name,
      AttributeType: type === "string" ? "S" : "N",
    })),
    KeySchema: keySchema(primaryIndex),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map(([name, index]) => ({
            IndexName: name,
            KeySchema: keySchema(index),
            Projection: projectionOf(index),
          })),
        }),
  };
}

function projectionOf(index: IndexDefinition): Projection {
  if (index.projection === undefined || index.projection === "all") return { ProjectionType: "ALL" };
  return { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.projection] };
}

/** Creates the tables that do not exist yet (tests and the local stack; in AWS, SST owns the tables). */
export async function ensureTables(
  client: DynamoDBDocumentClient,
  definitions: readonly TableDefinition[],
  nameOf: (definition: TableDefinition) => string,
  options: { readonly waitForIndexes?: boolean } = {},
): Promise<void> {
  await Promise.all(
    definitions.map(async (definition) => {
      const tableName = nameOf(definition);
      const input = createTableInput(definition, tableName);
      try {
        await client.send(new CreateTableCommand(input));
      } catch (error) {
        if (error instanceof ResourceInUseException)
          return addMissingIndexes(client, input, options.waitForIndexes ?? true);
        throw storeError(`create table ${tableName}`, error);
      }
      if (definition.ttl !== undefined) {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: tableName,
            TimeToLiveSpecification: { AttributeName: definition.ttl, Enabled: true },
          }),
        );
      }
    }),
  );
}

/**
 * A table kept from an older version (the local stack's data folder) may lack an index added since: create it, one
 * at a time as DynamoDB requires, waiting for each to become active.
 */
async function addMissingIndexes(
  client: DynamoDBDocumentClient,
  input: CreateTableCommandInput,
  wait: boolean,
): Promise<void> {
  const tableName = input.TableName as string;
  for (const index of input.GlobalSecondaryIndexes ?? []) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if ((Table?.GlobalSecondaryIndexes ?? []).some((existing) => existing.IndexName === index.IndexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: (input.AttributeDefinitions ?? []).filter((attribute) =>
          (index.KeySchema ?? []).some((key) => key.AttributeName === attribute.AttributeName),
        ),
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    for (let waited = 0; wait && waited < 60_000; waited += 200) {
      const { Table: updated } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const status = updated?.GlobalSecondaryIndexes?.find(
        (existing) => existing.IndexName === index.IndexName,
      )?.IndexStatus;
      if (status === "ACTIVE") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
