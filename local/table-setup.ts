import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type Projection,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { storeError } from "../core/dynamo/client.ts";
import type { IndexDefinition, TableDefinition } from "../core/tables.ts";

/**
 * Creating room-warden's tables from their shared definitions (core/tables.ts), for DynamoDB Local: the local stack
 * and the tests. In AWS, SST creates them from the same definitions (infra/storage.ts).
 */

/** The CreateTable request for a shared table definition, with on-demand billing and each index's projection. */
function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
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
