import { randomBytes } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import type { TableNames } from "../../core/tables.ts";
import { createTables } from "../../local/dynamodb.ts";

/**
 * Creates a fresh set of room-warden's tables in the run's DynamoDB Local, under a prefix of their own, so test
 * files running in parallel (or tests within one file) never see each other's items.
 */
export function createTestTables(): Promise<{ client: DynamoDBDocumentClient; names: TableNames }> {
  return createTables(inject("dynamoEndpoint"), `t${randomBytes(6).toString("hex")}-`);
}
