import { randomBytes } from "node:crypto";
import { DescribeTableCommand, DescribeTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient } from "../core/dynamo/client.ts";
import { type IndexDefinition, sessionsTable, type TableDefinition, type TableName, tables } from "../core/tables.ts";
import { ensureTables } from "../local/table-setup.ts";
import { createTestTables } from "./support/tables.ts";

type TestTables = Awaited<ReturnType<typeof createTestTables>>;

const keySchema = (index: IndexDefinition) => [
  { AttributeName: index.hashKey, KeyType: "HASH" },
  ...(index.rangeKey === undefined ? [] : [{ AttributeName: index.rangeKey, KeyType: "RANGE" }]),
];

/** Widened to the definition type, where `ttl` is optional, since only some of the `as const` tables declare one. */
const ttlOf = (definition: TableDefinition) => definition.ttl;

describe("test tables in DynamoDB Local", () => {
  let created: TestTables;

  beforeAll(async () => {
    created = await createTestTables();
  });

  const describeTable = async (name: TableName) => {
    const { Table } = await created.client.send(new DescribeTableCommand({ TableName: created.names[name] }));
    return Table;
  };

  it.each(tables)("creates $name with the primary key and attribute types of core/tables.ts", async (definition) => {
    const table = await describeTable(definition.name);

    expect(table?.TableStatus).toBe("ACTIVE");
    expect(table?.KeySchema).toEqual(keySchema(definition.primaryIndex));
    expect(new Set(table?.AttributeDefinitions)).toEqual(
      new Set(
        Object.entries(definition.fields).map(([name, type]) => ({
          AttributeName: name,
          AttributeType: type === "string" ? "S" : "N",
        })),
      ),
    );
  });

  it.each(tables)("gives $name exactly its global indexes, each with its projection", async (definition) => {
    const table = await describeTable(definition.name);

    const actual = (table?.GlobalSecondaryIndexes ?? []).map((index) => ({
      name: index.IndexName,
      keySchema: index.KeySchema,
      projection: index.Projection?.ProjectionType,
      attributes: [...(index.Projection?.NonKeyAttributes ?? [])].sort(),
    }));
    const expected = Object.entries(definition.globalIndexes).map(([name, index]) => ({
      name,
      keySchema: keySchema(index),
      ...(index.projection === undefined || index.projection === "all"
        ? { projection: "ALL", attributes: [] }
        : { projection: "INCLUDE", attributes: [...index.projection].sort() }),
    }));
    expect(actual).toEqual(expect.arrayContaining(expected));
    expect(actual).toHaveLength(expected.length);
  });

  it.each(tables)("enables TTL on $name exactly when core/tables.ts names a TTL attribute", async (definition) => {
    const { TimeToLiveDescription } = await created.client.send(
      new DescribeTimeToLiveCommand({ TableName: created.names[definition.name] }),
    );

    const ttl = ttlOf(definition);
    if (ttl === undefined) {
      expect(TimeToLiveDescription?.TimeToLiveStatus).toBe("DISABLED");
    } else {
      expect(TimeToLiveDescription).toEqual({ TimeToLiveStatus: "ENABLED", AttributeName: ttl });
    }
  });

  it("gives every call its own table names, so test files never share items", async () => {
    const other = await createTestTables();

    for (const { name } of tables) {
      expect(other.names[name]).not.toBe(created.names[name]);
      expect(other.names[name]).toMatch(new RegExp(`-${name}$`));
    }
  });
});

describe("tables kept from an older version", () => {
  it("get the indexes added since", async () => {
    const endpoint = inject("dynamoEndpoint");
    const client = createDocumentClient({ endpoint });
    const name = `old-${randomBytes(4).toString("hex")}-Sessions`;
    const { activeShard: _, ...oldFields } = sessionsTable.fields;
    const old = {
      ...sessionsTable,
      fields: oldFields,
      globalIndexes: { byDeadline: sessionsTable.globalIndexes.byDeadline },
    };
    await ensureTables(client, [old], () => name);

    // Not waiting for the backfill: DynamoDB Local runs it in the background, slowly while other files load it.
    await ensureTables(client, [sessionsTable], () => name, { waitForIndexes: false });
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    expect((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName).sort()).toEqual([
      "byActiveRoom",
      "byDeadline",
    ]);
  });
});
