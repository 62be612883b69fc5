/**
 * Vitest global setup: one in-memory DynamoDB Local for the whole run, on a free port. Test files get its endpoint
 * with `inject("dynamoEndpoint")` (see `createTestTables`) and keep apart by table-name prefix.
 */
import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../local/dynamodb.ts";
import { requireJava } from "../../local/java.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Fails the run at once with install instructions, before any test file is collected.
  await requireJava();
  const dynamo = await startDynamoDbLocal();
  project.provide("dynamoEndpoint", dynamo.endpoint);
  // Resolves once the JVM has exited, so no java process outlives the run.
  return () => dynamo.stop();
}
